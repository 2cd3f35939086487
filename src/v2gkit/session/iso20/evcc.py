"""The car's policy for ISO 15118-20 sessions (AC, DC, AC_BPT, DC_BPT; Scheduled and Dynamic control mode; EIM).

The rules, SessionID, codec and exit are the shared :class:`~.core.Core`'s, which also checks this plan
against the rules the SECC enforces. ``PLAN`` names, per response, the method that picks the next request.
The flow (``*``: may repeat): SessionSetup, AuthorizationSetup, Authorization*, ServiceDiscovery,
ServiceDetail, ServiceSelection, {AC,DC}_ChargeParameterDiscovery, ScheduleExchange*, DC: DC_CableCheck*,
DC_PreCharge*; PowerDelivery(Start), {AC,DC}_ChargeLoop*, PowerDelivery(Stop), DC: DC_WeldingDetection*;
SessionStop (Terminate, Pause, or ServiceRenegotiation back to ServiceDiscovery on the same connection).
A FAILED_* answer ends the session ([V2G20-1967]); a rejected EIM authorization (WARNING_EIMAuthorizationFailure)
ends it with SessionStop.
"""

from __future__ import annotations

from typing import Any

from ...controllers import (
    NOMINAL_AC_VOLTAGE,
    BidirectionalEV,
    CPState,
    EV20Controller,
    EVController,
    PowerSetpoint,
)
from ...exi.errors import ExiError
from ..events import Event, Message, Output, Reason, Received, Timer
from ..hooks import Hooks
from ..roles import EVCCRole, Stop
from . import messages as msg
from .config import EVCC20Config
from .core import Core, MessageError
from .services import AC_SERVICES, BPT_SERVICES, DC_SERVICES, ControlMode, ServiceID, parameter_sets_of

__all__ = ["PLAN", "EVCC20Session"]

PLAN: dict[str, str] = {
    "SessionSetup": "_after_session_setup",  # -> AuthorizationSetup | CPD (resumed)
    "AuthorizationSetup": "_after_authorization_setup",  # -> Authorization (EIM)
    "Authorization": "_after_authorization",  # Ongoing -> Authorization; Finished -> ServiceDiscovery
    "ServiceDiscovery": "_after_service_discovery",  # -> ServiceDetail of the energy service wanted
    "ServiceDetail": "_after_service_detail",  # -> ServiceSelection with a parameter set of the control mode
    "ServiceSelection": "_after_service_selection",  # -> {AC,DC}_ChargeParameterDiscovery
    "DC_ChargeParameterDiscovery": "_after_charge_parameters",  # -> ScheduleExchange
    "AC_ChargeParameterDiscovery": "_after_charge_parameters",
    "ScheduleExchange": "_after_schedule_exchange",  # Ongoing -> again; -> DC_CableCheck | PowerDelivery
    "DC_CableCheck": "_after_cable_check",  # Ongoing -> again; Finished -> DC_PreCharge
    "DC_PreCharge": "_after_pre_charge",  # until the voltage matches -> PowerDelivery(Start)
    "PowerDelivery": "_after_power_delivery",  # Start -> loop; Stop -> welding/SessionStop; renegotiation
    "DC_ChargeLoop": "_after_loop",  # -> loop | MeteringConfirmation | PowerDelivery(Stop/renegotiation)
    "AC_ChargeLoop": "_after_loop",
    "MeteringConfirmation": "_after_loop",
    "DC_WeldingDetection": "_after_welding",  # -> again until < welding_voltage, then SessionStop
    "SessionStop": "_after_session_stop",  # -> end, or ServiceDiscovery after ServiceRenegotiation
}

#: requests the EVCC repeats, pausing loop_interval between rounds
_LOOPS = frozenset({"Authorization", "ScheduleExchange", "DC_CableCheck", "DC_PreCharge", "DC_ChargeLoop",
                    "AC_ChargeLoop", "DC_WeldingDetection"})


