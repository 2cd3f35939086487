"""Scripts and the Python API of the test system.

A script (a Python function taking a :class:`Tester`, or a Lua file through :mod:`v2gkit.testsys.lua`) is
ordinary blocking code: ``t.receive("SessionSetupReq")`` returns when the message came. It runs in a thread of
its own, and the two sides hand over strictly: while the script runs, the emulator waits; while the emulator
(and the event loop or simulated clock under it) runs, the script waits in its blocking call. Only one side
runs at any time, so the script reads and edits the emulator's state without locks, and a run on the
simulated clock is as deterministic as the machines are.

The Python API (``Tester``) has what the Lua API has, with Python names and the codec's typed messages::

    def case(t: Tester) -> None:
        t.set("SessionSetupRes", lambda res: setattr(res, "evse_id", "DE*V2G*E1"))
        t.send("SessionSetupRes")
        t.check(t.expect_close(within=3.0), "the EVCC closes after FAILED")

Verdicts follow TTCN-3: ``check``/``fail``/``inconc`` make the verdict worse, never better; ``fail`` and
``inconc`` also stop the script (``stop=False`` goes on); an exception in the script is an ``error``.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from typing import Any

from .case import Step, Verdict
from .emulator import (
    AwaitSend,
    CloseOp,
    Emulator,
    End,
    ExpectClose,
    Incoming,
    Op,
    Raised,
    ReceiveOp,
    SdpOp,
    SendOp,
    WaitOp,
    WriteOp,
)

__all__ = ["ScriptAborted", "ScriptThread", "Stopped", "Tester"]


class ScriptAborted(BaseException):
    """Raised inside a script's blocking call when the run is over (connection runner gone, global limit):
    a BaseException, so a script's ``except Exception`` does not swallow it."""


class Stopped(Exception):
    """A verdict call that stops the script (``fail``/``inconc`` with stop=True)."""


_ABORT = object()


class ScriptThread:
    """Runs ``body()`` in a daemon thread; ``call(op)`` (script side) hands ``op`` to the engine and waits for
    the result; ``resume(result)`` (engine side) gives it and waits for the next op."""

    def __init__(self, body: Callable[[], None], name: str = "v2gkit-script") -> None:
        self._body = body
        self._to_engine: queue.Queue[Op] = queue.Queue(maxsize=1)
        self._to_script: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.finished = False

    def _main(self) -> None:
        first = self._to_script.get()
        if first is _ABORT:
            self._to_engine.put(End(ScriptAborted("aborted before it started")))
            return
        try:
            self._body()
        except ScriptAborted as e:
            self._to_engine.put(End(e))
            return
        except BaseException as e:  # noqa: BLE001 - reported as the End op's error
            self._to_engine.put(End(e))
            return
        self._to_engine.put(End(None))

    def start(self) -> Op:
        self._thread.start()
        return self.resume(None)

    def resume(self, result: Any) -> Op:
        if self.finished:
            return End(None)
        self._to_script.put(result)
        op = self._to_engine.get()
        if isinstance(op, End):
            self.finished = True
            self._thread.join(timeout=5)
        return op

    def abort(self) -> None:
        """The engine stops: unblock the script with ScriptAborted and let its thread end."""
        if self.finished or not self._thread.is_alive():
            return
        self.finished = True
        try:
            self._to_script.put_nowait(_ABORT)
        except queue.Full:
            pass
        self._thread.join(timeout=5)

    def call(self, op: Op) -> Any:
        """Script side: hand ``op`` over and wait for its result."""
        self._to_engine.put(op)
        result = self._to_script.get()
        if result is _ABORT:
            raise ScriptAborted("the test run ended while the script waited")
        if isinstance(result, Raised):
            raise result.error
        return result


