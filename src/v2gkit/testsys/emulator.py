"""The test system's side of one V2G connection: v2gkit's own protocol machines, bent by a script.

The emulator is a protocol machine itself (``start``/``receive``/``timer`` and ``peer_closed``), so the same
runners drive it on the simulated clock (``session.simulate.run_pair``) and on a live connection
(``net.runner.run_machine``). Inside it runs the app handshake and then the session of the negotiated
protocol, v2gkit's real machines for the tester's role, with hooks: every message they want to send is held
back here (``Hooks.outgoing`` drops it and keeps a copy), and the script decides:

- while the script waits in ``Receive``/``Wait``/``ExpectClose``, held messages go out as the machine built
  them (the valid default, filled by the simulators), with any ``Set_`` edits the script made for them;
- ``Send(X)`` takes the next held message of the same layer (handshake or session): if it is X, it goes
  with the script's edits; if it is another one, X goes *instead* (built by the policy's own builder for X,
  plus the edits), and the machine believes it sent its own;
- ``Send(X, now=True)`` (Lua ``Send_X_002``) sends X at once, out of turn;
- ``AwaitSend(X)`` lets the machine play until it is about to send X, and keeps X held for the script.

Once the machine has ended (it refused a message, or the script led it astray) the script is on its own:
messages it sends are built by the same builders, and every incoming message is still decoded here for
``Get_``. There is no second implementation of any protocol: building, rules and timers are the machines'.

Script ops come from :mod:`v2gkit.testsys.script` (the script runs in its own thread and hands over on
every blocking call); everything else the script does (``Get_``/``Set_``) happens between two ops, while the
emulator waits.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import timing
from ..exi import api as exi
from ..exi.convert import to_json_obj
from ..exi.errors import ExiError
from ..session.events import (
    Closed,
    Disconnect,
    Event,
    Machine,
    Message,
    Negotiated,
    Output,
    Reason,
    Received,
    Send,
    Timer,
    Write,
)
from ..session.hooks import Hooks, Outgoing
from ..v2gtp import PayloadType, frame
from .case import WireRecord

__all__ = ["AwaitSend", "CloseOp", "Emulator", "End", "ExpectClose", "Incoming", "Op", "ReceiveOp", "SdpOp",
           "SendOp", "WaitOp", "WriteOp", "script_name"]

#: the app handshake's elements as the schema spells them, and as scripts name them (Lua functions start upper)
_HANDSHAKE = {"supportedAppProtocolReq": "SupportedAppProtocolReq",
              "supportedAppProtocolRes": "SupportedAppProtocolRes"}
_HANDSHAKE_BACK = {v: k for k, v in _HANDSHAKE.items()}
#: DIN SPEC 70121 names two messages differently from ISO 15118-2; the session machines use the ISO-2 names
_DIN_NAMES = {"PaymentServiceSelection": "ServicePaymentSelection", "Authorization": "ContractAuthentication"}
_DIN_BACK = {v: k for k, v in _DIN_NAMES.items()}


def script_name(element: str, protocol: str | None) -> str:
    """A machine's message name -> the name scripts use (the schema's element name, capitalised)."""
    if element in _HANDSHAKE:
        return _HANDSHAKE[element]
    if protocol == "din":
        stem, suffix = element[:-3], element[-3:]
        return _DIN_NAMES.get(stem, stem) + suffix
    return element


def machine_name(name: str, protocol: str | None) -> str:
    """The inverse of :func:`script_name`."""
    if name in _HANDSHAKE_BACK:
        return _HANDSHAKE_BACK[name]
    if protocol == "din":
        stem, suffix = name[:-3], name[-3:]
        return _DIN_BACK.get(stem, stem) + suffix
    return name


def layer_of(name: str) -> str:
    return "handshake" if name in _HANDSHAKE or name in _HANDSHAKE_BACK else "session"


# -- the script's blocking calls ----------------------------------------------------------------------------
class Op:
    """A blocking call of the script; the emulator answers it with a result when it completes."""

    timeout: float | None = None


@dataclass
class SendOp(Op):
    name: str  # script name ("PreChargeReq")
    now: bool = False  # out of turn (Send_X_002)
    timeout: float | None = None
    #: the encoded V2GTP frame -> the bytes to write instead (a broken header, malformed EXI), or a list of
    #: chunks (one TCP segment each: split frames)
    transform: Callable[[bytes], bytes | list[bytes]] | None = None


@dataclass
class ReceiveOp(Op):
    name: str
    timeout: float | None = None


@dataclass
class AwaitSend(Op):
    name: str
    timeout: float | None = None


@dataclass
class WaitOp(Op):
    timeout: float | None = 0.0


@dataclass
class ExpectClose(Op):
    timeout: float | None = None


@dataclass
class CloseOp(Op):
    reset: bool = False


@dataclass
class WriteOp(Op):
    """Raw chunks for the stream, ``pause`` seconds apart (split frames: one chunk per TCP segment)."""

    chunks: list[bytes] = field(default_factory=list)
    pause: float = 0.0
    name: str = "raw"


@dataclass
class SdpOp(Op):
    """One SDP request datagram (whole V2GTP frame, as broken as the script likes) and the wait for an
    answer. Only before the V2G connection: the drivers run it before they connect."""

    datagram: bytes = b""
    timeout: float | None = None


@dataclass
class End(Op):
    """The script returned (``error`` None) or raised."""

    error: BaseException | None = None


# -- what the script reads -----------------------------------------------------------------------------------
@dataclass
class Incoming:
    """A message the tester received, decoded: ``body`` is the codec's typed object of the message element,
    ``header`` its header (DIN/ISO-2 MessageHeader; ISO 15118-20: ``body.header``)."""

    name: str
    body: Any
    header: Any
    session_id: bytes
    payload_type: int
    frame: bytes
    t: float


@dataclass
class _Held:
    name: str  # script name
    body: Any
    payload_type: int


#: script name -> edits for the next outgoing message of that name: fn(body, header)
Edit = Callable[[Any, Any], None]
#: builds the tester's session machine for a negotiated protocol with the emulator's hooks
SessionFactory = Callable[[str, Hooks], Machine]
#: gives the script its result and returns its next op (runs the script until it blocks again)
Resume = Callable[[Any], Op]

_NOT_YET = object()


class _Stepper:
    """What runners ``step``: forwards to whichever machine the emulator runs now."""

    __slots__ = ("step",)

    def __init__(self, step: Callable[[float], None]) -> None:
        self.step = step


class Raised:
    """An op's result that the script's blocking call raises (an edit of the script failed on the message)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class TesterSDP:
    """The tester SECC's SDP server: the real one (``sdp.SDPServer``) whose answers pass the script's
    ``sdp_transform`` (a broken answer, or None for none) and whose traffic is recorded with the case.
    Drivers use it where they would use the SDPServer (the live responder, the in-process car's SDP)."""

    def __init__(self, server: Any, emu: Emulator, clock: Callable[[], float]) -> None:
        self.server, self.emu, self.clock = server, emu, clock

    @property
    def enabled(self) -> bool:
        return self.server.enabled

    @property
    def address(self) -> Any:
        return self.server.address

    def datagram_received(self, datagram: bytes) -> tuple[bytes | None, str]:
        emu = self.emu
        t = self.clock()
        emu.sdp_requests.append(bytes(datagram))
        emu.wire.append(WireRecord(t, "rx", "sdp", 0x9000, bytes(datagram), "SDPReq"))
        answer, what = self.server.datagram_received(datagram)
        if answer is not None and emu.sdp_transform is not None:
            try:
                answer = emu.sdp_transform(answer)
            except Exception as e:  # noqa: BLE001 - the script's transform: its error
                emu._error = EmulatorError(f"SDP answer transform failed: {type(e).__name__}: {e}")
                answer = None
            what += " (changed by the script)"
        if answer is not None:
            emu.wire.append(WireRecord(t, "tx", "sdp", 0x9001, bytes(answer), "SDPRes"))
        return answer, what