def _entries(schedule: Any) -> list[tuple[int, float]]:
    """(duration s, W) of a ChargingSchedule/DischargingSchedule's PowerSchedule ([] when absent)."""
    if schedule is None:
        return []
    return [(e.duration, msg.value_of(e.power)) for e in schedule.power_schedule.power_schedule_entries.power_schedule_entry]


class EVCC20Session(EVCCRole):
    """The car's side of one ISO 15118-20 session: it leads, the SECC answers."""

    def __init__(self, protocol: str, ev: EVController, config: EVCC20Config | None = None,
                 hooks: Hooks | None = None) -> None:
        super().__init__()
        self.cfg = config or EVCC20Config()
        self.core = Core(protocol, hooks)
        self.dc = self.core.dc
        self.ev = ev
        if self.cfg.resume_session_id is not None:
            self.core.session_id = self.cfg.resume_session_id
        #: what was agreed: the service, the control mode, BPT or not; the SECC's first word on renegotiation
        self.service: ServiceID | None = None
        self.mode = self.cfg.control_mode
        self.bpt = False
        self.renegotiation_supported: bool | None = None
        self._parameter_set = 0
        self._progress = "Start"
        self._stop_session = "Terminate"  # what SessionStop will say
        self._welding = 0
        self._pre_charged = False
        self._give_up = ""
        self._ac_voltage = NOMINAL_AC_VOLTAGE
        self._ac_target_power: float | None = None
        self._schedule_id = 1
        #: the selected schedule tuple's (duration, W) entries, charging and discharging, and when they began
        self._charging: list[tuple[int, float]] = []
        self._discharging: list[tuple[int, float]] = []
        self._schedule_start: float | None = None
        self._now = 0.0
        #: the EVSE notification of the last answer that carried one, for live views
        self.evse_notification: str | None = None

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
            return self._end(Reason.UNDECODABLE, f"undecodable response: {e}")
        name, res = d.name, d.body
        out: list[Output] = [Timer("response", None), Received(d.element, res, m.payload_type)]
        strict = self.core.strict
        if d.request or (strict and name != self.pending) or name not in PLAN:
            return out + self._end(Reason.WRONG_MESSAGE, f"expected {self.pending}Res, got {d.element}")
        self.result.messages += 1
        req, self.pending = self._pending_body, None
        code = msg.response_code(res)
        if name == "SessionSetup":
            if strict and code == "OK_OldSessionJoined" and d.session_id != self.session_id:
                return out + self._end(Reason.UNKNOWN_SESSION, "OK_OldSessionJoined with another SessionID")
            if len(d.session_id) != 8:  # read leniently, but every request must carry it (sessionIDType: 8 octets)
                return out + self._end(Reason.UNUSABLE, f"SessionSetupRes carries a SessionID of "
                                                        f"{len(d.session_id)} octets, not 8")
            self.core.session_id = d.session_id
        elif strict and d.session_id != self.session_id:
            return out + self._end(Reason.UNKNOWN_SESSION, f"{d.element} carries SessionID "
                                                           f"{d.session_id.hex()}, not {self.session_id.hex()}")
        if msg.is_failed(code):  # [V2G20-1967]: FAILED ends the session
            return out + self._end(Reason.FAILED_RESPONSE, f"SECC answered {d.element} with {code}")
        try:
            self.core.done(name, req, res)
            nxt = getattr(self, PLAN[name])(now, res, code)
        except Stop as stop:
            return out + self._end(stop.reason, stop.detail)
        except Exception as e:  # noqa: BLE001 - our plan or our car failed on a valid answer: a local fault
            out.append(Event("internal_error", {"name": d.element, "error": e}))
            return out + self._end(Reason.INTERNAL_ERROR, f"internal error: after {d.element}: "
                                                          f"{type(e).__name__}: {e}")
        if nxt is None:
            reason = Reason.PAUSED if self._stop_session == "Pause" else Reason.TERMINATED
            return out + self._end(reason)
        return out + self._go_on(now, name, nxt, _LOOPS, "MeteringConfirmation")

    # -- helpers ----------------------------------------------------------------------------
    def _request(self, now: float, name: str) -> list[Output]:
        self._now = now  # the schedule in force is the one at the time of the request
        return super()._request(now, name)

    # -- the car's values -------------------------------------------------------------------------
    def _discharge(self) -> tuple[float, float]:
        """(max discharge power W, max discharge current A): a bidirectional car says, others give 0."""
        if not isinstance(self.ev, BidirectionalEV):
            return 0.0, 0.0
        lim = self.ev.discharge_limits()
        return lim.max_power, lim.max_current

    def _energy(self, v2x: bool = False) -> dict[str, Any]:
        """The mobility needs: energy requests (Wh), departure time (s from now) and, with ``v2x`` (BPT), the
        V2X energy requests. A -20 car says them (EV20Controller.energy_request); for another they follow from
        its SOC, capacity and target. Dynamic mode needs a DepartureTime: the configured default when the car
        has none."""
        ev = self.ev
        socs: dict[str, Any] = {}
        if isinstance(ev, EV20Controller):
            r = ev.energy_request()
            values: dict[str, Any] = {"target_energy_request": r.target, "max_energy_request": r.maximum,
                                      "min_energy_request": r.minimum}
            departure = r.departure_time
            if v2x:
                values.update(max_v2x_energy_request=r.maximum_v2x if r.maximum_v2x is not None else r.maximum,
                              min_v2x_energy_request=r.minimum_v2x if r.minimum_v2x is not None else r.minimum)
            socs = {"target_soc": r.target_soc, "min_soc": r.minimum_soc}
        else:
            lim = ev.limits()
            cap = lim.energy_capacity or 0.0
            soc = ev.soc()
            target = getattr(ev, "target_soc", lim.full_soc)
            wanted = max(0.0, (target - soc) / 100.0 * cap) if cap else lim.energy_request
            full = max(0.0, (100.0 - soc) / 100.0 * cap) if cap else wanted
            values = {"target_energy_request": wanted, "max_energy_request": full, "min_energy_request": 0.0}
            departure = lim.departure_time
            if v2x:
                values.update(max_v2x_energy_request=full, min_v2x_energy_request=0.0)
            socs = {"target_soc": target}
        if departure is None and self.mode == "Dynamic":
            departure = self.cfg.departure_time
        if departure is not None:
            values["departure_time"] = int(departure)
        self._socs = {k: round(v) for k, v in socs.items() if v is not None}
        return values

    _socs: dict[str, int] = {}  # noqa: RUF012 - replaced by _energy
    _meter: msg.MeterInfo | None = None  # the last MeterInfo the SECC sent (what MeteringConfirmation signs)
    _evse_max_current: float | None = None  # A: DC_ChargeParameterDiscoveryRes EVSEMaximumChargeCurrent

    def _setpoint(self, target: float | None = None) -> PowerSetpoint:
        """The schedule entry in force since PowerDelivery(Start) (Scheduled), or the SECC's limits."""
        # Dynamic mode has no schedule: the car's own discharge limit bounds what the SECC may ask of it
        discharge = self._discharge()[0] if self.mode == "Dynamic" and self.bpt else 0.0
        return PowerSetpoint(self._in_force(self._charging, self.ev.limits().max_power),
                             self._in_force(self._discharging, discharge), target)

    def _in_force(self, entries: list[tuple[int, float]], default: float) -> float:
        if not entries or self._schedule_start is None:
            return default
        t = self._now - self._schedule_start
        for duration, power in entries:
            if t < duration:
                return abs(power)
            t -= duration
        return 0.0

    def _power(self, target: float | None = None) -> float:
        """Signed W the car takes now: what an EV20Controller wants within the setpoint; another charges at
        its own pace."""
        if isinstance(self.ev, EV20Controller):
            return self.ev.power_wanted(self._setpoint(target))
        return self.ev.limits().max_power if target is None else max(0.0, target)

    def _build(self, name: str) -> Any:
        ev, mode, bpt = self.ev, self.mode, self.bpt
        if name == "SessionSetup":
            return msg.session_setup_req(ev.evcc_id.hex().upper() if isinstance(ev.evcc_id, bytes) else str(ev.evcc_id))
        if name == "AuthorizationSetup":
            return msg.authorization_setup_req()
        if name == "Authorization":
            return msg.authorization_req()
        if name == "ServiceDiscovery":
            return msg.service_discovery_req()
        if name == "ServiceDetail":
            return msg.service_detail_req(int(self.service))  # type: ignore[arg-type]
        if name == "ServiceSelection":
            return msg.service_selection_req(int(self.service), self._parameter_set)  # type: ignore[arg-type]
        lim = ev.limits()
        if name == "DC_ChargeParameterDiscovery":
            values = {"max_charge_power": lim.max_power, "min_charge_power": 0.0, "max_charge_current": lim.max_current,
                      "min_charge_current": 0.0, "max_voltage": lim.max_voltage, "min_voltage": 0.0,
                      "target_soc": int(getattr(ev, "target_soc", lim.full_soc))}
            if bpt:
                p, i = self._discharge()
                values.update(max_discharge_power=p, min_discharge_power=0.0, max_discharge_current=i,
                              min_discharge_current=0.0)
            return msg.dc_charge_parameter_req(bpt, **values)
        if name == "AC_ChargeParameterDiscovery":
            values = {"max_charge_power": lim.max_power, "min_charge_power": 0.0}
            if bpt:
                values.update(max_discharge_power=self._discharge()[0], min_discharge_power=0.0)
            return msg.ac_charge_parameter_req(bpt, **values)
        if name == "ScheduleExchange":
            values = self._energy(v2x=bpt and mode == "Dynamic")
            if mode == "Dynamic":
                values.update(self._socs)
            return msg.schedule_exchange_req(mode, self.cfg.max_supporting_points, **values)
        if name == "DC_CableCheck":
            return msg.dc_cable_check_req()
        if name == "DC_PreCharge":
            target = ev.precharge_target()[0]
            present = ev.present_voltage() if isinstance(ev, EV20Controller) else target
            return msg.dc_pre_charge_req(present, target, "Finished" if self._pre_charged else "Ongoing")
        if name == "PowerDelivery":
            profile = None
            if self._progress == "Start":  # the profile stays within the chosen schedule's charging power
                entries = tuple(msg.PowerEntry(d, min(lim.max_power, abs(p))) for d, p in self._charging) if \
                    self._charging and self.mode == "Scheduled" else (msg.PowerEntry(86400, lim.max_power),)
                # PowerToleranceAcceptance is optional in the XSD, but Josev 0.31.2's SECC refuses a Scheduled
                # profile without it; confirming the tolerance of the schedule we chose is what a car means
                profile = msg.PowerProfile(entries, mode, self._schedule_id,
                                           "PowerToleranceConfirmed" if mode == "Scheduled" else None)
            channel = None
            if bpt and self._progress == "Start":
                channel = "Discharge" if self._power() < 0 else "Charge"
            return msg.power_delivery_req(self._progress, "Finished", profile, channel)
        if name == "DC_ChargeLoop":
            return self._dc_loop_req()
        if name == "AC_ChargeLoop":
            return self._ac_loop_req()
        if name == "MeteringConfirmation":  # the car confirms the reading the SECC sent, not one of its own
            meter = self._meter or msg.MeterInfo("unknown", 0)
            return msg.metering_confirmation_req(self.session_id, meter, mode, self._schedule_id)
        if name == "DC_WeldingDetection":
            return msg.dc_welding_detection_req("Ongoing")
        if name == "SessionStop":
            return msg.session_stop_req(self._stop_session)
        raise ValueError(name)

    def _display(self) -> msg.DisplayParameters:
        ev = self.ev
        return msg.DisplayParameters(present_soc=int(ev.soc()), target_soc=int(getattr(ev, "target_soc", 100)),
                                     charging_complete=ev.charging_complete())

    def _dc_loop_req(self) -> Any:
        ev, lim = self.ev, self.ev.limits()
        present = ev.present_voltage() if isinstance(ev, EV20Controller) else ev.precharge_target()[0]
        values: dict[str, Any] = {}
        if self.mode == "Scheduled":
            voltage, current = ev.target()
            if isinstance(ev, EV20Controller) and present > 0:
                power = self._power()
                current = min(current, power / present) if power >= 0 else power / present
            elif current > 0:  # within the schedule in force and what the SECC can give
                allowed = self._in_force(self._charging, float("inf"))
                if voltage > 0 and allowed != float("inf"):
                    current = min(current, allowed / voltage)
            if self._evse_max_current is not None and current > self._evse_max_current:
                current = self._evse_max_current
            values.update(target_voltage=voltage, target_current=current)
        else:
            values.update(self._energy(v2x=self.bpt))
            values.update(max_charge_power=lim.max_power, min_charge_power=0.0, max_charge_current=lim.max_current,
                          max_voltage=lim.max_voltage, min_voltage=0.0)
        if self.bpt:
            p, i = self._discharge()
            values.update(max_discharge_power=p, min_discharge_power=0.0, max_discharge_current=i)
        return msg.dc_charge_loop_req(self.mode, self.bpt, present_voltage=present,
                                      meter_info_requested=self.cfg.meter_info_requested, display=self._display(),
                                      **values)

    def _ac_loop_req(self) -> Any:
        ev = self.ev
        v, i = self._present
        present = ev.present_power() if isinstance(ev, EV20Controller) else v * i * self._phases()
        values: dict[str, Any] = {"present_active_power": present}
        if self.mode == "Dynamic":
            lim = ev.limits()
            values.update(self._energy(v2x=self.bpt))
            values.update(max_charge_power=lim.max_power, min_charge_power=0.0, present_reactive_power=0.0)
            if self.bpt:
                values.update(max_discharge_power=self._discharge()[0], min_discharge_power=0.0)
        return msg.ac_charge_loop_req(self.mode, self.bpt, meter_info_requested=self.cfg.meter_info_requested,
                                      display=self._display(), **values)

    def _phases(self) -> int:
        return int(getattr(self.ev, "ac_phases", 3))

    # -- the plan -----------------------------------------------------------------------------
    def _after_session_setup(self, now: float, res: Any, code: str) -> str:
        if code == "OK_OldSessionJoined":
            if self.service is None:  # a fresh EVCC rejoining: what it agreed is what it is configured for
                bpt = self.cfg.bpt
                self.service = (ServiceID.DC_BPT if bpt else ServiceID.DC) if self.dc else (
                    ServiceID.AC_BPT if bpt else ServiceID.AC)
                self.bpt, self.mode = bpt, self.cfg.control_mode
            return self._cpd()
        return "AuthorizationSetup"

    def _after_authorization_setup(self, now: float, res: Any, code: str) -> str:
        offered = [s.name for s in res.authorization_services]
        if "EIM" not in offered:
            self._give_up = f"SECC offers {', '.join(offered)}: this EVCC authorizes with EIM only"
            return "SessionStop"
        return "Authorization"

    def _after_authorization(self, now: float, res: Any, code: str) -> str:
        if msg.processing(res) != "Finished":
            return self._poll(now, "Authorization", self.cfg.ongoing_timeout)
        self._since.pop("Authorization", None)
        if msg.is_warning(code):
            self._give_up = f"authorization refused: {code}"
            return "SessionStop"
        return "ServiceDiscovery"

    def _after_service_discovery(self, now: float, res: Any, code: str) -> str:
        offered = [s.service_id for s in res.energy_transfer_service_list.service]
        if self.renegotiation_supported is None:  # only the first answer counts ([V2G20-1480])
            self.renegotiation_supported = bool(res.service_renegotiation_supported)
        kind = DC_SERVICES if self.dc else AC_SERVICES
        wanted = [ServiceID.DC_BPT, ServiceID.DC] if self.dc else [ServiceID.AC_BPT, ServiceID.AC]
        if not self.cfg.bpt:
            wanted = [s for s in wanted if s not in BPT_SERVICES]
        pick = next((s for s in wanted if s in offered and s in kind), None)
        if pick is None:
            self._give_up = (f"SECC offers services {offered}: none for this {'DC' if self.dc else 'AC'}"
                             f"{' BPT' if self.cfg.bpt else ''} car")
            return "SessionStop"
        self.service, self.bpt = pick, pick in BPT_SERVICES
        return "ServiceDetail"

    def _after_service_detail(self, now: float, res: Any, code: str) -> str:
        sets = parameter_sets_of(res)
        want = ControlMode.SCHEDULED if self.cfg.control_mode == "Scheduled" else ControlMode.DYNAMIC
        pick = next((p for p in sets if p.control_mode == want), None) or next(
            (p for p in sets if p.control_mode is not None), None)
        if pick is None:
            self._give_up = f"ServiceDetailRes for {self.service} has no parameter set with a ControlMode"
            return "SessionStop"
        self._parameter_set = pick.id
        self.mode = "Dynamic" if pick.control_mode == ControlMode.DYNAMIC else "Scheduled"
        return "ServiceSelection"

    def _cpd(self) -> str:
        return "DC_ChargeParameterDiscovery" if self.dc else "AC_ChargeParameterDiscovery"

    def _after_service_selection(self, now: float, res: Any, code: str) -> str:
        return self._cpd()

    def _after_charge_parameters(self, now: float, res: Any, code: str) -> str:
        dc = getattr(res, "dc_cpd_res_energy_transfer_mode", None) or getattr(
            res, "bpt_dc_cpd_res_energy_transfer_mode", None)
        limit = getattr(dc, "evse_maximum_charge_current", None) if dc is not None else None
        self._evse_max_current = msg.value_of(limit) if limit is not None else None
        return "ScheduleExchange"

    def _after_schedule_exchange(self, now: float, res: Any, code: str) -> str:
        if msg.processing(res) != "Finished":
            return self._poll(now, "ScheduleExchange", self.cfg.ongoing_timeout)
        self._since.pop("ScheduleExchange", None)
        if self.mode == "Scheduled":
            if res.scheduled_se_res_control_mode is None:  # the SECC answered in the other control mode
                raise Stop(Reason.UNUSABLE, "ScheduleExchangeRes without Scheduled_SEResControlMode in a "
                                             "Scheduled session")
            tuples = res.scheduled_se_res_control_mode.schedule_tuple
            chosen = tuples[0]
            self._schedule_id = chosen.schedule_tuple_id
            self._charging = _entries(chosen.charging_schedule)
            self._discharging = _entries(chosen.discharging_schedule)
        if self.core.state == "ScheduleExchange:Renegotiated" or not self.dc:
            self._progress = "Start"
            return "PowerDelivery"
        self.ev.set_cp_state(CPState.C)
        return "DC_CableCheck"

    def _after_cable_check(self, now: float, res: Any, code: str) -> str:
        if msg.processing(res) == "Finished":
            self._since.pop("DC_CableCheck", None)
            return "DC_PreCharge"
        return self._poll(now, "DC_CableCheck", self.cfg.cable_check_timeout)

    def _after_pre_charge(self, now: float, res: Any, code: str) -> str:
        present = msg.value_of(res.evse_present_voltage)
        self._present = (present, 0.0)
        if self._pre_charged:  # the answer to the final PreChargeReq (EVProcessing Finished)
            self._since.pop("DC_PreCharge", None)
            self._progress = "Start"
            return "PowerDelivery"
        if abs(present - self.ev.precharge_target()[0]) <= self.cfg.pre_charge_tolerance:
            self._pre_charged = True  # one more request saying Finished, as EVerest's SECC expects
            return "DC_PreCharge"
        return self._poll(now, "DC_PreCharge", self.cfg.pre_charge_timeout)

    def _after_power_delivery(self, now: float, res: Any, code: str) -> str | None:
        if self._progress == "Start":
            self._schedule_start = now
            if not self.dc:
                self.ev.set_cp_state(CPState.C)
                self._set_ac_present()
            return "DC_ChargeLoop" if self.dc else "AC_ChargeLoop"
        if self._progress == "ScheduleRenegotiation":
            return "ScheduleExchange"
        self._present = (self._present[0] if self.dc else 0.0, 0.0)
        if self.dc and self.cfg.welding_max_requests > 0:
            return "DC_WeldingDetection"
        self.ev.set_cp_state(CPState.B)
        return "SessionStop"

    def _set_ac_present(self) -> None:
        """The AC current per phase the car draws (< 0: feeds) until the next answer: within the schedule in
        force, following the SECC's EVSETargetActivePower when it sends one."""
        lim = self.ev.limits()
        power = self._power(self._ac_target_power)
        phases = self._phases()
        current = min(lim.max_current, power / (self._ac_voltage * phases))
        if not self.bpt:
            current = max(0.0, current)
        self._present = (self._ac_voltage, current)

    def _after_loop(self, now: float, res: Any, code: str) -> str:
        ev = self.ev
        if self.dc and hasattr(res, "evse_present_voltage"):
            self._present = (msg.value_of(res.evse_present_voltage), msg.value_of(res.evse_present_current))
        elif not self.dc and hasattr(res, "evse_target_frequency"):
            cm = (res.scheduled_ac_cl_res_control_mode or res.dynamic_ac_cl_res_control_mode
                  or res.bpt_scheduled_ac_cl_res_control_mode or res.bpt_dynamic_ac_cl_res_control_mode)
            target = getattr(cm, "evse_target_active_power", None) if cm is not None else None
            if target is not None:
                self._ac_target_power = msg.value_of(target)
            self._set_ac_present()
        notification, _ = msg.notification(res)
        self.evse_notification = notification
        self._meter = msg.meter_info_of(res) or self._meter
        if notification == "MeteringConfirmation":
            return "MeteringConfirmation"
        # a bidirectional car may stay after its target to give energy: its wants_stop says when it is done
        full = ev.charging_complete() and not isinstance(ev, BidirectionalEV)
        if notification == "Terminate" or ev.wants_stop() or full:
            return self._stop("Terminate")
        if notification == "Pause" or ev.wants_pause():
            return self._stop("Pause")
        if notification == "ServiceRenegotiation" and self.renegotiation_supported:
            return self._stop("ServiceRenegotiation")
        if notification == "ScheduleRenegotiation":
            self._progress = "ScheduleRenegotiation"
            return "PowerDelivery"
        return "DC_ChargeLoop" if self.dc else "AC_ChargeLoop"

    def _stop(self, session: str) -> str:
        self._stop_session = session
        self._progress = "Stop"
        return "PowerDelivery"

    def _after_welding(self, now: float, res: Any, code: str) -> str:
        self._welding += 1
        self._present = (msg.value_of(res.evse_present_voltage), 0.0)
        if self._present[0] > self.cfg.welding_voltage and self._welding < self.cfg.welding_max_requests:
            return self._poll(now, "DC_WeldingDetection", self.cfg.welding_timeout)
        self._since.pop("DC_WeldingDetection", None)
        self.ev.set_cp_state(CPState.B)
        return "SessionStop"

    def _after_session_stop(self, now: float, res: Any, code: str) -> str | None:
        if self._give_up:
            raise Stop(Reason.GAVE_UP, self._give_up)
        if self._stop_session == "ServiceRenegotiation":
            # the same connection goes back to ServiceDiscovery with a fresh choice ([V2G20-1643])
            self._stop_session, self._welding, self._pre_charged = "Terminate", 0, False
            self.service = None
            return "ServiceDiscovery"
        return None

