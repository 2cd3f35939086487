"""Field access on codec objects by script API function: what ``Get_``/``Set_``/``Add_``/``Exist_``/``Check_``
do to a message.

``obj`` is the message as the codec holds it: the message element's object (``SessionSetupResType``, what
the session hooks hand over as ``body``), or for DIN/ISO-2 the whole ``V2G_MessageType`` document, which
``Header_...`` paths need (ISO-20 headers are inside the message object). ``fn`` comes from
:func:`v2gkit.testsys.api.resolve`, ``args`` are the script's arguments (list indices first, 0-based).

Values at the script boundary:

* enums are XSD literal strings (``"FAILED_SequenceError"``); the codec's enum members are accepted too;
* hexBinary and base64Binary are read as upper-case hex strings; they are set from bytes or a string:
  a string of hex digits (even length) is those octets, any other string its UTF-8 octets. The seed's
  DIN page sets the hexBinary ``EVSEID`` to ``'KR*TC1*DIN*001'`` and declares a 30-octet payload: only
  the 14 ASCII octets give 30 (7 octets of hex would give 23, 28 ASCII hex digits 44);
* integers (a Lua float with an integral value is taken), booleans, strings as they are.

A value that breaks a schema facet (out of range, too long, too many list items) is set as given: that
is a fault a test injects, and the lenient encoder writes it. A value no EXI stream can carry in that
field raises :class:`ScriptValueError` naming the function, the expected type and the value: a wrong
type, an enum literal the enumeration lacks, a negative unsigned integer, an n-bit integer outside its
``2**n`` codes.

``Set_`` creates what is missing on its way with valid defaults (mandatory children filled: the first
enum literal, 0 or the lower bound, empty or minimum-length strings and octets, the first alternative of
a mandatory choice); creating one alternative of a choice removes the others. An index past the end of a
list appends default items up to it. ``Set_..._Count(n)`` sizes a list to n items; the ``Add_`` calls
that follow fill those items in order (each field separately: ``Add_..._ServiceID`` then
``Add_..._ParameterSetID`` build one item) and append once they are used up. Without ``Count``, ``Add_``
appends after the items already there.
"""

from __future__ import annotations

import builtins
import enum
import string
from typing import Any

from v2gkit.exi.api import schema_module

from .api.model import ApiFunction, Node, ScriptValueError, SimpleInfo, Step
from .api.names import REGISTRY

__all__ = ["ScriptValueError", "add", "call", "check", "count", "exist", "get", "new", "new_message", "set"]

_HEX = frozenset(string.hexdigits)
_classes: dict[tuple[str, str], type] = {}
_literal_maps: dict[type, dict[str, Any]] = {}


# ------------------------------------------------------------------------------------------ classes


def _cls(schema: str, name: str) -> type:
    key = (schema, name)
    c = _classes.get(key)
    if c is None:
        c = _classes[key] = getattr(schema_module(schema), name)
    return c


def _default_simple(schema: str, si: SimpleInfo) -> Any:
    k = si.kind
    if k == "enum":
        return _cls(schema, si.enum_class)(0)
    if k in ("nbit", "uint", "int"):
        lo, hi = si.lo, si.hi
        return lo if lo is not None and lo > 0 else (hi if hi is not None and hi < 0 else 0)
    if k == "bool":
        return False
    if k == "string":
        return "0" * (si.min_len or 0)
    return bytes(si.min_len or 0)  # hex, b64


def new(schema: str, cls_name: str) -> Any:
    """A valid default object of codec class ``cls_name``: mandatory content filled, optional left out."""
    tables = REGISTRY.tables(schema)
    simple_ref, children = tables.T[cls_name]
    obj = _cls(schema, cls_name)()
    if simple_ref is not None:
        obj.value = _default_simple(schema, _simple(schema, simple_ref))
    per_group: dict[int, int] = {}
    for c in children:
        if c[2] == "e":
            per_group[c[6]] = per_group.get(c[6], 0) + 1
    done: builtins.set[int] = builtins.set()
    for _name, py, ea, mn, mx, t, group, abstract in children:
        if mn == 0:
            continue
        if ea == "e" and per_group.get(group, 0) > 1:  # a mandatory choice: its first concrete alternative
            if group in done or abstract:
                continue
            done.add(group)
        is_list = mx is None or mx > 1
        one = (lambda t=t: new(schema, t)) if isinstance(t, str) else (
            lambda t=t: _default_simple(schema, _simple(schema, t)))
        setattr(obj, py, [one() for _ in range(mn)] if is_list else one())
    return obj


