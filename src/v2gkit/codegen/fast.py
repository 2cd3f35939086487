"""Fast-path decoders: fixed-width runs fused into one read, the general decoder as fallback.

For each type the generator writes the general decoder ``_d_T`` (every legal event,
precise errors) and a fast one ``_f_T``. The fast decoder reads a run of fixed-width
fields (event codes that must be 0, booleans, n-bit integers, enumerations, the next
event-code table index) with one shift and one mask, checks all expected event-code
bits at once, and on anything unusual (an escape, an out-of-range value) restarts the
type from its first bit with ``_d_T``, which then decodes it or raises the right error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .emit import nbit_check
from .ir import ComplexT, SimpleT, range_conds

if TYPE_CHECKING:
    from .emit import Emitter
    from .grammar import TypeGrammar

_FIXED = ("bool", "nbit", "enum")


class FastDecoder:
    def __init__(self, em: "Emitter", ct: ComplexT) -> None:
        self.em = em
        self.ct = ct
        self.g: TypeGrammar = em.gram(ct)
        self.L: list[str] = []
        self.pending: list[tuple] = []
        self.uid = 0

    # ------------------------------------------------------------ pending fixed-width run
    def check(self, width: int, value: int, label: str) -> None:
        self.pending.append(("check", width, value, label))

    def val(self, t: SimpleT, var: str) -> None:
        self.pending.append(("val", t.nbits if t.kind != "bool" else 1, var, t))

    def code(self, g: "TypeGrammar", state: tuple[int, int]) -> None:
        w, tname = self.em.table_const(g, state)
        self.pending.append(("code", w, tname, f"{g.ct.xsd_name or g.ct.name} {g.describe(state)}"))

    def expect(self, g: "TypeGrammar", state: tuple[int, int], slot: int) -> None:
        """An event code that must be the one of ``slot`` (a mandatory element, or the end)."""
        w, c = g.code(state, slot)
        self.check(w, c, f"{g.ct.xsd_name or g.ct.name} {g.state_name(state)}: {g.event(slot)} = {c} in {w} bit(s)")

    @staticmethod
    def _comment(p: list[tuple], total: int) -> str:
        """What a fused read holds, in stream order."""
        parts = []
        for e in p:
            if e[0] == "check":
                parts.append(f"[{e[3]}]")
            elif e[0] == "val":
                parts.append(f"{e[2]} {e[1]} bit(s)")
            elif e[0] == "code":
                parts.append(f"[code of {e[3]}]")
        return f"# {total} bits: " + "; ".join(parts)

    def flush(self, ind: str) -> None:
        p = self.pending
        self.pending = []
        if not p:
            return
        p = [("post", 0, e[1]) if e[0] == "post" else e for e in p]
        total = sum(e[1] for e in p)
        L = self.L
        slow = f"return _d_{self.ct.name}(B, r0)"
        if total == 0:
            conds: list[str] = []
            for e in p:
                if e[0] == "val":
                    self._extract(e, "0", 0, ind, conds)
                elif e[0] == "post":
                    L.append(f"{ind}{e[2]}")
            return
        L.append(f"{ind}{self._comment(p, total)}")
        L.append(f"{ind}r -= {total}; c = (B >> r) & {(1 << total) - 1}")
        off = total
        cm = cv = 0
        for e in p:
            off -= e[1]
            if e[0] == "check":
                cm |= ((1 << e[1]) - 1) << off
                cv |= e[2] << off
        if cm:
            L.append(f"{ind}if c & {cm}: {slow}" if cv == 0 else f"{ind}if (c & {cm}) != {cv}: {slow}")
        posts = [e[2] for e in p if e[0] == "post"]
        off = total
        conds = []
        for e in p:
            off -= e[1]
            if e[0] == "val":
                self._extract(e, "c", off, ind, conds)
            elif e[0] == "code":
                L.append(f"{ind}k = {e[2]}[{self._bits('c', off, e[1])}]")
        if conds:
            L.append(f"{ind}if {' or '.join(conds)}: {slow}")
        for line in posts:
            L.append(f"{ind}{line}")

    @staticmethod
    def _bits(src: str, off: int, width: int) -> str:
        m = (1 << width) - 1
        if off == 0:
            return f"{src} & {m}"
        return f"({src} >> {off}) & {m}"

    def _extract(self, e: tuple, src: str, off: int, ind: str, conds: list[str]) -> None:
        """One line per value; range conditions are collected into ``conds`` (one check)."""
        _tag, width, var, t = e
        L = self.L
        if t.kind == "bool":
            L.append(f"{ind}{var} = ({self._bits(src, off, 1)}) == 1")
        elif t.kind == "nbit":
            if width == 0:
                L.append(f"{ind}{var} = {t.lo}")
            else:
                expr = self._bits(src, off, width)
                L.append(f"{ind}{var} = ({expr}) + {t.lo}" if t.lo else f"{ind}{var} = {expr}")
                if t.hi - t.lo + 1 < (1 << width):
                    conds.append(f"{var} > {t.hi}")
        elif t.kind == "enum":
            n = len(t.enum_values)
            if width == 0:
                L.append(f"{ind}{var} = _E_{t.enum_name}[0]")
            elif n < (1 << width):
                # padded with None up to 2**width: an index past the values gives None
                L.append(f"{ind}{var} = _EP_{t.enum_name}[{self._bits(src, off, width)}]")
                conds.append(f"{var} is None")
            else:
                L.append(f"{ind}{var} = _E_{t.enum_name}[{self._bits(src, off, width)}]")

    # ------------------------------------------------------------ values
    def simple_value(self, t: SimpleT, var: str, ind: str) -> None:
        if t.kind in _FIXED:
            self.val(t, var)
            return
        self.flush(ind)
        slow = f"return _d_{self.ct.name}(B, r0)"
        L = self.L
        if t.kind == "uint":
            conds = range_conds(t, var)
            # values of one or two octets (< 16384) need no check when the range holds them
            short_ok = not t.lo and (t.hi is None or t.hi >= 16383)
            L.append(f"{ind}r -= 8; {var} = (B >> r) & 255")
            L.append(f"{ind}if {var} > 127:")
            L.append(f"{ind}    r -= 8; x = (B >> r) & 255")
            if conds and short_ok:
                L.append(f"{ind}    if x > 127:")
                L.append(f"{ind}        {var}, r = ru(B, r + 8, {var})")
                L.append(f"{ind}        if {' or '.join(conds)}: {slow}")
            else:
                L.append(f"{ind}    if x > 127: {var}, r = ru(B, r + 8, {var})")
            L.append(f"{ind}    else: {var} = (x << 7) | ({var} & 127)")
            if conds and not short_ok:
                L.append(f"{ind}if {' or '.join(conds)}: {slow}")
        elif t.kind == "int":
            conds = range_conds(t, var)
            short_ok = (t.lo is None or t.lo <= -16384) and (t.hi is None or t.hi >= 16383)
            L.append(f"{ind}r -= 9; {var} = (B >> r) & 511")
            L.append(f"{ind}if {var} & 128:")
            L.append(f"{ind}    r -= 8; x = (B >> r) & 255")
            if conds and short_ok:
                L.append(f"{ind}    if x > 127:")
                L.append(f"{ind}        {var}, r = ri(B, r + 8, {var})")
                L.append(f"{ind}        if {' or '.join(conds)}: {slow}")
            else:
                L.append(f"{ind}    if x > 127: {var}, r = ri(B, r + 8, {var})")
            L.append(f"{ind}    elif {var} & 256: {var} = -((x << 7) | ({var} & 127)) - 1")
            L.append(f"{ind}    else: {var} = (x << 7) | ({var} & 127)")
            L.append(f"{ind}elif {var} > 255: {var} = 255 - {var}")
            if conds and not short_ok:
                L.append(f"{ind}if {' or '.join(conds)}: {slow}")
        elif t.kind == "string":
            L.append(f"{ind}{var}, B, r = rstr(B, r, {t.max_len})")
        elif t.kind in ("hex", "b64") and t.max_len is not None and t.max_len < 128:
            # short binary (SessionID, EVCCID, ...): length and octets inline
            L.append(f"{ind}r -= 8; nb = (B >> r) & 255")
            L.append(f"{ind}if nb > {t.max_len} or 8 * nb > r: {slow}")
            L.append(f"{ind}r -= 8 * nb; {var} = ((B >> r) & ((1 << (8 * nb)) - 1)).to_bytes(nb, 'big')")
        elif t.kind in ("hex", "b64"):
            L.append(f"{ind}{var}, B, r = rbin(B, r, {t.max_len})")
        else:
            L.append(f"{ind}{slow}")

    # ------------------------------------------------------------ the type
    def emit(self) -> list[str]:
        ct, L = self.ct, self.L
        L.append(f"def _f_{ct.name}(B: int, r: int) -> tuple[{ct.name}, int, int]:")
        L.append(f"    # {ct.xsd_name or ct.name}: {ct.model}")
        if ct.unsupported or ct.mixed:
            L.append(f"    return _d_{ct.name}(B, r)")
            L.append("")
            return L
        L.append("    r0 = r")
        spec = self.body(ct, "f_", "    ", 0)
        L += ["    " + x for x in self.construct("o", spec)]
        L.append("    return o, B, r")
        L.append("")
        return L

    def inlinable(self, t: ComplexT, depth: int) -> bool:
        return (depth < 5 and t.glushkov is None and not t.unsupported and not t.mixed and len(t.items) <= 12
                and all(it.max == 1 and it.kind != "any" for it in t.items))

    def body(self, ct: ComplexT, pre: str, base: str, depth: int) -> str:
        """Emit the decoding of ``ct``'s content at indentation ``base``; return the constructor."""
        g = self.em.gram(ct)
        L = self.L
        slow = f"return _d_{self.ct.name}(B, r0)"
        i0 = base + "    "
        fields_by_item: dict[int, dict[int, str]] = {}
        for f in ct.fields:
            fields_by_item.setdefault(f.item_index, {})[f.alt_index] = f"{pre}{f.py}"
        state: tuple[int, int] | None = (0, 0)  # static state whose code is not read yet
        for i, it in enumerate(g.items):
            if it.kind == "any":
                if state is not None:
                    self.code(g, state)
                    self.flush(base)
                    state = None
                continue
            decls: list = [None] if it.kind in ("attr", "value") else list(it.alts)
            vars_ = [fields_by_item.get(i, {}).get(j, f"_{pre}skip{i}_{j}") for j in range(len(decls))]
            slots = [g.slot_of[(i, j)] for j in range(len(decls))]
            single = it.max == 1
            if (state is not None and single and it.min > 0 and len(decls) == 1
                    and len(g.prods(state)) == 1):
                self.expect(g, state, slots[0])
                self._content(ct, it, decls[0], vars_[0], base, depth)
                state = g.after_n(i, 1)
                continue
            if state is not None:
                self.code(g, state)
                self.flush(base)
                state = None
            if single and len(decls) > 6 and slots == list(range(slots[0], slots[0] + len(slots))):
                # a large choice (a message body): binary search on the slot
                if ct.sparse:
                    L.append(f"{base}{pre}obj = _new({ct.name})")
                    vars_ = [f"{pre}obj.{fields_by_item[i][j][len(pre):]}" for j in range(len(decls))]
                else:
                    L.append(f"{base}{' = '.join(vars_)} = None")
                L.append(f"{base}if {slots[0]} <= k <= {slots[-1]}:")

                def tree(lo: int, hi: int, ind: str) -> None:
                    if hi - lo < 3:
                        for j in range(lo, hi + 1):
                            L.append(f"{ind}{'if' if j == lo else 'elif'} k == {slots[j]}:")
                            # called, not inlined: a frame holding the locals of every
                            # alternative costs more to set up than the calls save
                            self._content(ct, it, decls[j], vars_[j], ind + "    ", 99)
                            self.flush(ind + "    ")
                        return
                    mid = (lo + hi + 1) // 2
                    L.append(f"{ind}if k < {slots[mid]}:")
                    tree(lo, mid - 1, ind + "    ")
                    L.append(f"{ind}else:")
                    tree(mid, hi, ind + "    ")

                tree(0, len(decls) - 1, i0)
                self.code(g, g.after_n(i, 1))
                self.flush(i0)
                if it.min > 0:
                    L.append(f"{base}else:")
                    L.append(f"{i0}{slow}")
            elif single:
                L.append(f"{base}{' = '.join(vars_)} = None")
                for j, d in enumerate(decls):
                    L.append(f"{base}{'if' if j == 0 else 'elif'} k == {slots[j]}:")
                    self._content(ct, it, d, vars_[j], i0, depth)
                    self.code(g, g.after_n(i, 1))
                    self.flush(i0)
                if it.min > 0:
                    L.append(f"{base}else:")
                    L.append(f"{i0}{slow}")
            else:
                i1, i2 = i0 + "    ", i0 + "        "
                for v in vars_:
                    L.append(f"{base}{v} = []")
                L.append(f"{base}n = 0")
                L.append(f"{base}while True:")
                for j, d in enumerate(decls):
                    L.append(f"{i0}{'if' if j == 0 else 'elif'} k == {slots[j]}:")
                    self._content(ct, it, d, "v", i1, depth)
                    self.flush(i1)
                    L.append(f"{i1}{vars_[j]}.append(v)")
                L.append(f"{i0}else:")
                L.append(f"{i1}break")
                L.append(f"{i0}n += 1")
                branches = g.count_branches(i)
                for bi, (cond, st) in enumerate(branches):
                    if cond is None and bi == 0:
                        self.code(g, st)
                        self.flush(i0)
                    elif cond is None:
                        L.append(f"{i0}else:")
                        self.code(g, st)
                        self.flush(i1)
                    else:
                        L.append(f"{i0}{'if' if bi == 0 else 'elif'} {cond}:")
                        self.code(g, st)
                        self.flush(i1)
                del i2
                if it.min > 0:
                    L.append(f"{base}if n < {it.min}: {slow}")
        if state is not None:
            if len(g.prods(state)) == 1:
                self.expect(g, state, -1)
            else:
                self.code(g, state)
                self.flush(base)
                L.append(f"{base}if k != -1: {slow}")
        else:
            L.append(f"{base}if k != -1: {slow}")
        if depth == 0:
            self.flush(base)
        if ct.sparse:
            return f"={pre}obj"
        return ct.name + "|" + ",".join(f"{f.py}={pre}{f.py}" for f in ct.fields)

    @staticmethod
    def construct(target: str, spec: str) -> list[str]:
        """Build an object: small ones by object.__new__ and slot stores (no __init__ frame)."""
        if spec.startswith("="):
            return [f"{target} = {spec[1:]}"]
        cls, _, args = spec.partition("|")
        pairs = [a.split("=") for a in args.split(",")] if args else []
        if len(pairs) <= 6:
            return [f"{target} = _new({cls})"] + [f"{target}.{k} = {v}" for k, v in pairs]
        return [f"{target} = {cls}({', '.join(v for _k, v in pairs)})"]

    def _content(self, ct: ComplexT, it, d, var: str, ind: str, depth: int) -> None:  # noqa: ANN001
        if it.kind == "attr":
            self.simple_value(it.attr_type, var, ind)
        elif it.kind == "value":
            self.simple_value(ct.simple, var, ind)
        elif d.abstract:  # not schema-valid: the general decoder refuses it (or keeps it, decoding leniently)
            self.flush(ind)
            self.L.append(f"{ind}return _d_{self.ct.name}(B, r0)")
        elif isinstance(d.type, ComplexT):
            if self.inlinable(d.type, depth + 1):
                self.uid += 1
                spec = self.body(d.type, f"i{self.uid}_", ind, depth + 1)
                for line in self.construct(var, spec):
                    self.pending.append(("post", line))
            else:
                self.flush(ind)
                self.L.append(f"{ind}{var}, B, r = _f_{d.type.name}(B, r)")
        else:
            self.check(1, 0, f"{d.local}: CH = 0 in 1 bit")  # the only first-level production
            self.simple_value(d.type, var, ind)
            self.check(1, 0, f"{d.local}: EE = 0 in 1 bit")


