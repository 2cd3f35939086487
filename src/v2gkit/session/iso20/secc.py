"""The charger's policy for ISO 15118-20 sessions (AC, DC, AC_BPT, DC_BPT; Scheduled and Dynamic control mode;
external identification now, Plug & Charge where ``_on_authorization`` is).

The rules, SessionID, codec and exit are the shared :class:`~.core.Core`'s. Request handlers have the side
effects on the charger and pick the response code; response builders make every answer from the session's
state alone, so a FAILED answer is schema-valid whatever the request was. A FAILED_* answer ends the session
([V2G20-2222]); a WARNING_* one does not.
"""

from __future__ import annotations

from typing import Any

from ...controllers import (
    BidirectionalEVSE,
    EnergyRequest,
    EVSE20Controller,
    EVSEController,
    Isolation,
    Notification,
)
from ...exi.errors import ExiError
from ..events import Event, Message, Output, Reason, Received, Timer
from ..hooks import Hooks
from ..paused import PausedSessions
from ..roles import SECCRole
from . import messages as msg
from . import tariffs
from .config import SECC20Config
from .core import Core, MessageError
from .services import BPT_SERVICES, ControlMode, Pricing, ServiceID, default_parameter_sets

__all__ = ["SECC20Session"]

#: the controller's notification -> EVSENotification of -20 (None: no EVSEStatus at all)
_NOTIFICATION = {Notification.NONE: None, Notification.STOP_CHARGING: "Terminate",
                 Notification.RENEGOTIATION: "ScheduleRenegotiation", Notification.PAUSE: "Pause",
                 Notification.SERVICE_RENEGOTIATION: "ServiceRenegotiation"}
#: the one schedule tuple offered when no schedules are configured
SCHEDULE_TUPLE_ID = 1


