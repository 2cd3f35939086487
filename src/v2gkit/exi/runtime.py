"""Runtime support for the generated codecs: the slow paths of the bit arithmetic.

Decoding keeps the stream as a Python ``int`` ``B`` and the number of bits of ``B`` still
unread, ``r``; reading n bits is ``r -= n; v = (B >> r) & mask``. That shift costs time in
proportion to the bits *already read* from ``B``, so a stream held whole would make decoding
quadratic in its size. Short streams (the every-day messages) are held whole: no window
bookkeeping at all. Longer ones are read through a sliding window (:class:`Window`): ``B``
holds about :data:`WINDOW_BYTES` of the stream, and the generated code calls :func:`fill`
whenever fewer than :data:`LOOKAHEAD` bits are left in it, before reading more. Every decoder
returns ``(value, B, r)``, because a child may have moved the window.

Encoding accumulates into an ``int`` ``a`` that starts with a sentinel 1 bit; appending is a
shift, again in proportion to what is already there. Loops in the generated encoders (and
the string/binary writers) move the finished octets out with :func:`spill` once ``a`` holds
more than :data:`SPILL_BITS`, so encoding is linear too.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar

from .errors import (
    ExiEventCodeError,
    ExiStringTableError,
    ExiTruncatedError,
    ExiUnsupportedError,
    ExiValueError,
    _Fail,
)

END = -1  # EE
ESC = -2  # second-level event code
BAD = -3  # code outside the grammar
MIXED = -4  # CH [untyped] in mixed content
ANY = -5  # SE(*) wildcard

_TRUNC = "stream ends inside a value"

class Leniency:
    """What a lenient decode (``strict=False``) let through instead of raising."""

    __slots__ = ("total", "violations", "trailing")

    def __init__(self, total: int) -> None:
        self.total = total  # bits in the stream, to turn the decoders' ``r`` into offsets
        #: (bit offset, what): values outside a schema facet, abstract elements
        self.violations: list[tuple[int, str]] = []
        #: whole octets after the end of the document (a libcbv2g-encoded abstract element leaves some)
        self.trailing = b""


#: set while decoding with strict=False: values outside a schema facet (but representable in the
#: stream) are kept and recorded instead of rejected, as EXIficient-based stacks do
LENIENT: ContextVar[Leniency | None] = ContextVar("v2gkit_exi_lenient", default=None)


def facet(r: int, what: str) -> None:
    """A value breaks a schema facet: an error, unless decoding leniently (then it is recorded)."""
    report = LENIENT.get()
    if report is None:
        raise _Fail(ExiValueError, what + " (decode with strict=False to accept it)", r)
    report.violations.append((report.total - left(r), what))


# ------------------------------------------------------------------ decoding

#: streams up to this many octets are decoded whole, by the fast decoders; longer ones through a window
WHOLE_MAX = 640
#: octets of the stream a window holds (it is refilled when LOOKAHEAD bits are left)
WINDOW_BYTES = 384
#: the most bits a generated decoder reads between two checks of ``r < LOOKAHEAD`` (the generator
#: inserts a check wherever its straight-line reads could add up to more; an unsigned integer of the
#: longest accepted form, 100 octets, fits with room to spare)
LOOKAHEAD = 2048

_local = threading.local()


class Window:
    """Where the current window ends in the stream (per thread: decoding never yields)."""

    __slots__ = ("data", "end")

    def __init__(self, data: bytes | bytearray | memoryview, end: int) -> None:
        self.data = data
        self.end = end  # octet offset of the window's last octet + 1

    def bits_after(self) -> int:
        return (len(self.data) - self.end) * 8


def open_window(data: bytes | bytearray | memoryview) -> tuple[int, int, Window]:
    """Start windowed decoding of ``data`` (called by the API for long streams): (B, r, window)."""
    w = Window(data, min(len(data), WINDOW_BYTES))
    _local.win = w
    return int.from_bytes(data[: w.end], "big"), w.end * 8, w


def close_window() -> None:
    _local.win = None


def _slide(w: Window, r: int, size: int) -> tuple[int, int]:
    """A new window of ``size`` octets (fewer at the stream's end) from the octet holding the next bit."""
    pos = w.end * 8 - r
    start = pos >> 3
    w.end = end = min(len(w.data), start + size)
    return int.from_bytes(w.data[start:end], "big"), end * 8 - pos


def fill(B: int, r: int) -> tuple[int, int]:
    """Slide the window to the bit being read; a no-op for a stream held whole or at its end."""
    w = getattr(_local, "win", None)
    if w is None or w.end == len(w.data):
        return B, r
    return _slide(w, r, WINDOW_BYTES)


def left(r: int) -> int:
    """Bits left in the stream (``r`` counts only those in the current window)."""
    w = getattr(_local, "win", None)
    return r if w is None else r + w.bits_after()


def _need(B: int, r: int, nbits: int) -> tuple[int, int]:
    """A window with at least ``nbits`` unread bits (a long string or binary), if the stream has them."""
    w = getattr(_local, "win", None)
    if w is None or w.end == len(w.data) or r + w.bits_after() < nbits:
        return B, r
    return _slide(w, r, max(WINDOW_BYTES, (nbits + 7) // 8 + 1 + LOOKAHEAD // 8))


#: the longest unsigned integer :func:`ru` accepts: 101 octets (100 continuation groups after the first)
UINT_BITS_MAX = 808
_MAX_SHIFT = 7 * (UINT_BITS_MAX // 8 - 1)


def ru(B: int, r: int, v: int) -> tuple[int, int]:
    """Unsigned integer continuing after a first octet ``v`` (> 127) already read (UINT_BITS_MAX at most)."""
    val = v & 127
    shift = 7
    while v & 128:
        r -= 8
        if r < 0:
            raise _Fail(ExiTruncatedError, _TRUNC, 0)
        v = (B >> r) & 255
        val |= (v & 127) << shift
        shift += 7
        if shift > _MAX_SHIFT:
            raise _Fail(ExiValueError, "unsigned integer longer than 100 octets", r)
    return val, r


def ri(B: int, r: int, v: int) -> tuple[int, int]:
    """Signed integer whose 9 first bits ``v`` (sign + octet with continuation) are read."""
    neg = v & 256
    u, r = ru(B, r, v & 255)
    return (-u - 1 if neg else u), r


def rlen(B: int, r: int) -> tuple[int, int]:
    """The unsigned length that starts a string or binary value."""
    r -= 8
    if r < 0:
        raise _Fail(ExiTruncatedError, _TRUNC, 0)
    n = (B >> r) & 255
    if n > 127:
        n, r = ru(B, r, n)
    return n, r


def rstr(B: int, r: int, maxlen: int | None) -> tuple[str, int, int]:
    n, r = rlen(B, r)
    if n < 2:
        raise _Fail(ExiStringTableError, "string-table hit (V2G strings are always misses)", r)
    n -= 2
    if maxlen is not None and n > maxlen:
        facet(r, f"string of {n} characters, schema allows {maxlen}")
    if n * 8 > r:
        B, r = _need(B, r, n * 8)
        if n * 8 > r:
            raise _Fail(ExiTruncatedError, f"string claims {n} characters, stream has {left(r) // 8} octets left", r)
    if n == 0:
        return "", B, r
    # fast path: all characters are one octet (code point < 128)
    chunk = (B >> (r - 8 * n)) & ((1 << (8 * n)) - 1)
    raw = chunk.to_bytes(n, "big")
    if raw.isascii():
        return raw.decode("ascii"), B, r - 8 * n
    # characters are unsigned varints: take the octets once (at most 3 per BMP code
    # point, 4 beyond), then walk them; reading char by char from B would be quadratic
    m = min(left(r) // 8, 4 * n)
    if m * 8 > r:
        B, r = _need(B, r, m * 8)
    buf = ((B >> (r - 8 * m)) & ((1 << (8 * m)) - 1)).to_bytes(m, "big")
    chars = []
    i = 0
    try:
        for _ in range(n):
            c = buf[i]
            i += 1
            if c > 127:
                c &= 127
                shift = 7
                while True:
                    x = buf[i]
                    i += 1
                    c |= (x & 127) << shift
                    if x < 128:
                        break
                    shift += 7
                    if shift > 21:
                        raise _Fail(ExiValueError, "character code longer than 4 octets", r - 8 * i)
            if c > 0x10FFFF or 0xD800 <= c <= 0xDFFF:
                raise _Fail(ExiValueError, f"character U+{c:X} is not a Unicode scalar value", r - 8 * i)
            chars.append(c)
    except IndexError:
        raise _Fail(ExiTruncatedError, _TRUNC, 0) from None
    return "".join(map(chr, chars)), B, r - 8 * i


def rbin(B: int, r: int, maxlen: int | None) -> tuple[bytes, int, int]:
    n, r = rlen(B, r)
    if maxlen is not None and n > maxlen:
        facet(r, f"binary of {n} octets, schema allows {maxlen}")
    if n * 8 > r:
        B, r = _need(B, r, n * 8)
        if n * 8 > r:
            raise _Fail(ExiTruncatedError, f"binary claims {n} octets, stream has {left(r) // 8} left", r)
    r -= 8 * n
    return ((B >> r) & ((1 << (8 * n)) - 1)).to_bytes(n, "big"), B, r


def unexpected(k: int, r: int, expected: str = "") -> _Fail:
    exp = f" (expected {expected})" if expected else ""
    if k == ESC:
        return _Fail(ExiUnsupportedError,
                     "second-level event (xsi:type, xsi:nil, undeclared element/attribute or "
                     "character data) is not used by V2G and not supported" + exp, r)
    if k == BAD:
        return _Fail(ExiEventCodeError, "unknown event code" + exp, r)
    if k == MIXED:
        return _Fail(ExiUnsupportedError, "character data in mixed content is not supported", r)
    if k == ANY:
        return _Fail(ExiUnsupportedError, "wildcard element SE(*) is not supported", r)
    if k == END:
        return _Fail(ExiEventCodeError, "element ends early" + exp, r)
    return _Fail(ExiEventCodeError, "event out of schema order" + exp, r)


def esc(r: int) -> _Fail:
    return unexpected(ESC, r)


def parse_text(spec: tuple, text: str) -> object:
    """A typed value from its XML text (for CH [untyped] and for XML input)."""
    kind, lo, hi, enum_cls, max_len = spec
    t = text.strip() if kind != "string" else text
    if kind == "string":
        v: object = text
    elif kind == "bool":
        if t not in ("true", "false", "1", "0"):
            raise ValueError(f"{text!r} is not a boolean")
        v = t in ("true", "1")
    elif kind in ("nbit", "uint", "int"):
        v = int(t)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ValueError(f"{v} outside {lo}..{hi}")
    elif kind == "enum":
        try:
            v = enum_cls(enum_cls._xsd.index(t))
        except ValueError:
            raise ValueError(f"{text!r} is not a {enum_cls.__name__}") from None
    elif kind == "hex":
        v = bytes.fromhex(t)
    elif kind == "b64":
        import base64
        import binascii
        try:
            v = base64.b64decode("".join(t.split()), validate=True)
        except binascii.Error as e:
            raise ValueError(f"bad base64: {e}") from None
    else:
        raise ValueError(f"{kind} values are not supported")
    if max_len is not None and kind in ("string", "hex", "b64") and len(v) > max_len:  # type: ignore[arg-type]
        raise ValueError(f"{len(v)} characters/octets, schema allows {max_len}")  # type: ignore[arg-type]
    return v


_EMPTY = {"string": "", "hex": b"", "b64": b""}


#: bits :func:`sl2` may have read since its last window check when it returns
SL2_BITS = 3


def sl2(B: int, r: int, spec: tuple, ch_code: int) -> tuple[object, int, int]:
    """Second-level event where a simple value was expected.

    Non-strict grammars put EE first on the second level (empty content) and CH
    [untyped] last (``ch_code``); the second level has 5 or 7 entries: 3 bits.
    """
    r -= 3
    if r < 0:
        raise _Fail(ExiTruncatedError, _TRUNC, 0)
    c = (B >> r) & 7
    if c == 0:
        if spec[0] in _EMPTY:
            if r < LOOKAHEAD:
                B, r = fill(B, r)
            return _EMPTY[spec[0]], B, r
        raise _Fail(ExiValueError, f"empty content for a {spec[0]} value", r)
    if c == ch_code:
        text, B, r = rstr(B, r, None)
        try:
            v = parse_text(spec, text)
        except ValueError as e:
            raise _Fail(ExiValueError, f"untyped characters: {e}", r) from None
        # now in content2 (EXI 8.5.4.4.1): CH [typed] is its only first-level
        # production, so EE is escape 1 + second-level EE 00
        if r < LOOKAHEAD:
            B, r = fill(B, r)
        r -= 3
        if r < 0:
            raise _Fail(ExiTruncatedError, _TRUNC, 0)
        if (B >> r) & 7 != 4:
            raise unexpected(ESC, r)
        return v, B, r
    raise unexpected(ESC, r)


def bad_value(r: int, what: str) -> _Fail:
    return _Fail(ExiValueError, what, r)


# ------------------------------------------------------------------ encoding


class EncFail(Exception):
    """Raised by generated encoders; the API turns it into ExiEncodeError with a path."""


# Lenient encoding (``encode(..., strict=False)``): the generated encoders check a facet on their fast path as
# before and call one of the ``*_facet`` functions below only when the check fails. Encoding strictly, those raise
# the EncFail the check raised before (so strict encoding costs exactly what it did); encoding leniently, they
# let the value through when the stream can carry it, the way decode_lenient keeps it on the other side, and
# record (bit offset, what) with the offset and text decode_lenient gives for the same bytes. What the stream
# cannot carry (below an n-bit field's lower bound or past its width, a negative unsigned integer, an integer
# longer than the decoders read, a value of the wrong type) still raises.

#: set while encoding with strict=False: the (bit offset, what) list of values let through
ENC_LENIENT: ContextVar[list[tuple[int, str]] | None] = ContextVar("v2gkit_exi_enc_lenient", default=None)

#: the first unsigned magnitude the decoders refuse (ru reads at most 100 octets of 7 bits)
UINT_CARRIED = 1 << 7 * (UINT_BITS_MAX // 8 - 1)


def _bits_written(a: int) -> int:
    """Bits of the stream written so far: what was spilled plus the accumulator (less its sentinel bit)."""
    parts = _spilled.get(threading.get_ident()) if _spilled else None
    return (a.bit_length() - 1) + (8 * sum(map(len, parts)) if parts else 0)


def shown(v: object) -> str:
    """A value for a message: integers too long to read are named by their size."""
    if v.__class__ is int and v.bit_length() > 64:  # type: ignore[attr-defined]
        return f"an integer of {v.bit_length()} bits"  # type: ignore[attr-defined]
    return repr(v)


def _uint_octets(v: int) -> int:
    """Octets of ``v`` as an EXI unsigned integer (7 bits per octet)."""
    return max(1, -(-v.bit_length() // 7))


def nbit_facet(a: int, pend: int, v: object, lo: int, hi: int, nbits: int, what: str) -> None:
    """An n-bit integer outside lo..hi. ``pend``: bits before it the generated code has not added to ``a`` yet."""
    report = ENC_LENIENT.get()
    if report is None:
        raise EncFail(f"{v!r} outside {lo}..{hi}")
    if v.__class__ is not int:
        raise EncFail(f"{v!r} is not an integer")
    top = lo + (1 << nbits) - 1
    if not lo <= v <= top:
        raise EncFail(f"{v} outside {lo}..{hi}, and its {nbits}-bit field carries only {lo}..{top} "
                      "(even encoding leniently)")
    report.append((_bits_written(a) + pend + nbits, f"{what}: {v} above {hi}"))


def int_facet(a: int, v: object, lo: int | None, hi: int | None, signed: bool, what: str) -> None:
    """An integer outside its schema range, or (unbounded) longer than the decoders read: EXI Integer and
    Unsigned Integer take any length, but v2gkit's decoders (and memory bounds) stop at 100 octets."""
    if v.__class__ is not int:
        raise EncFail(f"{v!r} is not an integer")
    if not signed and v < 0:  # type: ignore[operator]
        raise EncFail(f"{shown(v)} outside {lo}..{hi}; an unsigned integer cannot carry a negative value")
    m = -v - 1 if v < 0 else v  # type: ignore[operator]
    if m >= UINT_CARRIED:
        raise EncFail(f"{shown(v)} is longer than decoders read (100 octets)")
    report = ENC_LENIENT.get()
    if report is None:
        raise EncFail(f"{v!r} outside {lo}..{hi}")
    report.append((_bits_written(a) + signed + 8 * _uint_octets(m), f"{what}: {v} out of range"))


def len_facet(a: int, n: int, maxlen: int, kind: str) -> None:
    """A string of ``n`` characters (kind "string") or binary of ``n`` octets longer than maxLength."""
    text = f"string of {n} characters" if kind == "string" else f"binary of {n} octets"
    report = ENC_LENIENT.get()
    if report is None:
        raise EncFail(f"{text}, schema allows {maxlen}")
    report.append((_bits_written(a) + 8 * _uint_octets(n + 2 if kind == "string" else n),
                   f"{text}, schema allows {maxlen}"))


def abstract_facet(a: int, o: object, cls: type, what: str) -> None:
    """An abstract element (a substitution-group head): written with its declared type's content leniently."""
    report = ENC_LENIENT.get()
    if report is None:
        raise EncFail(what)
    if o.__class__ is not cls:
        raise EncFail(f"{what}; encoding leniently it is written with its declared type {cls.__name__}, "
                      f"got {type(o).__name__}")
    report.append((_bits_written(a), what))


def wu(a: int, v: int) -> int:
    if v < 0:
        raise EncFail(f"negative value {v} for an unsigned integer")
    while v > 127:
        a = (a << 8) | 128 | (v & 127)
        v >>= 7
    return (a << 8) | v


def wi(a: int, v: int) -> int:
    if v < 0:
        return wu((a << 1) | 1, -v - 1)
    return wu(a << 1, v)


def wstr(a: int, v: str, maxlen: int | None) -> int:
    n = len(v)
    if maxlen is not None and n > maxlen:
        len_facet(a, n, maxlen, "string")
    a = wu(a, n + 2)
    if v.isascii():
        if n:
            a = (a << (8 * n)) | int.from_bytes(v.encode("ascii"), "big")
            if a > BIG:
                a = spill(a)
        return a
    out = bytearray()
    for ch in v:
        c = ord(ch)
        while c > 127:
            out.append(128 | (c & 127))
            c >>= 7
        out.append(c)
    a = (a << (8 * len(out))) | int.from_bytes(out, "big")
    return spill(a) if a > BIG else a


def wbin(a: int, v: bytes, maxlen: int | None) -> int:
    n = len(v)
    if maxlen is not None and n > maxlen:
        len_facet(a, n, maxlen, "binary")
    a = wu(a, n)
    if n:
        a = (a << (8 * n)) | int.from_bytes(v, "big")
        if a > BIG:
            a = spill(a)
    return a


#: encoders move finished octets out of the accumulator once it holds more than this many bits
SPILL_BITS = 1024
#: ``a > BIG`` (an O(1) comparison of sizes) says the accumulator should be spilled
BIG = 1 << SPILL_BITS
# octets spilled so far, per thread (encoding never yields); empty unless a long message is being encoded
_spilled: dict[int, list[bytes]] = {}


def spill(a: int) -> int:
    """Move the accumulator's whole octets out; keep the sentinel and the bits of a partial octet."""
    nbits = a.bit_length() - 1
    keep = nbits & 7
    n = nbits >> 3
    _spilled.setdefault(threading.get_ident(), []).append((a >> keep).to_bytes(n + 1, "big")[1:])
    return (1 << keep) | (a & ((1 << keep) - 1))


def drop_spilled() -> None:
    """Forget what an encoding that failed had spilled."""
    if _spilled:
        _spilled.pop(threading.get_ident(), None)


def finish(a: int) -> bytes:
    """Pad the accumulator (with its sentinel bit) to whole octets, after what was spilled."""
    nbits = a.bit_length() - 1
    pad = (-nbits) & 7
    a <<= pad
    tail = a.to_bytes((nbits + pad) // 8 + 1, "big")[1:]
    if _spilled:
        parts = _spilled.pop(threading.get_ident(), None)
        if parts:
            parts.append(tail)
            return b"".join(parts)
    return tail


BOOL = {True: 1, False: 0}


class Message:
    """Base of the generated message classes: value equality and a compact repr."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, s) == getattr(other, s) for s in self._fields)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = []
        for s in self._fields:
            v = getattr(self, s)
            if v is not None and v != []:
                parts.append(f"{s}={v!r}")
        return f"{type(self).__name__}({', '.join(parts)})"