class FastEncoder:
    """Straight-line encoder: constant event codes and fixed-width values fused into one shift.

    The grammar state is tracked at generation time; where it depends on which optional
    fields were present, ``st`` holds it and a small table gives the code.
    """

    def __init__(self, em: "Emitter", ct: ComplexT) -> None:
        self.em = em
        self.ct = ct
        self.L: list[str] = []
        self.pending: list[tuple[int, str | None, int]] = []
        self.uid = 0

    # ------------------------------------------------------------ pending writes
    def put(self, width: int, value: int) -> None:
        if width:
            self.pending.append((width, None, value))

    def put_expr(self, width: int, expr: str) -> None:
        if width:
            self.pending.append((width, expr, 0))

    def flush(self, ind: str) -> None:
        p = self.pending
        self.pending = []
        if not p:
            return
        total = sum(e[0] for e in p)
        off = total
        const = 0
        exprs = []
        for w, expr, v in p:
            off -= w
            if expr is None:
                const |= v << off
            else:
                exprs.append(f"({expr}) << {off}" if off else f"({expr})")
        if const:
            exprs.insert(0, str(const))
        if exprs:
            self.L.append(f"{ind}a = (a << {total}) | {' | '.join(exprs)}")
        else:
            self.L.append(f"{ind}a <<= {total}")

    # ------------------------------------------------------------ values
    def simple(self, t: SimpleT, var: str, ind: str, what: str) -> None:
        """A simple value; ``what`` names it as the decoder does in its facet reports (lenient encoding)."""
        L = self.L
        k = t.kind
        if k == "bool":
            self.put_expr(1, f"BOOL[{var}]")
        elif k == "nbit":
            pend = sum(e[0] for e in self.pending)  # bits before it, fused into the next write
            L.append(f"{ind}if not {t.lo} <= {var} <= {t.hi}: {nbit_check(t, var, pend, what)}")
            self.put_expr(t.nbits, f"{var} - {t.lo}" if t.lo else var)
        elif k == "enum":
            n = len(t.enum_values)
            L.append(f"{ind}if {var}.__class__ is not {t.enum_name} and not ({var}.__class__ is int and 0 <= {var} < {n}): "
                     f"raise EncFail(f'{{{var}!r}} is not a {t.enum_name}')")
            self.put_expr(t.nbits, var)
        else:
            self.flush(ind)
            L += self.em.enc_simple(t, var, ind, what)

    # ------------------------------------------------------------ the type
    def emit(self) -> list[str]:
        ct, L = self.ct, self.L
        L.append(f"def _e_{ct.name}(o: {ct.name}, a: int) -> int:")
        L.append(f"    # {ct.xsd_name or ct.name}: {ct.model}")
        if ct.unsupported:
            L.append(f"    raise EncFail('{ct.xsd_name or ct.name}: {ct.unsupported} is not supported')")
            L.append("")
            return L
        self.body(ct, "o", "    ", 0)
        self.flush("    ")
        L.append("    return a")
        L.append("")
        return L

    def inlinable(self, t: ComplexT, depth: int) -> bool:
        return (depth < 5 and t.glushkov is None and not t.unsupported and len(t.items) <= 12
                and all(it.max == 1 and it.kind != "any" for it in t.items))

    def code(self, g: "TypeGrammar", states: set, slot: int, ind: str, st_var: str) -> None:
        codes = {st: g.code(st, slot) for st in states}
        uniq = set(codes.values())
        if len(uniq) == 1:
            w, c = uniq.pop()
            self.put(w, c)
            return
        self.flush(ind)
        sid = self.em.state_ids(g)
        tab: list = [None] * len(sid)
        for st, wc in codes.items():
            tab[sid[st]] = wc
        self.L.append(f"{ind}w, c = {self.em.const(tuple(tab), '_C')}[{st_var}]")
        self.L.append(f"{ind}a = (a << w) | c")

    def sparse_body(self, ct: ComplexT, obj: str, base: str) -> None:
        """A sparse choice holder: look the one set field up by name."""
        em, L = self.em, self.L
        g = em.gram(ct)
        self.flush(base)
        rows = []
        for j, d in enumerate(ct.items[0].alts):
            w, c = g.code((0, 0), g.slot_of[(0, j)])
            f = next(f for f in ct.fields if f.alt_index == j)
            enc = em.abstract_encoder(d) if d.abstract else f"_e_{d.type.name}"
            rows.append(f"    {f.py!r}: ({w}, {c}, {enc}),")
        name = f"_SP_{ct.name}"
        em.sparse_tables[name] = rows
        self.uid += 1
        d, v = f"d{self.uid}", f"x{self.uid}"
        w_end, c_end = g.code(g.after_n(0, 1), -1)
        w0, c0 = g.code((0, 0), -1)
        L.append(f"{base}{d} = [kv for kv in {obj}.__dict__.items() if kv[1] is not None]")
        L.append(f"{base}if not {d}:")
        L.append(f"{base}    a = (a << {w0}) | {c0}")
        L.append(f"{base}elif len({d}) > 1:")
        L.append(f"{base}    raise EncFail('choice: only one of ' + ', '.join(k for k, _v in {d}) + ' may be set')")
        L.append(f"{base}else:")
        L.append(f"{base}    {v} = {name}.get({d}[0][0])")
        L.append(f"{base}    if {v} is None: raise EncFail('unknown field ' + {d}[0][0])")
        L.append(f"{base}    a = {v}[2]({d}[0][1], (a << {v}[0]) | {v}[1])")
        L.append(f"{base}    a = (a << {w_end}) | {c_end}" if c_end else f"{base}    a <<= {w_end}")

    def body(self, ct: ComplexT, obj: str, base: str, depth: int) -> None:
        em, L = self.em, self.L
        if ct.sparse:
            self.sparse_body(ct, obj, base)
            return
        g = em.gram(ct)
        for i in range(len(g.items)):
            for c in (0, -1, -2, -3):
                em.sid(g, (i, c))
        self.uid += 1
        stv = f"st{self.uid}" if depth else "st"
        need_st = False
        st_line = len(L)
        L.append(f"{base}{stv} = {em.sid(g, (0, 0))}")
        states: set = {(0, 0)}
        fields_by_item: dict[int, list] = {}
        for f in ct.fields:
            fields_by_item.setdefault(f.item_index, []).append(f)
        i0 = base + "    "
        for i, it in enumerate(g.items):
            if it.kind == "any":
                if it.min > 0:
                    self.flush(base)
                    L.append(f"{base}raise EncFail('a required wildcard element cannot be encoded')")
                    states = {g.after_n(i, 1)}
                continue
            fmap = {f.alt_index: f for f in fields_by_item.get(i, [])}
            decls = [None] if it.kind in ("attr", "value") else it.alts
            slots = [g.slot_of[(i, j)] for j in range(len(decls))]
            required = it.min > 0
            after1 = g.after_n(i, 1)
            new_states: set = set()
            names = " or ".join(f.xsd for f in fmap.values())
            if it.max == 1:
                if required and len(fmap) == 1 and 0 in fmap:
                    # mandatory, one alternative: no branch
                    f = fmap[0]
                    var = self.fresh()
                    L.append(f"{base}{var} = {obj}.{f.py}")
                    L.append(f"{base}if {var} is None: raise EncFail('missing mandatory {f.xsd}')")
                    if len(states) > 1:
                        need_st = True
                    self.code(g, states, slots[0], base, stv)
                    self.content(ct, it, decls[0], var, base, depth)
                    states = {after1}
                    if len(g.prods(after1)) > 0:
                        pass
                    L.append(f"{base}{stv} = {em.sid(g, after1)}") if self._st_needed(g, i) else None
                    continue
                self.flush(base)
                kw = "if"
                avars = {}
                for j in range(len(decls)):
                    if j in fmap:
                        avars[j] = self.fresh()
                        L.append(f"{base}{avars[j]} = {obj}.{fmap[j].py}")
                for j, d in enumerate(decls):
                    if j not in fmap:
                        continue
                    var = avars[j]
                    L.append(f"{base}{kw} {var} is not None:")
                    if len(states) > 1:
                        need_st = True
                    self.code(g, states, slots[j], i0, stv)
                    # a large choice (message body): call the alternatives, keep the frame small
                    self.content(ct, it, d, var, i0, 99 if len(decls) > 6 else depth)
                    self.flush(i0)
                    L.append(f"{i0}{stv} = {em.sid(g, after1)}")
                    kw = "elif"
                new_states.add(after1)
                if required:
                    L.append(f"{base}else:")
                    L.append(f"{i0}raise EncFail('missing mandatory {names}')")
                else:
                    new_states |= states
            else:
                self.flush(base)
                L.append(f"{base}n = 0")
                for j, d in enumerate(decls):
                    if j not in fmap:
                        continue
                    f = fmap[j]
                    i1 = i0 + "    "
                    L.append(f"{base}for v in {obj}.{f.py}:")
                    L.append(f"{i0}if a > BIG: a = spill(a)")
                    L.append(f"{i0}if n == 0:")
                    if len(states) > 1:
                        need_st = True
                    self.code(g, states, slots[j], i1, stv)
                    self.flush(i1)
                    conds = []
                    if it.min > 1:
                        conds.append((f"n < {it.min}", g.after_n(i, 1)))
                    if not (it.max is not None and it.max <= max(it.min, 1)):
                        conds.append((f"n < {it.max}" if it.max is not None else "True", (i, -2)))
                    for cond, st in conds:
                        L.append(f"{i0}elif {cond}:")
                        self.code(g, {st}, slots[j], i1, stv)
                        self.flush(i1)
                    L.append(f"{i0}else:")
                    L.append(f"{i1}raise EncFail('more than {it.max} {f.xsd} elements')")
                    self.content(ct, it, d, "v", i0, depth + 10)  # no inlining inside loops
                    self.flush(i0)
                    L.append(f"{i0}n += 1")
                parts = []
                possible: set = set()
                if it.max is None:
                    parts.append((None, (i, -2)))
                    possible.add((i, -2))
                else:
                    if it.max > max(it.min, 1):
                        parts.append((f"n < {it.max}", (i, -2)))
                        possible.add((i, -2))
                    parts.append((None, (i, -3)))
                    possible.add((i, -3))
                if required:
                    L.append(f"{base}if n < {it.min}: raise EncFail('at least {it.min} {names} required, got {{}}'.format(n))")
                    L.append(f"{base}if True:")
                else:
                    L.append(f"{base}if n:")
                for pi, (cond, st) in enumerate(parts):
                    if cond is None:
                        if pi == 0:
                            L.append(f"{i0}{stv} = {em.sid(g, st)}")
                        else:
                            L.append(f"{i0}else:")
                            L.append(f"{i0}    {stv} = {em.sid(g, st)}")
                    else:
                        L.append(f"{i0}{'if' if pi == 0 else 'elif'} {cond}:")
                        L.append(f"{i0}    {stv} = {em.sid(g, st)}")
                new_states |= possible
                if not required:
                    new_states |= states
            states = new_states
        if len(states) > 1:
            need_st = True
        self.code(g, states, -1, base, stv)
        if not need_st:
            # the state never had to be looked up: drop the bookkeeping lines
            L[st_line:] = [self._drop_st(x, stv) for x in L[st_line:]]
            while L[st_line:] and L[-1].strip() == "pass" and False:
                L.pop()

    @staticmethod
    def _drop_st(line: str, stv: str) -> str:
        if line.strip().startswith(f"{stv} = "):
            return line[: len(line) - len(line.lstrip())] + "pass"
        return line

    @staticmethod
    def _st_needed(g: "TypeGrammar", i: int) -> bool:
        return True

    def fresh(self) -> str:
        self.uid += 1
        return f"v{self.uid}"

    def content(self, ct: ComplexT, it, d, var: str, ind: str, depth: int) -> None:  # noqa: ANN001
        if it.kind == "attr":
            self.simple(it.attr_type, var, ind, it.attr_local)
        elif it.kind == "value":
            self.simple(ct.simple, var, ind, ct.xsd_name or "value")
        elif d.abstract:
            self.flush(ind)
            self.L.append(f"{ind}a = {self.em.abstract_encoder(d)}({var}, a)")
        elif isinstance(d.type, ComplexT):
            if self.inlinable(d.type, depth + 1):
                self.L.append(f"{ind}if {var}.__class__ is not {d.type.name}: raise EncFail(f'expected {d.type.name}, got {{{var}.__class__.__name__}}')")
                self.body(d.type, var, ind, depth + 1)
            else:
                self.flush(ind)
                self.L.append(f"{ind}a = _e_{d.type.name}({var}, a)")
        else:
            self.put(1, 0)  # CH
            self.simple(d.type, var, ind, d.local)
            self.put(1, 0)  # EE
