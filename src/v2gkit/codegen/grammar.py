"""EXI 1.0 schema-informed grammars (non-strict) for linear content models.

A type's content is a list of items (attributes sorted by qname, then particles in
schema order). A grammar state is ``(item index, count class)``; its first-level
productions are the items reachable from it, ordered as EXI 8.5.4.3 says: AT(qname),
SE(qname) in schema order, SE(*), EE, CH. Non-strict grammars always have a second
level (EE/xsi:type/xsi:nil/AT(*)/SE(*)/CH [untyped]), so a state with N first-level
productions costs ceil(log2(N + 1)) bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .ir import ComplexT, Item

END, ESC, BAD, MIXED, ANY = -1, -2, -3, -4, -5
_CAT = {"attr": 0, "elem": 3, "any": 5, "end": 6, "value": 7, "mixed": 7}


@dataclass(frozen=True)
class Prod:
    cat: int
    order: tuple[int, int]
    slot: int  # >= 0: (item, alt) slot; END/ANY/MIXED


def width_for(n_first: int) -> int:
    return max(1, math.ceil(math.log2(n_first + 1)))


class TypeGrammar:
    """States, slots and code tables of one complex type."""

    def __init__(self, ct: ComplexT) -> None:
        self.ct = ct
        self.items: list[Item] = ct.items
        self.n_attr = sum(1 for it in self.items if it.kind == "attr")
        self.slot_of: dict[tuple[int, int], int] = {}
        for i, it in enumerate(self.items):
            n = len(it.alts) if it.kind in ("elem", "elem+any") else 1
            if it.kind == "any":
                continue
            for j in range(n):
                self.slot_of[(i, j)] = len(self.slot_of)
        self._cache: dict[tuple[int, int], list[Prod]] = {}

    def count_ok(self, state: tuple[int, int]) -> tuple[bool, bool]:
        """(may take item again, may leave item) for a state."""
        i, c = state
        it = self.items[i]
        if c == 0:
            return (it.max is None or it.max > 0), it.min == 0
        if c == -1:
            return True, False
        if c == -2:
            return True, True
        return False, True

    def prods(self, state: tuple[int, int]) -> list[Prod]:
        if state in self._cache:
            return self._cache[state]
        out: list[Prod] = []
        seen_mixed = False
        i, c = state
        first = True
        while True:
            if i >= len(self.items):
                out.append(Prod(_CAT["end"], (0, 0), END))
                if self.ct.mixed and not seen_mixed:
                    out.append(Prod(_CAT["mixed"], (0, 0), MIXED))
                    seen_mixed = True
                break
            it = self.items[i]
            cc = c if first else 0
            take, leave = self.count_ok((i, cc))
            if self.ct.mixed and i >= self.n_attr and not seen_mixed:
                out.append(Prod(_CAT["mixed"], (0, 0), MIXED))
                seen_mixed = True
            if take:
                if it.kind == "attr":
                    out.append(Prod(_CAT["attr"], (i, 0), self.slot_of[(i, 0)]))
                elif it.kind == "value":
                    out.append(Prod(_CAT["value"], (i, 0), self.slot_of[(i, 0)]))
                elif it.kind == "any":
                    out.append(Prod(_CAT["any"], (i, 0), ANY))
                else:
                    for j in range(len(it.alts)):
                        out.append(Prod(_CAT["elem"], (i, j), self.slot_of[(i, j)]))
                    if it.kind == "elem+any":
                        out.append(Prod(_CAT["any"], (i, 0), ANY))
            if not leave:
                break
            i += 1
            first = False
        out.sort(key=lambda p: (p.cat, p.order))
        # one SE(*) / CH production at most
        dedup: list[Prod] = []
        for p in out:
            if p.slot in (ANY, MIXED) and any(q.slot == p.slot for q in dedup):
                continue
            dedup.append(p)
        self._cache[state] = dedup
        return dedup

    def after_n(self, i: int, n: int) -> tuple[int, int]:
        it = self.items[i]
        if n == 0:
            return (i, 0)
        if n < it.min:
            return (i, -1)
        if it.max is not None and n >= it.max:
            return (i, -3)
        return (i, -2)

    def count_branches(self, i: int) -> list[tuple[str | None, tuple[int, int]]]:
        """After one more occurrence of repeated item i (count in ``n``): (condition, state)."""
        it = self.items[i]
        out: list[tuple[str | None, tuple[int, int]]] = []
        if it.min > 1:
            out.append((f"n < {it.min}", self.after_n(i, 1)))
        if it.max is None:
            out.append((None, (i, -2)))
        else:
            if it.max > max(it.min, 1):
                out.append((f"n < {it.max}", (i, -2)))
            out.append((None, (i, -3)))
        return out

    def width(self, state: tuple[int, int]) -> int:
        return width_for(len(self.prods(state)))

    def table(self, state: tuple[int, int]) -> tuple[int, tuple[int, ...]]:
        ps = self.prods(state)
        return self.width(state), tuple(p.slot for p in ps)

    def code(self, state: tuple[int, int], slot: int) -> tuple[int, int]:
        for k, p in enumerate(self.prods(state)):
            if p.slot == slot:
                return self.width(state), k
        raise KeyError((state, slot))

    # ------------------------------------------------------------ names, for the generated comments
    def item_label(self, i: int) -> str:
        it = self.items[i]
        if it.kind == "attr":
            return "@" + it.attr_local
        if it.kind == "value":
            return "value"
        if it.kind == "any":
            return "*"
        names = [d.local for d in it.alts] + (["*"] if it.kind == "elem+any" else [])
        return names[0] if len(names) == 1 else "(" + " | ".join(names) + ")"

    def state_name(self, state: tuple[int, int]) -> str:
        """Where in the content model a state is: before/in/after an item."""
        i, c = state
        if i >= len(self.items):
            return "start" if i == 0 else "end"
        it = self.items[i]
        lab = self.item_label(i)
        if c == 0:
            return "start" if i == 0 else f"before {lab}"
        if c == -1:
            return f"in {lab} (fewer than {it.min})"
        if c == -2:
            return f"after {lab} (may repeat)"
        return f"after {lab}"

    def event(self, slot: int) -> str:
        if slot == END:
            return "EE"
        if slot == ANY:
            return "SE(*)"
        if slot == MIXED:
            return "CH"
        for (i, j), sl in self.slot_of.items():
            if sl == slot:
                it = self.items[i]
                if it.kind == "attr":
                    return f"AT({it.attr_local})"
                if it.kind == "value":
                    return "CH"
                return f"SE({it.alts[j].local})"
        raise KeyError(slot)

    def describe(self, state: tuple[int, int]) -> str:
        """'<state>: <width> bits: 0 SE(a), 1 EE, 2 second level' for an event-code read."""
        ps = self.prods(state)
        codes = ", ".join(f"{k} {self.event(p.slot)}" for k, p in enumerate(ps))
        return f"{self.state_name(state)}: {self.width(state)} bit(s): {codes}, {len(ps)} second level"
