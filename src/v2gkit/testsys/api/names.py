"""Script API names -> :class:`ApiFunction`, and the list of every name, per family and role.

Name forms (``<Msg>`` is a message element as the schema spells it; ``<Path>`` its elements joined with
``_``, each keeping its own underscores, e.g. ``DC_EVSEStatus_EVSEStatusCode``)::

    Receive_<Msg>_001()                 incoming: wait for <Msg>
    Check_Received_<Msg>() -> boolean   incoming: did it come
    Send_<Msg>_001() / Send_<Msg>_002() outgoing: send in turn / at once, out of turn (v2gkit)
    Get_<Msg>_<Path>([i, ...])          both directions: a value (nil when absent)
    Set_<Msg>_<Path>([i, ...,] v)       outgoing: set a value (creates what is missing on the way)
    Get_/Set_<Msg>_<Path>Specified      an optional element's presence
    Get_/Set_<Msg>_<List>_Count         a list's length
    Add_<Msg>_<List>_<Field>([i, ...,] v)  outgoing: fill the next item's <Field> (see fields.add)
    Exist_<MsgBase>_<Item>(k1, k2, ...) incoming: is there an item with these values (seed: no Req/Res)
    Check_<Msg>_<Path>([i, ...,] expected) -> boolean   an enum field equals ``expected``

A name cannot be split at ``_`` without the schema; the resolver matches it against the message's field
tree (every spelling of every node is a key of one dict per message), so ``DC_EVSEStatus`` is one
element. A *wrapper* (an element whose only content is one list, like ``SelectedServiceList``) may stand
for its list: ``SelectedServiceList_ServiceID`` is ``SelectedServiceList.SelectedService[i].ServiceID``,
``SelectedServiceList_Count`` its length; Exist names the list itself (``Exist_..._SelectedService``).
The full form (``SelectedServiceList_SelectedService_ServiceID``) resolves too. When spellings collide,
the reading valid for the function's kind with the fewest elisions wins.

List indices are 0-based: the one index the pages show is C#'s ``SelectedServiceList[0]`` (the engine
behind the seed's Lua binding is .NET), and Python's lists agree.

Resolution is cached: after the first call a name costs one dict lookup.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from .model import ApiFunction, MessageTree, Node

__all__ = ["FAMILIES", "ROLES", "Registry", "all_functions", "functions", "resolve", "split_qualified"]

#: the families a script runs under (the negotiated protocol); every ISO-20 family sees all -20 messages
FAMILIES = ("din", "iso2", "iso20", "iso20-ac", "iso20-dc", "iso20-wpt", "iso20-acdp")
ROLES = ("secc", "evcc")
_ISO20 = ("iso20", "iso20-ac", "iso20-dc", "iso20-wpt", "iso20-acdp")
#: family -> the schema sets whose messages its scripts can name (the app handshake comes first in all)
MEMBERS: dict[str, tuple[str, ...]] = {"din": ("din", "apphand"), "iso2": ("iso2", "apphand")}
MEMBERS.update({f: _ISO20 + ("apphand",) for f in _ISO20})
MEMBERS["apphand"] = ("apphand",)

_MODULE = {"apphand": "apphand", "din": "din", "iso2": "iso2", "iso20": "iso20", "iso20-ac": "iso20_ac",
           "iso20-dc": "iso20_dc", "iso20-wpt": "iso20_wpt", "iso20-acdp": "iso20_acdp"}

_VERBS = ("Check_Received_", "Receive_", "Send_", "Get_", "Set_", "Add_", "Exist_", "Check_")
_KIND = {"Check_Received_": "CheckReceived", "Receive_": "Receive", "Send_": "Send", "Get_": "Get",
         "Set_": "Set", "Add_": "Add", "Exist_": "Exist", "Check_": "Check"}
_ROLE_PREFIX = {"Secc": "secc", "SECC": "secc", "Evcc": "evcc", "EVCC": "evcc"}


def split_qualified(name: str) -> tuple[str | None, str]:
    """``"Secc.Get_X"`` -> ("secc", "Get_X"); the ISO-20 page's upper-case ``SECC.`` is the same object."""
    obj, dot, rest = name.partition(".")
    if dot and obj in _ROLE_PREFIX:
        return _ROLE_PREFIX[obj], rest
    return None, name