def new_message(schema: str, message: str) -> Any:
    """A valid default message element object (``schema``: din iso2 iso20 iso20-dc ... apphand)."""
    return new(schema, REGISTRY.tables(schema).M[message][0])


_simple_cache: dict[tuple[str, int], SimpleInfo] = {}


def _simple(schema: str, ref: int) -> SimpleInfo:
    key = (schema, ref)
    si = _simple_cache.get(key)
    if si is None:
        si = _simple_cache[key] = SimpleInfo(*REGISTRY.tables(schema).S[ref])
    return si


def _new_step(fn: ApiFunction, step: Step) -> Any:
    """A default object for one level of a route (an item of a list, or an absent element)."""
    if step[2]:
        return new(fn.family, step[2])
    si = step[5]
    assert si is not None
    return _default_simple(fn.family, si)


# ------------------------------------------------------------------------------------------ values


def _literals(cls: type) -> dict[str, Any]:
    m = _literal_maps.get(cls)
    if m is None:
        m = _literal_maps[cls] = {lit: cls(i) for i, lit in enumerate(cls._xsd)}  # type: ignore[attr-defined]
    return m


def to_script(fn: ApiFunction, si: SimpleInfo, v: Any) -> Any:
    """A codec value as the script sees it."""
    if v is None:
        return None
    k = si.kind
    if k == "enum":
        lits = _cls(fn.family, si.enum_class)._xsd  # type: ignore[attr-defined]
        i = int(v)
        return lits[i] if 0 <= i < len(lits) else i
    if k in ("hex", "b64"):
        return bytes(v).hex().upper()
    return v


def _expect(si: SimpleInfo) -> str:
    k = si.kind
    if k == "enum":
        lits = ", ".join(si.literals[:8]) + (", ..." if len(si.literals) > 8 else "")
        return f"{si.enum} ({lits})"
    if k == "nbit":
        return f"an integer {si.lo}..{si.lo + (1 << si.nbits) - 1} ({si.nbits}-bit field; schema {si.lo}..{si.hi})"
    if k == "uint":
        return "an unsigned integer"
    if k == "int":
        return "an integer"
    if k == "bool":
        return "a boolean"
    if k == "string":
        return "a string"
    return "octets: bytes or a string (hex digits, else its UTF-8 octets)"


def from_script(fn: ApiFunction, si: SimpleInfo, v: Any) -> Any:
    """A script value as the codec holds it; ScriptValueError when the stream cannot carry it."""
    k = si.kind
    bad = False
    if k == "enum":
        if isinstance(v, enum.Enum):  # a codec member (of any schema set): by its literal
            xsd = getattr(type(v), "_xsd", None)
            v = xsd[v.value] if xsd is not None and isinstance(v.value, int) else v.name
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        if isinstance(v, str):
            lits = _literals(_cls(fn.family, si.enum_class))
            got = lits.get(v)
            if got is None and v.startswith("Unit_"):
                got = lits.get(v[5:])
            if got is not None:
                return got
        bad = True
    elif k in ("nbit", "uint", "int"):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int):
            bad = True
        elif k == "uint" and v < 0:
            raise ScriptValueError(fn.name, _expect(si), v, "an unsigned field cannot carry a negative number")
        elif k == "nbit" and si.lo is not None and not si.lo <= v < si.lo + (1 << si.nbits):
            raise ScriptValueError(fn.name, _expect(si), v, "outside what the field's bits can carry")
        else:
            return v
    elif k == "bool":
        if isinstance(v, bool):
            return v
        bad = True
    elif k == "string":
        if isinstance(v, bytes):
            try:
                return v.decode("utf-8")
            except UnicodeDecodeError:
                bad = True
        elif isinstance(v, str):
            return v
        else:
            bad = True
    else:  # hex, b64
        if isinstance(v, (bytes, bytearray, memoryview)):
            return bytes(v)
        if isinstance(v, str):
            if len(v) % 2 == 0 and _HEX.issuperset(v):
                return bytes.fromhex(v)
            return v.encode("utf-8")
        bad = True
    if bad:
        raise ScriptValueError(fn.name, _expect(si), v)
    return v


