"""Intermediate representation of an XSD schema set, as EXI needs it.

The generator reads the XSDs with ``xmlschema`` and reduces them to what decides the
EXI encoding: element declarations, complex types as ordered "items" (attribute uses
and content particles), and simple types as EXI datatype representations.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xmlschema

XS = "http://www.w3.org/2001/XMLSchema"
_SKIP_NS = (XS, "http://www.w3.org/XML/1998/namespace")


def split_qname(qn: str) -> tuple[str, str]:
    """'{ns}local' -> (local, ns); the EXI sort key order."""
    if qn.startswith("{"):
        ns, _, local = qn[1:].partition("}")
        return local, ns
    return qn, ""


def snake(name: str) -> str:
    name = name.replace("SoC", "Soc")
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = re.sub(r"[^0-9A-Za-z_]", "_", s).lower()
    s = re.sub(r"_+", "_", s).strip("_") or "value"
    if s[0].isdigit():
        s = "_" + s
    if keyword.iskeyword(s):
        s += "_"
    return s


def ident(name: str) -> str:
    s = re.sub(r"[^0-9A-Za-z_]", "_", name)
    if not s or s[0].isdigit():
        s = "_" + s
    if keyword.iskeyword(s):
        s += "_"
    return s


# ---------------------------------------------------------------- simple types

_INT_BOUNDS = {
    "byte": (-128, 127), "short": (-32768, 32767), "int": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1), "unsignedByte": (0, 255), "unsignedShort": (0, 65535),
    "unsignedInt": (0, 2**32 - 1), "unsignedLong": (0, 2**64 - 1),
    "nonNegativeInteger": (0, None), "positiveInteger": (1, None),
    "nonPositiveInteger": (None, 0), "negativeInteger": (None, -1), "integer": (None, None),
}
_STRINGISH = {"string", "normalizedString", "token", "language", "Name", "NCName", "ID", "IDREF",
              "ENTITY", "NMTOKEN", "anyURI", "QName", "NOTATION"}


@dataclass(eq=False)
class SimpleT:
    """An EXI datatype representation with the facets used for validation."""

    kind: str  # string hex b64 bool nbit uint int enum decimal float
    nbits: int = 0
    lo: int | None = None
    hi: int | None = None
    enum_values: tuple[str, ...] = ()
    enum_name: str = ""
    min_len: int | None = None
    max_len: int | None = None
    xsd_name: str = ""

    def key(self) -> tuple:
        return (self.kind, self.nbits, self.lo, self.hi, self.enum_values, self.min_len, self.max_len)


def range_conds(t: SimpleT, var: str) -> list[str]:
    """The checks of an integer's schema bounds (unsigned: only a positive lower bound)."""
    conds = []
    if t.lo is not None and (t.kind == "int" or t.lo > 0):
        conds.append(f"{var} < {t.lo}")
    if t.hi is not None:
        conds.append(f"{var} > {t.hi}")
    return conds


def _facet(t: Any, name: str) -> Any:
    f = getattr(t, "facets", None) or {}
    v = f.get(f"{{{XS}}}{name}")
    return None if v is None else getattr(v, "value", v)


def _builtin_local(t: Any) -> str:
    n = t.name or ""
    return split_qname(n)[0] if n.startswith("{" + XS) else ""


