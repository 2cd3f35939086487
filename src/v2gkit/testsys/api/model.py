"""What a script API name resolves to: :class:`ApiFunction`, and the field tree of a message it points into.

The generated tables (``tables/<set>.py``, see :mod:`.generate`) hold each schema set's type graph; a
:class:`MessageTree` unfolds one message's graph into :class:`Node` s once, on first use. A node is one
element or attribute below the message element (or below ``V2G_Message.Header`` for DIN/ISO-2), with
the route :mod:`v2gkit.testsys.fields` walks on the codec objects: Python attribute names, where lists
are, which classes to create.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ApiFunction", "MessageTree", "Node", "ScriptValueError", "SimpleInfo", "Step", "lua_enum_name"]


class ScriptValueError(ValueError):
    """A script passed a value the function cannot take at all (wrong type, an enum literal that does not
    exist, a number no EXI stream can carry there, a bad index). Values that only break a schema facet are
    not errors: they are faults a test may inject."""

    def __init__(self, function: str, expected: str, value: Any, detail: str = "") -> None:
        self.function, self.expected, self.value = function, expected, value
        text = f"{function}: expected {expected}, got {value!r}"
        if detail:
            text += f" ({detail})"
        super().__init__(text)


def lua_enum_name(xsd_name: str) -> str:
    """The Lua global table of an XSD enumeration: its type name with the first letter upper-cased, as the
    seed spells them (ISO-2 ``responseCodeType`` -> ``ResponseCodeType``)."""
    return xsd_name[:1].upper() + xsd_name[1:]


@dataclass(frozen=True)
class SimpleInfo:
    """A leaf's value type: ``kind`` (enum nbit uint int bool string hex b64), schema facets, enum literals."""

    kind: str
    lo: int | None = None
    hi: int | None = None
    min_len: int | None = None
    max_len: int | None = None
    enum_class: str = ""  # the codec's enum class name
    xsd_name: str = ""
    literals: tuple[str, ...] = ()

    @property
    def enum(self) -> str:
        """The Lua enum table name ("" for non-enums)."""
        return lua_enum_name(self.xsd_name or self.enum_class) if self.kind == "enum" else ""

    @property
    def nbits(self) -> int:
        """Bits of an n-bit integer (EXI 7.1.9): the values lo .. lo + 2**nbits - 1 fit the stream."""
        if self.kind != "nbit" or self.lo is None or self.hi is None:
            return 0
        return max(0, math.ceil(math.log2(self.hi - self.lo + 1)))

    @property
    def value_kind(self) -> str:
        return {"nbit": "int", "uint": "int", "int": "int", "b64": "base64"}.get(self.kind, self.kind)

    @property
    def lua_type(self) -> str:
        """What a getter returns, in the pages' words: an enum type name, number, string or boolean."""
        if self.kind == "enum":
            return self.enum
        return {"bool": "boolean", "string": "string", "hex": "string", "b64": "string"}.get(self.kind, "number")


#: one level of a route: (python attribute, is a list, codec class to create or "" for a simple value,
#: attributes of the other choice alternatives to clear when this one is created, minOccurs,
#: the simple type of a simple value or None)
Step = tuple[str, bool, str, tuple[str, ...], int, "SimpleInfo | None"]


@dataclass(eq=False)
class Node:
    """One element or attribute of a message's field tree."""

    path: tuple[str, ...]
    steps: tuple[Step, ...]
    #: "body": below the message element; "header": below V2G_Message.Header (DIN/ISO-2 only)
    scope: str
    #: the value's type, for nodes that carry one (simple elements and attributes, simple content, and
    #: elements whose one required attribute is their value, like xmldsig's ``SignatureMethod``)
    simple: SimpleInfo | None
    #: how the value is read from the node's object: "" (the node is the value), "value" (simple content),
    #: else the attribute's python name (the element's one required attribute)
    value_attr: str
    is_list: bool
    min: int
    max: int | None
    optional: bool
    complex: str  # codec class of an element of complex type, else ""
    attribute: bool
    #: (name parts, index of the wrapper in the path) pairs: a wrapper is an element whose only content is
    #: one list; its list may be named by the wrapper alone (``SelectedServiceList_ServiceID``) or by
    #: the list alone (``Exist_..._SelectedService``)
    pairs: tuple[int, ...] = ()
    #: for list nodes of complex items: the item's keys for Exist (direct simple children)
    keys: tuple[Node, ...] = ()
    #: the innermost list step on the route (for Add), -1 if none
    add_at: int = -1

    @property
    def lists(self) -> int:
        """How many list indices address this node (one per list on its route, itself included)."""
        return sum(1 for s in self.steps if s[1])

    @property
    def enum(self) -> bool:
        return self.simple is not None and self.simple.kind == "enum"

    def spelling(self, mode: str = "canonical") -> str:
        """The path as the API spells it. ``canonical``: a wrapper stands for its list (seed style,
        ``SelectedServiceList_ServiceID``); ``exist``: the same, but the last wrapper-list pair is named by
        the list (``SelectedService``); ``full``: every element named."""
        parts = list(self.path)
        drop: set[int] = set()
        for w in self.pairs:
            if mode == "full":
                continue
            if mode == "exist" and w == max(self.pairs) and w + 1 == len(parts) - 1:
                drop.add(w)
            else:
                drop.add(w + 1)
        return "_".join(p for i, p in enumerate(parts) if i not in drop)

    def spellings(self) -> list[tuple[str, int]]:
        """Every accepted spelling with its number of elisions (each wrapper-list pair: both names, the
        wrapper's, or the list's)."""
        out = [(list(self.path), 0)]
        for w in self.pairs:
            nxt = []
            for parts, n in out:
                nxt.append((parts, n))
                a = list(parts)
                a[w + 1] = None  # type: ignore[call-overload]
                nxt.append((a, n + 1))
                b = list(parts)
                b[w] = None  # type: ignore[call-overload]
                nxt.append((b, n + 1))
            out = nxt
        return [("_".join(p for p in parts if p is not None), n) for parts, n in out]


