"""Writes the Python module of one schema set: classes, enums, straight-line codecs."""

from __future__ import annotations

import math
from typing import Any

from v2gkit.exi.runtime import LOOKAHEAD, SL2_BITS, UINT_BITS_MAX

from .grammar import TypeGrammar, width_for
from .ir import ComplexT, ElemDecl, Field, SchemaIR, SimpleT, ident, range_conds

#: the most bits a value read inline can take (an integer, or a string/binary length, read by ru/ri; a
#: signed integer has its sign bit first)
_MAX_BITS = {"bool": 1, "uint": UINT_BITS_MAX, "int": UINT_BITS_MAX + 1, "string": UINT_BITS_MAX,
             "hex": UINT_BITS_MAX, "b64": UINT_BITS_MAX}
#: "bits read since the last window check" when it is unknown (after a call, at a loop's top)
_UNKNOWN = LOOKAHEAD + 1

_PY_HINT = {"string": "str", "hex": "bytes", "b64": "bytes", "bool": "bool", "nbit": "int",
            "uint": "int", "int": "int", "decimal": "str", "float": "float"}


def nbit_check(t: SimpleT, var: str, pend: int, what: str) -> str:
    """The call made when an n-bit integer is outside its range (``pend``: bits before it not yet in ``a``)."""
    return f"nbit_facet(a, {pend}, {var}, {t.lo}, {t.hi}, {t.nbits}, {what!r})"