def build_simple(t: Any, enum_names: dict[tuple, str]) -> SimpleT:
    """Map an xmlschema simple type to its EXI representation."""
    chain = []
    cur = t
    while cur is not None:
        chain.append(cur)
        cur = getattr(cur, "base_type", None)
        if cur is not None and not cur.is_simple():
            break
    builtins = [_builtin_local(c) for c in chain if _builtin_local(c)]
    xsd_name = split_qname(t.name)[0] if t.name else ""
    # enumeration: the most derived type with an enumeration facet
    for c in chain:
        enum = getattr(c, "enumeration", None)
        if enum:
            vals = tuple(str(v) for v in enum)
            nm = split_qname(c.name)[0] if c.name else (xsd_name or "Enum")
            key = vals
            if key not in enum_names:
                base = nm
                used = set(enum_names.values())
                k = 2
                while nm in used:
                    nm = f"{base}{k}"
                    k += 1
                enum_names[key] = nm
            nm = enum_names[key]
            return SimpleT("enum", nbits=max(0, math.ceil(math.log2(len(vals)))), enum_values=vals,
                           enum_name=nm, xsd_name=xsd_name)
    prim = builtins[0] if builtins else "string"
    length = max_len = min_len = None
    for c in chain:
        if length is None:
            length = _facet(c, "length")
        if max_len is None:
            max_len = _facet(c, "maxLength")
        if min_len is None:
            min_len = _facet(c, "minLength")
    if length is not None:
        min_len = max_len = int(length)
    if "boolean" in builtins:
        return SimpleT("bool", xsd_name=xsd_name)
    if "hexBinary" in builtins:
        return SimpleT("hex", min_len=min_len, max_len=max_len, xsd_name=xsd_name)
    if "base64Binary" in builtins:
        return SimpleT("b64", min_len=min_len, max_len=max_len, xsd_name=xsd_name)
    if "integer" in builtins:
        lo = hi = None
        for c in chain:  # most derived facet wins
            for nm, adj, is_lo in (("minInclusive", 0, True), ("minExclusive", 1, True),
                                   ("maxInclusive", 0, False), ("maxExclusive", -1, False)):
                v = _facet(c, nm)
                if v is None:
                    continue
                v = int(v) + adj
                if is_lo and lo is None:
                    lo = v
                if not is_lo and hi is None:
                    hi = v
            b = _INT_BOUNDS.get(_builtin_local(c))
            if b:
                if lo is None:
                    lo = b[0]
                if hi is None:
                    hi = b[1]
        if lo is not None and hi is not None and hi - lo + 1 <= 4096:
            return SimpleT("nbit", nbits=max(0, math.ceil(math.log2(hi - lo + 1))), lo=lo, hi=hi,
                           xsd_name=xsd_name)
        if lo is not None and lo >= 0:
            return SimpleT("uint", lo=lo, hi=hi, xsd_name=xsd_name)
        return SimpleT("int", lo=lo, hi=hi, xsd_name=xsd_name)
    if "decimal" in builtins:
        return SimpleT("decimal", xsd_name=xsd_name)
    if "float" in builtins or "double" in builtins:
        return SimpleT("float", xsd_name=xsd_name)
    if any(b in _STRINGISH for b in builtins) or not builtins or prim == "anySimpleType":
        return SimpleT("string", min_len=min_len, max_len=max_len, xsd_name=xsd_name)
    raise NotImplementedError(f"simple type {t.name} ({builtins}) has no EXI mapping here")


# ---------------------------------------------------------------- complex types


def _occurs(p: Any) -> str:
    mn, mx = p.min_occurs, p.max_occurs
    if (mn, mx) == (1, 1):
        return ""
    if (mn, mx) == (0, 1):
        return "?"
    if mx is None:
        return "*" if mn == 0 else ("+" if mn == 1 else f"{{{mn},}}")
    return f"{{{mn},{mx}}}"


def _particle_text(p: Any) -> str:
    if hasattr(p, "model"):
        kids = [_particle_text(k) for k in p]
        sep = {"sequence": ", ", "choice": " | ", "all": " & "}[p.model]
        return f"({sep.join(kids)})" + _occurs(p)
    if type(p).__name__ == "XsdAnyElement":
        return "##any" + _occurs(p)
    target = p.ref if getattr(p, "ref", None) is not None else p
    return split_qname(target.name)[0] + _occurs(p)


def model_text(t: Any) -> str:
    """A complex type's content model, compactly: attributes, then the particle tree or the value type.

    ``@Id?`` an optional attribute, ``(a, b)`` a sequence, ``(a | b)`` a choice, ``?``/``*``/``+``/``{m,n}``
    occurrences, ``##any`` a wildcard; a substitution-group head stands for its members.
    """
    parts = []
    for qn, a in sorted(t.attributes.items(), key=lambda kv: split_qname(kv[0] or "")):
        parts.append("@*" if qn is None else "@" + split_qname(a.name)[0] + ("" if a.use == "required" else "?"))
    if t.has_simple_content():
        base = t.content if t.content.is_simple() else None
        name = split_qname(base.name)[0] if base is not None and base.name else "simple"
        if base is not None and not base.name:
            b = getattr(base, "base_type", None)
            name = f"restriction of {split_qname(b.name)[0]}" if b is not None and b.name else "simple"
        parts.append(f"text: {name}")
    elif t.content is not None and hasattr(t.content, "model") and len(t.content):
        parts.append(_particle_text(t.content))
    else:
        parts.append("empty")
    return ("mixed " if getattr(t, "mixed", False) else "") + " ".join(parts)


