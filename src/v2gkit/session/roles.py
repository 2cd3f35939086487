"""What the SECC and EVCC policies of every family share, written once: the timers each role runs, how a role
ends a session (with its Reason, local or remote), the EVCC's request exit (its plan checked against the rules,
a message it cannot build being its own fault) and the hardware the runners advance.

A family's policy (``din2/secc.py``, ``iso20/evcc.py``, ...) subclasses these and adds ``receive`` (its
messages' shapes differ), its handlers or plan, and its message builders.
"""

from __future__ import annotations

from typing import Any

from ..controllers import CPState, EVController, EVSEController
from .events import Closed, Event, Output, Reason, Timer
from .result import SessionResult

__all__ = ["EVCCRole", "SECCRole", "Stop"]


class Stop(Exception):
    """Raised by an EVCC's plan to end the session with ``reason``."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class EVCCRole:
    """The car's side. Subclasses set ``core``, ``ev``, ``cfg`` (``msg_timeouts``, ``msg_timeout_default``,
    ``loop_interval``) and implement ``_build(name)``."""

    core: Any
    ev: EVController
    cfg: Any
    #: the role's timers, cancelled when it ends (a service with timers of its own adds them)
    TIMERS: tuple[str, ...] = ("response", "next")

    def __init__(self) -> None:
        self.result = SessionResult()
        self.pending: str | None = None  # the request waiting for its response
        self._pending_body: Any = None
        self._since: dict[str, float] = {}
        self._ended = False
        self._next: str | None = None
        self.__present = (0.0, 0.0)

    @property
    def session_id(self) -> bytes:
        return self.core.session_id

    @property
    def hardware(self) -> tuple[EVController, ...]:
        """What the runner advances (``step``) before each message and timer."""
        return (self.ev,)

    @property
    def _present(self) -> tuple[float, float]:
        return self.__present

    @_present.setter
    def _present(self, value: tuple[float, float]) -> None:
        """What the charger delivers, as its last answer said: the car's physics runs on it."""
        self.__present = value
        self.ev.supply(*value)

    def start(self, now: float) -> list[Output]:
        self.ev.set_cp_state(CPState.B)
        return self._request(now, "SessionSetup")

    def timer(self, now: float, name: str) -> list[Output]:
        held = self.core.timer(now, name)
        if held is not None:
            return [] if self._ended else held
        if self._ended:
            return []
        if name == "response" and self.pending:
            return self._end(Reason.MESSAGE_TIMEOUT, f"V2G_EVCC_Msg_Timeout: no {self.pending}Res within "
                                                     f"{self._timeout(self.pending):g} s")
        if name == "next" and self._next:
            nxt, self._next = self._next, None
            return self._request(now, nxt)
        return self.on_timer(now, name)

    def on_timer(self, now: float, name: str) -> list[Output]:
        """A timer of the service's own (one of ``TIMERS`` beyond response/next)."""
        return []

    def closing(self, reason: Reason) -> None:
        """The session ends: a service puts its hardware in a safe state (errors are reported, not raised)."""

    def _timeout(self, name: str) -> float:
        return self.cfg.msg_timeouts.get(name, self.cfg.msg_timeout_default)

    def _end(self, reason: Reason, detail: str = "") -> list[Output]:
        self._ended = True
        closed = Closed(reason, detail)
        out: list[Output] = [*self.core.closing(), *(Timer(t, None) for t in self.TIMERS), closed]
        try:
            self.ev.set_cp_state(CPState.B)
            self.closing(reason)
        except Exception as e:  # noqa: BLE001 - the car failing while we close: still close
            out.insert(0, Event("internal_error", {"name": "close", "error": e}))
        self.result.ok, self.result.reason, self.result.detail = reason.ok, reason, closed.text
        self.result.session_id = self.session_id
        self.result.paused = reason is Reason.PAUSED
        return out

    def _build(self, name: str) -> Any:
        raise NotImplementedError

    def _request(self, now: float, name: str) -> list[Output]:
        """Send request ``name``; if the rules forbid it or it cannot be built or encoded, that is our fault,
        not the SECC's: the session ends with that reason instead of raising."""
        if not self.core.allowed(name):
            return self._end(Reason.RULES_BROKEN, f"the EVCC's plan wants {name}Req after {self.core.state}Res; "
                                                  f"allowed: {', '.join(sorted(self.core.expected)) or 'nothing'}")
        try:
            body = self._build(name)
            out = self.core.send(now, name + "Req", body)
        except Exception as e:  # noqa: BLE001 - any builder/encoder/controller error is a local fault
            return [Event("internal_error", {"name": name + "Req", "error": e})] + self._end(
                Reason.INTERNAL_ERROR, f"internal error: cannot build {name}Req: {type(e).__name__}: {e}")
        self.pending, self._pending_body = name, body
        return out + [Timer("response", self._timeout(name))]

    def _poll(self, now: float, what: str, limit: float) -> str:
        """The same request again, unless its loop ran out of time."""
        since = self._since.setdefault(what, now)
        if now - since > limit:
            raise Stop(Reason.ONGOING_TIMEOUT, f"{what} still not finished after {limit:g} s")
        return what

    def _go_on(self, now: float, name: str, nxt: str, loops: frozenset[str], receipt: str) -> list[Output]:
        """The next request: a loop going round again (a metering receipt/confirmation is part of the
        energy loop) waits ``loop_interval``, anything else goes at once."""
        if nxt in loops and (nxt == name or name == receipt) and self.cfg.loop_interval > 0:
            self._next = nxt
            return [Timer("next", self.cfg.loop_interval)]
        return self._request(now, nxt)


