"""Schema checks of a message object, used to name the field when encoding fails.

The generated encoders check values on the fast path but carry no path; when one
fails, this walker finds the first offending field and reports it by XSD names.
"""

from __future__ import annotations

import enum
import math
from types import ModuleType
from typing import Any

from .runtime import UINT_CARRIED, shown


def _check_simple(spec: tuple, v: Any, lenient: bool = False) -> str | None:
    """Why ``v`` cannot be encoded, or None. ``lenient``: only what the stream cannot carry (see encode_lenient)."""
    kind, lo, hi, enum_cls, max_len = spec
    if kind == "bool":
        return None if isinstance(v, bool) else f"expected a boolean, got {v!r}"
    if kind in ("nbit", "uint", "int"):
        if not isinstance(v, int) or isinstance(v, bool):
            return f"expected an integer, got {v!r}"
        if lenient:
            return _uncarried(kind, lo, hi, v)
        if lo is not None and v < lo or hi is not None and v > hi:
            return f"{v} is outside {lo}..{hi}"
        return _uncarried(kind, lo, hi, v)  # unbounded: not longer than decoders read
    if kind == "enum":
        if isinstance(v, enum.Enum) and not isinstance(v, enum_cls):
            return f"expected {enum_cls.__name__}, got {v!r}"
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < len(enum_cls):
            return f"expected {enum_cls.__name__}, got {v!r}"
        return None
    if kind == "string":
        if not isinstance(v, str):
            return f"expected a string, got {type(v).__name__}"
        if max_len is not None and len(v) > max_len and not lenient:
            return f"string of {len(v)} characters, schema allows at most {max_len}"
        return None
    if kind in ("hex", "b64"):
        if not isinstance(v, (bytes, bytearray)):
            return f"expected bytes, got {type(v).__name__}"
        if max_len is not None and len(v) > max_len and not lenient:
            return f"{len(v)} octets, schema allows at most {max_len}"
        return None
    return f"{kind} values are not supported"


def _uncarried(kind: str, lo: int | None, hi: int | None, v: int) -> str | None:
    """Why the stream cannot carry integer ``v`` (lenient encoding), or None."""
    if kind == "nbit":
        assert lo is not None and hi is not None
        top = lo + (1 << math.ceil(math.log2(hi - lo + 1))) - 1
        return None if lo <= v <= top else f"{v} is outside {lo}..{hi}, and its field carries only {lo}..{top}"
    if kind == "uint" and v < 0:
        return f"{shown(v)} is negative: an unsigned integer cannot carry it"
    if (-v - 1 if v < 0 else v) >= UINT_CARRIED:
        return f"{shown(v)} is longer than decoders read (100 octets)"
    return None


def find_problem(mod: ModuleType, obj: Any, path: str, lenient: bool = False) -> tuple[str, str] | None:
    """(path, reason) of the first schema violation in ``obj``, or None.

    ``lenient``: the first value the stream cannot carry (facets the lenient encoder writes through are fine).
    """
    meta = mod.META.get(type(obj))
    if meta is None:
        # a simple-typed element at the top
        return None
    groups: dict[int, list[str]] = {}
    abstract = getattr(mod, "ABSTRACT", {}).get(type(obj), {})
    for py, xsd, _ns, kind, t, is_list, required, max_occ, group, min_occ in meta:
        here = f"{path}.{xsd}"
        v = getattr(obj, py, None)
        if is_list:
            if not isinstance(v, list):
                return here, f"expected a list, got {type(v).__name__}"
            if max_occ is not None and len(v) > max_occ:
                return here, f"{len(v)} elements, schema allows at most {max_occ}"
            alts = sum(1 for m in meta if m[8] == group)
            if alts == 1 and len(v) < min_occ:
                return here, f"{len(v)} elements, schema needs at least {min_occ}"
            if v:
                groups.setdefault(group, []).append(xsd)
            for i, x in enumerate(v):
                p = _check(mod, t, x, f"{here}[{i}]", lenient)
                if p:
                    return p
            continue
        if v is None:
            if required:
                return here, "mandatory element is missing" if kind == "elem" else "mandatory value is missing"
            continue
        if py in abstract and not lenient:
            return here, abstract[py]
        groups.setdefault(group, []).append(xsd)
        p = _check(mod, t, v, here, lenient)
        if p:
            return p
    # choice: only one alternative may be present
    for _g, names in groups.items():
        alts = [m for m in meta if m[8] == _g]
        if len(alts) > 1 and len(names) > 1 and not any(m[5] for m in alts):
            return f"{path}.{names[1]}", f"choice: {' and '.join(names)} are both set, only one is allowed"
    # required choices with no alternative set
    seen: set[int] = set()
    for m in meta:
        g = m[8]
        if g in seen:
            continue
        seen.add(g)
        alts = [x for x in meta if x[8] == g]
        if len(alts) > 1 and g not in groups and all(not x[5] for x in alts) and _choice_required(mod, obj, g):
            return f"{path}.{alts[0][1]}", f"mandatory choice: one of {', '.join(x[1] for x in alts)} is needed"
    return None


def _choice_required(mod: ModuleType, obj: Any, group: int) -> bool:
    req = getattr(mod, "CHOICE_REQUIRED", {}).get(type(obj), ())
    return group in req


def _check(mod: ModuleType, t: Any, v: Any, path: str, lenient: bool = False) -> tuple[str, str] | None:
    if isinstance(t, tuple):
        msg = _check_simple(t, v, lenient)
        return (path, msg) if msg else None
    if not isinstance(v, t):
        return path, f"expected {t.__name__}, got {type(v).__name__}"
    return find_problem(mod, v, path, lenient)