class Tester:
    """The script's handle: the role the test system plays (``role``), what was negotiated (``protocol``),
    messages in both directions, faults, verdicts and a log."""

    def __init__(self, emulator: Emulator, thread: ScriptThread, clock: Callable[[], float] | None = None) -> None:
        self._emu = emulator
        self._thread = thread
        self.verdict = Verdict.PASS
        self.reason = ""
        self.steps: list[Step] = []
        #: the protocol the tester offers or supports (known before the handshake: scripts name its messages)
        self.planned_protocol: str | None = None
        self.planned_dc = True

    # -- what is going on ------------------------------------------------------------------------------------
    @property
    def role(self) -> str:
        return self._emu.role

    @property
    def protocol(self) -> str | None:
        """The negotiated protocol ("din", "iso2", "iso20-dc", ...); before the handshake the planned one."""
        return self._emu.protocol or self.planned_protocol

    @property
    def now(self) -> float:
        """Seconds since the connection came up (simulated or real)."""
        return self._emu.now - (self._emu.t0 if self._emu.t0 is not None else self._emu.now)

    @property
    def connected(self) -> bool:
        return self._emu.connected

    @property
    def closed_by(self) -> str:
        """"peer" or "tester" once the connection is closed, else ""."""
        return self._emu.closed_by

    @property
    def session_id(self) -> bytes:
        """The SessionID of the tester's session machine."""
        return self._emu._session_id()

    @property
    def received(self) -> list[Incoming]:
        """Every message received so far, in order."""
        return list(self._emu.incoming)

    @property
    def machine_closed(self) -> Any:
        """How the tester's own machine ended (a ``Closed``), or None while it plays on."""
        return self._emu.machine_closed

    # -- messages -------------------------------------------------------------------------------------------
    def set(self, name: str, edit: Callable[[Any], None], *, header: bool = False) -> None:
        """Edit the next outgoing ``name`` before it is encoded: ``edit(body)`` (``header=True``:
        ``edit(header)``, the MessageHeader or the -20 Header)."""
        if header:
            def fn(body: Any, hdr: Any) -> None:
                edit(hdr)
            fn.header = True  # type: ignore[attr-defined]
        else:
            def fn(body: Any, hdr: Any) -> None:
                edit(body)
        self._emu.edits.setdefault(name, []).append(fn)

    def add_edit(self, name: str, fn: Callable[[Any, Any], None]) -> None:
        """A raw edit ``fn(body, header)`` (header edits carry ``fn.header = True``): the Lua binding's way."""
        self._emu.edits.setdefault(name, []).append(fn)

    def pending(self, name: str) -> Any:
        """The message ``name`` as it would be sent now: the held one, or a fresh default, with the edits
        made so far (for Get_ on an outgoing message)."""
        for h in self._emu.held:
            if h.name == name:
                return h.body
        sent = self._emu.last_out.get(name)
        return sent[0] if sent else None

    def send(self, name: str, edit: Callable[[Any], None] | None = None, *, now: bool = False,
             timeout: float | None = None, transform: Callable[[bytes], bytes | list[bytes]] | None = None) -> bool:
        """Send ``name`` as the tester's next message (instead of the one its machine would send, if that is
        another); ``now=True`` sends it at once, out of turn. ``transform(frame)`` gets the encoded V2GTP
        frame and returns the bytes to write instead (``testsys.mutate`` has broken headers, malformed EXI;
        a list of chunks is written as one TCP segment each). False if it could not go (connection closed,
        no turn within ``timeout``)."""
        if edit is not None:
            self.set(name, edit)
        ok = bool(self._thread.call(SendOp(name, now=now, timeout=timeout, transform=transform)))
        self.log(f"sent {name}" if ok else f"could not send {name}" + ("" if self.connected else ": connection closed"))
        return ok

    def withhold(self, name: str, timeout: float | None = None) -> bool:
        """Do not send ``name``: the tester's machine believes it went, the peer sees nothing (for the
        peer's timeouts). False if the tester never got to send it."""
        ok = bool(self._thread.call(SendOp(name, timeout=timeout, transform=lambda frame: [])))
        self.log(f"withheld {name}" if ok else f"did not get to {name}")
        return ok

    @property
    def dc(self) -> bool:
        """A DC session (the tester's set-up; -20 also from the negotiated namespace)."""
        if self._emu.protocol and self._emu.protocol.startswith("iso20"):
            return self._emu.protocol == "iso20-dc"
        s = self._emu.session
        cfg = getattr(s, "cfg", None)
        return bool(getattr(cfg, "dc", self.planned_dc))

    def receive(self, name: str, timeout: float | None = None) -> Incoming | None:
        """Wait for ``name`` (other messages meanwhile are answered by the tester's machine); None if it did
        not come within ``timeout`` (default: how long the tester's role waits in the standard) or the
        connection closed."""
        got = self._thread.call(ReceiveOp(name, timeout))
        self.log(f"received {name}" if got is not None else f"no {name}" + (
            " (connection closed)" if not self.connected else " (timeout)"))
        return got

    def last_sent(self, name: str) -> Any:
        """The body of the last ``name`` the tester sent (after the script's edits), or None."""
        got = self._emu.last_out.get(name)
        return got[0] if got else None

    @property
    def strict(self) -> bool:
        """Whether the tester's own machines keep the rules (sequence, SessionID) on what they receive and
        send. Set it False before the session starts when a script leads them astray on purpose (an EVCC
        that must follow an edited Ongoing answer)."""
        return self._emu.hooks.strict

    @strict.setter
    def strict(self, value: bool) -> None:
        self._emu.hooks.strict = bool(value)

    def received_last(self, name: str) -> Incoming | None:
        return self._emu.last_in.get(name)

    def check_received(self, name: str) -> bool:
        """Did the last ``receive(name)`` get it (Lua Check_Received_<Msg>)?"""
        return bool(self._emu.arrived.get(name))

    def expect(self, name: str, timeout: float | None = None) -> Incoming:
        """``receive`` that fails the case when the message does not come."""
        got = self.receive(name, timeout)
        if got is None:
            self.fail(f"expected {name}, " + ("the connection closed" if not self.connected else "it did not come"))
        assert got is not None
        return got

    def until(self, name: str, timeout: float | None = None) -> bool:
        """Let the tester's machine play until it is about to send ``name``; that message stays held for
        ``send``/``set``. False (and an inconclusive verdict is the caller's call) if it never gets there."""
        ok = bool(self._thread.call(AwaitSend(name, timeout)))
        self.log(f"reached {name}" if ok else f"did not reach {name}")
        return ok

    def preamble(self, name: str, timeout: float | None = None) -> None:
        """``until`` that makes the case inconclusive when the SUT never leads there (the ISO 15118-4
        preamble: the case says nothing about a requirement it could not reach)."""
        if not self.until(name, timeout):
            why = self._emu.machine_closed.text if self._emu.machine_closed else (
                "connection closed" if not self.connected else "timeout")
            self.inconc(f"preamble did not reach {name}: {why}")

    def sdp(self, datagram: bytes, timeout: float | None = None) -> bytes | None:
        """Send one SDP request datagram (a whole V2GTP frame; ``testsys.mutate`` builds broken ones) to the
        SECC under test and return its answer datagram, or None within ``timeout`` (default
        V2G_EVCC_SDP_Timeout). Only before the V2G connection (the tester EVCC's first steps)."""
        got = self._thread.call(SdpOp(bytes(datagram), timeout))
        self.log(f"SDP request {bytes(datagram)[:8].hex()}...: " + ("answered" if got else "no answer"))
        return got

    def sdp_answer(self, transform: Callable[[bytes], bytes | None] | None) -> None:
        """Tester SECC: pass every SDP answer datagram through ``transform`` (return the bytes to send, or
        None to stay silent); None restores the correct answers. Set it before the car discovers."""
        self._emu.sdp_transform = transform

    @property
    def sdp_requests(self) -> list[bytes]:
        """Tester SECC: the SDP request datagrams the car sent, as they came."""
        return list(self._emu.sdp_requests)

    def wait(self, seconds: float) -> None:
        self._thread.call(WaitOp(seconds))

    def expect_close(self, within: float) -> bool:
        """True if the connection is (or gets) closed within ``within`` seconds."""
        ok = bool(self._thread.call(ExpectClose(within)))
        self.log(f"connection closed by {self.closed_by}" if ok else f"connection still open after {within:g} s")
        return ok

    def close(self, reset: bool = False) -> None:
        """Hang up (``reset``: TCP RST)."""
        self._thread.call(CloseOp(reset))

    def write(self, *chunks: bytes, pause: float = 0.0, name: str = "raw") -> None:
        """Bytes for the stream as they are (broken headers, split frames: one chunk per TCP segment,
        ``pause`` seconds apart)."""
        self._thread.call(WriteOp(list(chunks), pause, name))

    def encode(self, name: str, body: Any) -> bytes:
        """The EXI payload of ``body`` as message ``name`` in the negotiated protocol (lenient: facets may
        break), with the session's header."""
        return self._emu.encode(name, body)[1]

    def build(self, name: str) -> Any:
        """A valid default ``name`` from the tester's policy (what Send_X_001 starts from)."""
        return self._emu.build(name)

    # -- verdicts and log -----------------------------------------------------------------------------------
    def log(self, text: str) -> None:
        self.steps.append(Step(self.now, text))

    def _set(self, verdict: Verdict, reason: str) -> None:
        worse = self.verdict.worst(verdict)
        if worse is not self.verdict or (verdict is worse and not self.reason):
            self.verdict = worse
            if verdict is worse and verdict is not Verdict.PASS:
                self.reason = reason
        self.steps.append(Step(self.now, reason, verdict))

    def check(self, ok: bool, what: str, *, stop: bool = False) -> bool:
        """A pass/fail check: the verdict becomes fail if not ``ok``."""
        if ok:
            self.steps.append(Step(self.now, f"ok: {what}", Verdict.PASS))
        else:
            self._set(Verdict.FAIL, what)
            if stop:
                raise Stopped(what)
        return ok

    def fail(self, reason: str, *, stop: bool = True) -> None:
        self._set(Verdict.FAIL, reason)
        if stop:
            raise Stopped(reason)

    def inconc(self, reason: str, *, stop: bool = True) -> None:
        self._set(Verdict.INCONC, reason)
        if stop:
            raise Stopped(reason)

    def passed(self, text: str = "pass") -> None:
        self._set(Verdict.PASS, text)


def describe(e: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(e), e)).strip()