def _index(fn: ApiFunction, v: Any) -> int:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ScriptValueError(fn.name, "a list index (0-based integer >= 0)", v)
    return v


def _split(fn: ApiFunction, args: Any, values: int) -> tuple[list[int], list[Any]]:
    args = tuple(args)
    if len(args) != fn.indexes + values:
        want = ", ".join(fn.params) or "no arguments"
        raise ScriptValueError(fn.name, f"{len(fn.params)} argument(s): ({want})", args,
                               "wrong number of arguments")
    return [_index(fn, a) for a in args[:fn.indexes]], list(args[fn.indexes:])


# ------------------------------------------------------------------------------------------ routes


def _root(obj: Any, fn: ApiFunction, create: bool) -> Any:
    """The object the node's route starts from: the message element, or the DIN/ISO-2 header."""
    node = fn.node
    assert node is not None
    if fn.body_attr and type(obj).__name__ == "V2G_MessageType":
        if node.scope == "header":
            h = obj.header
            if h is None and create:
                h = obj.header = new(fn.family, REGISTRY.tables(fn.family).HEADER)
            return h
        body = obj.body
        if body is None:
            if not create:
                return None
            body = obj.body = _cls(fn.family, "BodyType")()
        el = getattr(body, fn.body_attr, None)
        if el is None and create:
            el = new(fn.family, fn.message_class)
            setattr(body, fn.body_attr, el)
        return el
    if node.scope == "header":
        raise TypeError(f"{fn.name}: a DIN/ISO-2 header path needs the V2G_Message document, "
                        f"not {type(obj).__name__}")
    if type(obj).__name__ != fn.message_class:
        raise TypeError(f"{fn.name} works on {fn.message_class} ({fn.family}), not {type(obj).__name__}")
    return obj


def _clear(parent: Any, step: Step) -> None:
    for other in step[3]:
        if getattr(parent, other) is not None:
            setattr(parent, other, [] if isinstance(getattr(parent, other), list) else None)


def _descend(fn: ApiFunction, cur: Any, steps: tuple[Step, ...], idx: list[int], create: bool) -> Any:
    """Walk ``steps`` from ``cur`` (consuming an index per list); None when something is absent and not
    created."""
    k = 0
    for step in steps:
        if cur is None:
            return None
        py, is_list = step[0], step[1]
        v = getattr(cur, py)
        if is_list:
            i = idx[k]
            k += 1
            if v is None:
                if not create:
                    return None
                v = []
                setattr(cur, py, v)
            if i >= len(v):
                if not create:
                    return None
                if not v:
                    _clear(cur, step)
                while len(v) <= i:
                    v.append(_new_step(fn, step))
            v = v[i]
        elif v is None:
            if not create:
                return None
            _clear(cur, step)
            v = _new_step(fn, step)
            setattr(cur, py, v)
        cur = v
    return cur


def _parent(fn: ApiFunction, obj: Any, idx: list[int], create: bool) -> Any:
    """The object holding the node's last step."""
    node = fn.node
    assert node is not None
    root = _root(obj, fn, create)
    steps = node.steps[:-1]
    return _descend(fn, root, steps, idx, create)


def _value_of(fn: ApiFunction, node: Node, v: Any) -> Any:
    if v is not None and node.value_attr:
        v = getattr(v, node.value_attr)
    return to_script(fn, node.simple, v)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ the verbs


def get(obj: Any, fn: ApiFunction, args: Any = ()) -> Any:
    """``Get_``: the value (None when absent), the presence (``Specified``) or the length (``Count``)."""
    assert fn.node is not None and fn.kind == "Get"
    idx, _ = _split(fn, args, 0)
    return _read(obj, fn, idx)


