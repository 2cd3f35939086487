"""The Lua enum tables: ``ResponseCodeType.FAILED_SequenceError == "FAILED_SequenceError"``.

A table is named after the XSD type with its first letter upper-cased (ISO-2's ``responseCodeType`` is
``ResponseCodeType``, as the seed writes it). Its members map to the XSD literal, which is what the
script API takes and returns. Member names follow the seed:

* units are prefixed: ``UnitSymbolType.Unit_V == "V"`` (the bare literal is a key too: ``UnitSymbolType.V``);
* every other member is the XSD literal (``EVSENotificationType.None``: ``None`` is no Lua keyword);
* a literal that is not a Lua identifier gets an escaped member (every character outside ``[A-Za-z0-9_]``
  becomes ``_``; a leading digit or a Lua keyword gets a ``_`` prefix): DIN's ``W/s`` is ``Unit_W_s``,
  ISO-20 WPT's ``MF-WPT1`` is ``MF_WPT1`` and ``External confirmation`` is ``External_confirmation``;
  the literal itself stays a key (``WPT_PowerClassType["MF-WPT1"]``).

No literal of the DIN, ISO-2, ISO-20 or app handshake schemas is a Lua keyword (checked by the tests).
A family's tables merge its schema sets (ISO-20: all five, plus the app handshake, whose
``responseCodeType`` literals join ``ResponseCodeType``); the runtime installs the negotiated family's.
"""

from __future__ import annotations

import re

from .model import lua_enum_name
from .names import MEMBERS, REGISTRY

__all__ = ["LUA_KEYWORDS", "enum_tables", "lua_member"]

LUA_KEYWORDS = frozenset({
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in", "local", "nil",
    "not", "or", "repeat", "return", "then", "true", "until", "while"})
_UNIT_TYPES = {"unitSymbolType", "UnitSymbolType"}
_cache: dict[str, dict[str, dict[str, str]]] = {}


def lua_member(type_name: str, literal: str) -> str:
    """The seed's Lua member name of an XSD literal (see the module text)."""
    name = re.sub(r"[^0-9A-Za-z_]", "_", literal)
    if type_name in _UNIT_TYPES:
        return "Unit_" + name
    if not name or name[0].isdigit() or name in LUA_KEYWORDS:
        name = "_" + name
    return name


def enum_tables(family: str) -> dict[str, dict[str, str]]:
    """Lua enum table name -> {member -> XSD literal} for the scripts of ``family`` (din, iso2, iso20, ...).
    The result is shared: do not change it."""
    got = _cache.get(family)
    if got is not None:
        return got
    if family not in MEMBERS:
        raise ValueError(f"unknown family {family!r}; choose one of: {', '.join(MEMBERS)}")
    out: dict[str, dict[str, str]] = {}
    for schema in MEMBERS[family]:
        for kind, _lo, _hi, _mn, _mx, cls, xsd, literals in REGISTRY.tables(schema).S:
            if kind != "enum":
                continue
            table = out.setdefault(lua_enum_name(xsd or cls), {})
            for lit in literals:
                table.setdefault(lua_member(xsd or cls, lit), lit)
                table.setdefault(lit, lit)
    _cache[family] = out
    return out
