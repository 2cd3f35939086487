"""The Lua API, compatible with the seed's test system (via lupa): ``Secc.``/``Evcc.`` objects and enum tables.

Every generated name resolves through :mod:`v2gkit.testsys.api` (``Secc.Set_PreChargeRes_EVSEPresentVoltage_Value``,
``Evcc.Receive_SessionSetupRes_001``, ...) and runs on the tester (:class:`~v2gkit.testsys.script.Tester`) of
the script's role; ``SECC.`` is ``Secc.`` (the seed's ISO-20 page spells it so). Enum tables are globals
(``ResponseCodeType.FAILED_SequenceError``, ``UnitSymbolType.Unit_V``) whose values are the XSD literals, so
``Secc.Get_SessionSetupReq_...() == SomeType.Member`` compares strings.

What the seed's pages do not show is designed in their style (v2gkit extensions, on both objects):

===============================================  ==========================================================
``Wait(seconds)``                                let the session play on for ``seconds``
``Log(text)``                                    a line in the case's log and report
``Verdict_Pass(text)``                           TTCN-3 setverdict(pass) with a note
``Verdict_Fail(text)`` / ``Verdict_Inconc(text)``  fail / inconclusive, and the script stops
``Verdict_Check(condition, text)`` -> boolean    fail (and go on) when the condition is false
``Get_Verdict()`` -> string                      "pass", "inconc", "fail" or "error"
``Set_Receive_Timeout(seconds)``                 how long the following ``Receive_`` calls wait (nil: default)
``Run_Until_<Msg>()`` -> boolean                 play with defaults until the tester is about to send <Msg>
``Withhold_<Msg>()`` -> boolean                  do not send the tester's next <Msg> (the peer's timeouts)
``Expect_Connection_Close(seconds)`` -> boolean  did the SUT close the connection within ``seconds``
``Close_Connection()`` / ``Reset_Connection()``  hang up with FIN / with RST
``Send_Raw(hex)``                                bytes on the stream exactly as given
``Set_V2GTP_ProtocolVersion(v)``, ``Set_V2GTP_InverseProtocolVersion(v)``, ``Set_V2GTP_PayloadType(v)``,
``Set_V2GTP_PayloadLength(v)``                   header faults of the next message sent
``Set_Fault_Truncate(n)``                        send only the first ``n`` octets of the next message
``Set_Fault_Split(o1, o2, ...)``                 split the next message into TCP segments at these offsets
``Set_Fault_Append_Hex(hex)``                    octets after the next message (garbage; merged frames)
``Get_Protocol()`` -> string                     the negotiated protocol ("din", "iso2", "iso20-dc", ...)
``Is_Connected()`` -> boolean                    the connection is up
===============================================  ==========================================================
"""

from __future__ import annotations

import copy
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import fields
from .api import ApiFunction, enum_tables, resolve
from .api.model import ScriptValueError
from .script import Tester

__all__ = ["LuaScriptError", "family_of", "run_script", "run_source"]


class LuaScriptError(RuntimeError):
    """A Lua script failed: a Lua error, or a function it called refused (the message says which)."""


def family_of(protocol: str | None) -> str:
    if not protocol:
        return "iso2"
    return "iso20" if protocol.startswith("iso20") else protocol


def _doc_for(fn: ApiFunction, body: Any, header: Any) -> Any:
    """The object a field function works on: the message element, or for a DIN/ISO-2 header path the
    V2G_Message document around it."""
    if fn.path and fn.path[0] == "Header" and fn.body_attr:
        from ..exi.api import schema_module
        m = schema_module(fn.family)
        b = m.BodyType()
        if body is not None:
            setattr(b, fn.body_attr, body)
        return m.V2G_MessageType(header=header if header is not None else m.MessageHeaderType(session_id=b""),
                                 body=b)
    return body


class _Role:
    """One of ``Secc``/``Evcc``: resolves names on demand and binds them to the tester."""

    def __init__(self, binding: _Binding, role: str) -> None:
        self.b = binding
        self.role = role
        self._cache: dict[str, Callable[..., Any]] = {}

    def lookup(self, name: str) -> Callable[..., Any]:
        fn = self._cache.get(name)
        if fn is None:
            fn = self._cache[name] = self._make(name)
        return fn

    def _make(self, name: str) -> Callable[..., Any]:
        b = self.b
        ext = b.extension(self.role, name)
        if ext is not None:
            return ext
        api = resolve(b.family, self.role, name)
        if api is None:
            raise LuaScriptError(f"{self.title}.{name}: no such function for {b.family} ({self.role.upper()} "
                                 f"role); see docs/script-api.md for the naming rules")
        return b.bind(self.role, api)

    @property
    def title(self) -> str:
        return "Secc" if self.role == "secc" else "Evcc"