class Emitter:
    def __init__(self, ir: SchemaIR, header: str) -> None:
        self.ir = ir
        self.header = header
        self.lines: list[str] = []
        self.consts: list[str] = []
        self.const_ids: dict[Any, str] = {}
        self.grammars: dict[int, TypeGrammar] = {}
        self.uid = 0
        self.doc_wrappers: dict[int, str] = {}
        self.sparse_tables: dict[str, list[str]] = {}
        # general decoders: bits read since the last ``r < LOOKAHEAD`` check (see need())
        self.used = _UNKNOWN
        # codecs of abstract elements (encoders refusing them, decoders reading them as a facet violation):
        # name -> lines, written before the other functions
        self.abstract_codecs: dict[str, list[str]] = {}

    # ------------------------------------------------------------ helpers
    def const(self, value: Any, prefix: str = "_T") -> str:
        key = (prefix, value)
        if key not in self.const_ids:
            name = f"{prefix}{len(self.const_ids)}"
            self.const_ids[key] = name
            self.consts.append(f"{name} = {value!r}")
        return self.const_ids[key]

    def table_const(self, g: TypeGrammar, state: tuple[int, int]) -> tuple[int, str]:
        w, slots = g.table(state)
        full = list(slots) + [-2]
        full += [-3] * ((1 << w) - len(full))
        return w, self.const(tuple(full))

    def abstract_encoder(self, d: ElemDecl) -> str:
        """An encoder of an abstract element: it never appears on the wire (its members do), so strict encoding
        refuses it; lenient encoding writes it with its declared type, as libcbv2g-based stacks do."""
        name = f"_e_abstract_{ident(d.local)}"
        if name not in self.abstract_codecs:
            if isinstance(d.type, ComplexT):
                # encoding leniently, written with its declared type's content (what decode_lenient reads)
                body = [f"    abstract_facet(a, o, {d.type.name}, {self.abstract_message(d)!r})",
                        f"    return _e_{d.type.name}(o, a)"]
            else:
                body = [f"    raise EncFail({self.abstract_message(d)!r})"]
            self.abstract_codecs[name] = [f"def {name}(o: Any, a: int) -> int:", *body, ""]
        return name

    def abstract_decoders(self, d: ElemDecl, cn: str) -> tuple[str, str]:
        """(whole-stream, windowed) decoders of an abstract global element: a facet violation first."""
        names = []
        for kind, inner in (("f", self.dec_fn(cn)), ("d", f"_d_{cn}")):
            name = f"_{kind}_abstract_{ident(d.local)}"
            if name not in self.abstract_codecs:
                self.abstract_codecs[name] = [
                    f"def {name}(B: int, r: int) -> tuple[Any, int, int]:",
                    f"    facet(r, {self.abstract_message(d)!r})",
                    f"    return {inner}(B, r)",
                    "",
                ]
            names.append(name)
        return names[0], names[1]

    def abstract_message(self, d: ElemDecl) -> str:
        subs = self.ir.substitutes(d)
        use = f"set one of {', '.join(subs)}" if subs else "the schema has no element to use instead"
        return f"{d.local} is an abstract element, never on the wire: {use}"

    def need(self, L: list[str], ind: str, bits: int) -> None:
        """Before a read of up to ``bits`` in a general decoder: check the window when the reads since
        the last check could add up to more than LOOKAHEAD (runtime.fill slides it)."""
        if self.used + bits > LOOKAHEAD:
            L.append(f"{ind}if r < {LOOKAHEAD}: B, r = fill(B, r)")
            self.used = 0
        self.used += bits

    def gram(self, ct: ComplexT) -> TypeGrammar:
        if id(ct) not in self.grammars:
            self.grammars[id(ct)] = TypeGrammar(ct)
        return self.grammars[id(ct)]

    def hint(self, t: ComplexT | SimpleT) -> str:
        if isinstance(t, ComplexT):
            return t.name
        if t.kind == "enum":
            return t.enum_name
        return _PY_HINT[t.kind]

    # ------------------------------------------------------------ value code
    def dec_simple(self, t: SimpleT, var: str, ind: str, what: str) -> list[str]:
        L: list[str] = []
        k = t.kind
        self.need(L, ind, _MAX_BITS.get(k, t.nbits))
        if k == "bool":
            L.append(f"{ind}r -= 1; {var} = ((B >> r) & 1) == 1")
        elif k == "nbit":
            if t.nbits == 0:
                L.append(f"{ind}{var} = {t.lo}")
            else:
                L.append(f"{ind}r -= {t.nbits}; {var} = ((B >> r) & {(1 << t.nbits) - 1}) + {t.lo}")
                if t.hi - t.lo + 1 < (1 << t.nbits):
                    L.append(f"{ind}if {var} > {t.hi}: facet(r, '{what}: {{}} above {t.hi}'.format({var}))")
        elif k == "enum":
            n = len(t.enum_values)
            members = f"_E_{t.enum_name}"
            if t.nbits == 0:
                L.append(f"{ind}{var} = {members}[0]")
            else:
                L.append(f"{ind}r -= {t.nbits}; {var} = (B >> r) & {(1 << t.nbits) - 1}")
                if n < (1 << t.nbits):
                    L.append(f"{ind}if {var} >= {n}: raise bad_value(r, '{what}: enumeration index {{}} of {n}'.format({var}))")
                L.append(f"{ind}{var} = {members}[{var}]")
        elif k == "uint":
            L.append(f"{ind}r -= 8; {var} = (B >> r) & 255")
            L.append(f"{ind}if {var} > 127: {var}, r = ru(B, r, {var})")
            conds = range_conds(t, var)
            if conds:
                L.append(f"{ind}if {' or '.join(conds)}: facet(r, '{what}: {{}} out of range'.format({var}))")
        elif k == "int":
            L.append(f"{ind}r -= 9; {var} = (B >> r) & 511")
            L.append(f"{ind}if {var} & 128: {var}, r = ri(B, r, {var})")
            L.append(f"{ind}elif {var} > 255: {var} = 255 - {var}")
            conds = range_conds(t, var)
            if conds:
                L.append(f"{ind}if {' or '.join(conds)}: facet(r, '{what}: {{}} out of range'.format({var}))")
        elif k == "string":
            L.append(f"{ind}{var}, B, r = rstr(B, r, {t.max_len})")
            self.used = _UNKNOWN
        elif k in ("hex", "b64"):
            L.append(f"{ind}{var}, B, r = rbin(B, r, {t.max_len})")
            self.used = _UNKNOWN
        else:
            L.append(f"{ind}raise _Fail(ExiUnsupportedError, '{k} values are not supported', r)")
        return L

    def enc_simple(self, t: SimpleT, var: str, ind: str, what: str) -> list[str]:
        """Encode a simple value. A facet check that fails calls runtime's ``*_facet`` (raising, or encoding
        leniently, recording the value as decode_lenient names it: ``what`` is the name dec_simple gets)."""
        L: list[str] = []
        k = t.kind
        if k == "bool":
            L.append(f"{ind}a = (a << 1) | BOOL[{var}]")
        elif k == "nbit":
            L.append(f"{ind}if not {t.lo} <= {var} <= {t.hi}: {nbit_check(t, var, 0, what)}")
            if t.nbits:
                L.append(f"{ind}a = (a << {t.nbits}) | ({var} - {t.lo})")
        elif k == "enum":
            n = len(t.enum_values)
            L.append(f"{ind}if not 0 <= {var} < {n} or {var}.__class__ is bool: raise EncFail(f'{{{var}!r}} is not a {t.enum_name}')")
            if t.nbits:
                L.append(f"{ind}a = (a << {t.nbits}) | {var}")
        elif k == "uint":
            conds = range_conds(t, var)
            if t.hi is None:  # unbounded: no longer than the decoders read
                conds.append(f"{var} >= UINT_CARRIED")
            if conds:
                L.append(f"{ind}if {' or '.join(conds)}: int_facet(a, {var}, {t.lo}, {t.hi}, False, {what!r})")
            L.append(f"{ind}if 0 <= {var} < 128: a = (a << 8) | {var}")
            L.append(f"{ind}else: a = wu(a, {var})")
        elif k == "int":
            conds = range_conds(t, var)
            if t.lo is None:
                conds.append(f"{var} < -UINT_CARRIED")
            if t.hi is None:
                conds.append(f"{var} >= UINT_CARRIED")
            if conds:
                L.append(f"{ind}if {' or '.join(conds)}: int_facet(a, {var}, {t.lo}, {t.hi}, True, {what!r})")
            L.append(f"{ind}if 0 <= {var} < 128: a = (a << 9) | {var}")
            L.append(f"{ind}elif -129 < {var} < 0: a = (a << 9) | (255 - {var})")
            L.append(f"{ind}else: a = wi(a, {var})")
        elif k == "string":
            L.append(f"{ind}a = wstr(a, {var}, {t.max_len})")
        elif k in ("hex", "b64"):
            L.append(f"{ind}a = wbin(a, {var}, {t.max_len})")
        else:
            L.append(f"{ind}raise EncFail('{k} values are not supported')")
        return L

    def dec_elem(self, d: ElemDecl, var: str, ind: str) -> list[str]:
        """Decode an element's content (after its SE event code)."""
        if isinstance(d.type, ComplexT):
            self.used = _UNKNOWN
            return [f"{ind}{var}, B, r = _d_{d.type.name}(B, r)"]
        L: list[str] = []
        self.need(L, ind, 1)
        L.append(f"{ind}# {d.local}, simple content: 1 bit(s): 0 CH, 1 second level (EE, CH [untyped])")
        L.append(f"{ind}r -= 1")
        # second level: empty content as EE, or CH [untyped] (EXIficient writes both); sl2 returns
        # at most SL2_BITS past a window check of its own
        L.append(f"{ind}if (B >> r) & 1:")
        L.append(f"{ind}    {var}, B, r = sl2(B, r, {self.spec_const(d.type)}, 6)")
        L.append(f"{ind}else:")
        ind2 = ind + "    "
        L += self.dec_simple(d.type, var, ind2, d.local)
        self.need(L, ind2, 1)
        L += [f"{ind2}# {d.local}, after the value: 1 bit(s): 0 EE, 1 second level",
              f"{ind2}r -= 1", f"{ind2}if (B >> r) & 1: raise esc(r)"]
        self.used = max(self.used, SL2_BITS)
        return L

    def spec_const(self, t: SimpleT) -> str:
        return self.const(("SPEC", t.kind, t.lo, t.hi, t.enum_name if t.kind == "enum" else "", t.max_len), "_S")

    def enc_elem(self, d: ElemDecl, var: str, ind: str) -> list[str]:
        if isinstance(d.type, ComplexT):
            return [f"{ind}a = _e_{d.type.name}({var}, a)"]
        L = [f"{ind}a <<= 1"]
        L += self.enc_simple(d.type, var, ind, d.local)
        L.append(f"{ind}a <<= 1")
        return L

    # ------------------------------------------------------------ type codecs
    def read_code(self, g: TypeGrammar, state: tuple[int, int], ind: str) -> str:
        """An event-code read, with a comment naming its grammar state, width and events."""
        w, tname = self.table_const(g, state)
        L: list[str] = [f"{ind}# {g.describe(state)}"]
        self.need(L, ind, w)
        L.append(f"{ind}r -= {w}; k = {tname}[(B >> r) & {(1 << w) - 1}]")
        return "\n".join(L)

    def emit_glushkov(self, ct: ComplexT) -> None:
        """Codecs of a nested-group content model: a walk over its automaton tables."""
        gk = ct.glushkov
        L = self.lines
        states = self.const(tuple(gk.states), "_G")
        by_slot = {f.item_index - 1000: f for f in ct.fields}
        decl_of = {(p.decl.local, p.decl.ns): p.decl for p in gk.positions if p.decl is not None}
        wmax = max(w for w, _p in gk.states)
        L.append(f"def _d_{ct.name}(B: int, r: int) -> tuple[{ct.name}, int, int]:")
        L.append(f"    # {ct.xsd_name or ct.name}: {ct.model}")
        L.append(f"    # nested groups: a walk over the Glushkov automaton {states} (state -> width, (slot, next state) per code)")
        for f in ct.fields:
            L.append(f"    f_{f.py} = {'[]' if f.is_list else 'None'}")
        L.append("    st = 0")
        L.append("    while True:")
        L.append(f"        if r < {LOOKAHEAD}: B, r = fill(B, r)")
        self.used = wmax
        L.append(f"        w, tab = {states}[st]")
        L.append("        r -= w; code = (B >> r) & ((1 << w) - 1)")
        L.append("        if code >= len(tab): raise unexpected(-2 if code == len(tab) else -3, r)")
        L.append("        slot, st = tab[code]")
        L.append("        if slot == -1: break")
        for slot, f in sorted(by_slot.items()):
            L.append(f"        {'if' if slot == 0 else 'elif'} slot == {slot}:")
            L += self.dec_elem(decl_of[(f.xsd, f.ns)], "v", "            ")
            L.append(f"            f_{f.py}{'.append(v)' if f.is_list else ' = v'}")
        L.append("        else: raise unexpected(slot, r)")
        L.append(f"    return {ct.name}({', '.join('f_' + f.py for f in ct.fields)}), B, r")
        L.append("")
        L.append(f"_f_{ct.name} = _d_{ct.name}")
        L.append("")
        enc_rows = []
        for st_w, prods in gk.states:
            row = {}
            for code, (slot, nxt) in enumerate(prods):
                if slot >= 0:
                    row[by_slot[slot].xsd] = (st_w, code, nxt)
                elif slot == -1:
                    row[""] = (st_w, code, 0)
            enc_rows.append(row)
        table = f"_GE_{ct.name}"
        self.consts.append(f"{table} = {tuple(enc_rows)!r}")
        L.append(f"def _e_{ct.name}(o: {ct.name}, a: int) -> int:")
        L.append(f"    # {ct.xsd_name or ct.name}: {ct.model}")
        L.append("    st = 0")
        for f in sorted(ct.fields, key=lambda f: f.item_index):
            vals = f"o.{f.py}" if f.is_list else f"(() if o.{f.py} is None else (o.{f.py},))"
            L.append(f"    for v in {vals}:")
            if f.is_list:
                L.append("        if a > BIG: a = spill(a)")
            L.append(f"        e = {table}[st].get({f.xsd!r})")
            L.append(f"        if e is None: raise EncFail('{f.xsd} is not allowed here by the content model')")
            L.append("        a = (a << e[0]) | e[1]; st = e[2]")
            L += self.enc_elem(decl_of[(f.xsd, f.ns)], "v", "        ")
        L.append(f"    e = {table}[st].get('')")
        L.append(f"    if e is None: raise EncFail('{ct.xsd_name or ct.name} is incomplete: a mandatory element is missing')")
        L.append("    return (a << e[0]) | e[1]")
        L.append("")

    def emit_decoder(self, ct: ComplexT) -> None:
        """The general decoder: every legal event, precise errors, and window checks (runtime.fill)
        wherever the reads since the last check could exceed LOOKAHEAD, so long streams decode in
        linear time."""
        g = self.gram(ct)
        L = self.lines
        L.append(f"def _d_{ct.name}(B: int, r: int) -> tuple[{ct.name}, int, int]:")
        L.append(f"    # {ct.xsd_name or ct.name}: {ct.model}")
        if ct.unsupported:
            L.append(f"    raise _Fail(ExiUnsupportedError, '{ct.xsd_name or ct.name}: {ct.unsupported} is not supported', r)")
            L.append("")
            return
        self.used = _UNKNOWN
        L.append(self.read_code(g, (0, 0), "    "))
        fields_by_item: dict[int, list[Field]] = {}
        for f in ct.fields:
            fields_by_item.setdefault(f.item_index, []).append(f)
        for i, it in enumerate(g.items):
            fs = fields_by_item.get(i, [])
            if it.kind == "any":
                continue
            decls: list = [None] if it.kind in ("attr", "value") else it.alts
            slots = [g.slot_of[(i, j)] for j in range(len(decls))]
            fmap = {f.alt_index: f for f in fs}
            vars_ = [f"f_{fmap[j].py}" if j in fmap else f"_skip{i}_{j}" for j in range(len(decls))]
            names = [it.attr_local if it.kind == "attr" else ("value" if it.kind == "value" else d.local)
                     for d in decls]
            required = it.min > 0
            expected = " or ".join(names)
            if it.max == 1:
                L.append(f"    {' = '.join(vars_)} = None")
                start = self.used
                ends = [start]
                for j, d in enumerate(decls):
                    self.used = start
                    kw = "if" if j == 0 else "elif"
                    L.append(f"    {kw} k == {slots[j]}:")
                    if d is not None and d.abstract:
                        L.append(f"        facet(r, {self.abstract_message(d)!r})")
                    if it.kind == "attr":
                        L += self.dec_simple(it.attr_type, vars_[j], "        ", names[j])
                    elif it.kind == "value":
                        L += self.dec_simple(ct.simple, vars_[j], "        ", ct.xsd_name or "value")
                    else:
                        L += self.dec_elem(d, vars_[j], "        ")
                    L.append(self.read_code(g, g.after_n(i, 1), "        "))
                    ends.append(self.used)
                if it.kind == "value":
                    attr_vars = [f"f_{f.py}" for f in ct.fields if f.kind == "attr"]
                    ch = f"4 if {' or '.join(v + ' is not None' for v in attr_vars)} else 6" if attr_vars else "6"
                    L.append("    elif k == -2:")
                    L.append(f"        {vars_[0]}, B, r = sl2(B, r, {self.spec_const(ct.simple)}, {ch}); k = -1")
                    ends.append(SL2_BITS)
                if required:
                    L.append("    else:")
                    L.append(f"        raise unexpected(k, r, {expected!r})")
                self.used = max(ends)
            else:
                for v in vars_:
                    L.append(f"    {v} = []")
                L.append("    n = 0")
                L.append("    while True:")
                ends = []
                for j, d in enumerate(decls):
                    self.used = _UNKNOWN  # any number of rounds since the last check
                    kw = "if" if j == 0 else "elif"
                    L.append(f"        {kw} k == {slots[j]}:")
                    L += self.dec_elem(d, "v", "            ")
                    L.append(f"            {vars_[j]}.append(v)")
                    ends.append(self.used)
                L.append("        else:")
                L.append("            break")
                L.append("        n += 1")
                start = max(ends)
                for bi, (cond, st) in enumerate(g.count_branches(i)):
                    self.used = start
                    if cond is None:
                        if bi == 0:
                            L.append(self.read_code(g, st, "        "))
                        else:
                            L.append("        else:")
                            L.append(self.read_code(g, st, "            "))
                    else:
                        L.append(f"        {'if' if bi == 0 else 'elif'} {cond}:")
                        L.append(self.read_code(g, st, "            "))
                self.used = _UNKNOWN  # after the loop
                if it.min > 0:
                    L.append(f"    if n < {it.min}: raise unexpected(k, r, {expected!r})")
        L.append("    if k != -1: raise unexpected(k, r, 'end of element')")
        args = ", ".join(f"f_{f.py}" for f in ct.fields)
        L.append(f"    return {ct.name}({args}), B, r")
        L.append("")

    def state_ids(self, g: TypeGrammar) -> dict:
        if not hasattr(g, "_sid"):
            g._sid = {}
        return g._sid

    def sid(self, g: TypeGrammar, st: tuple[int, int]) -> int:
        ids = self.state_ids(g)
        if st not in ids:
            ids[st] = len(ids)
        return ids[st]

    # ------------------------------------------------------------ classes
    def emit_enum(self, t: SimpleT) -> None:
        L = self.lines
        L.append(f"class {t.enum_name}(enum.IntEnum):")
        L.append(f'    """XSD enumeration {t.xsd_name or t.enum_name}; the value is the EXI index."""')
        used = set()
        for idx, v in enumerate(t.enum_values):
            nm = ident(v)
            while nm in used or nm.startswith("_"):
                nm = "v" + nm if nm.startswith("_") else nm + "_"
            used.add(nm)
            L.append(f"    {nm} = {idx}")
        L.append("")
        L.append(f"{t.enum_name}._xsd = {t.enum_values!r}  # type: ignore[attr-defined]")
        L.append(f"_E_{t.enum_name} = tuple({t.enum_name})")
        pad = (1 << t.nbits) - len(t.enum_values)
        if pad > 0:
            L.append(f"_EP_{t.enum_name} = _E_{t.enum_name} + (None,) * {pad}")
        L.append("")

    def emit_class(self, ct: ComplexT) -> None:
        """A plain slotted class: a hand-rolled __init__ imports ~5x faster than @dataclass."""
        L = self.lines
        L.append(f"class {ct.name}(Message):")
        doc = f"XSD type {ct.xsd_name}" if ct.xsd_name else "anonymous XSD type"
        L.append(f'    """{doc}."""')
        L.append("")
        names = tuple(f.py for f in ct.fields)
        if ct.sparse:
            # one of many alternatives is set: a dict holds just that one and the class
            # gives None for the rest, so building one costs 1 store instead of len(names)
            L.append('    __slots__ = ("__dict__",)')
            L.append(f"    _fields = {names!r}")
            for f in ct.fields:
                L.append(f"    {f.py}: {self.hint(f.type)} | None = None")
        else:
            L.append(f"    __slots__ = {names!r}")
            L.append("    _fields = __slots__")
        if not ct.fields:
            L.append("")
            return
        params = []
        body = []
        for f in ct.fields:
            h = self.hint(f.type)
            if ct.sparse:
                params.append(f"{f.py}: {h} | None = None")
                body.append(f"        if {f.py} is not None: self.{f.py} = {f.py}")
                continue
            if f.is_list:
                L.append(f"    {f.py}: list[{h}]")
                params.append(f"{f.py}: list[{h}] | None = None")
                body.append(f"        self.{f.py} = [] if {f.py} is None else {f.py}")
            else:
                L.append(f"    {f.py}: {h}{'' if f.required else ' | None'}")
                params.append(f"{f.py}: {h} | None = None")
                body.append(f"        self.{f.py} = {f.py}")
        L.append("")
        L.append(f"    def __init__(self, {', '.join(params)}) -> None:")
        L += body
        L.append("")

    def simple_meta(self, t: SimpleT) -> str:
        enum = t.enum_name if t.kind == "enum" else "None"
        return (f"({t.kind!r}, {t.lo!r}, {t.hi!r}, {enum}, {t.max_len!r})")

    def emit_meta(self) -> None:
        L = self.lines
        L.append("# Field metadata for XML/JSON and validation:")
        L.append("# (py name, XSD name, namespace, kind, type, is_list, required, maxOccurs, group, minOccurs)")
        L.append("META: dict[type, tuple] = {")
        for ct in self.ir.complex_order:
            rows = []
            for f in ct.fields:
                t = f.type.name if isinstance(f.type, ComplexT) else self.simple_meta(f.type)
                rows.append(f"({f.py!r}, {f.xsd!r}, {f.ns!r}, {f.kind!r}, {t}, {f.is_list}, "
                            f"{f.required}, {f.max!r}, {f.item_index}, "
                            f"{ct.items[f.item_index].min if ct.glushkov is None else 0})")
            inner = ", ".join(rows) + ("," if len(rows) == 1 else "")
            L.append(f"    {ct.name}: ({inner}),")
        L.append("}")
        L.append("")
        for _el, (cname, tname) in getattr(self, "subclasses", {}).items():
            L.append(f"META[{cname}] = META[{tname}]")
        L.append("# choices (META group numbers) of which one alternative is mandatory")
        L.append("CHOICE_REQUIRED: dict[type, frozenset[int]] = {")
        for ct in self.ir.complex_order:
            req = sorted(i for i, it in enumerate(ct.items)
                         if it.kind in ("elem", "elem+any") and len(it.alts) > 1 and it.min > 0)
            if req:
                L.append(f"    {ct.name}: frozenset({req!r}),")
        L.append("}")
        for _el, (cname, tname) in getattr(self, "subclasses", {}).items():
            L.append(f"if {tname} in CHOICE_REQUIRED: CHOICE_REQUIRED[{cname}] = CHOICE_REQUIRED[{tname}]")
        L.append("# abstract element declarations (substitution-group heads): field -> why it cannot be encoded")
        L.append("ABSTRACT: dict[type, dict[str, str]] = {")
        for ct in self.ir.complex_order:
            if ct.glushkov is not None:
                continue
            rows = {f.py: self.abstract_message(ct.items[f.item_index].alts[f.alt_index])
                    for f in ct.fields if f.kind == "elem" and ct.items[f.item_index].alts[f.alt_index].abstract}
            if rows:
                L.append(f"    {ct.name}: {rows!r},")
        L.append("}")
        L.append("# nested-group content models: which fields may combine is not in META, see the XSD")
        L.append("CONSTRAINED: dict[type, str] = {")
        for ct in self.ir.complex_order:
            if ct.glushkov is not None:
                L.append(f"    {ct.name}: 'nested groups',")
        L.append("}")
        L.append("# types whose content model this codec does not handle (their codecs raise)")
        L.append("UNSUPPORTED: dict[type, str] = {")
        for ct in self.ir.complex_order:
            if ct.unsupported:
                L.append(f"    {ct.name}: {ct.unsupported!r},")
        L.append("}")
        L.append("")

    # ------------------------------------------------------------ document / fragment
    def simple_wrapper(self, d: ElemDecl) -> str:
        """Decoder/encoder for a top-level element of simple type."""
        key = id(d.xsd_obj)
        if key in self.doc_wrappers:
            return self.doc_wrappers[key]
        self.uid += 1
        nm = f"S{self.uid}_{ident(d.local)}"
        L = self.lines
        L.append(f"def _d_{nm}(B: int, r: int) -> tuple[Any, int, int]:")
        self.used = _UNKNOWN
        L += self.dec_elem(d, "v", "    ")
        L.append("    return v, B, r")
        L.append("")
        L.append(f"def _e_{nm}(v: Any, a: int) -> int:")
        L += self.enc_elem(d, "v", "    ")
        L.append("    return a")
        L.append("")
        self.doc_wrappers[key] = nm
        return nm

    def relaxed_wrapper(self, local: str, ds: list[ElemDecl], n_frag: int) -> str:
        """EXI 8.5.3 element fragment grammar for a qname declared with several types.

        Only attributes and character content are decoded (that is what eMAID needs).
        """
        self.uid += 1
        nm = f"R{self.uid}_{ident(local)}"
        rich = next((d.type for d in ds if isinstance(d.type, ComplexT) and d.type.simple is not None), None)
        attrs: dict[tuple[str, str], SimpleT] = {}
        for d in ds:
            if isinstance(d.type, ComplexT):
                for it in d.type.items:
                    if it.kind == "attr":
                        attrs[(it.attr_local, it.attr_ns)] = it.attr_type
        akeys = sorted(attrs)
        na, m = len(akeys), n_frag
        w0 = width_for(na + 1 + m + 1 + 1 + 1)
        w2 = width_for(m + 3)
        L = self.lines
        L.append(f"def _d_{nm}(B: int, r: int) -> tuple[Any, int, int]:")
        L.append(f'    """{local}: relaxed element fragment grammar (EXI 8.5.3)."""')
        for ak in akeys:
            L.append(f"    a_{ident(ak[0])} = None")
        L.append("    text = None")
        L.append("    while True:")
        L.append(f"        if r < {LOOKAHEAD}: B, r = fill(B, r)")
        L.append(f"        # {w0} bits: AT(*) in qname order, SE(*) ..., EE = {na + 1 + m + 1}, CH = {na + 1 + m + 2}")
        L.append(f"        r -= {w0}; k = (B >> r) & {(1 << w0) - 1}")
        for ai, ak in enumerate(akeys):
            L.append(f"        if k == {ai}:")
            self.used = w0
            L += self.dec_simple(attrs[ak], f"a_{ident(ak[0])}", "            ", ak[0])
            L.append("            continue")
        L.append(f"        if k == {na + 1 + m + 1}: break")
        L.append(f"        if k == {na + 1 + m + 2}:")
        L.append("            text, B, r = rstr(B, r, None)")
        L.append(f"            if r < {LOOKAHEAD}: B, r = fill(B, r)")
        L.append(f"            # after CH: {w2} bit(s): SE(*) of the fragment's elements, EE = {m + 1}")
        L.append(f"            r -= {w2}; k = (B >> r) & {(1 << w2) - 1}")
        L.append(f"            if k == {m + 1}: break")
        L.append("        raise _Fail(ExiUnsupportedError, 'element fragment grammar: only attributes and text are supported', r)")
        if rich is not None:
            args = []
            for f in rich.fields:
                if f.kind == "attr":
                    args.append(f"{f.py}=a_{ident(f.xsd)}")
                else:
                    args.append(f"{f.py}=text")
            L.append(f"    if {' or '.join('a_' + ident(k[0]) + ' is not None' for k in akeys) or 'False'}:")
            L.append(f"        return {rich.name}({', '.join(args)}), B, r")
        L.append("    return text, B, r")
        L.append("")
        L.append(f"def _e_{nm}(v: Any, a: int) -> int:")
        if rich is not None:
            L.append(f"    if isinstance(v, {rich.name}):")
            for ai, ak in enumerate(akeys):
                f = next(f for f in rich.fields if f.kind == "attr" and f.xsd == ak[0])
                L.append(f"        if v.{f.py} is not None:")
                L.append(f"            x = v.{f.py}")
                L.append(f"            a = (a << {w0}) | {ai}")
                L += self.enc_simple(attrs[ak], "x", "            ", ak[0])
            L.append("        v = v.value")
        L.append(f"    a = (a << {w0}) | {na + 1 + m + 2}")
        L.append("    a = wstr(a, v, None)")
        L.append(f"    return (a << {w2}) | {m + 1}")
        L.append("")
        return nm

    def dec_fn(self, cn: str) -> str:
        """The fast decoder of a complex type; wrappers of simple elements have one decoder."""
        return f"_d_{cn}" if cn[:1] in ("S", "R") and cn[1:2].isdigit() else f"_f_{cn}"

    def type_ref(self, t: ComplexT | SimpleT) -> str:
        if isinstance(t, ComplexT):
            return t.name
        return self.spec_const(t)

    def elem_codec_name(self, d: ElemDecl) -> str:
        if isinstance(d.type, ComplexT):
            return d.type.name
        return self.simple_wrapper(d)

    def element_classes(self) -> dict[str, tuple[str, str]]:
        """Global elements that share a complex type get a subclass each: element -> (class, type).

        ISO 15118-20 ACDP_DisconnectReq/Res reuse the Connect types; without a class of
        their own a decoded Disconnect would be indistinguishable from a Connect.
        """
        users: dict[str, list[str]] = {}
        for d in self.ir.doc_elements:
            if isinstance(d.type, ComplexT):
                users.setdefault(d.type.name, []).append(d.local)
        out = {}
        for tname, els in users.items():
            if len(els) > 1:
                for el in els:
                    cname = ident(el)
                    while cname in self.ir.class_names:
                        cname += "Element"
                    self.ir.class_names.add(cname)
                    out[el] = (cname, tname)
        return out

    def emit_document(self) -> None:
        ir = self.ir
        L = self.lines
        n = len(ir.doc_elements)
        w = width_for(n)
        self.subclasses = self.element_classes()
        for el, (cname, tname) in self.subclasses.items():
            L.append(f"class {cname}({tname}):")
            L.append(f'    """Global element {el}; its type {tname} is shared with another element."""')
            L.append("")
            L.append("    __slots__ = ()")
            L.append("")
            L.append("")
            for kind in ("f", "d"):
                L.append(f"def _{kind}_{cname}(B: int, r: int) -> tuple[{cname}, int, int]:")
                L.append(f"    o, B, r = _{kind}_{tname}(B, r)")
                L.append(f"    o.__class__ = {cname}")
                L.append("    return o, B, r")
                L.append("")
        names = []
        for d in ir.doc_elements:
            if d.local in self.subclasses:
                cname, tname = self.subclasses[d.local]
                names.append((d.local, d.ns, f"_f_{cname}", f"_e_{tname}", cname, f"_d_{cname}"))
            else:
                cn = self.elem_codec_name(d)
                if d.abstract:
                    fd, gd = self.abstract_decoders(d, cn)
                    names.append((d.local, d.ns, fd, self.abstract_encoder(d), self.type_ref(d.type), gd))
                else:
                    names.append((d.local, d.ns, self.dec_fn(cn), f"_e_{cn}", self.type_ref(d.type), f"_d_{cn}"))
        L.append(f"DOC_WIDTH = {w}")
        L.append("# (element, namespace, decoder of a stream held whole, encoder, class or simple-type spec,")
        L.append("#  decoder through a window: see v2gkit.exi.runtime)")
        L.append("DOC_ELEMENTS: tuple = (")
        for local, ns, dn, en, tr, gn in names:
            L.append(f"    ({local!r}, {ns!r}, {dn}, {en}, {tr}, {gn}),")
        L.append(")")
        L.append("")
        m = len(ir.fragment_elements)
        fw = max(1, math.ceil(math.log2(m + 2)))
        rows = []
        for local, ns, ds in ir.fragment_elements:
            if len(ds) == 1 and local in self.subclasses and ds[0].ns == next(
                    d.ns for d in ir.doc_elements if d.local == local):
                cname, tname = self.subclasses[local]
                rows.append((local, ns, f"{cname}|{tname}", cname, None))
                continue
            if len(ds) == 1:
                cn = self.elem_codec_name(ds[0])
                tr = self.type_ref(ds[0].type)
                if ds[0].abstract:
                    rows.append((local, ns, cn, tr, self.abstract_encoder(ds[0])))
                    continue
            else:
                cn = self.relaxed_wrapper(local, ds, m)
                rich = next((d.type for d in ds if isinstance(d.type, ComplexT)), ds[0].type)
                tr = self.type_ref(rich)
            rows.append((local, ns, cn, tr, None))
        L.append(f"FRAG_WIDTH = {fw}")
        L.append("FRAG_ELEMENTS: tuple = (")
        for local, ns, cn, tr, abstract_enc in rows:
            if abstract_enc:
                fd, gd = self.abstract_decoders(next(d for d in ir.fragment_elements if d[0] == local and d[1] == ns)[2][0], cn)
                L.append(f"    ({local!r}, {ns!r}, {fd}, {abstract_enc}, {tr}, {gd}),")
            elif "|" in cn:
                cname, tname = cn.split("|")
                L.append(f"    ({local!r}, {ns!r}, _f_{cname}, _e_{tname}, {tr}, _d_{cname}),")
            else:
                L.append(f"    ({local!r}, {ns!r}, {self.dec_fn(cn)}, _e_{cn}, {tr}, _d_{cn}),")
        L.append(")")
        L.append("")
        # element name of each class when it is the type of exactly one global element
        by_type: dict[str, list[str]] = {}
        for d in ir.doc_elements:
            if isinstance(d.type, ComplexT):
                by_type.setdefault(d.type.name, []).append(d.local)
        L.append("# class -> global element names (several when elements share a type)")
        L.append("ROOT_OF: dict[type, tuple[str, ...]] = {")
        for tn, els in by_type.items():
            L.append(f"    {tn}: {tuple(els)!r},")
        for el, (cname, _t) in self.subclasses.items():
            L.append(f"    {cname}: ({el!r},),")
        L.append("}")
        L.append("")

    @staticmethod
    def _spec_fix(line: str) -> str:
        """SPEC tuples name their enum class: write it as a reference, not a string."""
        name, _, val = line.partition(" = ")
        if not val.startswith("('SPEC'"):
            return line
        t = eval(val)  # noqa: S307 - our own repr
        enum = t[4] or "None"
        return f"{name} = ({t[1]!r}, {t[2]!r}, {t[3]!r}, {enum}, {t[5]!r})"

    # ------------------------------------------------------------ module
    def run(self) -> str:
        ir = self.ir
        # touch every type reachable from the fragment list (already built by IR)
        enums: dict[str, SimpleT] = {}
        for st in ir.simple_cache.values():
            if st.kind == "enum":
                enums.setdefault(st.enum_name, st)
        for t in sorted(enums.values(), key=lambda t: t.enum_name):
            self.emit_enum(t)
        for ct in ir.complex_order:
            self.emit_class(ct)
        split = len(self.lines)
        from .fast import FastDecoder, FastEncoder

        for ct in ir.complex_order:
            if ct.glushkov is not None:
                self.emit_glushkov(ct)
                continue
            self.emit_decoder(ct)
            self.lines += FastDecoder(self, ct).emit()
            self.lines += FastEncoder(self, ct).emit()
        for name, rows in self.sparse_tables.items():
            self.lines.append(f"{name} = {{")
            self.lines += rows
            self.lines.append("}")
            self.lines.append("")
        self.emit_document()
        self.emit_meta()
        head = [self.header, "from __future__ import annotations", "",
                "import enum", "from typing import Any", "",
                "from v2gkit.exi.errors import ExiUnsupportedError, _Fail",
                "from v2gkit.exi.runtime import (BIG, BOOL, UINT_CARRIED, EncFail, Message, abstract_facet, "
                "bad_value, esc, facet, fill, int_facet, nbit_facet, sl2, rbin, ri, rstr, ru, spill, unexpected, "
                "wbin, wi, wstr, wu)", "",
                f"SCHEMA = {ir.name!r}", "_new = object.__new__", ""]
        consts = ["# event-code tables: code -> slot (-1 EE, -2 second level, -3 invalid, -4 CH, -5 SE(*))"]
        consts += [self._spec_fix(c) for c in self.consts]
        refusals = [x for lines in self.abstract_codecs.values() for x in lines]
        body = self.lines[:split] + consts + [""] + refusals + self.lines[split:]
        return "\n".join(head + body) + "\n"
