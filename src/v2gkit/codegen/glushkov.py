"""Grammars of content models that do not flatten into a sequence (nested groups).

Only a few xmldsig types have them (DSAKeyValue: optional pairs; PGPData: a choice of
two sequences; SPKIData: a repeated pair). Their EXI grammar is the Glushkov automaton
of the particle tree: a state is the last element read, its productions are the
elements that may follow (in schema order), SE(*) for a wildcard, and EE where the
content may end. The generated codecs walk these small tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

END, ANY = -1, -5


@dataclass(eq=False)
class Pos:
    index: int
    order: tuple[int, int, int]  # particle (depth-first), alternative, copy
    decl: Any = None  # ElemDecl; None for a wildcard


@dataclass(eq=False)
class Glushkov:
    positions: list[Pos] = field(default_factory=list)
    # per state (0 = start, 1 + i = after position i): (width, ((slot, next state), ...))
    states: list[tuple[int, tuple[tuple[int, int], ...]]] = field(default_factory=list)
    # field order: (qname key, slot, is_list)
    slots: list[tuple[tuple[str, str], int, bool]] = field(default_factory=list)


def build(particle: Any, expand: Callable[[Any], list], is_any: Callable[[Any], bool]) -> Glushkov:
    g = Glushkov()
    counter = [0]

    def node(p: Any, copy: int) -> tuple:
        counter[0] += 1
        pid = counter[0]
        mn = p.min_occurs
        mx = p.max_occurs

        def one(c: int) -> tuple:
            if hasattr(p, "model"):
                kids = [node(k, c) for k in p]
                return ("cat" if p.model == "sequence" else "alt", kids)
            if is_any(p):
                pos = Pos(len(g.positions), (pid, 0, c))
                g.positions.append(pos)
                return ("sym", pos)
            alts = []
            for j, d in enumerate(expand(p)):
                pos = Pos(len(g.positions), (pid, j, c), d)
                g.positions.append(pos)
                alts.append(("sym", pos))
            return alts[0] if len(alts) == 1 else ("alt", alts)

        parts = [one(copy * 100 + i) for i in range(mn)]
        if mx is None:
            parts.append(("star", one(copy * 100 + mn)))
        else:
            parts += [("opt", one(copy * 100 + i)) for i in range(mn, mx)]
        return ("cat", parts)

    root = node(particle, 0)
    nullable, first, last, follow = _analyse(root, len(g.positions))
    key_of = {p.index: (p.decl.local, p.decl.ns) if p.decl is not None else None for p in g.positions}
    slot_of: dict[tuple[str, str], int] = {}
    for p in sorted(g.positions, key=lambda p: p.order):
        k = key_of[p.index]
        if k is not None and k not in slot_of:
            slot_of[k] = len(slot_of)
    # a field is a list when its element can follow itself
    reach = {i: _reachable(i, follow) for i in range(len(g.positions))}
    repeats = {k: False for k in slot_of}
    for p in g.positions:
        k = key_of[p.index]
        if k is not None and any(key_of[q] == k for q in reach[p.index]):
            repeats[k] = True
    g.slots = [(k, s, repeats[k]) for k, s in slot_of.items()]
    for st in range(len(g.positions) + 1):
        cands = first if st == 0 else follow[st - 1]
        accept = nullable if st == 0 else (st - 1) in last
        prods: list[tuple[tuple, int, int]] = []
        seen: set = set()
        any_target = None
        for q in sorted(cands, key=lambda i: g.positions[i].order):
            k = key_of[q]
            if k is None:
                any_target = any_target if any_target is not None else q
                continue
            if k in seen:
                raise NotImplementedError("content model violates unique particle attribution")
            seen.add(k)
            prods.append(((0,) + g.positions[q].order, slot_of[k], q + 1))
        out = [(s, n) for _o, s, n in prods]
        if any_target is not None:
            out.append((ANY, any_target + 1))
        if accept:
            out.append((END, 0))
        width = max(1, math.ceil(math.log2(len(out) + 1)))
        g.states.append((width, tuple(out)))
    return g


def _reachable(i: int, follow: list[set[int]]) -> set[int]:
    seen: set[int] = set()
    todo = list(follow[i])
    while todo:
        j = todo.pop()
        if j not in seen:
            seen.add(j)
            todo.extend(follow[j])
    return seen


def _analyse(root: tuple, n: int) -> tuple[bool, set[int], set[int], list[set[int]]]:
    follow: list[set[int]] = [set() for _ in range(n)]

    def walk(x: tuple) -> tuple[bool, set[int], set[int]]:
        kind = x[0]
        if kind == "sym":
            i = x[1].index
            return False, {i}, {i}
        if kind in ("opt", "star"):
            nl, f, la = walk(x[1])
            if kind == "star":
                for i in la:
                    follow[i] |= f
            return True, f, la
        if kind == "alt":
            nl, f, la = False, set(), set()
            for k in x[1]:
                a, b, c = walk(k)
                nl, f, la = nl or a, f | b, la | c
            return nl, f, la
        # cat
        nl, f, la = True, set(), set()
        for k in x[1]:
            a, b, c = walk(k)
            for i in la:
                follow[i] |= b
            if nl:
                f = f | b
            la = (la | c) if a else c
            nl = nl and a
        return nl, f, la

    nl, f, la = walk(root)
    return nl, f, la, follow
