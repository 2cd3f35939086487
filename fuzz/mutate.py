"""A small deterministic byte mutator (no coverage feedback): tests/test_fuzz_harness.py uses it to run every
harness over thousands of broken inputs without the fuzzing engine. libFuzzer's own mutators do the real work.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)


def mutate(data: bytes, rng: random.Random, pool: Sequence[bytes] = (), max_len: int = 4096) -> bytes:
    """One to four of: bit flip, interesting octet, random octet, insert, delete, duplicate a chunk,
    truncate, big-endian 16/32-bit field set to an edge value, splice with another input of the pool."""
    m = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        i = rng.randrange(len(m)) if m else 0
        if not m or op == 0:
            m.insert(i, rng.randrange(256))
        elif op == 1:
            m[i] ^= 1 << rng.randrange(8)
        elif op == 2:
            m[i] = rng.choice(_INTERESTING)
        elif op == 3:
            m[i] = rng.randrange(256)
        elif op == 4 and len(m) > 1:
            del m[i:i + rng.randint(1, 4)]
        elif op == 5:
            j = rng.randrange(len(m))
            m[j:j] = m[i:i + rng.randint(1, 16)]
        elif op == 6:
            del m[rng.randrange(len(m) + 1):]
        elif op == 7 and len(m) >= 4:
            i = rng.randrange(len(m) - 3)
            width = rng.choice((2, 4))
            value = rng.choice((0, 1, 0xFFFF, 0xFFFFFFFF, 0x80000000, len(m), len(m) - i))
            m[i:i + width] = (value & ((1 << 8 * width) - 1)).to_bytes(width, "big")
        elif op == 8 and pool:
            other = rng.choice(pool)
            cut = rng.randrange(len(m) + 1)
            m = m[:cut] + other[rng.randrange(len(other) + 1):]
    return bytes(m[:max_len])


def mutants(seeds: Sequence[bytes], n: int, seed: int = 0, max_len: int = 4096) -> Iterator[bytes]:
    """``n`` mutants of the seeds, reproducible from ``seed``."""
    rng = random.Random(seed)
    pool = list(seeds) or [b""]
    for _ in range(n):
        yield mutate(rng.choice(pool), rng, pool, max_len)
