"""Typed EXI errors: every decoder failure is an ``ExiError`` with the bit offset."""

from __future__ import annotations


class ExiError(Exception):
    """Base of all codec errors. ``bit_offset`` is where decoding stopped (None for encode)."""

    def __init__(self, message: str, bit_offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.bit_offset = bit_offset

    def __str__(self) -> str:
        if self.bit_offset is None:
            return self.message
        return f"at bit {self.bit_offset}: {self.message}"


class ExiHeaderError(ExiError):
    """The stream does not start with the V2G EXI header byte 0x80."""


class ExiTruncatedError(ExiError):
    """The stream ended inside an event or value (or a length claims more than is left)."""


class ExiEventCodeError(ExiError):
    """An event code that the grammar does not allow at this point."""


class ExiUnsupportedError(ExiError):
    """A legal EXI event that V2G never uses and this codec does not decode (xsi:type, SE(*), ...)."""


class ExiValueError(ExiError):
    """A value outside its schema range (enumeration index, bounded integer, length facet)."""


class ExiStringTableError(ExiError):
    """A string-table hit: V2G streams always write strings as misses ([V2G2-099])."""


class ExiTrailingDataError(ExiError):
    """Whole bytes left over after the end of the document."""


class ExiEncodeError(ExiError):
    """A value the schema forbids; ``path`` names the field (e.g. Body.CurrentDemandReq.EVTargetCurrent)."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class _Fail(Exception):
    """Raised inside generated code; carries the remaining-bit count, converted at the top."""

    __slots__ = ("cls", "msg", "r")

    def __init__(self, cls: type[ExiError], msg: str, r: int) -> None:
        self.cls = cls
        self.msg = msg
        self.r = r