def _read(obj: Any, fn: ApiFunction, idx: list[int]) -> Any:
    node = fn.node
    assert node is not None
    last = node.steps[-1]
    if fn.leaf == "Count":
        parent = _parent(fn, obj, idx, False)
        lst = getattr(parent, last[0]) if parent is not None else None
        return len(lst) if lst else 0
    if fn.leaf == "Specified":
        parent = _parent(fn, obj, idx, False)
        return parent is not None and getattr(parent, last[0]) is not None
    parent = _parent(fn, obj, idx[:-1] if last[1] else idx, False)
    if parent is None:
        return None
    v = getattr(parent, last[0])
    if last[1]:
        i = idx[-1]
        v = v[i] if v is not None and i < len(v) else None
    return _value_of(fn, node, v)


def count(obj: Any, fn: ApiFunction, args: Any = ()) -> int:
    """``Get_..._Count``: a list's length (0 when it or its parent is absent)."""
    if fn.leaf != "Count":
        raise TypeError(f"{fn.name} is not a Count function")
    return get(obj, fn, args)


class _Sized(list):
    """A list sized by ``Set_..._Count``: the following ``Add_`` calls fill its items before appending.
    ``next`` holds, per field, the item the next Add of that field fills; ``base`` where Adds of a field
    not yet added start."""

    __slots__ = ("base", "next")

    def __init__(self, items: Any = (), base: int = 0) -> None:
        super().__init__(items)
        self.base = base
        self.next: dict[tuple[str, ...], int] = {}


def set(obj: Any, fn: ApiFunction, args: Any) -> None:
    """``Set_``: a value, a presence (``Specified``) or a list length (``Count``) of an outgoing message."""
    node = fn.node
    assert node is not None and fn.kind == "Set"
    idx, (value,) = _split(fn, args, 1)
    last = node.steps[-1]
    if fn.leaf == "Count":
        n = _index(fn, value) if not (isinstance(value, bool) or value is None) else -1
        if n < 0:
            raise ScriptValueError(fn.name, "a count (integer >= 0)", value)
        parent = _parent(fn, obj, idx, True)
        old = getattr(parent, last[0]) or []
        if n and not old:
            _clear(parent, last)
        items = list(old[:n])
        while len(items) < n:
            items.append(_new_step(fn, last))
        setattr(parent, last[0], _Sized(items))
        return
    if fn.leaf == "Specified":
        if not isinstance(value, bool):
            raise ScriptValueError(fn.name, "a boolean (true: the element is present)", value)
        parent = _parent(fn, obj, idx, True)
        if not value:
            setattr(parent, last[0], None)
        elif getattr(parent, last[0]) is None:
            _clear(parent, last)
            setattr(parent, last[0], _new_step(fn, last))
        return
    if value is None:
        raise ScriptValueError(fn.name, _expect(node.simple), value,  # type: ignore[arg-type]
                               "to leave an optional field out, use its Specified(false)")
    v = from_script(fn, node.simple, value)  # type: ignore[arg-type]
    if last[1]:
        parent = _parent(fn, obj, idx[:-1], True)
        _put(fn, node, parent, last, idx[-1], v)
    else:
        parent = _parent(fn, obj, idx, True)
        _put(fn, node, parent, last, None, v)


def _put(fn: ApiFunction, node: Node, parent: Any, last: Step, i: int | None, v: Any) -> None:
    """Store value ``v`` at the node's last step (item ``i`` of a list)."""
    py = last[0]
    if i is not None:
        lst = getattr(parent, py)
        if lst is None:
            lst = []
            setattr(parent, py, lst)
        if not lst:
            _clear(parent, last)
        while len(lst) <= i:
            lst.append(_new_step(fn, last))
        if node.value_attr:
            setattr(lst[i], node.value_attr, v)
        else:
            lst[i] = v
        return
    if node.value_attr:
        el = getattr(parent, py)
        if el is None:
            _clear(parent, last)
            el = _new_step(fn, last)
            setattr(parent, py, el)
        setattr(el, node.value_attr, v)
    else:
        if getattr(parent, py) is None:
            _clear(parent, last)
        setattr(parent, py, v)