class _Binding:
    """Everything the Lua objects call: the tester, the family, pending frame faults."""

    def __init__(self, tester: Tester, family: str) -> None:
        self.t = tester
        self.family = family
        self.receive_timeout: float | None = None
        self.frame_faults: list[Callable[[bytes], bytes | list[bytes]]] = []

    def _own(self, role: str, what: str) -> None:
        if role != self.t.role:
            mine = "Secc" if self.t.role == "secc" else "Evcc"
            raise LuaScriptError(f"{what}: the tester plays the {self.t.role.upper()} here: use {mine}.")

    # -- generated functions ----------------------------------------------------------------------------
    def bind(self, role: str, api: ApiFunction) -> Callable[..., Any]:
        t, kind, msg = self.t, api.kind, api.message

        def own() -> None:
            self._own(role, api.name)

        if kind == "Receive":
            def receive(*args: Any) -> None:
                own()
                t.receive(msg, self.receive_timeout)
            return receive
        if kind == "CheckReceived":
            def check_received(*args: Any) -> bool:
                return t.check_received(msg)
            return check_received
        if kind == "Send":
            out_of_turn = api.variant == "002"

            def send(*args: Any) -> bool:
                own()
                transform = self._take_faults()
                return t.send(msg, now=out_of_turn, transform=transform)
            return send
        if kind in ("Set", "Add"):
            def setter(*args: Any) -> None:
                own()
                self._check_args(api, args)
                if api.simple is not None and args:  # refuse what the stream cannot carry now, at the call
                    fields.from_script(api, api.simple, args[-1])
                header = bool(api.path and api.path[0] == "Header")

                def edit(body: Any, hdr: Any) -> None:
                    fields.call(_doc_for(api, body, hdr), api, args)
                if header:
                    edit.header = True  # type: ignore[attr-defined]
                t.add_edit(msg, edit)
            return setter

        def reader(*args: Any) -> Any:  # Get, Exist, Check
            self._check_args(api, args)
            body, header = self._message(api)
            if body is None:
                return None if kind == "Get" else False
            return fields.call(_doc_for(api, body, header), api, args)
        return reader

    def _check_args(self, api: ApiFunction, args: tuple) -> None:
        if api.kind == "Exist":
            return
        if len(args) != api.nparams:
            raise ScriptValueError(f"{api.name} takes {api.nparams} argument(s) ({', '.join(api.params) or 'none'}), "
                                   f"not {len(args)}")

    def _message(self, api: ApiFunction) -> tuple[Any, Any]:
        """(body, header) a Get/Exist/Check reads: the last received message (incoming direction) or the
        outgoing one as it would go now, with the script's edits so far."""
        t = self.t
        if api.direction == "in":
            got = t.received_last(api.message)
            return (got.body, got.header) if got is not None else (None, None)
        body = t.pending(api.message)
        header = None
        sent = t._emu.last_out.get(api.message)
        if sent is not None:
            header = sent[1]
        if body is None:
            try:
                body = t.build(api.message)
            except Exception:  # noqa: BLE001 - nothing to build from yet: read from the codec's default
                body = fields.new_message(api.family, api.element)
        body, header = copy.deepcopy(body), copy.deepcopy(header)
        for e in t._emu.edits.get(api.message, ()):
            if getattr(e, "header", False):
                if header is None and hasattr(body, "header"):
                    e(body, body.header)
                elif header is not None:
                    e(None, header)
            else:
                e(body, None)
        return body, header

    # -- frame faults ---------------------------------------------------------------------------------------
    def _take_faults(self) -> Callable[[bytes], bytes | list[bytes]] | None:
        if not self.frame_faults:
            return None
        faults, self.frame_faults = self.frame_faults, []

        def transform(frame: bytes) -> bytes | list[bytes]:
            out: bytes | list[bytes] = frame
            for f in faults:
                if isinstance(out, list):
                    out = b"".join(out)
                out = f(out)
            return out
        return transform

    def _header_field(self, offset: int, fmt: str, value: int) -> None:
        def fault(frame: bytes) -> bytes:
            b = bytearray(frame)
            struct.pack_into(fmt, b, offset, int(value))
            return bytes(b)
        self.frame_faults.append(fault)

    # -- extensions ---------------------------------------------------------------------------------------
    def extension(self, role: str, name: str) -> Callable[..., Any] | None:
        t = self.t
        if name.startswith("Withhold_"):
            target_w = name[len("Withhold_"):]

            def withhold() -> bool:
                self._own(role, name)
                return t.withhold(target_w)
            return withhold
        if name.startswith("Run_Until_"):
            target = name[len("Run_Until_"):]

            def run_until() -> bool:
                self._own(role, name)
                return t.until(target)
            return run_until

        def own(fn: Callable[..., Any]) -> Callable[..., Any]:
            def wrapped(*args: Any) -> Any:
                self._own(role, name)
                return fn(*args)
            return wrapped

        def set_timeout(s: float | None) -> None:
            self.receive_timeout = None if s is None else float(s)

        def split(*offsets: int) -> None:
            cuts = sorted(int(o) for o in offsets)
            self.frame_faults.append(lambda f: [f[a:b] for a, b in zip([0, *cuts], [*cuts, len(f)], strict=True)
                                                if b > a])

        def append_hex(h: str) -> None:
            extra = bytes.fromhex(str(h))
            self.frame_faults.append(lambda f: f + extra)

        table: dict[str, Callable[..., Any]] = {
            "Wait": lambda s: t.wait(float(s)),
            "Log": lambda text: t.log(str(text)),
            "Verdict_Pass": lambda text="pass": t.passed(str(text)),
            "Verdict_Fail": lambda text="fail": t.fail(str(text)),
            "Verdict_Inconc": lambda text="inconclusive": t.inconc(str(text)),
            "Verdict_Check": lambda cond, text="check": t.check(bool(cond), str(text)),
            "Get_Verdict": lambda: t.verdict.value,
            "Set_Receive_Timeout": set_timeout,
            "Expect_Connection_Close": lambda s: t.expect_close(float(s)),
            "Close_Connection": own(lambda: t.close()),
            "Reset_Connection": own(lambda: t.close(reset=True)),
            "Send_Raw": own(lambda hexstr: t.write(bytes.fromhex(str(hexstr)))),
            "Set_V2GTP_ProtocolVersion": lambda v: self._header_field(0, ">B", v),
            "Set_V2GTP_InverseProtocolVersion": lambda v: self._header_field(1, ">B", v),
            "Set_V2GTP_PayloadType": lambda v: self._header_field(2, ">H", v),
            "Set_V2GTP_PayloadLength": lambda v: self._header_field(4, ">I", v),
            "Set_Fault_Truncate": lambda n: self.frame_faults.append(lambda f, n=int(n): f[:n]),
            "Set_Fault_Split": split,
            "Set_Fault_Append_Hex": append_hex,
            "Get_Protocol": lambda: t.protocol,
            "Is_Connected": lambda: t.connected,
        }
        return table.get(name)