class SECCRole:
    """The charger's side. Subclasses set ``core``, ``evse``, ``cfg`` (``sequence_timeout``) and implement
    ``_response(name, code, extra)`` (every answer, FAILED ones included, from the session's state only)."""

    core: Any
    evse: EVSEController
    cfg: Any

    def __init__(self) -> None:
        self.result = SessionResult()
        self._since: dict[str, float] = {}
        self._ended = False
        self._why = ""  # a handler's word on a FAILED answer, for the close reason

    @property
    def session_id(self) -> bytes:
        return self.core.session_id

    @property
    def state(self) -> str:
        return self.core.state

    @property
    def hardware(self) -> tuple[EVSEController, ...]:
        """What the runner advances (``step``) before each message and timer."""
        return (self.evse,)

    def start(self, now: float) -> list[Output]:
        """After the app handshake: the sequence timer runs until SessionSetupReq."""
        return [Timer("sequence", self.cfg.sequence_timeout)]

    def _sequence_timeout(self, after: str) -> float:
        """V2G_SECC_Sequence_Timeout after the answer to ``after`` (a family may vary it per message)."""
        return self.cfg.sequence_timeout

    def timer(self, now: float, name: str) -> list[Output]:
        held = self.core.timer(now, name)
        if held is not None:
            return [] if self._ended else held
        if name == "sequence" and not self._ended:
            after = self.state.split(":")[0]
            return self._close(Reason.SEQUENCE_TIMEOUT, f"V2G_SECC_Sequence_Timeout: no request within "
                                                        f"{self._sequence_timeout(after):g} s after {after}Res")
        return []

    def _close(self, reason: Reason, detail: str = "") -> list[Output]:
        self._ended = True
        closed = Closed(reason, detail)
        self.result.reason, self.result.detail = reason, closed.text
        self.result.session_id = self.session_id
        out: list[Output] = [*self.core.closing(), Timer("sequence", None), closed]
        try:
            self.result.energy_wh = self.evse.meter_wh()
            if not reason.ok:
                self.evse.stop_output()
            self.closing(reason)
        except Exception as e:  # noqa: BLE001 - the charger failing while we close: still close
            out.insert(0, Event("internal_error", {"name": "close", "error": e}))
        return out

    def closing(self, reason: Reason) -> None:
        """The session ends: a service puts its hardware in a safe state (errors are reported, not raised)."""

    def _response(self, name: str, code: Any, extra: Any) -> Any:
        raise NotImplementedError

    def _answer_failed(self, now: float, name: str, code: Any, reason: Reason, detail: str) -> list[Output]:
        """Answer ``name`` with FAILED ``code`` (built from the charger's state alone), then close."""
        try:
            out = self.core.send(now, name + "Res", self._response(name, code, None))
        except Exception as e:  # noqa: BLE001 - even the FAILED answer cannot be built: our bug
            return [Event("internal_error", {"name": name + "Res", "error": e})] + self._close(
                Reason.INTERNAL_ERROR, f"internal error: cannot build {name}Res: {type(e).__name__}: {e}")
        return out + self._close(reason, detail)
