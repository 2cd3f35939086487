"""Public codec API: documents and fragments, bytes in and out, typed errors."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from .errors import (
    ExiEncodeError,
    ExiError,
    ExiEventCodeError,
    ExiHeaderError,
    ExiTrailingDataError,
    ExiTruncatedError,
    ExiUnsupportedError,
    _Fail,
)
from .runtime import (
    ENC_LENIENT,
    LENIENT,
    LOOKAHEAD,
    WHOLE_MAX,
    EncFail,
    Leniency,
    close_window,
    drop_spilled,
    fill,
    finish,
    left,
    open_window,
)

#: CLI/user names of the schema sets -> generated module names
SCHEMAS: dict[str, str] = {
    "apphand": "apphand", "din": "din", "iso2": "iso2", "iso20": "iso20",
    "iso20-ac": "iso20_ac", "iso20-dc": "iso20_dc", "iso20-wpt": "iso20_wpt",
    "iso20-acdp": "iso20_acdp", "xmldsig": "xmldsig",
}
_MODULES: dict[str, ModuleType] = {}


def schema_module(schema: str) -> ModuleType:
    """The generated module of a schema set (imported on first use)."""
    name = SCHEMAS.get(schema) or SCHEMAS.get(schema.replace("_", "-"))
    if name is None:
        raise ValueError(f"unknown schema {schema!r}; choose one of: {' '.join(SCHEMAS)}")
    mod = _MODULES.get(name)
    if mod is None:
        mod = importlib.import_module(f"v2gkit.exi.gen.{name}")
        _MODULES[name] = mod
    return mod


def _module_of(obj: Any) -> ModuleType:
    modname = type(obj).__module__
    if not modname.startswith("v2gkit.exi.gen."):
        raise ExiEncodeError(f"{type(obj).__name__} is not a generated message class")
    mod = _MODULES.get(modname.rsplit(".", 1)[1])
    if mod is None:
        mod = importlib.import_module(modname)
        _MODULES[modname.rsplit(".", 1)[1]] = mod
    return mod


def _fail(e: BaseException, total: int, end: int | None = None) -> ExiError:
    """The typed error of a failure inside generated code. ``end``: the bit where the window ends
    (``_Fail.r`` counts the bits left in it); None when the stream is held whole."""
    if isinstance(e, _Fail):
        return e.cls(e.msg, (total if end is None else end) - e.r if e.r > 0 else total)
    if isinstance(e, ValueError):  # negative shift count: read past the end
        return ExiTruncatedError("stream ends before the document is complete", total)
    if isinstance(e, RecursionError):
        return ExiUnsupportedError("nesting too deep", None)
    return ExiError(f"malformed stream ({type(e).__name__}: {e})", None)


def _start(data: bytes | bytearray | memoryview) -> tuple[int, int]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ExiTruncatedError("empty stream", 0)
    if data[0] != 0x80:
        raise ExiHeaderError(f"EXI header is 0x{data[0]:02X}; V2G requires exactly 0x80 "
                             "(no options, no cookie, format version 1)", 0)
    total = len(data) * 8
    return int.from_bytes(data, "big"), total


def _end(data: bytes | bytearray | memoryview, rest: int, total: int) -> None:
    """Only padding may follow the document (``rest``: the bits left in the stream).

    One whole zero octet is tolerated: OpenV2G-based encoders (real cars among them)
    append it to some messages. Anything else after the document is an error, or, decoding
    leniently, is kept in the report (a libcbv2g-encoded abstract element leaves such octets).
    """
    if rest >= 8 and not (rest < 16 and data[-1] == 0):
        report = LENIENT.get()
        if report is None:
            raise ExiTrailingDataError(f"{rest // 8} octet(s) after the end of the document", total - rest)
        report.trailing = bytes(data[len(data) - rest // 8:])


@dataclass
class Lenient:
    """A document decoded leniently, with what the schema would have refused."""

    element: str
    value: Any
    #: (bit offset, what): values outside a schema facet, abstract elements
    violations: list[tuple[int, str]] = field(default_factory=list)
    #: whole octets after the end of the document, ignored
    trailing: bytes = b""

    @property
    def clean(self) -> bool:
        return not self.violations and not self.trailing


def decode_lenient(data: bytes | bytearray | memoryview, schema: str) -> Lenient:
    """Decode as a real peer needs: keep what the stream can carry but the schema forbids, and say what.

    Values outside a facet (a car's MaxNumberOfPhasesInUse=4, a 23-character eMAID), abstract elements
    (libcbv2g writes the derived members into the base type's grammar) and octets after the end of the
    document are kept and listed; anything the grammar cannot read still raises ExiError.
    """
    report = Leniency(len(data) * 8)
    element, value = _leniently(decode_element, data, schema, report)
    # a fast decoder that falls back to the general one re-reads (and re-reports) values it had read
    return Lenient(element, value, list(dict.fromkeys(report.violations)), report.trailing)


def _leniently(fn: Any, data: bytes | bytearray | memoryview, schema: str, report: Leniency | None = None) -> Any:
    """Run a decoder with facet violations kept (in ``report``) instead of raised (strict=False)."""
    token = LENIENT.set(report or Leniency(len(data) * 8))
    try:
        return fn(data, schema)
    finally:
        LENIENT.reset(token)


_DOC: dict[str, tuple[int, int, tuple]] = {}


def _doc_info(schema: str) -> tuple[int, int, tuple]:
    info = _DOC.get(schema)
    if info is None:
        mod = schema_module(schema)
        info = _DOC[schema] = (mod.DOC_WIDTH, (1 << mod.DOC_WIDTH) - 1, mod.DOC_ELEMENTS)
    return info


def decode_element(data: bytes | bytearray | memoryview, schema: str, strict: bool = True) -> tuple[str, Any]:
    """Decode an EXI document; return (root element name, object).

    ``strict=False`` keeps values that break a schema facet but fit the stream (a real
    car sends MaxNumberOfPhasesInUse=4; the schema says 1..3) instead of raising, and ignores
    octets after the document; ``decode_lenient`` says what was kept.
    """
    if not strict:
        r = decode_lenient(data, schema)
        return r.element, r.value
    w, mask, els = _DOC.get(schema) or _doc_info(schema)
    if data[:1] != b"\x80" or data.__class__ is not bytes:
        _start(data)
    total = len(data) << 3
    if total > WHOLE_MAX << 3:  # a long stream: the general decoders read it through a sliding window
        B, r, win = open_window(data)
        col = 5
    else:  # held whole, read by the fast decoders
        B, r, win, col = int.from_bytes(data, "big"), total, None, 2
    r -= 8 + w
    try:
        k = (B >> r) & mask
        if k >= len(els):
            if k == len(els):
                raise _Fail(ExiUnsupportedError, "SE(*) document element (not in the schema)", r)
            raise _Fail(ExiEventCodeError, f"document element code {k} of {len(els)}", r)
        row = els[k]
        obj, B, r = row[col](B, r)
        if win is not None:
            r = left(r)
    except ExiError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure becomes a typed ExiError
        raise _fail(e, total, None if win is None else win.end * 8) from None
    finally:
        if win is not None:
            close_window()
    if r > 7:
        _end(data, r, total)
    return row[0], obj


def decode(data: bytes | bytearray | memoryview, schema: str, strict: bool = True) -> Any:
    """Decode an EXI document of ``schema`` (see SCHEMAS) to its message object."""
    return decode_element(data, schema, strict)[1]


def _root_index(mod: ModuleType, obj: Any, element: str | None) -> int:
    els = mod.DOC_ELEMENTS
    if element is None:
        names = mod.ROOT_OF.get(type(obj))
        if not names:
            raise ExiEncodeError(f"{type(obj).__name__} is not the type of a global element of "
                                 f"schema {mod.SCHEMA}; pass element=")
        if len(names) > 1:
            raise ExiEncodeError(f"{type(obj).__name__} is the type of {', '.join(names)}; pass element=")
        element = names[0]
    for i, row in enumerate(els):
        if row[0] == element:
            return i
    raise ExiEncodeError(f"no global element {element!r} in schema {mod.SCHEMA}")


_ENC: dict[type, tuple[ModuleType, int, Any]] = {}


def _enc_start(obj: Any, element: str | None, schema: str | None) -> tuple[ModuleType, int, Any]:
    """(module, accumulator holding the header and document event code, DOC_ELEMENTS row) of a document;
    kept per class when neither element nor schema is given."""
    mod = schema_module(schema) if schema else _module_of(obj)
    idx = _root_index(mod, obj, element)
    hit = (mod, (((1 << 8) | 0x80) << mod.DOC_WIDTH) | idx, mod.DOC_ELEMENTS[idx])
    if element is None and schema is None:
        _ENC[obj.__class__] = hit
    return hit


def encode(obj: Any, element: str | None = None, schema: str | None = None, strict: bool = True) -> bytes:
    """Encode a message object as an EXI document (header 0x80).

    ``strict=False`` writes values that break a schema facet when the stream can carry them (a test system's
    faults: MaxNumberOfPhasesInUse=4, a 40-character EVCCID), the values decode_lenient accepts;
    ``encode_lenient`` also says what it let through.
    """
    if not strict:
        return encode_lenient(obj, element, schema).data
    if element is None and schema is None:
        hit = _ENC.get(obj.__class__)
        if hit is None:
            hit = _enc_start(obj, None, None)
        mod, a, row = hit
    else:  # inline: the session's ISO-20 encoders come this way
        mod = schema_module(schema) if schema else _module_of(obj)
        idx = _root_index(mod, obj, element)
        a = (((1 << 8) | 0x80) << mod.DOC_WIDTH) | idx
        row = mod.DOC_ELEMENTS[idx]
    try:
        a = row[3](obj, a)
    except Exception as e:  # noqa: BLE001
        drop_spilled()
        raise _encode_error(mod, obj, e, row[0]) from None
    return finish(a)


def _encode_error(mod: ModuleType, obj: Any, e: BaseException, root: str, lenient: bool = False) -> ExiEncodeError:
    from .validate import find_problem

    problem = find_problem(mod, obj, root, lenient)
    if problem is not None:
        return ExiEncodeError(problem[1], problem[0])
    msg = str(e) if isinstance(e, EncFail) else f"{type(e).__name__}: {e}"
    return ExiEncodeError(msg, root)


@dataclass
class LenientEncoding:
    """A message encoded leniently, with the values that break a schema facet it let through."""

    data: bytes
    #: (bit offset, what): the same entries decode_lenient reports for ``data``
    violations: list[tuple[int, str]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.violations


def encode_lenient(obj: Any, element: str | None = None, schema: str | None = None,
                   fragment: bool = False) -> LenientEncoding:
    """Encode (a document, or with ``fragment=True`` an EXI fragment) writing what the stream can carry.

    Values outside a facet are written and listed, as decode_lenient keeps and lists them on the other side:
    an n-bit integer above its maximum but within its bit width, an integer outside its range (an unsigned one
    only >= 0), a string or binary longer than maxLength, an abstract element (written with its declared type).
    Pattern facets are not checked by this codec in either mode. What the stream cannot carry (a value below an
    n-bit field's minimum or past its width, a negative unsigned integer, a wrong type, an unknown enumeration
    literal, too many list entries) still raises ExiEncodeError.
    """
    report: list[tuple[int, str]] = []
    token = ENC_LENIENT.set(report)
    try:
        if fragment:
            data = _fragment(obj, element, schema, True)
        else:
            hit = _ENC.get(obj.__class__) if element is None and schema is None else None
            mod, a, row = hit or _enc_start(obj, element, schema)
            try:
                a = row[3](obj, a)
            except Exception as e:  # noqa: BLE001
                drop_spilled()
                raise _encode_error(mod, obj, e, row[0], lenient=True) from None
            data = finish(a)
    finally:
        ENC_LENIENT.reset(token)
    return LenientEncoding(data, report)


# ------------------------------------------------------------------ fragments


_FRAG_NAMES: dict[str, tuple[tuple[str, ...], dict[str, int]]] = {}


def fragment_names(mod: ModuleType) -> tuple[tuple[str, ...], dict[str, int]]:
    """The names of a schema set's fragment elements, and a lookup by name.

    The fragment grammar lists every element declaration, local ones included, and some local names are
    declared more than once (ISO-2 SessionID in MsgHeader and MsgBody, ISO-20 Exponent in CommonTypes and
    xmldsig): those are named ``{namespace}local`` (Clark notation), the others by their local name. The
    lookup takes both forms of a unique name and only the qualified form of a shared one.
    """
    got = _FRAG_NAMES.get(mod.__name__)
    if got is None:
        rows = mod.FRAG_ELEMENTS
        count: dict[str, int] = {}
        for row in rows:
            count[row[0]] = count.get(row[0], 0) + 1
        names = tuple(row[0] if count[row[0]] == 1 else f"{{{row[1]}}}{row[0]}" for row in rows)
        lookup = {f"{{{row[1]}}}{row[0]}": i for i, row in enumerate(rows)}
        lookup.update((n, i) for i, n in enumerate(names))
        got = _FRAG_NAMES[mod.__name__] = (names, lookup)
    return got


def fragment_index(mod: ModuleType, element: str) -> int:
    """The fragment grammar's index of ``element`` (see fragment_names); an ambiguous local name raises."""
    names, lookup = fragment_names(mod)
    i = lookup.get(element)
    if i is not None:
        return i
    shared = [n for n in names if n.endswith("}" + element)]
    if shared:
        raise ExiEncodeError(f"{element!r} names {len(shared)} elements of schema {mod.SCHEMA}: "
                             f"say which, {' or '.join(repr(n) for n in shared)}")
    raise ExiEncodeError(f"no element {element!r} in schema {mod.SCHEMA}")


def _frag_index(mod: ModuleType, obj: Any, element: str | None) -> int:
    if element is not None:
        return fragment_index(mod, element)
    names = mod.ROOT_OF.get(type(obj))
    if names and len(names) == 1:
        return fragment_index(mod, names[0])
    raise ExiEncodeError(f"say which element {type(obj).__name__} is: pass element=")


def encode_fragment(obj: Any, element: str | None = None, schema: str | None = None, strict: bool = True) -> bytes:
    """Encode one element as an EXI fragment (the bytes a V2G signature digests).

    ``strict=False``: write values breaking a facet where the stream carries them (see encode_lenient).
    """
    if not strict:
        return encode_lenient(obj, element, schema, fragment=True).data
    return _fragment(obj, element, schema, False)


def _fragment(obj: Any, element: str | None, schema: str | None, lenient: bool) -> bytes:
    mod = schema_module(schema) if schema else _module_of(obj)
    idx = _frag_index(mod, obj, element)
    w = mod.FRAG_WIDTH
    n = len(mod.FRAG_ELEMENTS)
    a = (((1 << 8) | 0x80) << w) | idx
    try:
        a = mod.FRAG_ELEMENTS[idx][3](obj, a)
    except Exception as e:  # noqa: BLE001
        drop_spilled()
        raise _encode_error(mod, obj, e, mod.FRAG_ELEMENTS[idx][0], lenient) from None
    a = (a << w) | (n + 1)  # ED
    return finish(a)


def decode_fragment(data: bytes | bytearray | memoryview, schema: str,
                    strict: bool = True) -> list[tuple[str, Any]]:
    """Decode an EXI fragment: the list of (element name, object) it holds. A local name declared more than
    once in the schema set comes as ``{namespace}local`` (see fragment_names), so it encodes back the same."""
    if not strict:
        return _leniently(decode_fragment, data, schema)
    mod = schema_module(schema)
    _start(data)
    total = len(data) << 3
    w = mod.FRAG_WIDTH
    els = mod.FRAG_ELEMENTS
    names = fragment_names(mod)[0]
    windowed = total > WHOLE_MAX << 3
    if windowed:
        B, r, win = open_window(data)
        col = 5
    else:
        B, r, win, col = int.from_bytes(data, "big"), total, None, 2
    r -= 8
    out: list[tuple[str, Any]] = []
    try:
        while True:
            if r < LOOKAHEAD:
                B, r = fill(B, r)
            r -= w
            k = (B >> r) & ((1 << w) - 1)
            if k == len(els) + 1:
                break
            if k >= len(els):
                if k == len(els):
                    raise _Fail(ExiUnsupportedError, "SE(*) fragment element (not in the schema)", r)
                raise _Fail(ExiEventCodeError, f"fragment element code {k} of {len(els)}", r)
            obj, B, r = els[k][col](B, r)
            out.append((names[k], obj))
            if len(out) > 4096:
                raise _Fail(ExiUnsupportedError, "more than 4096 fragment elements", r)
        rest = left(r)
    except ExiError:
        raise
    except Exception as e:  # noqa: BLE001
        raise _fail(e, total, None if win is None else win.end * 8) from None
    finally:
        if windowed:
            close_window()
    _end(data, rest, total)
    return out