@dataclass(eq=False)
class ElemDecl:
    """One element declaration as it appears in a content model (after substitution)."""

    local: str
    ns: str
    type: "ComplexT | SimpleT"
    xsd_obj: Any = None

    @property
    def qkey(self) -> tuple[str, str]:
        return (self.local, self.ns)

    @property
    def abstract(self) -> bool:
        """An abstract declaration (a substitution-group head): only its members may be in an instance."""
        return bool(getattr(self.xsd_obj, "abstract", False))


@dataclass(eq=False)
class Item:
    """A position in a type's linear content: attribute, value, element(s) or wildcard.

    ``alts`` are the element declarations that may occur here (a choice or a
    substitution group); for ``attr`` there is one, for ``value``/``any`` none.
    """

    kind: str  # attr value elem any
    alts: list[ElemDecl]
    min: int
    max: int | None  # None = unbounded
    attr_type: SimpleT | None = None
    attr_local: str = ""
    attr_ns: str = ""


@dataclass(eq=False)
class ComplexT:
    name: str  # python class name
    xsd_name: str
    items: list[Item] = field(default_factory=list)
    mixed: bool = False
    simple: SimpleT | None = None  # simple content
    unsupported: str = ""  # non-linear content model: generated code raises
    fields: list["Field"] = field(default_factory=list)
    relaxed: bool = False  # element fragment grammar (same qname, several types)
    glushkov: Any = None  # nested groups: codecs walk a small automaton (see glushkov.py)
    model: str = ""  # the XSD content model in a compact notation, for the generated comments

    @property
    def sparse(self) -> bool:
        """A holder of one element out of many (a message Body): stored sparsely, see emit_class."""
        return (not self.unsupported and len(self.items) == 1 and self.items[0].kind == "elem"
                and self.items[0].max == 1 and len(self.items[0].alts) > 6
                and all(isinstance(d.type, ComplexT) for d in self.items[0].alts)
                and len(self.fields) == len(self.items[0].alts))


@dataclass(eq=False)
class Field:
    py: str
    xsd: str
    ns: str
    kind: str  # attr value elem
    type: "ComplexT | SimpleT"
    is_list: bool
    required: bool
    max: int | None
    item_index: int
    alt_index: int


