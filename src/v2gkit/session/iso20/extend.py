"""Drivers for ISO 15118-20 energy services beyond AC and DC (WPT, ACDP): one SECC driver and one EVCC driver
that run a service's own messages and hand the common ones (SessionSetup, Authorization*, Service*,
ScheduleExchange, PowerDelivery, SessionStop, and for ACDP the DC_* ones) to the AC/DC policies.

Composition, not a copy: each driver holds an inner ``SECC20Session`` / ``EVCC20Session`` (``common``) that
shares the service's :class:`~.core.Core` (so one SessionID, one rules table, one exit) and keeps the state of
the common messages (the selected service, control mode, schedule, the car's present values). The driver
decodes, checks the rules, calls the service's own handler or the common one, builds the answer from session
state (FAILED included) and arms the timers, as ``secc.py``/``evcc.py`` do. What differs per service:

* the rules table and its keys (a Core subclass per service),
* what happens after a FAILED answer: AC/DC end at once ([V2G20-2222], [V2G20-1967]); WPT lets the EV end
  with SessionStop after a FAILED to its own messages ([V2G20-5067]); ACDP runs the exception procedure to
  the end so the pantograph goes home ([V2G20-4025], [V2G20-4057], [V2G20-4058]). ``wind_down`` says which,
* side-stream messages (ACDP_SystemStatus on 0x8103) that bypass the main stream's rules (``SIDE``, ``side_message``).

The seams used here (``secc._HANDLERS``, ``SECC20Session._response``, ``EVCC20Session._build`` and its
``_after_*`` plan methods) are private to the AC/DC policies; the report that came with this module says what
should move there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ...controllers import EVController, EVSEController
from ...exi.errors import ExiError
from .. import roles as _roles
from ..events import Event, Message, Output, Reason, Received, Timer
from ..paused import PausedSessions
from . import evcc as _evcc
from . import messages as msg
from . import secc as _secc
from .config import EVCC20Config, SECC20Config
from .core import NEXT, Core, MessageError
from .services import ControlMode, Pricing, ServiceID, default_parameter_sets

__all__ = ["COMMON_RULES", "ExtendedEVCC", "ExtendedSECC", "Stop", "common_rules"]

#: requests the AC/DC SECC policy handles for every energy service
COMMON_REQUESTS = frozenset({"SessionSetup", "AuthorizationSetup", "Authorization", "ServiceDiscovery",
                             "ServiceDetail", "ServiceSelection", "ScheduleExchange", "PowerDelivery",
                             "SessionStop"})

#: the rules of the common messages, as the AC/DC table has them (the services add their own keys)
COMMON_RULES: dict[str, frozenset[str]] = {k: v for k, v in NEXT.items() if k in (
    "Start", "AuthorizationSetup", "CertificateInstallation", "Authorization:Ongoing", "Authorization:Warning",
    "Authorization:Finished", "ServiceDiscovery", "ServiceDetail", "ScheduleExchange:Ongoing",
    "ScheduleExchange:Renegotiated", "PowerDelivery:Ongoing", "PowerDelivery:ScheduleRenegotiation",
    "SessionStop", "SessionStop:ServiceRenegotiation")}

_STOP = frozenset({"SessionStop"})


def common_rules(**own: frozenset[str]) -> dict[str, frozenset[str]]:
    """The common rules with a service's own keys added (``own`` wins)."""
    rules = dict(COMMON_RULES)
    rules.update(own)
    return rules


Stop = _roles.Stop  # raised by a plan method: end the session with (reason, detail)


def _modes(cfg: SECC20Config) -> list[ControlMode]:
    return [ControlMode.SCHEDULED if m == "Scheduled" else ControlMode.DYNAMIC for m in cfg.control_modes]


# ============================================================================================== SECC

