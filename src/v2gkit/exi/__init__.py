"""Schema-informed EXI codec for V2G (app handshake, DIN 70121, ISO 15118-2/-20, xmldsig)."""

from .api import (
    SCHEMAS,
    Lenient,
    LenientEncoding,
    decode,
    decode_element,
    decode_fragment,
    decode_lenient,
    encode,
    encode_fragment,
    encode_lenient,
    schema_module,
)
from .errors import (
    ExiEncodeError,
    ExiError,
    ExiEventCodeError,
    ExiHeaderError,
    ExiStringTableError,
    ExiTrailingDataError,
    ExiTruncatedError,
    ExiUnsupportedError,
    ExiValueError,
)

__all__ = [
    "SCHEMAS", "Lenient", "LenientEncoding", "decode", "decode_element", "decode_fragment", "decode_lenient", "encode", "encode_fragment", "encode_lenient",
    "schema_module", "ExiError", "ExiEncodeError", "ExiEventCodeError", "ExiHeaderError",
    "ExiStringTableError", "ExiTrailingDataError", "ExiTruncatedError", "ExiUnsupportedError",
    "ExiValueError",
]