class SECC20Session(SECCRole):
    """The charger's side of one ISO 15118-20 session (one TCP/TLS connection)."""

    def __init__(self, protocol: str, evse: EVSEController, config: SECC20Config | None = None,
                 paused: PausedSessions | None = None, hooks: Hooks | None = None) -> None:
        super().__init__()
        self.cfg = config or SECC20Config()
        self.core = Core(protocol, hooks)
        self.evse = evse
        self.dc = self.core.dc
        plain = ServiceID.DC if self.dc else ServiceID.AC
        self.services: tuple[ServiceID, ...] = (plain,) + (
            (ServiceID.DC_BPT if self.dc else ServiceID.AC_BPT,) if self.cfg.bpt else ())
        modes = [ControlMode.SCHEDULED if m == "Scheduled" else ControlMode.DYNAMIC for m in self.cfg.control_modes]
        # the Pricing parameter says which price schedule ScheduleExchangeRes carries: levels when the configured
        # schedules have levels, else absolute prices (the default tuple's zero-fee one included)
        levels = self.cfg.schedules is not None and self.cfg.schedules.charging_schedule.price_schedule is not None \
            and hasattr(self.cfg.schedules.charging_schedule.price_schedule, "number_of_price_levels")
        pricing = Pricing.LEVELS if levels else Pricing.ABSOLUTE
        self.parameter_sets = {s: {p.id: p for p in default_parameter_sets(
            s, control_modes=modes, nominal_voltage=int(evse.limits().nominal_voltage), pricing=pricing)}
            for s in self.services}
        self.paused = paused if paused is not None else PausedSessions()
        #: what ServiceSelection agreed: the service, its control mode, BPT or not
        self.service: ServiceID | None = None
        self.mode = "Scheduled"
        self.bpt = False
        self._se_asked = 0
        self._first_discovery = True
        self._renegotiation_offered = self.cfg.service_renegotiation
        self._ev_max_voltage = 0.0
        self._ac_target = 0.0  # W, EVSETargetActivePower of the last Dynamic AC answer

    # -- drivers ----------------------------------------------------------------------------
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
        if not d.request:
            return out + self._close(Reason.WRONG_MESSAGE, f"{d.element} received by the SECC")
        self.result.messages += 1
        problem = self.core.request_problem(name, d.session_id)
        if problem is not None:
            reason = Reason.UNKNOWN_SESSION if problem == "FAILED_UnknownSession" else Reason.SEQUENCE_ERROR
            return out + self._answer_failed(now, name, problem, reason, f"{name}Req: {problem}")
        handler = _HANDLERS.get(name)
        if handler is None:  # a -20 message this SECC has no service for (WPT, ACDP, ...)
            return out + self._answer_failed(now, name, "FAILED_SequenceError", Reason.SEQUENCE_ERROR,
                                             f"{name}Req: not served by an {self.core.protocol} SECC")
        try:
            code, extra = handler(self, now, d.session_id, req)
        except Exception as e:  # noqa: BLE001 - our handler or our charger failed: a local fault, said so
            out.append(Event("internal_error", {"name": name + "Req", "error": e}))
            return out + self._answer_failed(now, name, "FAILED", Reason.INTERNAL_ERROR,
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
            why, self._why = self._why, ""
            return out + self._close(Reason.REFUSED, f"answered {name}Res with {code}" + (f": {why}" if why else ""))
        if name == "SessionStop":
            session = req.charging_session.name
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

    # -- helpers ------------------------------------------------------------------------------
    def _sequence_timeout(self, name: str) -> float:
        return self.core.sequence_timeout(name, self.cfg.sequence_timeout, self.cfg.loop_sequence_timeout)

    def _ongoing(self, now: float, what: str, limit: float, done: bool) -> tuple[str, str]:
        """(code, processing) with the SECC's own limit: past it, the answer is FAILED."""
        since = self._since.setdefault(what, now)
        if done:
            self._since.pop(what, None)
            return "OK", "Finished"
        if now - since > limit:
            self._why = f"still not finished after {limit:g} s"
            return "FAILED", "Ongoing"
        return "OK", "Ongoing"

    def _notification(self) -> tuple[str | None, int]:
        if self.evse.emergency_shutdown():  # the output is off: the car must stop now, not loop at 0 A
            return "Terminate", 0
        n = _NOTIFICATION.get(self.evse.notification())
        if n == "ServiceRenegotiation" and not self._renegotiation_offered:
            n = None  # [V2G20-1652]: only when the first ServiceDiscoveryRes said it is supported
        return n, (60 if n in ("Pause", "ServiceRenegotiation") else 0)

    def _discharge_limits(self) -> tuple[float, float]:
        """(max discharge power W, max discharge current A) of the charger: a BPT charger says; another
        mirrors its charge limits (the session offers no BPT service then anyway)."""
        if isinstance(self.evse, BidirectionalEVSE):
            lim = self.evse.discharge_limits()
            return lim.max_power, lim.max_current
        lim = self.evse.limits()
        return lim.max_power, lim.max_current

    def _meter(self) -> msg.MeterInfo:
        exported = self.evse.exported_wh() if isinstance(self.evse, BidirectionalEVSE) and self.bpt else None
        return msg.MeterInfo(self.cfg.meter_id, int(self.evse.meter_wh()),
                             discharged_wh=None if exported is None else int(exported))

    # -- request handlers: side effects, then (response code, what the builder needs) -------------
    def _on_session_setup(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        if sid != bytes(len(sid)):
            info = self.paused.resume(now, sid)
            if info is not None and info.get("protocol") == self.core.protocol:
                self.core.session_id = sid
                self.service, self.mode, self.bpt = info["service"], info["mode"], info["bpt"]
                self._first_discovery = False
                return "OK_OldSessionJoined", None
        self.core.session_id = self.cfg.session_id or self.core.hooks.random_bytes(8)
        return "OK_NewSessionEstablished", None

    def _on_authorization_setup(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        return "OK", None

    def _on_authorization(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        if req.selected_authorization_service.name != "EIM":
            self._why = "only EIM is offered"
            return "WARNING_AuthorizationSelectionInvalid", "Finished"
        ok = self.evse.authorized()
        if ok is False:  # [V2G20-2219]: Finished with the warning; the EV may try again or stop
            return "WARNING_EIMAuthorizationFailure", "Finished"
        return self._ongoing(now, "Authorization", self.cfg.ongoing_limit, ok is True)

    def _on_service_discovery(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        # only the first ServiceDiscoveryRes of a session says whether renegotiation is supported ([V2G20-1480])
        if self._first_discovery:
            self._first_discovery = False
            self._renegotiation_offered = self.cfg.service_renegotiation
        return "OK", None

    def _on_service_detail(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        if req.service_id not in self.parameter_sets:
            self._why = f"ServiceID {req.service_id} not offered ({', '.join(s.name for s in self.services)})"
            return "FAILED_ServiceIDInvalid", req.service_id
        return "OK", req.service_id

    def _on_service_selection(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        sel = req.selected_energy_transfer_service
        sets = self.parameter_sets.get(sel.service_id)
        if sets is None:
            self._why = f"ServiceID {sel.service_id} is no energy service offered here"
            return "FAILED_NoEnergyTransferServiceSelected", None
        ps = sets.get(sel.parameter_set_id)
        if ps is None or req.selected_vas_list is not None and req.selected_vas_list.selected_service:
            self._why = f"ParameterSetID {sel.parameter_set_id} of ServiceID {sel.service_id} not offered" \
                if ps is None else "no value-added services are offered"
            return "FAILED_ServiceSelectionInvalid", None
        self.service = ServiceID(sel.service_id)
        self.bpt = self.service in BPT_SERVICES
        self.mode = "Dynamic" if ps.control_mode == ControlMode.DYNAMIC else "Scheduled"
        return "OK", None

    def _on_dc_charge_parameter_discovery(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        bpt = msg.is_bpt(req)
        if bpt != self.bpt:
            self._why = f"{'BPT' if bpt else 'plain'} parameters for {self.service.name if self.service else '?'}"
            return "FAILED_WrongChargeParameter", None
        mode = req.bpt_dc_cpd_req_energy_transfer_mode or req.dc_cpd_req_energy_transfer_mode
        self._ev_max_voltage = msg.value_of(mode.ev_maximum_voltage)
        return "OK", None

    def _on_ac_charge_parameter_discovery(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        bpt = msg.is_bpt(req)
        if bpt != self.bpt:
            self._why = f"{'BPT' if bpt else 'plain'} parameters for {self.service.name if self.service else '?'}"
            return "FAILED_WrongChargeParameter", None
        return "OK", None

    def _on_schedule_exchange(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        mode = msg.control_mode(req)
        if mode != self.mode:
            self._why = f"{mode} mobility needs in a {self.mode} session"
            return "FAILED", "Finished"
        self._se_asked += 1
        done = self._se_asked > self.cfg.schedule_exchange_ongoing
        code, processing = self._ongoing(now, "ScheduleExchange", self.cfg.ongoing_limit, done)
        if processing == "Finished" and isinstance(self.evse, EVSE20Controller):
            if self.mode == "Scheduled":  # the offered tuple goes into force with PowerDelivery(Start)
                t = self._schedule_tuple()
                charge = t.charging.entries[0].power if t.charging.entries else 0.0
                discharge = abs(t.discharging.entries[0].power) if t.discharging and t.discharging.entries else 0.0
                self.evse.set_power_limits(charge, discharge if self.bpt else 0.0)
            else:
                self.evse.set_ev_request(_energy_request(req.dynamic_se_req_control_mode),
                                         self.evse.limits().max_power, 0.0)
        return code, processing

    def _on_dc_cable_check(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        if "DC_CableCheck" not in self._since:
            self.evse.start_cable_check(min(self._ev_max_voltage or 500.0, self.evse.limits().max_voltage))
        if self.evse.isolation() is Isolation.FAULT:
            self._since.pop("DC_CableCheck", None)
            self._why = "isolation fault"
            return "FAILED", "Finished"
        return self._ongoing(now, "DC_CableCheck", self.cfg.cable_check_limit, self.evse.cable_check_done())

    def _on_dc_pre_charge(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        self.evse.set_output(msg.value_of(req.ev_target_voltage), 2.0)
        return "OK", None

    def _on_power_delivery(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        progress = msg.charge_progress(req)
        if progress == "Start":
            if self.evse.emergency_shutdown():
                return "FAILED_PowerDeliveryNotApplied", None
            profile = req.ev_power_profile
            if self.mode == "Scheduled" and profile is not None and profile.scheduled_evppt_control_mode is not None:
                chosen = profile.scheduled_evppt_control_mode.selected_schedule_tuple_id
                offered = self._schedule_tuple().id
                if chosen != offered:
                    self._why = f"SelectedScheduleTupleID {chosen}, offered {offered}"
                    return "FAILED_ScheduleSelectionInvalid", None
            if not self.dc:
                lim = self.evse.limits()
                self.evse.set_output(lim.nominal_voltage, lim.max_current)
            return "OK", None
        if progress == "Standby":
            return ("OK", None) if self.cfg.standby else ("WARNING_StandbyNotAllowed", None)
        self.evse.stop_output()
        if progress == "ScheduleRenegotiation":
            self._se_asked = self.cfg.schedule_exchange_ongoing  # the backend already knows this car
        clear = getattr(self.evse, "clear_notification", None)
        if clear is not None and progress == "ScheduleRenegotiation":
            clear()
        return "OK", None

    def _loop_variant_problem(self, req: Any) -> str | None:
        mode, bpt = msg.variant(req)
        if mode != self.mode or bpt != self.bpt:
            return (f"{'BPT_' if bpt else ''}{mode} loop request in a {'BPT_' if self.bpt else ''}{self.mode} "
                    f"session")
        return None

    def _loop_check(self, req: Any) -> tuple[str, Any] | None:
        """The answer a charge-loop request gets before any power is set: FAILED when it is not the agreed
        variant; OK with the output off in an emergency (the answer's notification tells the car)."""
        problem = self._loop_variant_problem(req)
        if problem:
            self._why = problem
            return "FAILED", None
        if self.evse.emergency_shutdown():
            self.evse.stop_output()
            return "OK", req
        return None

    def _on_dc_charge_loop(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        early = self._loop_check(req)
        if early is not None:
            return early
        evse = self.evse
        lim = evse.limits()
        if self.mode == "Scheduled":
            cm = req.bpt_scheduled_dc_cl_req_control_mode or req.scheduled_dc_cl_req_control_mode
            voltage, current = msg.value_of(cm.ev_target_voltage), msg.value_of(cm.ev_target_current)
        else:  # Dynamic: the charger decides the power; the EV only gives its limits and needs
            cm = req.bpt_dynamic_dc_cl_req_control_mode or req.dynamic_dc_cl_req_control_mode
            present = msg.value_of(req.ev_present_voltage) or msg.value_of(cm.ev_maximum_voltage)
            ev_charge = msg.value_of(cm.ev_maximum_charge_power)
            ev_discharge = msg.value_of(getattr(cm, "ev_maximum_discharge_power", None)) if self.bpt else 0.0
            if isinstance(evse, EVSE20Controller):
                evse.set_ev_request(_energy_request(cm), ev_charge, ev_discharge)
                power = evse.target_power()
            else:
                power = min(ev_charge, lim.max_power)
            current = power / present if present > 0 else 0.0
            if current >= 0:
                current = min(current, msg.value_of(cm.ev_maximum_charge_current), lim.max_current)
            else:
                current = max(current, -msg.value_of(getattr(cm, "ev_maximum_discharge_current", None)))
            # a current source at the battery's voltage (within both sides' maximum)
            voltage = min(present, msg.value_of(cm.ev_maximum_voltage), lim.max_voltage)
        if current < 0 and not (self.bpt and isinstance(evse, BidirectionalEVSE)):
            current = 0.0
        evse.set_output(voltage, current)
        return "OK", req

    def _on_ac_charge_loop(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        early = self._loop_check(req)
        if early is not None:
            return early
        evse = self.evse
        lim = evse.limits()
        voltage, phases = lim.nominal_voltage, max(1, lim.phases)
        if self.mode == "Dynamic":  # the charger decides (EVSETargetActivePower); the car follows
            cm = (req.bpt_dynamic_ac_cl_req_control_mode or req.dynamic_ac_cl_req_control_mode)
            power = lim.max_power
            if isinstance(evse, EVSE20Controller):
                ev_discharge = msg.value_of(getattr(cm, "ev_maximum_discharge_power", None)) if self.bpt else 0.0
                evse.set_ev_request(_energy_request(cm), msg.value_of(cm.ev_maximum_charge_power), ev_discharge)
                power = evse.target_power()
            self._ac_target = power
        else:  # the car draws what it wants within the schedule: its present power is the output
            cm = (req.bpt_scheduled_ac_cl_req_control_mode or req.scheduled_ac_cl_req_control_mode)
            power = msg.value_of(cm.ev_present_active_power) + msg.value_of(
                getattr(cm, "ev_present_active_power_l2", None)) + msg.value_of(
                getattr(cm, "ev_present_active_power_l3", None))
            if not isinstance(evse, EVSE20Controller):
                power = lim.max_power  # a plain charger offers its maximum; the car takes what it wants
        if power < 0 and not (self.bpt and isinstance(evse, BidirectionalEVSE)):
            power = 0.0
        evse.set_output(voltage, power / (voltage * phases))
        return "OK", req

    def _on_metering_confirmation(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        data = req.signed_metering_data
        if data.session_id != self.session_id:
            self._why = "SignedMeteringData of another session"
            return "FAILED", None
        clear = getattr(self.evse, "clear_notification", None)
        if clear is not None:
            clear()
        return "OK", None

    def _on_dc_welding_detection(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        return "OK", None

    def _on_session_stop(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        session = req.charging_session.name
        self.evse.stop_output()
        if session == "ServiceRenegotiation":
            if not self._renegotiation_offered:
                self._why = "ServiceRenegotiationSupported was false"
                return "FAILED_NoServiceRenegotiationSupported", None
            clear = getattr(self.evse, "clear_notification", None)
            if clear is not None:
                clear()
            return "OK", None
        if session == "Pause":
            self.paused.pause(now, self.session_id, {"protocol": self.core.protocol, "service": self.service,
                                                     "mode": self.mode, "bpt": self.bpt,
                                                     "energy_wh": self.evse.meter_wh()})
            self.result.paused = True
        return "OK", None

    # -- response builders: from the session's state only (FAILED answers included) -------------------
    def _response(self, name: str, code: str, extra: Any) -> Any:
        evse, cfg = self.evse, self.cfg
        if name == "SessionSetup":
            return msg.session_setup_res(code, cfg.evse_id)
        if name == "AuthorizationSetup":
            return msg.authorization_setup_res(code, ("EIM",))
        if name == "Authorization":
            return msg.authorization_res(code, extra or "Finished")
        if name == "ServiceDiscovery":
            return msg.service_discovery_res(code, [msg.Service(int(s)) for s in self.services] if not
                                             msg.is_failed(code) else (), renegotiation=self._renegotiation_offered)
        if name == "ServiceDetail":
            sets = self.parameter_sets.get(extra, {}) if extra is not None else {}
            return msg.service_detail_res(code, extra or 0, list(sets.values()) if not msg.is_failed(code) else ())
        if name == "ServiceSelection":
            return msg.service_selection_res(code)
        if name == "DC_ChargeParameterDiscovery":
            lim = evse.limits()
            values = {"max_charge_power": lim.max_power, "min_charge_power": 0.0,
                      "max_charge_current": lim.max_current, "min_charge_current": lim.min_current,
                      "max_voltage": lim.max_voltage, "min_voltage": lim.min_voltage}
            if self.bpt:
                p, i = self._discharge_limits()
                values.update(max_discharge_power=p, min_discharge_power=0.0, max_discharge_current=i,
                              min_discharge_current=0.0)
            return msg.dc_charge_parameter_res(code, self.bpt, **values)
        if name == "AC_ChargeParameterDiscovery":
            lim = evse.limits()
            per_phase = lim.max_power / max(1, lim.phases)
            values = {"max_charge_power": (per_phase,) * 3 if lim.phases == 3 else per_phase,
                      "min_charge_power": 0.0, "nominal_frequency": 50.0}
            if self.bpt:
                p, _ = self._discharge_limits()
                values.update(max_discharge_power=p / max(1, lim.phases), min_discharge_power=0.0)
            return msg.ac_charge_parameter_res(code, self.bpt, **values)
        if name == "ScheduleExchange":
            processing = extra or "Finished"
            if self.mode == "Dynamic":
                price = None
                if self.cfg.schedules is not None and not msg.is_failed(code) and processing == "Finished":
                    price = tariffs.price_schedule(self.cfg.schedules.charging_schedule.price_schedule)
                return msg.schedule_exchange_res(code, processing, "Dynamic", price=price)
            tuples = () if msg.is_failed(code) or processing != "Finished" else (self._schedule_tuple(),)
            return msg.schedule_exchange_res(code, processing, "Scheduled", tuples)
        if name == "DC_CableCheck":
            return msg.dc_cable_check_res(code, extra or "Finished")
        if name == "DC_PreCharge":
            return msg.dc_pre_charge_res(code, evse.present()[0])
        if name == "PowerDelivery":
            n, delay = self._notification() if not msg.is_failed(code) else (None, 0)
            return msg.power_delivery_res(code, n, delay)
        if name == "DC_ChargeLoop":
            return self._dc_loop_res(code, extra)
        if name == "AC_ChargeLoop":
            return self._ac_loop_res(code, extra)
        if name == "MeteringConfirmation":
            return msg.metering_confirmation_res(code)
        if name == "DC_WeldingDetection":
            return msg.dc_welding_detection_res(code, evse.present()[0])
        if name == "SessionStop":
            return msg.session_stop_res(code)
        return msg.minimal(name, False, code, self.mode, self.bpt)

    def _schedule_tuple(self) -> msg.ScheduleTuple:
        if self.cfg.schedules is not None:
            return tariffs.schedule_tuple(self.cfg.schedules, self.bpt)
        lim = self.evse.limits()
        charging = msg.PowerSchedule((msg.PowerEntry(self.cfg.schedule_duration, lim.max_power),))
        discharging = None
        if self.bpt:
            p, _ = self._discharge_limits()
            discharging = msg.PowerSchedule((msg.PowerEntry(self.cfg.schedule_duration, -p),))
        # [V2G20-2176]: the SECC provides a price schedule with each schedule; without a tariff it is free
        free = msg.AbsolutePriceSchedule(1, (msg.PriceRuleStack(self.cfg.schedule_duration, (msg.PriceRule(0.0),)),),
                                         description="no tariff configured")
        return msg.ScheduleTuple(SCHEDULE_TUPLE_ID, charging, free, discharging, free if discharging else None)

    def _dc_loop_res(self, code: str, req: Any) -> Any:
        evse = self.evse
        if req is None or msg.is_failed(code):
            return msg.dc_charge_loop_res(code, self.mode, self.bpt, **self._dynamic_defaults(dc=True))
        lim = evse.limits()
        v, i = evse.present()
        achieved = evse.limits_achieved()
        n, delay = self._notification()
        values: dict[str, Any] = {"max_charge_power": lim.max_power, "min_charge_power": 0.0,
                                  "max_charge_current": lim.max_current, "max_voltage": lim.max_voltage}
        if self.bpt:
            p, di = self._discharge_limits()
            values.update(max_discharge_power=p, min_discharge_power=0.0, max_discharge_current=di,
                          min_voltage=lim.min_voltage)
        if self.mode == "Dynamic":
            values["ack_max_delay"] = self.cfg.ack_max_delay
        meter = self._meter() if req.meter_info_requested else None
        return msg.dc_charge_loop_res(code, self.mode, self.bpt, present_voltage=v, present_current=i,
                                      current_limit_achieved=achieved[0], voltage_limit_achieved=achieved[1],
                                      power_limit_achieved=achieved[2], notification=n, max_delay=delay,
                                      meter=meter, **values)

    def _ac_loop_res(self, code: str, req: Any) -> Any:
        if req is None or msg.is_failed(code):
            values = self._dynamic_defaults(dc=False)
            if self.mode == "Dynamic":
                values["target_active_power"] = 0.0
            return msg.ac_charge_loop_res(code, self.mode, self.bpt, **values)
        lim = self.evse.limits()
        v, i = self.evse.present()
        n, delay = self._notification()
        present = sum(self.evse.present_power()) if isinstance(self.evse, EVSE20Controller) else v * i * lim.phases
        values: dict[str, Any] = {"present_active_power": present}
        if self.mode == "Dynamic":
            values.update(ack_max_delay=self.cfg.ack_max_delay, target_active_power=self._ac_target)
        meter = self._meter() if req.meter_info_requested else None
        return msg.ac_charge_loop_res(code, self.mode, self.bpt, notification=n, max_delay=delay, meter=meter,
                                      **values)

    def _dynamic_defaults(self, dc: bool) -> dict[str, Any]:
        """The mandatory fields of a Dynamic loop answer when it carries nothing else (FAILED), for the
        response being built (a DC session may have to answer an out-of-sequence AC_ChargeLoopReq)."""
        if self.mode != "Dynamic":
            return {}
        if not dc:
            return {"ack_max_delay": 0}
        return {"ack_max_delay": 0, "max_charge_power": 0.0, "min_charge_power": 0.0, "max_charge_current": 0.0,
                "max_voltage": 0.0}


def _energy_request(cm: Any) -> EnergyRequest:
    """The car's mobility needs from a Dynamic ScheduleExchangeReq or charge-loop request (Wh, s, %)."""
    def v(name: str) -> float | None:
        x = getattr(cm, name, None)
        return None if x is None else msg.value_of(x)

    return EnergyRequest(target=v("ev_target_energy_request") or 0.0, maximum=v("ev_maximum_energy_request") or 0.0,
                         minimum=v("ev_minimum_energy_request") or 0.0,
                         departure_time=getattr(cm, "departure_time", None),
                         maximum_v2x=v("ev_maximum_v2_x_energy_request"), minimum_v2x=v("ev_minimum_v2_x_energy_request"),
                         target_soc=getattr(cm, "target_soc", None), minimum_soc=getattr(cm, "minimum_soc", None))


_HANDLERS = {
    "SessionSetup": SECC20Session._on_session_setup,
    "AuthorizationSetup": SECC20Session._on_authorization_setup,
    "Authorization": SECC20Session._on_authorization,
    "ServiceDiscovery": SECC20Session._on_service_discovery,
    "ServiceDetail": SECC20Session._on_service_detail,
    "ServiceSelection": SECC20Session._on_service_selection,
    "DC_ChargeParameterDiscovery": SECC20Session._on_dc_charge_parameter_discovery,
    "AC_ChargeParameterDiscovery": SECC20Session._on_ac_charge_parameter_discovery,
    "ScheduleExchange": SECC20Session._on_schedule_exchange,
    "DC_CableCheck": SECC20Session._on_dc_cable_check,
    "DC_PreCharge": SECC20Session._on_dc_pre_charge,
    "PowerDelivery": SECC20Session._on_power_delivery,
    "DC_ChargeLoop": SECC20Session._on_dc_charge_loop,
    "AC_ChargeLoop": SECC20Session._on_ac_charge_loop,
    "MeteringConfirmation": SECC20Session._on_metering_confirmation,
    "DC_WeldingDetection": SECC20Session._on_dc_welding_detection,
    "SessionStop": SECC20Session._on_session_stop,
}