@dataclass(frozen=True)
class ApiFunction:
    """One script API function, as a name resolves: what it does and to which field.

    ``path`` names the elements (and attributes) below the message element, or starts with ``Header``;
    ``leaf`` is "" (the field's value), "Specified" (presence of an optional element) or "Count" (length
    of a list). ``params`` are the parameter names: list indices first (0-based), then the value.
    """

    name: str
    kind: str  # Receive Send CheckReceived Get Set Add Exist Check
    family: str  # schema set of the message: din iso2 iso20 iso20-ac iso20-dc iso20-wpt iso20-acdp apphand
    role: str  # secc evcc
    message: str  # API spelling of the message element (SupportedAppProtocolReq)
    element: str  # the schema's spelling (supportedAppProtocolReq)
    direction: str  # in (received by the role) | out (sent by it)
    path: tuple[str, ...] = ()
    leaf: str = ""
    #: enum int string hex base64 bool ("" for Send/Receive); Count is int, Specified bool
    value_kind: str = ""
    #: the Lua enum table of an enum value ("" otherwise)
    enum: str = ""
    params: tuple[str, ...] = ()
    #: how many of ``params`` are list indices (they come first)
    indexes: int = 0
    #: what the function returns, in the pages' words ("" when nothing)
    returns: str = ""
    variant: str = ""  # "001" / "002" for Send and Receive
    #: the value's type and facets (None for functions without a value)
    simple: SimpleInfo | None = None
    #: the message's codec class and, for DIN/ISO-2, its attribute in BodyType
    message_class: str = ""
    body_attr: str = ""
    node: Node | None = field(default=None, compare=False, repr=False)

    @property
    def nparams(self) -> int:
        return len(self.params)


class MessageTree:
    """One message's field tree, unfolded from its schema set's tables once."""

    def __init__(self, tables: Any, message: str) -> None:
        self.tables = tables
        self.message = message
        self.cls, self.body_attr = tables.M[message]
        self.element = tables.ELEMENT.get(message, message)
        self._simple = [SimpleInfo(*row) for row in tables.S]
        self.nodes: list[Node] = []
        self._spell: dict[str, list[tuple[Node, int]]] = {}
        if tables.HEADER:
            self._walk(tables.HEADER, ("Header",), (), (), "header", 1)
        self._walk(self.cls, (), (), (), "body", 0)
        for n in self.nodes:
            for s, k in n.spellings():
                self._spell.setdefault(s, []).append((n, k))

    def lookup(self, spelling: str) -> list[tuple[Node, int]]:
        """The nodes a spelling can name, with the number of elisions each reading needs."""
        return self._spell.get(spelling, [])

    def simple(self, ref: int) -> SimpleInfo:
        return self._simple[ref]

    def _walk(self, cls: str, path: tuple[str, ...], steps: tuple[Step, ...], pairs: tuple[int, ...],
              scope: str, depth: int, in_list: bool = False) -> list[Node]:
        from .generate import MAX_DEPTH

        if depth > MAX_DEPTH:
            return []
        _simple, children = self.tables.T[cls]
        per_group: dict[int, int] = {}
        for c in children:
            if c[2] == "e":
                per_group[c[6]] = per_group.get(c[6], 0) + 1
        # a wrapper: a single (not repeated) element whose only content is one list
        wrapper_of = path and not in_list and len(children) == 1 and children[0][2] == "e" and (
            children[0][4] is None or children[0][4] > 1)
        made: list[Node] = []
        for name, py, ea, mn, mx, t, group, _abstract in children:
            is_list = mx is None or mx > 1
            choice = ea == "e" and per_group.get(group, 0) > 1
            # creating one alternative of a choice removes the others; alternatives that are lists belong to a
            # repeated choice ((A | B)+: xmldsig KeyInfo), whose alternatives mix
            siblings = tuple(o[1] for o in children if o[2] == "e" and o[6] == group and o[1] != py) if (
                choice and not is_list) else ()
            here = path + (name,)
            if isinstance(t, str):  # complex
                sc, sub = self.tables.T[t]
                simple, value_attr = None, ""
                if sc is not None:
                    simple, value_attr = self._simple[sc], "value"
                else:
                    req = [a for a in sub if a[2] == "a" and a[3] > 0]
                    if len(req) == 1:
                        simple, value_attr = self._simple[req[0][5]], req[0][1]
                step: Step = (py, is_list, t, siblings, mn, None)
            else:
                simple, value_attr = self._simple[t], ""
                step = (py, is_list, "", siblings, mn, simple)
            st = steps + (step,)
            my_pairs = pairs + ((len(path) - 1,) if wrapper_of else ())
            add_at = max((i for i, s in enumerate(st) if s[1]), default=-1)
            node = Node(path=here, steps=st, scope=scope, simple=simple, value_attr=value_attr, is_list=is_list,
                        min=mn, max=mx, optional=not is_list and (mn == 0 or choice),
                        complex=t if isinstance(t, str) else "", attribute=ea == "a", pairs=my_pairs,
                        add_at=add_at)
            self.nodes.append(node)
            made.append(node)
            if isinstance(t, str):
                kids = self._walk(t, here, st, my_pairs, scope, depth + 1, is_list)
                if is_list:
                    node.keys = tuple(k for k in kids if k.simple is not None and not k.is_list
                                      and not k.attribute and len(k.path) == len(here) + 1)
            elif is_list:
                node.keys = (node,)
        return made
