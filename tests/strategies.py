"""Hypothesis strategies for the generated message classes, driven only by the schema metadata.

``instances(module, cls)`` reads ``META``, ``CHOICE_REQUIRED`` and ``UNSUPPORTED`` of a generated
module (``v2gkit.exi.gen.<schema>``) and builds valid instances of ``cls``: no per-message code.

Rules (see the rows of META: py_attr, xsd_name, ns, kind, type, is_list, required, max_occurs, group):

* simple values: strings of 0..12 characters from all of Unicode except surrogates, bytes of
  0..20 octets (both capped by max_len), integers in lo..hi (±2**40 where a bound is missing) with
  the edge values mixed in, every member of an enumeration, booleans;
* lists: min..min(max_occurs, 3) items, min = 1 for a required list;
* optional fields: present or absent; a group of more than one row is a choice: exactly one
  alternative when the group is in CHOICE_REQUIRED, at most one otherwise; a choice of lists is a
  repeated choice (``<choice maxOccurs="unbounded">``) and may fill several of its lists;
* classes in UNSUPPORTED are never generated: an optional field of such a type stays absent, and
  a class that needs one is not generatable (``generatable()`` is False);
* beyond depth 6 only the required fields (and required choices) are set.

``xml_safe=True`` narrows strings to what XML 1.0 text can carry back unchanged (no C0 control
other than TAB and LF, no CR, no U+FFFE/U+FFFF). It exists only for the XML round trip, because
``to_xml`` does not handle those characters; test_properties.py keeps that failure visible with
full-Unicode strings (test_xml_full_unicode_roundtrip, test_xml_control_character,
test_xml_carriage_return_in_text).
"""

from __future__ import annotations

from collections import defaultdict
from types import ModuleType
from typing import Any

from hypothesis import strategies as st

MAX_DEPTH = 6
WIDE = 2**40
MAX_STR = 12
MAX_BIN = 20
MAX_LIST = 3

_EDGES = (0, -1, 1, 127, 128, 255, 256, -64, -65, -128, -129, 16383, 16384,
          2**31 - 1, -(2**31), 2**32 - 1, 2**32, WIDE, -WIDE)

#: characters XML 1.0 cannot carry (C0 controls but TAB/LF, U+FFFE, U+FFFF) plus CR, which the
#: XML parser turns into LF when it is written raw in element text
XML_UNSAFE = frozenset([chr(c) for c in range(0x20) if c not in (0x9, 0xA)] + ["\ufffe", "\uffff"])

_CACHE: dict[tuple[str, type, int, bool], st.SearchStrategy] = {}
_SIMPLE_CACHE: dict[tuple, st.SearchStrategy] = {}
_GEN_CACHE: dict[tuple[str, type], bool] = {}


# ------------------------------------------------------------------ simple values


def integers(lo: int | None, hi: int | None) -> st.SearchStrategy[int]:
    lo_ = -WIDE if lo is None else lo
    hi_ = WIDE if hi is None else hi
    edges = sorted({e for e in (lo_, hi_, *_EDGES) if lo_ <= e <= hi_})
    return st.one_of(st.sampled_from(edges), st.integers(lo_, hi_))


def text(max_len: int | None = None, xml_safe: bool = False) -> st.SearchStrategy[str]:
    """0..12 characters (capped by max_len) from all of Unicode except surrogates."""
    n = MAX_STR if max_len is None else min(MAX_STR, max_len)
    chars = st.characters(exclude_categories=("Cs",),
                          exclude_characters=XML_UNSAFE if xml_safe else None)
    return st.text(chars, min_size=0, max_size=n)


def simple(spec: tuple, xml_safe: bool = False) -> st.SearchStrategy:
    """Strategy for a simple spec ``(kind, lo, hi, enum_cls, max_len)``."""
    key = (spec, xml_safe)
    s = _SIMPLE_CACHE.get(key)
    if s is not None:
        return s
    kind, lo, hi, enum_cls, max_len = spec
    if kind == "string":
        s = text(max_len, xml_safe)
    elif kind in ("hex", "b64"):
        n = MAX_BIN if max_len is None else min(MAX_BIN, max_len)
        s = st.binary(min_size=0, max_size=n)
    elif kind == "bool":
        s = st.booleans()
    elif kind in ("nbit", "uint", "int"):
        if kind == "uint" and lo is None:
            lo = 0
        s = integers(lo, hi)
    elif kind == "enum":
        s = st.sampled_from(list(enum_cls))
    else:  # pragma: no cover - a kind the generator does not know
        raise ValueError(f"unknown simple kind {kind!r}")
    _SIMPLE_CACHE[key] = s
    return s


# ------------------------------------------------------------------ classes


def generatable(module: ModuleType, t: Any, _seen: frozenset = frozenset()) -> bool:
    """Can a valid value of type ``t`` (class or simple spec) be built without UNSUPPORTED classes?"""
    if not isinstance(t, type):
        return True
    key = (module.__name__, t)
    if key in _GEN_CACHE:
        return _GEN_CACHE[key]
    if t in module.UNSUPPORTED or t in getattr(module, "CONSTRAINED", {}):
        return False
    if t in _seen:  # a cycle through required fields: not finitely buildable
        return False
    seen = _seen | {t}
    ok = True
    groups = _groups(module, t)
    required_choices = module.CHOICE_REQUIRED.get(t, frozenset())
    for g, rows in groups.items():
        if len(rows) == 1 and g not in required_choices:
            row = rows[0]
            if row[6] and not generatable(module, row[4], seen):
                ok = False
        elif g in required_choices and not any(generatable(module, r[4], seen) for r in rows):
            ok = False
        if not ok:
            break
    if not _seen:  # results below the top may depend on the path (cycles): cache the top only
        _GEN_CACHE[key] = ok
    return ok