def direction(message: str, role: str) -> str:
    """``in`` when ``role`` receives the message (SECC: requests), ``out`` when it sends it."""
    req = message.endswith("Req")
    return "in" if req == (role == "secc") else "out"


def _camel(name: str) -> str:
    """A parameter name in the seed's style: ``ResponseCode`` -> ``responseCode``, ``EVSEID`` -> ``evseid``."""
    i = 0
    while i < len(name) and name[i].isupper():
        i += 1
    if i > 1 and i < len(name):
        i -= 1
    return name[:i].lower() + name[i:]


class Registry:
    """The tables of every schema set, the message trees unfolded from them, and the resolution cache.

    ``tables`` maps schema set -> table namespace (M, S, T, HEADER, ELEMENT); without it the committed
    modules under ``tables/`` are imported on first use."""

    def __init__(self, tables: dict[str, Any] | None = None) -> None:
        self._given = tables
        self._tables: dict[str, Any] = {}
        self._trees: dict[tuple[str, str], MessageTree] = {}
        self._spaces: dict[str, dict[str, str]] = {}
        self._cache: dict[tuple[str, str, str], ApiFunction | None] = {}
        #: names two nodes could mean with the same number of elisions: ambiguous, they resolve to None
        #: (ISO-20 ``Exist_ServiceDiscovery_Service``: EnergyTransferServiceList or VASList)
        self.ties: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = []

    def tables(self, schema: str) -> Any:
        t = self._tables.get(schema)
        if t is None:
            if self._given is not None:
                ns = self._given[schema]
                t = ns if not isinstance(ns, dict) else SimpleNamespace(**ns)
            else:
                t = importlib.import_module(f"v2gkit.testsys.api.tables.{_MODULE[schema]}")
            self._tables[schema] = t
        return t

    def space(self, family: str) -> dict[str, str]:
        """Message name -> schema set, for the messages a script under ``family`` can name."""
        sp = self._spaces.get(family)
        if sp is None:
            if family not in MEMBERS:
                raise ValueError(f"unknown family {family!r}; choose one of: {', '.join(FAMILIES)}")
            sp = {}
            for schema in MEMBERS[family]:
                for msg in self.tables(schema).M:
                    sp.setdefault(msg, schema)
            self._spaces[family] = sp
        return sp

    def tree(self, schema: str, message: str) -> MessageTree:
        key = (schema, message)
        tr = self._trees.get(key)
        if tr is None:
            tr = self._trees[key] = MessageTree(self.tables(schema), message)
        return tr

    # ---------------------------------------------------------------------------------- resolving
    def resolve(self, family: str, role: str, name: str) -> ApiFunction | None:
        key = (family, role, name)
        try:
            return self._cache[key]
        except KeyError:
            pass
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; choose secc or evcc")
        fn = self._resolve(family, role, name)
        self._cache[key] = fn
        return fn

    def _resolve(self, family: str, role: str, name: str) -> ApiFunction | None:
        space = self.space(family)
        for verb in _VERBS:
            if name.startswith(verb):
                break
        else:
            return None
        kind = _KIND[verb]
        rest = name[len(verb):]
        if kind in ("Receive", "Send"):
            msg, sep, variant = rest.rpartition("_")
            if not sep or msg not in space or variant not in (("001",) if kind == "Receive" else ("001", "002")):
                return None
            d = direction(msg, role)
            if d != ("in" if kind == "Receive" else "out"):
                return None
            return self._make(name, kind, family, role, space[msg], msg, variant=variant)
        if kind == "CheckReceived":
            if rest not in space or direction(rest, role) != "in":
                return None
            return self._make(name, kind, family, role, space[rest], rest, returns="boolean")
        # a message, then a path: try every '_' as the split, longest message first
        cuts = [i for i, ch in enumerate(rest) if ch == "_"]
        for i in reversed(cuts):
            head, suffix = rest[:i], rest[i + 1:]
            msg = head if head in space else None
            if msg is None and kind == "Exist":
                msg = self._base(space, head, role)
            if msg is None:
                continue
            fn = self._field(name, kind, family, role, space[msg], msg, suffix)
            if fn is not None:
                return fn
        return None

    @staticmethod
    def _tied(best: tuple[int, int, Node, str], tree: MessageTree, readings: list[tuple[str, str]],
              kind: str) -> bool:
        """Whether another node reads as well as the best one: the name is ambiguous."""
        spelling, leaf = readings[best[1]]
        return sum(1 for n, k in tree.lookup(spelling) if k == best[0] and _valid(kind, leaf, n)) > 1

    @staticmethod
    def _base(space: dict[str, str], base: str, role: str) -> str | None:
        """Exist names the message without Req/Res (as the seed does): the one the role receives."""
        msg = base + ("Req" if role == "secc" else "Res")
        return msg if msg in space else None

    def _field(self, name: str, kind: str, family: str, role: str, schema: str, msg: str,
               suffix: str) -> ApiFunction | None:
        d = direction(msg, role)
        if kind in ("Set", "Add") and d != "out" or kind == "Exist" and d != "in":
            return None
        tree = self.tree(schema, msg)
        readings: list[tuple[str, str]] = [(suffix, "")]
        if kind in ("Get", "Set"):
            if suffix.endswith("Specified"):
                readings.append((suffix[:-9], "Specified"))
            if suffix.endswith("_Count"):
                readings.append((suffix[:-6], "Count"))
        best: tuple[int, int, Node, str] | None = None
        tie = False
        for order, (spelling, leaf) in enumerate(readings):
            for node, elisions in tree.lookup(spelling):
                if not _valid(kind, leaf, node):
                    continue
                rank = (elisions, order)
                if best is None or rank < best[:2]:
                    best = (elisions, order, node, leaf)
                elif rank == best[:2] and node is not best[2]:
                    tie = True
                    self.ties.append((family, name, best[2].path, node.path))
        if best is None or tie and self._tied(best, tree, readings, kind):
            return None
        return self._make(name, kind, family, role, schema, msg, node=best[2], leaf=best[3], tree=tree)

    def _make(self, name: str, kind: str, family: str, role: str, schema: str, msg: str, *,
              node: Node | None = None, leaf: str = "", variant: str = "", returns: str = "",
              tree: MessageTree | None = None) -> ApiFunction:
        tree = tree or self.tree(schema, msg)
        base = {"name": name, "kind": kind, "family": schema, "role": role, "message": msg,
                "element": tree.element, "direction": direction(msg, role), "variant": variant,
                "returns": returns, "message_class": tree.cls, "body_attr": tree.body_attr}
        if node is None:
            return ApiFunction(**base)
        idx = _indexes(node.lists)
        value = _camel(node.path[-1])
        simple = node.simple
        value_kind, enum, params, returns = "", "", idx, ""
        if kind in ("Get", "Set", "Check") and leaf == "":
            assert simple is not None
            value_kind, enum = simple.value_kind, simple.enum
            if kind == "Set":
                params = idx + (value,)
            elif kind == "Check":
                params, returns = idx + ("expected",), "boolean"
            else:
                returns = simple.lua_type
        elif leaf == "Specified":
            value_kind, returns = "bool", ("boolean" if kind == "Get" else "")
            params = idx + (("isSpecified",) if kind == "Set" else ())
        elif leaf == "Count":
            idx = _indexes(node.lists - 1)  # the count of a list is addressed by the lists above it
            value_kind, returns = "int", ("number" if kind == "Get" else "")
            params = idx + (("count",) if kind == "Set" else ())
        elif kind == "Add":
            assert simple is not None
            idx = _indexes(sum(1 for s in node.steps[:node.add_at] if s[1]))  # the lists above the target
            value_kind, enum = simple.value_kind, simple.enum
            params = idx + (value,)
        elif kind == "Exist":
            idx = _indexes(node.lists - 1)
            value_kind, returns = "bool", "boolean"
            params = idx + tuple(_camel(k.path[-1]) for k in node.keys)
        return ApiFunction(**base | {"path": node.path, "leaf": leaf, "value_kind": value_kind, "enum": enum,
                                     "params": params, "indexes": len(idx), "returns": returns,
                                     "simple": simple if leaf == "" else None, "node": node})

    # ---------------------------------------------------------------------------------- listing
    def all_functions(self, family: str, role: str) -> Iterator[ApiFunction]:
        """Every function of ``family`` for ``role``, each under its canonical name: the seed's spelling
        (wrappers stand for their lists; Exist names the list) unless that is ambiguous, then the next
        longer one that is not."""
        for msg, schema in sorted(self.space(family).items()):
            d = direction(msg, role)
            tree = self.tree(schema, msg)
            if d == "in":
                yield from (self._must(family, role, n) for n in (f"Receive_{msg}_001", f"Check_Received_{msg}"))
            else:
                yield from (self._must(family, role, n) for n in (f"Send_{msg}_001", f"Send_{msg}_002"))
            for node in tree.nodes:
                wanted: list[tuple[str, str, str]] = []  # (prefix, suffix, spelling modes)
                if node.simple is not None:
                    wanted.append((f"Get_{msg}_", "", "cf"))
                    if d == "out":
                        wanted.append((f"Set_{msg}_", "", "cf"))
                    if node.enum:
                        wanted.append((f"Check_{msg}_", "", "cf"))
                    if d == "out" and node.add_at >= 0:
                        wanted.append((f"Add_{msg}_", "", "cf"))
                if node.optional:
                    wanted.append((f"Get_{msg}_", "Specified", "cf"))
                    if d == "out":
                        wanted.append((f"Set_{msg}_", "Specified", "cf"))
                if node.is_list:
                    wanted.append((f"Get_{msg}_", "_Count", "cf"))
                    if d == "out":
                        wanted.append((f"Set_{msg}_", "_Count", "cf"))
                    elif node.keys:
                        wanted.append((f"Exist_{msg[:-3]}_", "", "ecf"))
                for prefix, suffix, modes in wanted:
                    yield self._canonical(family, role, node, prefix, suffix, modes)

    def _canonical(self, family: str, role: str, node: Node, prefix: str, suffix: str, modes: str) -> ApiFunction:
        tried = []
        for m in modes:
            name = f"{prefix}{node.spelling(_MODES[m])}{suffix}"
            fn = self.resolve(family, role, name)
            if fn is not None and fn.node is node:
                return fn
            tried.append(name)
        raise AssertionError(f"no name of {node.path} resolves back to it ({family}, {role}): {tried}")

    def _must(self, family: str, role: str, name: str) -> ApiFunction:
        fn = self.resolve(family, role, name)
        if fn is None:
            raise AssertionError(f"generated name {name} does not resolve ({family}, {role})")
        return fn


