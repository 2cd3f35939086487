"""Runtime support for the generated codecs: the slow paths of the bit arithmetic.

The generated code keeps the whole stream as one Python ``int`` ``B`` and the number of
bits still unread ``r``; reading n bits is ``r -= n; v = (B >> r) & mask``. The encoder
accumulates into an ``int`` ``a`` that starts with a sentinel 1 bit. Only values that
do not fit the inlined fast paths come here.
"""

from __future__ import annotations

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

#: set by decode(..., strict=False): values outside a schema facet (but representable
#: in the stream) are kept instead of rejected, as EXIficient-based stacks do
LENIENT: ContextVar[bool] = ContextVar("v2gkit_exi_lenient", default=False)


def facet(r: int, what: str) -> None:
    """A value breaks a schema facet: an error, unless decoding leniently."""
    if not LENIENT.get():
        raise _Fail(ExiValueError, what + " (decode with strict=False to accept it)", r)


# ------------------------------------------------------------------ decoding


def ru(B: int, r: int, v: int) -> tuple[int, int]:
    """Unsigned integer continuing after a first octet ``v`` (> 127) already read."""
    val = v & 127
    shift = 7
    while v & 128:
        r -= 8
        if r < 0:
            raise _Fail(ExiTruncatedError, _TRUNC, 0)
        v = (B >> r) & 255
        val |= (v & 127) << shift
        shift += 7
        if shift > 700:
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


def rstr(B: int, r: int, maxlen: int | None) -> tuple[str, int]:
    n, r = rlen(B, r)
    if n < 2:
        raise _Fail(ExiStringTableError, "string-table hit (V2G strings are always misses)", r)
    n -= 2
    if maxlen is not None and n > maxlen:
        facet(r, f"string of {n} characters, schema allows {maxlen}")
    if n * 8 > r:
        raise _Fail(ExiTruncatedError, f"string claims {n} characters, stream has {r // 8} octets left", r)
    if n == 0:
        return "", r
    # fast path: all characters are one octet (code point < 128)
    chunk = (B >> (r - 8 * n)) & ((1 << (8 * n)) - 1)
    raw = chunk.to_bytes(n, "big")
    if raw.isascii():
        return raw.decode("ascii"), r - 8 * n
    # characters are unsigned varints: take the octets once (at most 3 per BMP code
    # point, 4 beyond), then walk them; reading char by char from B would be quadratic
    m = min(r // 8, 4 * n)
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
    return "".join(map(chr, chars)), r - 8 * i


def rbin(B: int, r: int, maxlen: int | None) -> tuple[bytes, int]:
    n, r = rlen(B, r)
    if maxlen is not None and n > maxlen:
        facet(r, f"binary of {n} octets, schema allows {maxlen}")
    if n * 8 > r:
        raise _Fail(ExiTruncatedError, f"binary claims {n} octets, stream has {r // 8} left", r)
    r -= 8 * n
    return ((B >> r) & ((1 << (8 * n)) - 1)).to_bytes(n, "big"), r


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


def sl2(B: int, r: int, spec: tuple, ch_code: int) -> tuple[object, int]:
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
            return _EMPTY[spec[0]], r
        raise _Fail(ExiValueError, f"empty content for a {spec[0]} value", r)
    if c == ch_code:
        text, r = rstr(B, r, None)
        try:
            v = parse_text(spec, text)
        except ValueError as e:
            raise _Fail(ExiValueError, f"untyped characters: {e}", r) from None
        # now in content2 (EXI 8.5.4.4.1): CH [typed] is its only first-level
        # production, so EE is escape 1 + second-level EE 00
        r -= 3
        if r < 0:
            raise _Fail(ExiTruncatedError, _TRUNC, 0)
        if (B >> r) & 7 != 4:
            raise unexpected(ESC, r)
        return v, r
    raise unexpected(ESC, r)


def bad_value(r: int, what: str) -> _Fail:
    return _Fail(ExiValueError, what, r)


# ------------------------------------------------------------------ encoding


class EncFail(Exception):
    """Raised by generated encoders; the API turns it into ExiEncodeError with a path."""


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
        raise EncFail(f"string of {n} characters, schema allows {maxlen}")
    a = wu(a, n + 2)
    if v.isascii():
        if n:
            a = (a << (8 * n)) | int.from_bytes(v.encode("ascii"), "big")
        return a
    out = bytearray()
    for ch in v:
        c = ord(ch)
        while c > 127:
            out.append(128 | (c & 127))
            c >>= 7
        out.append(c)
    return (a << (8 * len(out))) | int.from_bytes(out, "big")


def wbin(a: int, v: bytes, maxlen: int | None) -> int:
    n = len(v)
    if maxlen is not None and n > maxlen:
        raise EncFail(f"binary of {n} octets, schema allows {maxlen}")
    a = wu(a, n)
    if n:
        a = (a << (8 * n)) | int.from_bytes(v, "big")
    return a


def finish(a: int) -> bytes:
    """Pad the accumulator (with its sentinel bit) to whole octets."""
    nbits = a.bit_length() - 1
    pad = (-nbits) & 7
    a <<= pad
    return a.to_bytes((nbits + pad) // 8 + 1, "big")[1:]


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