def _groups(module: ModuleType, cls: type) -> dict[int, list[tuple]]:
    """META rows by group; abstract elements (substitution-group heads) are left out: never on the wire."""
    groups: dict[int, list[tuple]] = defaultdict(list)
    abstract = module.ABSTRACT.get(cls, {})
    for row in module.META[cls]:
        if row[0] not in abstract:
            groups[row[8]].append(row)
    return dict(groups)


def _value(module: ModuleType, t: Any, depth: int, xml_safe: bool) -> st.SearchStrategy:
    if isinstance(t, type):
        return st.deferred(lambda: instances(module, t, depth, xml_safe=xml_safe))
    return simple(t, xml_safe)


def _list(module: ModuleType, row: tuple, depth: int, min_size: int, xml_safe: bool) -> st.SearchStrategy:
    max_occ = row[7]
    hi = MAX_LIST if max_occ is None else min(MAX_LIST, max_occ)
    hi = max(hi, min_size)
    return st.lists(_value(module, row[4], depth, xml_safe), min_size=min_size, max_size=hi)


def _field(module: ModuleType, row: tuple, depth: int, deep: bool,
           xml_safe: bool) -> st.SearchStrategy | None:
    """Strategy for one field outside a choice; None = leave at its default."""
    _py, _xsd, _ns, _kind, t, is_list, required, _max, _g = row[:9]
    if not generatable(module, t):
        if required:
            raise ValueError(f"required field {row[1]} has an unsupported type")
        return None
    if is_list:
        if deep and not required:
            return None
        return _list(module, row, depth, row[9] if required or row[9] else 0, xml_safe)
    v = _value(module, t, depth, xml_safe)
    if required:
        return v
    if deep:
        return None
    return st.none() | v


def _choice(module: ModuleType, rows: list[tuple], required: bool, depth: int,
            deep: bool, xml_safe: bool) -> st.SearchStrategy | None:
    """Strategy for a choice group: a dict {py_attr: value} of the alternatives set."""
    alts = [r for r in rows if generatable(module, r[4])]
    if not alts:
        if required:
            raise ValueError("required choice without a supported alternative")
        return None
    if deep and not required:
        return None
    if all(r[5] for r in alts):
        # repeated choice: several lists may be filled; a required one needs an element
        @st.composite
        def repeated(draw: Any) -> dict[str, list]:
            out: dict[str, list] = {}
            first = draw(st.sampled_from(alts)) if required else None
            for r in alts:
                if deep and r is not first:
                    continue
                lo = 1 if r is first else 0
                items = draw(_list(module, r, depth, lo, xml_safe))
                if items:
                    out[r[0]] = items
            return out

        return repeated()

    def one(r: tuple) -> st.SearchStrategy:
        if r[5]:
            return _list(module, r, depth, 1, xml_safe).map(lambda v, py=r[0]: {py: v})
        return _value(module, r[4], depth, xml_safe).map(lambda v, py=r[0]: {py: v})

    chosen = st.one_of([one(r) for r in alts])
    if required:
        return chosen
    return st.just({}) | chosen


def instances(module: ModuleType, cls: type, depth: int = 0, *, xml_safe: bool = False) -> st.SearchStrategy:
    """Valid instances of the generated dataclass ``cls`` of ``module`` (cached per class and depth)."""
    level = min(depth, MAX_DEPTH + 1)
    key = (module.__name__, cls, level, xml_safe)
    s = _CACHE.get(key)
    if s is not None:
        return s
    if not generatable(module, cls):
        raise ValueError(f"{cls.__name__} needs an unsupported class: {module.UNSUPPORTED.get(cls)}")
    deep = level > MAX_DEPTH
    child = level + 1
    fields: dict[str, st.SearchStrategy] = {}
    choices: list[st.SearchStrategy] = []
    required_choices = module.CHOICE_REQUIRED.get(cls, frozenset())
    for g, rows in _groups(module, cls).items():
        if len(rows) == 1 and g not in required_choices:  # a required choice may have kept one alternative
            f = _field(module, rows[0], child, deep, xml_safe)
            if f is not None:
                fields[rows[0][0]] = f
        else:
            c = _choice(module, rows, g in required_choices, child, deep, xml_safe)
            if c is not None:
                choices.append(c)

    @st.composite
    def build(draw: Any) -> Any:
        kwargs = {py: draw(f) for py, f in fields.items()}
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        for c in choices:
            kwargs.update(draw(c))
        return cls(**kwargs)

    s = build()
    _CACHE[key] = s
    return s


def root_elements(module: ModuleType, fragment: bool = False) -> list[tuple[str, type]]:
    """(element name, class) of the generatable complex-typed roots of a schema module."""
    rows = module.FRAG_ELEMENTS if fragment else module.DOC_ELEMENTS
    return [(r[0], r[4]) for r in rows
            if isinstance(r[4], type) and generatable(module, r[4]) and not is_abstract_root(r)]


def is_abstract_root(row: tuple) -> bool:
    """A global element declared abstract: its encoder refuses it."""
    return row[3].__name__.startswith("_e_abstract_")