class ExtendedSECC(_roles.SECCRole):
    """The charger's side of a -20 session of another energy service. Subclasses set ``OWN`` (request name
    -> handler method name; a handler returns (response code, what the builder needs)), ``BUILD`` (name ->
    builder method name: (code, extra) -> body, for every code) and ``COMMON`` (the requests the AC/DC
    policy handles), and may override ``side_message``, ``wind_down`` and ``handle_common``."""

    OWN: Mapping[str, str] = {}
    BUILD: Mapping[str, str] = {}
    COMMON: frozenset[str] = COMMON_REQUESTS
    #: side-stream messages: outside the main stream's rules and state (``side_message``)
    SIDE: frozenset[str] = frozenset()

    def __init__(self, core: Core, evse: EVSEController, config: SECC20Config, paused: PausedSessions | None,
                 services: Iterable[ServiceID]) -> None:
        super().__init__()
        self.core = core
        self.cfg = config
        self.evse = evse
        services = tuple(services)
        # the AC/DC policy serves the common messages; it shares our core (SessionID, rules, exit)
        common = _secc.SECC20Session("iso20-dc", evse, config, paused, core.hooks)
        common.core = core
        common.dc = True  # no AC contactor set point in PowerDelivery(Start): the service drives its output
        # the same Pricing the AC/DC policy announces for the schedules it offers (read from its own sets)
        pricing = next(iter(next(iter(common.parameter_sets.values())).values())).pricing or Pricing.NONE
        common.services = services
        common.parameter_sets = {s: {p.id: p for p in default_parameter_sets(s, control_modes=_modes(config),
                                                                             pricing=pricing)}
                                 for s in services}
        self.common = common
        self.result = common.result
        #: (reason, detail) of the FAILED answer this SECC gave and still winds the session down after
        self.failed: tuple[Reason, str] | None = None

    @property
    def mode(self) -> str:
        return self.common.mode

    @property
    def service(self) -> ServiceID | None:
        return self.common.service

    # -- drivers ------------------------------------------------------------------------------
    def receive(self, now: float, message: Message) -> list[Output]:
        if self._ended:
            return []
        m = self.core.incoming(now, message)
        if m is None:
            return []
        try:
            d = self.core.decode(m)
        except (ExiError, MessageError) as e:
            return self._close(Reason.UNDECODABLE, f"undecodable request: {e}")
        name, req = d.name, d.body
        out: list[Output] = [Received(d.element, req, m.payload_type)]
        if name in self.SIDE:
            return out + self.side_message(now, d, m.payload_type)
        if not d.request:
            return out + self._close(Reason.WRONG_MESSAGE, f"{d.element} received by the SECC")
        self.result.messages += 1
        problem = self.core.request_problem(name, d.session_id)
        if problem is not None:
            reason = Reason.UNKNOWN_SESSION if problem == "FAILED_UnknownSession" else Reason.SEQUENCE_ERROR
            return out + self._refuse(now, name, problem, reason, f"{name}Req: {problem}")
        handler = self._handler(name)
        if handler is None:
            return out + self._refuse(now, name, "FAILED_SequenceError", Reason.SEQUENCE_ERROR,
                                      f"{name}Req: not served by an {self.core.protocol} SECC")
        try:
            code, extra = handler(now, d.session_id, req)
        except Exception as e:  # noqa: BLE001 - our handler or our charger failed: a local fault, said so
            out.append(Event("internal_error", {"name": name + "Req", "error": e}))
            return out + self._refuse(now, name, "FAILED", Reason.INTERNAL_ERROR,
                                      f"internal error: handling {name}Req: {type(e).__name__}: {e}")
        try:
            body = self._response(name, code, extra)
            sent = self.core.send(now, name + "Res", body)
        except Exception as e:  # noqa: BLE001 - our own answer cannot be built or encoded: our bug
            out.append(Event("internal_error", {"name": name + "Res", "error": e}))
            return out + self._close(Reason.INTERNAL_ERROR,
                                     f"internal error: cannot build {name}Res: {type(e).__name__}: {e}")
        out += sent
        if msg.is_failed(code):
            why = self._take_why()
            return out + self._failed(now, name, msg.response_code(body), Reason.REFUSED,
                                      f"answered {name}Res with {msg.response_code(body)}" + (f": {why}" if why else ""))
        if name == "SessionStop":
            session = req.charging_session.name
            if self.failed is not None:  # the EV ended the session we refused: the refusal is why it ended
                return out + self._close(*self.failed)
            if session != "ServiceRenegotiation":
                self.result.ok = True
                return out + self._close(Reason.PAUSED if session == "Pause" else Reason.TERMINATED)
        try:
            key = self.core.done(name, req, body)
        except Exception as e:  # noqa: BLE001 - the rules could not read our own answer: our bug
            out.append(Event("internal_error", {"name": name + "Res", "error": e}))
            return out + self._close(Reason.INTERNAL_ERROR, f"internal error: after {name}Res: {type(e).__name__}: {e}")
        out.append(Timer("sequence", self._sequence_timeout(key.split(":")[0])))
        return out

    # -- what a service changes --------------------------------------------------------------------
    def side_message(self, now: float, d: msg.Decoded, payload_type: int) -> list[Output]:
        """A decoded side-stream message (one of ``SIDE``)."""
        return []

    def wind_down(self, name: str, code: str) -> str | None:
        """After a FAILED answer to ``name``: the rules key the session goes on in until the EV ends it, or
        None to close now (AC/DC: always, [V2G20-2222])."""
        return None

    def handle_common(self, name: str, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        """The AC/DC policy's handler for a common request (a service may wrap it)."""
        return _secc._HANDLERS[name](self.common, now, sid, req)

    # -- helpers -------------------------------------------------------------------------------------
    def _handler(self, name: str) -> Callable[[float, bytes, Any], tuple[str, Any]] | None:
        own = self.OWN.get(name)
        if own is not None:
            return getattr(self, own)
        if name in self.COMMON and name in _secc._HANDLERS:
            return lambda now, sid, req: self.handle_common(name, now, sid, req)
        return None

    def _response(self, name: str, code: str, extra: Any) -> Any:
        builder = self.BUILD.get(name)
        if builder is not None:
            return getattr(self, builder)(code, extra)
        return self.common._response(name, code, extra)

    def _take_why(self) -> str:
        why = "; ".join(w for w in (self._why, self.common._why) if w)
        self._why = self.common._why = ""
        return why

    def _sequence_timeout(self, name: str) -> float:
        return self.core.sequence_timeout(name, self.cfg.sequence_timeout, self.cfg.loop_sequence_timeout)

    def _refuse(self, now: float, name: str, code: str, reason: Reason, detail: str) -> list[Output]:
        """Answer ``name`` with the FAILED ``code`` (built from session state alone), then wind down."""
        try:
            out = self.core.send(now, name + "Res", self._response(name, code, None))
        except Exception as e:  # noqa: BLE001 - even the FAILED answer cannot be built: our bug
            return [Event("internal_error", {"name": name + "Res", "error": e})] + self._close(
                Reason.INTERNAL_ERROR, f"internal error: cannot build {name}Res: {type(e).__name__}: {e}")
        self._take_why()
        return out + self._failed(now, name, code, reason, detail)

    def _failed(self, now: float, name: str, code: str, reason: Reason, detail: str) -> list[Output]:
        key = None
        if self.failed is None and name != "SessionStop" and reason is not Reason.INTERNAL_ERROR:
            key = self.wind_down(name, code)
        if key is None:
            return self._close(*(self.failed or (reason, detail)))
        self.failed = (reason, detail)
        self.core.state, self.core.expected = key, self.core.rules.get(key, _STOP)
        return [Event("wind_down", {"after": f"{name}Res", "code": code, "allowed": sorted(self.core.expected)}),
                Timer("sequence", self.cfg.sequence_timeout)]

# ============================================================================================== EVCC

class ExtendedEVCC(_roles.EVCCRole):
    """The car's side of a -20 session of another energy service. Subclasses set ``PLAN`` (response name
    -> method name: (now, res, code) -> the next request or None to end; ``self.sent`` is the request it
    answers), ``BUILD`` (request name -> builder method name; others are the AC/DC policy's) and ``LOOPS``
    (requests repeated after ``loop_interval``), and may override ``plan``, ``side_message``, ``on_failed``."""

    PLAN: Mapping[str, str] = {}
    BUILD: Mapping[str, str] = {}
    LOOPS: frozenset[str] = frozenset()
    #: side-stream messages: outside the main stream's rules and state (``side_message``)
    SIDE: frozenset[str] = frozenset()

    def __init__(self, core: Core, ev: EVController, config: EVCC20Config, dc: bool) -> None:
        super().__init__()
        self.core = core
        self.cfg = config
        self.ev = ev
        common = _evcc.EVCC20Session("iso20-dc" if dc else "iso20-ac", ev, config, core.hooks)
        common.core = core
        self.common = common
        if config.resume_session_id is not None:
            core.session_id = config.resume_session_id
        self.result = common.result
        self.sent: Any = None  # the request the response being planned answers
        #: (reason, detail) the session ends with after its closing SessionStop (a FAILED answer, giving up)
        self.final: tuple[Reason, str] | None = None
        self._extra: list[Output] = []

    @property
    def mode(self) -> str:
        return self.common.mode

    @property
    def service(self) -> ServiceID | None:
        return self.common.service

    # -- drivers ------------------------------------------------------------------------------
    def receive(self, now: float, message: Message) -> list[Output]:
        if self._ended:
            return []
        m = self.core.incoming(now, message)
        if m is None:
            return []
        try:
            d = self.core.decode(m)
        except (ExiError, MessageError) as e:
            return self._end(Reason.UNDECODABLE, f"undecodable response: {e}")
        name, res = d.name, d.body
        out: list[Output] = [Received(d.element, res, m.payload_type)]
        if name in self.SIDE:
            return out + self.side_message(now, d, m.payload_type)
        strict = self.core.strict
        if d.request or (strict and name != self.pending) or name not in self.PLAN:
            return out + self._end(Reason.WRONG_MESSAGE, f"expected {self.pending}Res, got {d.element}")
        out.append(Timer("response", None))
        self.result.messages += 1
        req, self.pending = self._pending_body, None
        self.sent = req
        code = msg.response_code(res)
        if name == "SessionSetup":
            if strict and code == "OK_OldSessionJoined" and d.session_id != self.session_id:
                return out + self._end(Reason.UNKNOWN_SESSION, "OK_OldSessionJoined with another SessionID")
            if len(d.session_id) != 8:  # the lenient decoder keeps what the stream carries; we could not send it
                return out + self._end(Reason.UNUSABLE, f"SessionSetupRes carries a SessionID of "
                                                               f"{len(d.session_id)} octets, not 8")
            self.core.session_id = d.session_id
        elif strict and d.session_id != self.session_id:
            return out + self._end(Reason.UNKNOWN_SESSION, f"{d.element} carries SessionID "
                                                           f"{d.session_id.hex()}, not {self.session_id.hex()}")
        try:
            if msg.is_failed(code):
                nxt = self.on_failed(now, name, code, f"SECC answered {d.element} with {code}")
            else:
                self.core.done(name, req, res)
                nxt = self.plan(now, name, res, code)
        except Stop as stop:
            return out + self._end(stop.reason, stop.detail)
        except Exception as e:  # noqa: BLE001 - our plan or our car failed on a valid answer: a local fault
            out.append(Event("internal_error", {"name": d.element, "error": e}))
            return out + self._end(Reason.INTERNAL_ERROR, f"internal error: after {d.element}: "
                                                          f"{type(e).__name__}: {e}")
        out += self._extra
        self._extra = []
        if nxt is None:
            if self.final is not None:
                return out + self._end(*self.final)
            return out + self._end(Reason.PAUSED if self.common._stop_session == "Pause" else Reason.TERMINATED)
        if nxt in self.LOOPS and nxt == name and self.cfg.loop_interval > 0:
            self._next = nxt
            return out + [Timer("next", self.cfg.loop_interval)]
        return out + self._request(now, nxt)

    # -- what a service changes --------------------------------------------------------------------
    def side_message(self, now: float, d: msg.Decoded, payload_type: int) -> list[Output]:
        """A decoded side-stream message (one of ``SIDE``)."""
        return []

    def plan(self, now: float, name: str, res: Any, code: str) -> str | None:
        """The next request after the answer ``res`` to ``name`` (the ``PLAN`` method)."""
        return getattr(self, self.PLAN[name])(now, res, code)

    def emit(self, *outputs: Output) -> None:
        """Outputs (timers, side-stream messages) to go out with the next request."""
        self._extra.extend(outputs)

    def on_failed(self, now: float, name: str, code: str, detail: str) -> str | None:
        """The SECC answered ``name`` with FAILED ``code``: the next request, or raise Stop. AC/DC: the session
        ends ([V2G20-1967])."""
        raise Stop(Reason.FAILED_RESPONSE, detail)

    # -- helpers -------------------------------------------------------------------------------------
    def _build(self, name: str) -> Any:
        builder = self.BUILD.get(name)
        if builder is not None:
            return getattr(self, builder)()
        return self.common._build(name)

    def _request(self, now: float, name: str) -> list[Output]:
        self.common._now = now  # the schedule in force is the one at the time of the request
        return super()._request(now, name)

    def poll(self, now: float, what: str, limit: float) -> str:
        """``what`` again, unless it has been going on for more than ``limit`` s (then Stop)."""
        return self.common._poll(now, what, limit)

    def done_polling(self, what: str) -> None:
        self.common._since.pop(what, None)

    def give_up(self, why: str) -> str:
        """End the session with SessionStop(Terminate); it closes as GAVE_UP with ``why``."""
        self.final = (Reason.GAVE_UP, why)
        self.common._stop_session = "Terminate"
        return "SessionStop"