class SchemaIR:
    """All types and elements of one schema set, in EXI order."""

    def __init__(self, name: str, xsd_path: Path) -> None:
        self.name = name
        self.xsd_path = xsd_path
        self.schema = xmlschema.XMLSchema10(str(xsd_path))
        self.enum_names: dict[tuple, str] = {}
        self.simple_cache: dict[int, SimpleT] = {}
        self.complex: dict[int, ComplexT] = {}
        self.complex_order: list[ComplexT] = []
        self.class_names: set[str] = set()
        self.sub_groups: dict[str, list[Any]] = {}
        for head, members in self.schema.maps.substitution_groups.items():
            self.sub_groups[head] = list(members)
        self.global_elements = self._globals()
        self.doc_elements = [self.decl_for(e) for e in self.global_elements]
        self.fragment_elements = self._fragment_elements()

    # -- lookups
    def _globals(self) -> list[Any]:
        els = [e for q, e in self.schema.maps.elements.items()
               if not any(q.startswith("{" + ns + "}") for ns in _SKIP_NS)]
        els.sort(key=lambda e: split_qname(e.name))
        return els

    def simple(self, t: Any) -> SimpleT:
        k = id(t)
        if k not in self.simple_cache:
            self.simple_cache[k] = build_simple(t, self.enum_names)
        return self.simple_cache[k]

    def _class_name(self, base: str) -> str:
        nm = ident(base)
        k = 2
        while nm in self.class_names:
            nm = f"{ident(base)}{k}"
            k += 1
        self.class_names.add(nm)
        return nm

    def type_of(self, xsd_type: Any, elem_name: str = "") -> "ComplexT | SimpleT":
        if xsd_type.is_simple():
            return self.simple(xsd_type)
        k = id(xsd_type)
        if k in self.complex:
            return self.complex[k]
        xsd_name = split_qname(xsd_type.name)[0] if xsd_type.name else ""
        ct = ComplexT(name=self._class_name(xsd_name or (elem_name + "Type")), xsd_name=xsd_name)
        self.complex[k] = ct
        self.complex_order.append(ct)
        self._fill_complex(ct, xsd_type)
        return ct

    def substitutes(self, d: ElemDecl) -> list[str]:
        """The non-abstract members of an abstract declaration's substitution group (sorted)."""
        out: set[str] = set()
        todo = list(self.sub_groups.get(d.xsd_obj.name, [])) if d.xsd_obj is not None else []
        while todo:
            m = todo.pop()
            if not getattr(m, "abstract", False):
                out.add(split_qname(m.name)[0])
            todo += self.sub_groups.get(m.name, [])
        return sorted(out)

    def decl_for(self, e: Any) -> ElemDecl:
        local, ns = split_qname(e.name)
        return ElemDecl(local, ns, self.type_of(e.type, local), e)

    def expand(self, e: Any) -> list[ElemDecl]:
        """An element particle -> the sorted declarations of its substitution group."""
        target = e.ref if getattr(e, "ref", None) is not None else e
        members: list[Any] = []
        seen: set[int] = set()

        def walk(x: Any) -> None:
            if id(x) in seen:
                return
            seen.add(id(x))
            members.append(x)
            for m in self.sub_groups.get(x.name, []):
                walk(m)

        walk(target)
        # abstract declarations stay: EXI 8.5.4.1.6 does not exclude them (OpenV2G/EXIficient agree)
        members.sort(key=lambda m: split_qname(m.name))
        if target is not e and target.name == e.name and len(members) == 1 and members[0] is target:
            # a plain ref: keep the global declaration
            return [self.decl_for(target)]
        out = []
        for m in members:
            if m is target:
                out.append(self.decl_for(e if getattr(e, "ref", None) is None else target))
            else:
                out.append(self.decl_for(m))
        return out

    # -- content models
    def _fill_complex(self, ct: ComplexT, t: Any) -> None:
        ct.model = model_text(t)
        attrs = []
        for qn, a in t.attributes.items():
            if qn is None:
                ct.unsupported = "attribute wildcard"
                continue
            local, ns = split_qname(a.name)
            attrs.append(Item("attr", [], 1 if a.use == "required" else 0, 1,
                              attr_type=self.simple(a.type), attr_local=local, attr_ns=ns))
        attrs.sort(key=lambda it: (it.attr_local, it.attr_ns))
        ct.items.extend(attrs)
        ct.mixed = bool(getattr(t, "mixed", False))
        content = t.content
        if t.has_simple_content():
            st = content if content.is_simple() else content
            ct.simple = self.simple(st if hasattr(st, "is_simple") and st.is_simple() else t.content)
            ct.items.append(Item("value", [], 1, 1))
        elif t.is_empty() or content is None or (hasattr(content, "is_empty") and content.is_empty()):
            pass
        else:
            items = self._linearise(content)
            if items is None:
                if ct.items or ct.mixed:
                    ct.unsupported = ct.unsupported or "content model with nested groups"
                else:
                    from .glushkov import build

                    ct.glushkov = build(content, self.expand, lambda p: type(p).__name__ == "XsdAnyElement")
            else:
                ct.items.extend(items)
                if any(it.kind == "any" and it.min > 0 for it in items):
                    ct.unsupported = ct.unsupported or "mandatory wildcard content"
        self._fields(ct)

    def _linearise(self, g: Any, outer_min: int = 1, outer_max: int | None = 1) -> list[Item] | None:
        """Flatten a particle tree into sequential items, or None when it does not flatten."""
        mn, mx = g.min_occurs * outer_min, (None if g.max_occurs is None or outer_max is None
                                             else g.max_occurs * outer_max)
        if hasattr(g, "model"):  # group
            children = list(g)
            if g.model == "sequence":
                if mn == 1 and mx == 1:
                    out: list[Item] = []
                    for c in children:
                        sub = self._linearise(c)
                        if sub is None:
                            return None
                        out.extend(sub)
                    return out
                if len(children) == 1:
                    return self._linearise(children[0], mn, mx)
                if not children:
                    return []
                return None
            if g.model == "choice":
                alts: list[ElemDecl] = []
                has_any = False
                for c in children:
                    if hasattr(c, "model"):
                        return None
                    if c.min_occurs != 1 or c.max_occurs != 1:
                        return None
                    if type(c).__name__ == "XsdAnyElement":
                        has_any = True
                        continue
                    alts.extend(self.expand(c))
                if not alts:
                    return [Item("any", [], mn, mx)]
                return [Item("elem+any" if has_any else "elem", alts, mn, mx)]
            return None  # xs:all
        if type(g).__name__ == "XsdAnyElement":
            return [Item("any", [], mn, mx)]
        return [Item("elem", self.expand(g), mn, mx)]

    def _fields(self, ct: ComplexT) -> None:
        used: set[str] = set()
        if ct.glushkov is not None:
            decl_of = {(p.decl.local, p.decl.ns): p.decl for p in ct.glushkov.positions if p.decl is not None}
            for (local, ns), slot, is_list in ct.glushkov.slots:
                d = decl_of[(local, ns)]
                name = snake(local)
                ct.fields.append(Field(name, local, ns, "elem", d.type, is_list, False,
                                       None if is_list else 1, 1000 + slot, 0))
            return

        def uniq(n: str) -> str:
            b, k = n, 2
            while n in used:
                n = f"{b}_{k}"
                k += 1
            used.add(n)
            return n

        by_qname: dict[tuple[str, str], Field] = {}
        for i, it in enumerate(ct.items):
            if it.kind == "attr":
                ct.fields.append(Field(uniq(snake(it.attr_local)), it.attr_local, it.attr_ns, "attr",
                                       it.attr_type, False, it.min > 0, 1, i, 0))
            elif it.kind == "value":
                ct.fields.append(Field(uniq("value"), "value", "", "value", ct.simple, False, True,
                                       1, i, 0))
            elif it.kind in ("elem", "elem+any"):
                single = len(it.alts) == 1
                for j, d in enumerate(it.alts):
                    if d.qkey in by_qname:
                        ct.unsupported = f"element {d.local} occurs twice in the content model"
                        continue
                    is_list = it.max is None or it.max > 1
                    f = Field(uniq(snake(d.local)), d.local, d.ns, "elem", d.type, is_list,
                              single and it.min > 0, it.max, i, j)
                    by_qname[d.qkey] = f
                    ct.fields.append(f)

    def _fragment_elements(self) -> list[tuple[str, str, list[ElemDecl]]]:
        """All element declarations (global and local), unique qnames sorted (EXI 8.5.2)."""
        decls: dict[tuple[str, str], list[Any]] = {}
        seen: set[int] = set()

        def visit_type(t: Any) -> None:
            if t is None or t.is_simple() or id(t) in seen:
                return
            seen.add(id(t))
            content = getattr(t, "content", None)
            if content is not None and hasattr(content, "iter_elements"):
                for e in content.iter_elements():
                    if type(e).__name__ == "XsdAnyElement":
                        continue
                    add(e)

        def add(e: Any) -> None:
            target = e.ref if getattr(e, "ref", None) is not None else e
            key = split_qname(target.name)
            lst = decls.setdefault(key, [])
            if all(x is not target for x in lst):
                lst.append(target)
            visit_type(target.type)

        for e in self.global_elements:
            add(e)
        for t in list(self.schema.maps.types.values()):
            if t.name and not t.name.startswith("{" + XS):
                visit_type(t)
        out = []
        for key in sorted(decls):
            lst = decls[key]
            types = {id(x.type) for x in lst}
            named = all(x.type.name for x in lst)
            if len(types) == 1 and (named or len(lst) == 1):
                out.append((key[0], key[1], [self.decl_for(lst[0])]))
            else:
                out.append((key[0], key[1], [self.decl_for(x) for x in lst]))
        return out