def add(obj: Any, fn: ApiFunction, args: Any) -> None:
    """``Add_<Msg>_<List>_<Field>(v)``: fill ``<Field>`` of the list's next item (see the module text)."""
    node = fn.node
    assert node is not None and fn.kind == "Add"
    idx, (value,) = _split(fn, args, 1)
    if value is None:
        raise ScriptValueError(fn.name, _expect(node.simple), value)  # type: ignore[arg-type]
    v = from_script(fn, node.simple, value)  # type: ignore[arg-type]
    at = node.add_at
    lstep = node.steps[at]
    holder = _descend(fn, _root(obj, fn, True), node.steps[:at], idx, True)
    lst = getattr(holder, lstep[0])
    if not isinstance(lst, _Sized):
        lst = _Sized(lst or [], base=len(lst or []))
        setattr(holder, lstep[0], lst)
    key = node.path
    k = lst.next.get(key, lst.base)
    if k >= len(lst):
        if not lst:
            _clear(holder, lstep)
        lst.append(_new_step(fn, lstep))
        k = len(lst) - 1
    lst.next[key] = k + 1
    rest = node.steps[at + 1:]
    if not rest:  # a list of simple values, or of elements whose value is the item
        if node.value_attr:
            setattr(lst[k], node.value_attr, v)
        else:
            lst[k] = v
        return
    parent = _descend(fn, lst[k], rest[:-1], [0] * len(rest), True)
    _put(fn, node, parent, rest[-1], None, v)


def exist(obj: Any, fn: ApiFunction, args: Any) -> bool:
    """``Exist_<Msg>_<Item>(k1, k2, ...)``: whether a received list has an item whose key fields (its
    simple children, in schema order) equal the arguments; a nil argument matches anything."""
    node = fn.node
    assert node is not None and fn.kind == "Exist"
    args = tuple(args)
    nkeys = len(fn.params) - fn.indexes
    if not fn.indexes <= len(args) <= fn.indexes + nkeys:
        raise ScriptValueError(fn.name, f"up to {len(fn.params)} argument(s): ({', '.join(fn.params)})", args,
                               "wrong number of arguments")
    idx = [_index(fn, a) for a in args[:fn.indexes]]
    want = []
    for key, a in zip(node.keys, args[fn.indexes:], strict=False):
        want.append((key, None if a is None else to_script(fn, key.simple, from_script(fn, key.simple, a))))
    holder = _descend(fn, _root(obj, fn, False), node.steps[:-1], idx, False)
    lst = getattr(holder, node.steps[-1][0]) if holder is not None else None
    for item in lst or ():
        ok = True
        for key, w in want:
            if w is None:
                continue
            v = item if key is node else getattr(item, key.steps[-1][0])
            if _value_of(fn, key, v) != w:
                ok = False
                break
        if ok:
            return True
    return False


def check(obj: Any, fn: ApiFunction, args: Any) -> bool:
    """``Check_<Msg>_<Path>(expected)``: whether an enum field equals ``expected`` (a literal)."""
    node = fn.node
    assert node is not None and fn.kind == "Check"
    args = tuple(args)
    if len(args) != fn.nparams:
        raise ScriptValueError(fn.name, f"{fn.nparams} argument(s): ({', '.join(fn.params)})", args,
                               "wrong number of arguments")
    idx = [_index(fn, a) for a in args[:-1]]
    want = to_script(fn, node.simple, from_script(fn, node.simple, args[-1]))  # type: ignore[arg-type]
    return _read(obj, fn, idx) == want


_VERBS = {"Get": get, "Set": set, "Add": add, "Exist": exist, "Check": check}


def call(obj: Any, fn: ApiFunction, args: Any = ()) -> Any:
    """Run a field function (Get, Set, Add, Exist, Check) on ``obj``; what it returns."""
    verb = _VERBS.get(fn.kind)
    if verb is None:
        raise TypeError(f"{fn.name} ({fn.kind}) is no field function: the engine runs it")
    return verb(obj, fn, args)