_MODES = {"c": "canonical", "e": "exist", "f": "full"}


def _indexes(n: int) -> tuple[str, ...]:
    return ("index",) if n == 1 else tuple(f"index{i + 1}" for i in range(n))


def _valid(kind: str, leaf: str, node: Node) -> bool:
    """Whether ``node`` can be what a function of this kind and leaf addresses."""
    if leaf == "Specified":
        return node.optional
    if leaf == "Count":
        return node.is_list
    if kind == "Exist":
        return node.is_list and bool(node.keys)
    if node.simple is None:
        return False
    if kind == "Check":
        return node.enum
    if kind == "Add":
        return node.add_at >= 0
    return True


REGISTRY = Registry()


def resolve(family: str, role: str, name: str) -> ApiFunction | None:
    """The function ``name`` means for a script playing ``role`` under ``family`` (None: no such function).
    ``name`` is without the role object (``Get_X``, not ``Secc.Get_X``; see split_qualified)."""
    return REGISTRY.resolve(family, role, name)


def functions(family: str, role: str) -> Iterator[str]:
    """Every canonical function name of ``family`` for ``role``."""
    return (f.name for f in REGISTRY.all_functions(family, role))


def all_functions(family: str, role: str, registry: Registry | None = None) -> Iterator[ApiFunction]:
    """Every function of ``family`` for ``role`` as :class:`ApiFunction` (canonical names)."""
    return (registry or REGISTRY).all_functions(family, role)