class EmulatorError(Exception):
    """The script asked for something the tester cannot do (no builder for a message, nothing to send on)."""


class Emulator:
    """The tester's machine for one connection. ``role`` "evcc" or "secc"; ``handshake`` the tester's own
    handshake machine (made with ``hooks``); ``session`` builds its session machine once negotiated."""

    def __init__(self, role: str, handshake: Callable[[Hooks], Machine], session: SessionFactory, *,
                 receive_timeout: Callable[[str], float] | None = None, lenient: bool = True,
                 hooks: Hooks | None = None) -> None:
        self.role = role
        self.hooks = hooks or Hooks()
        self.hooks.outgoing = self._hold
        self.machine: Machine | None = handshake(self.hooks)
        self._make_session = session
        self.session: Any = None
        self.protocol: str | None = None  # the negotiated protocol's name ("iso2", "iso20-dc", ...)
        self.negotiated: Negotiated | None = None
        self.machine_closed: Closed | None = None
        self.connected = True
        self.closed_by: str = ""  # "", "peer", "tester"
        self.lenient = lenient
        self._receive_timeout = receive_timeout or self._default_receive_timeout
        self.resume: Resume | None = None
        self.op: Op | None = None
        self._op_timer = 0
        self.held: collections.deque[_Held] = collections.deque()
        self.edits: dict[str, list[Edit]] = {}
        #: the last received and the last sent message of each name, for Get_
        self.last_in: dict[str, Incoming] = {}
        self.last_out: dict[str, tuple[Any, Any]] = {}
        self.arrived: dict[str, bool] = {}  # Check_Received_<Msg>
        self.incoming: list[Incoming] = []
        self.wire: list[WireRecord] = []
        self.t0: float | None = None
        self.now = 0.0
        self.session_id: bytes = b""
        self.done: End | None = None
        self._writes: dict[str, list[bytes]] = {}
        self._write_ids = 0
        self._cursor = 0  # incoming[:_cursor] are behind the script's last Receive
        self._hardware = (_Stepper(self._step),)
        #: the tester SECC's SDP: what the car asked, and the script's change to each answer
        self.sdp_requests: list[bytes] = []
        self.sdp_transform: Callable[[bytes], bytes | None] | None = None
        self._first: list[Output] = []  # the first op's timers, for start()
        self._silence: float | None = None  # a default wait: re-armed by every message that arrives
        self._pre = False  # the op came from a step before the connection: its timers are still to start
        self._error: BaseException | None = None  # a script edit that failed, for its next blocking call

    # -- the machine interface ---------------------------------------------------------------------------
    @property
    def hardware(self) -> tuple:
        """The simulators behind the tester's own machine, for the runners to advance: one stable object
        (runners may read this once, before the session machine and its simulators exist)."""
        return self._hardware

    def _step(self, dt: float) -> None:
        if self.machine_closed is None:
            for hw in getattr(self.machine, "hardware", ()):
                hw.step(dt)

    def start(self, now: float) -> list[Output]:
        self.t0 = self.now = now
        self._record(now, "", "event", name="connect")
        out, self._first = self._first, []
        if self.machine is not None:
            out += self._feed(now, self.machine.start(now))
        return out + self._settle(now)

    def receive(self, now: float, message: Message) -> list[Output]:
        self.now = now
        inc = self._decode(now, message)
        out: list[Output] = []
        if self.machine is not None and self.machine_closed is None:
            out += self._feed(now, self.machine.receive(now, message))
        if inc is not None:
            self.last_in[inc.name] = inc
            self.incoming.append(inc)
            if self._silence is not None:  # a default wait counts silence, not the length of a session
                out.append(Timer(f"op{self._op_timer}", self._silence))
        return out + self._settle(now)

    def timer(self, now: float, name: str) -> list[Output]:
        self.now = now
        out: list[Output] = []
        if name.startswith("m:"):
            if self.machine is not None and self.machine_closed is None:
                out += self._feed(now, self.machine.timer(now, name[2:]))
            return out + self._settle(now)
        if name.startswith("w:"):
            chunks = self._writes.get(name)
            if chunks:
                out += self._write_chunk(now, name, chunks)
            return out + self._settle(now)
        if name == f"op{self._op_timer}":
            return out + self._settle(now, timed_out=True)
        return out

    def peer_closed(self, now: float, detail: str) -> list[Output]:
        self.now = now
        if self.connected:
            self.connected = False
            self.closed_by = "peer"
            self._record(now, "rx", "event", name="close", note=detail)
        return self._settle(now)

    # -- inner machine ------------------------------------------------------------------------------------
    def _hold(self, msg: Outgoing) -> None:
        """The machines' outgoing hook: keep the message for the script's decision."""
        self.held.append(_Held(script_name(msg.name, self.protocol), msg.body, msg.payload_type))
        msg.drop()

    def _feed(self, now: float, outputs: list[Output]) -> list[Output]:
        """The inner machine's outputs: timers renamed into our space, sends held (by the hook), the end
        of the machine noted (the connection stays: the script decides when it closes)."""
        out: list[Output] = []
        for o in outputs:
            if isinstance(o, Timer):
                out.append(Timer("m:" + o.name, o.delay))
            elif isinstance(o, Negotiated):
                self.negotiated = o
                self.protocol = o.protocol.name
                self._event(now, "negotiated", {"protocol": self.protocol})
                try:
                    self.machine = self.session = self._make_session(self.protocol, self.hooks)
                except Exception as e:  # noqa: BLE001 - no tester session for it: the script can still go on
                    self.machine = None
                    self.machine_closed = Closed(Reason.NO_SESSION, f"no tester session for {self.protocol}: {e}")
                    self._event(now, "machine_closed", {"reason": self.machine_closed.text})
                    continue
                out += self._feed(now, self.machine.start(now))
            elif isinstance(o, Closed):
                self.machine_closed = o
                self._event(now, "machine_closed", {"reason": o.reason.name, "detail": o.text})
            elif isinstance(o, Event):
                if o.name != "hook":
                    self._event(now, o.name, {k: str(v) for k, v in o.data.items()})
            elif isinstance(o, Received):
                pass  # decoded on our own in receive()
            elif isinstance(o, Send):  # only raw sends pass the hook (none of ours): send as they are
                out.append(o)
        return out

    # -- the script ---------------------------------------------------------------------------------------
    def _settle(self, now: float, timed_out: bool = False) -> list[Output]:
        """Complete the script's op if it can, run the script to its next op, and send what is held."""
        out: list[Output] = []
        guard = 0
        while self.op is not None and not isinstance(self.op, End):
            guard += 1
            if guard > 100_000:
                raise EmulatorError("the script keeps going without waiting for anything")
            op = self.op
            result = self._complete(now, op, timed_out, out)
            timed_out = False
            if result is _NOT_YET:
                self._flush(now, op, out)
                result = self._complete(now, op, False, out)
                if result is _NOT_YET:
                    break
            out.append(Timer(f"op{self._op_timer}", None))
            if self._error is not None:
                result, self._error = Raised(self._error), None
            self._next_op(now, result, out)
        if isinstance(self.op, End) and self.done is None:
            self.done = self.op
            out += self._finish(now)
        return out

    def pre_op(self) -> SdpOp | WaitOp | None:
        """The script's next step before the V2G connection (an SDP request or a wait), which the driver
        does and answers with :meth:`pre_answer`; None when it is time to connect (or the script ended:
        ``done`` is set)."""
        if isinstance(self.op, (SdpOp, WaitOp)):
            return self.op
        if isinstance(self.op, End):
            self.done = self.op
        elif self._pre:
            self._pre = False
            self._first = []
            self._begin(self.now, self.op, self._first)
        return None

    def pre_answer(self, answer: Any, t: float = 0.0) -> None:
        """The driver did the step :meth:`pre_op` gave: an SDP answer datagram (or None), or True after a
        wait; ``t`` seconds since the tester started, for the record."""
        op = self.op
        if isinstance(op, SdpOp):
            self.wire.append(WireRecord(t, "tx", "sdp", 0x9000, op.datagram, "SDPReq"))
            if answer is not None:
                self.wire.append(WireRecord(t, "rx", "sdp", 0x9001, answer, "SDPRes"))
        self._pre = True
        self.op = self.resume(answer) if self.resume else End()

    def run_script(self, resume: Resume, first: Op) -> None:
        """Attach the script (its first op, already yielded) before ``start``."""
        self.resume = resume
        self.op = first
        self._begin(self.now, first, self._first)

    def _next_op(self, now: float, result: Any, out: list[Output]) -> None:
        assert self.resume is not None
        self.op = self.resume(result)
        self._begin(now, self.op, out)

    def _begin(self, now: float, op: Op, out: list[Output]) -> None:
        self._op_timer += 1
        self._silence = None
        if isinstance(op, ReceiveOp):
            self.arrived[op.name] = False
            if op.timeout is None:
                op.timeout = self._receive_timeout(op.name)
                self._silence = op.timeout
        elif isinstance(op, (SendOp, AwaitSend)) and op.timeout is None:
            op.timeout = timing.SECC_SEQUENCE_TIMEOUT  # no turn to send within it: the SUT went quiet
            self._silence = op.timeout
        if isinstance(op, (ReceiveOp, WaitOp, ExpectClose, AwaitSend, SendOp)) and op.timeout is not None:
            out.append(Timer(f"op{self._op_timer}", op.timeout))
        if isinstance(op, CloseOp):
            if self.connected:
                self.connected = False
                self.closed_by = "tester"
                self._record(now, "tx", "event", name="reset" if op.reset else "close")
                out.append(Disconnect(op.reset))
        elif isinstance(op, WriteOp) and self.connected and op.chunks:
            self._write_ids += 1
            key = f"w:{self._write_ids}"
            self._writes[key] = list(op.chunks)
            op.timeout = None
            out += self._write_chunk(now, key, self._writes[key], op.pause)

    def _write_chunk(self, now: float, key: str, chunks: list[bytes], pause: float | None = None) -> list[Output]:
        if pause is None:
            pause = getattr(self.op, "pause", 0.0)
        data = chunks.pop(0)
        self._record(now, "tx", "tcp", frame_=data, name=getattr(self.op, "name", "raw"), note="raw bytes")
        out: list[Output] = [Write(data, getattr(self.op, "name", "raw"))]
        if chunks:
            out.append(Timer(key, pause))
        else:
            self._writes.pop(key, None)
        return out

    def _complete(self, now: float, op: Op, timed_out: bool, out: list[Output]) -> Any:
        """The op's result, or _NOT_YET."""
        if isinstance(op, ReceiveOp):
            inbox = self.incoming
            for i in range(self._cursor, len(inbox)):
                if inbox[i].name == op.name:  # what came before it was the machine's to answer
                    self._cursor = i + 1
                    self.arrived[op.name] = True
                    return inbox[i]
            self._cursor = len(inbox)
            if timed_out or not self.connected:
                return None
            return _NOT_YET
        if isinstance(op, WaitOp):
            return True if timed_out or op.timeout in (None, 0) else _NOT_YET
        if isinstance(op, ExpectClose):
            if not self.connected:
                return True
            return False if timed_out else _NOT_YET
        if isinstance(op, CloseOp):
            return True
        if isinstance(op, WriteOp):
            return True if not any(self._writes.values()) else _NOT_YET
        if isinstance(op, AwaitSend):
            if any(h.name == op.name for h in self.held):
                return True
            if timed_out or not self.connected or self.machine_closed is not None:
                return False
            return _NOT_YET
        if isinstance(op, SendOp):
            if getattr(op, "_sent", False):
                return True
            if not self.connected:
                return False
            if op.now or self.machine_closed is not None or self.machine is None:
                held = None if op.now else next((h for h in self.held if h.name == op.name), None)
                if held is not None:  # the machine's own message, left when it ended: that one goes
                    self.held.remove(held)
                    self._send(now, held.name, held.body, held.payload_type, out, op.transform)
                else:
                    self._send_built(now, op.name, out, op.transform)
                self._cursor = len(self.incoming)
                return True
            if timed_out:
                return False
            return _NOT_YET
        if isinstance(op, SdpOp):
            self._error = EmulatorError("SDP requests go before the V2G connection: call sdp() first")
            return None
        raise EmulatorError(f"unknown op {op!r}")

    def _flush(self, now: float, op: Op, out: list[Output]) -> None:
        """Send held messages as the op allows (see the module docstring)."""
        while self.held:
            h = self.held[0]
            if isinstance(op, AwaitSend) and h.name == op.name:
                return
            if isinstance(op, SendOp) and not op.now and layer_of(h.name) == layer_of(op.name):
                self.held.popleft()
                if h.name == op.name:
                    self._send(now, h.name, h.body, h.payload_type, out, op.transform)
                else:
                    self._event(now, "replaced", {"held": h.name, "sent": op.name})
                    self._send_built(now, op.name, out, op.transform)
                op._sent = True  # type: ignore[attr-defined]
                self._cursor = len(self.incoming)  # what came before a send is not its answer
                return
            self.held.popleft()
            if not self.connected:
                continue
            self._send(now, h.name, h.body, h.payload_type, out)

    # -- building, encoding, sending ---------------------------------------------------------------------
    def _send_built(self, now: float, name: str, out: list[Output], transform: Any = None) -> None:
        body = self.build(name)
        pt = PayloadType.EXI
        if self.protocol and self.protocol.startswith("iso20"):
            from ..session.iso20 import messages as m20
            pt = m20.info(name[:-3]).payload_type
        self._send(now, name, body, pt, out, transform)

    def build(self, name: str) -> Any:
        """A valid default of message ``name`` from the tester's own policy (its simulators fill it)."""
        if layer_of(name) == "handshake":
            raw = _HANDSHAKE_BACK[name]
            m = self.machine if self.session is None else None
            if raw == "supportedAppProtocolReq" and hasattr(m, "request_message"):
                return m.request_message
            from ..session.handshake import PROTOCOLS, select
            if raw == "supportedAppProtocolRes":
                req = getattr(self.last_in.get("SupportedAppProtocolReq"), "body", None)
                if req is not None:
                    return select(req, list(PROTOCOLS.values()))[0]
            raise EmulatorError(f"cannot build a default {name} here")
        s = self.session
        if s is None:
            raise EmulatorError(f"no session yet to build {name} from (the handshake has not negotiated)")
        canonical = machine_name(name, self.protocol)[:-3]
        if self.role == "evcc":
            if not canonical or not name.endswith("Req"):
                raise EmulatorError(f"the tester plays the EVCC: it sends requests, not {name}")
            return s._build(canonical)
        if not name.endswith("Res"):
            raise EmulatorError(f"the tester plays the SECC: it sends responses, not {name}")
        if self.protocol and self.protocol.startswith("iso20"):
            return s._response(canonical, "OK", None)
        ok = s.d.RC.OK_NewSessionEstablished if canonical == "SessionSetup" else s.d.RC.OK
        return s._response(canonical, ok, True)

    def _session_id(self) -> bytes:
        s = self.session
        return s.core.session_id if s is not None else b""

    def encode(self, name: str, body: Any, header_edits: list[Edit] | None = None) -> tuple[Any, bytes]:
        """(header, EXI payload) of message ``name``; values that break a facet are written if the stream
        can carry them (lenient), so scripts can send out-of-range values."""
        proto = self.protocol
        if layer_of(name) == "handshake":
            return None, self._exi(body)
        sid = self._session_id()
        if proto in ("din", "iso2"):
            d = self.session.d
            raw = machine_name(name, proto)
            header = d.m.MessageHeaderType(session_id=sid)
            b = d.m.BodyType()
            setattr(b, d._field[raw[:-3]][0 if raw.endswith("Req") else 1], body)
            doc = d.m.V2G_MessageType(header=header, body=b)
            for e in header_edits or ():
                e(None, header)
            return header, self._exi(doc)
        from ..session.iso20 import messages as m20
        ts = self.hooks.wall_clock(self.now)
        m20.stamp(name[:-3], name.endswith("Req"), body, sid, ts)  # the header (and a check of the type)
        for e in header_edits or ():
            e(body, body.header)  # the -20 header is inside the message element
        return body.header, self._exi(body)

    def _exi(self, doc: Any) -> bytes:
        if self.lenient:
            try:
                return exi.encode(doc, strict=False)  # type: ignore[call-arg]
            except TypeError:
                pass
        return exi.encode(doc)

    def _send(self, now: float, name: str, body: Any, payload_type: int, out: list[Output],
              transform: Callable[[bytes], bytes | list[bytes]] | None = None) -> None:
        edits = self.edits.pop(name, [])
        header_edits = [e for e in edits if getattr(e, "header", False)]
        try:
            for e in edits:
                if not getattr(e, "header", False):
                    e(body, None)
            header, payload = self.encode(name, body, header_edits)
        except Exception as e:  # noqa: BLE001 - the script's edit or value: its error, raised in the script
            self._error = EmulatorError(f"cannot send {name}: {type(e).__name__}: {e}")
            self._event(now, "script_error", {"message": name, "error": f"{type(e).__name__}: {e}"})
            return
        self.last_out[name] = (body, header)
        whole = frame(payload_type, payload)
        if transform is None:
            self._record(now, "tx", "tcp", payload_type=payload_type, frame_=whole, name=name, decoded=body)
            out.append(Send(payload, name, body, payload_type))
            return
        try:
            chunks = transform(whole)
        except Exception as e:  # noqa: BLE001 - the script's transform: its error
            self._error = EmulatorError(f"cannot send {name}: transform failed: {type(e).__name__}: {e}")
            return
        for chunk in [chunks] if isinstance(chunks, (bytes, bytearray)) else chunks:
            self._record(now, "tx", "tcp", payload_type=payload_type, frame_=bytes(chunk), name=name, decoded=body,
                         note="transformed" if chunk != whole else "")
            out.append(Write(bytes(chunk), name))

    # -- receiving ------------------------------------------------------------------------------------------
    def _decode(self, now: float, message: Message) -> Incoming | None:
        data = frame(message.payload_type, message.payload)
        try:
            if self.protocol is None or (message.payload_type == PayloadType.EXI and self.session is None):
                el, obj = exi.decode_element(message.payload, "apphand", strict=False)
                inc = Incoming(_HANDSHAKE.get(el, el), obj, None, b"", message.payload_type, data, now - (self.t0 if self.t0 is not None else now))
            elif self.protocol in ("din", "iso2"):
                doc = exi.decode(message.payload, self.protocol, strict=False)
                body = doc.body
                items = [(k, v) for k, v in vars(body).items() if v is not None] if body is not None else []
                if len(items) != 1:
                    raise ValueError(f"body holds {len(items)} messages")
                field_name, obj = items[0]
                # named by its Body element, not its type (DIN's SessionStopReq is a SessionStopType)
                canonical, is_req = self.session.d._by_field[field_name]
                el = script_name(canonical + ("Req" if is_req else "Res"), self.protocol)
                inc = Incoming(el, obj, doc.header, doc.header.session_id, message.payload_type, data,
                               now - (self.t0 if self.t0 is not None else now))
            else:
                from ..session.iso20 import messages as m20
                dec = m20.decode(message.payload_type, message.payload)
                inc = Incoming(dec.element, dec.body, dec.header, dec.session_id, message.payload_type, data,
                               now - (self.t0 if self.t0 is not None else now))
        except (ExiError, ValueError, TypeError, AttributeError) as e:
            self._record(now, "rx", "tcp", payload_type=message.payload_type, frame_=data, name="undecodable",
                         note=f"{type(e).__name__}: {e}")
            return None
        self._record(now, "rx", "tcp", payload_type=message.payload_type, frame_=data, name=inc.name,
                     decoded=inc.body)
        return inc

    # -- end ------------------------------------------------------------------------------------------------
    def _finish(self, now: float) -> list[Output]:
        out: list[Output] = [Timer(f"op{self._op_timer}", None)]
        for key in list(self._writes):
            out.append(Timer(key, None))
        self._writes.clear()
        if self.connected:
            self.connected = False
            self.closed_by = "tester"
            self._record(now, "tx", "event", name="close", note="the script ended")
        err = self.done.error if self.done is not None else None
        return out + [Closed(Reason.TERMINATED if err is None else Reason.INTERNAL_ERROR,
                             "script ended" if err is None else f"script failed: {err}")]

    # -- records ----------------------------------------------------------------------------------------------
    def _record(self, now: float, direction: str, channel: str, *, payload_type: int | None = None,
                frame_: bytes = b"", name: str = "", decoded: Any = None, note: str = "") -> None:
        js = None
        if decoded is not None:
            try:
                js = to_json_obj(decoded)
            except Exception:  # noqa: BLE001 - a report detail, never a reason to fail the run
                js = None
        self.wire.append(WireRecord(now - (self.t0 if self.t0 is not None else now), direction, channel, payload_type, frame_, name, js, note))

    def _event(self, now: float, name: str, data: dict) -> None:
        self._record(now, "", "event", name=name, note=", ".join(f"{k}={v}" for k, v in data.items()))

    def _default_receive_timeout(self, name: str) -> float:
        """How long Receive waits by default. While the tester's machine plays, its own timers guard every
        exchange, so Receive only needs the longest of them (the sequence timeout). Once the script has
        taken over, the tester waits as its role waits in the standard: the EVCC its message timeout for
        that response, the SECC the sequence timeout."""
        if self.role == "evcc" and (self.machine_closed is not None or self.machine is None):
            stem = machine_name(name, self.protocol)[:-3]
            if self.protocol and self.protocol.startswith("iso20"):
                return timing.ISO20_EVCC_MSG_TIMEOUT.get(stem, timing.ISO20_EVCC_MSG_TIMEOUT_DEFAULT)
            return timing.EVCC_MSG_TIMEOUT.get(stem, timing.EVCC_MSG_TIMEOUT_DEFAULT)
        return timing.SECC_SEQUENCE_TIMEOUT