_PRELUDE = """
local lookup = ...
local function role(name)
  return setmetatable({}, {__index = function(t, key)
    local fn = lookup(name, key)
    local f = function(...) return fn(...) end
    rawset(t, key, f)
    return f
  end})
end
Secc = role("secc")
SECC = Secc
Evcc = role("evcc")
EVCC = Evcc
"""


def run_source(tester: Tester, source: str, chunk_name: str = "script", family: str | None = None) -> None:
    """Run Lua ``source`` on ``tester`` (in the script's thread). Lua errors and refused calls raise
    LuaScriptError with the script's line."""
    import lupa

    fam = family or family_of(tester.protocol)
    binding = _Binding(tester, fam)
    roles = {"secc": _Role(binding, "secc"), "evcc": _Role(binding, "evcc")}
    lua = lupa.LuaRuntime(unpack_returned_tuples=True, register_eval=False, register_builtins=False)
    g = lua.globals()
    for table, members in enum_tables(fam).items():
        g[table] = lua.table_from(members)

    def lookup(role: str, key: str) -> Any:
        return roles[role].lookup(str(key))

    lua.execute(_PRELUDE, lookup)
    got = lua.eval("load")(source, "=" + chunk_name)
    fn, err = got if isinstance(got, tuple) else (got, None)
    if fn is None:
        raise LuaScriptError(f"syntax error: {err}")
    try:
        fn()
    except lupa.LuaError as e:
        cause = e.__cause__ or e.__context__
        if isinstance(cause, BaseException) and not isinstance(cause, Exception):
            raise cause from None  # ScriptAborted: the run is over, not a script error
        raise LuaScriptError(str(e)) from cause


def run_script(tester: Tester, path: str | Path, family: str | None = None) -> None:
    """Run the Lua file at ``path`` on ``tester``."""
    p = Path(path)
    run_source(tester, p.read_text(encoding="utf-8"), p.name, family)
