"""The car's policy for DIN SPEC 70121 (DC) and ISO 15118-2 (AC, DC) sessions with external identification.

The rules, the SessionID and the exit live in the shared :class:`~.core.Core`; this module decides which
request comes next and what it says, from the car (:class:`~v2gkit.controllers.EVController`). ``EVCC_NEXT``
is the plan: after the response to <request> the named method picks the next request; the core checks the
plan against the same rules the SECC enforces (a request they forbid is our bug, not the SECC's).
"""

from __future__ import annotations

from typing import Any

from ...controllers import NOMINAL_AC_VOLTAGE, CPState, EVController, Notification
from ...exi.errors import ExiError
from ..events import Event, Message, Output, Reason, Received, Timer
from ..hooks import Hooks
from ..roles import EVCCRole, Stop
from .config import EVCCConfig
from .core import Core, MessageError
from .dialect import CHARGE_SERVICE_ID, SCHEDULE_TUPLE_ID, value_of
from .secc import PAYMENT_NEXT

__all__ = ["EVCC_NEXT", "EV_MODES", "EVCCSession"]

#: The EVCC's plan: after the response to <request> it sends the request the function names. The
#: functions (methods of EVCCSession) look at the response and the car and return the next request
#: name, or None to end the session.
EVCC_NEXT: dict[str, str] = {
    "SessionSetup": "_after_session_setup",  # -> ServiceDiscovery
    "ServiceDiscovery": "_after_service_discovery",  # -> ServiceDetail (if configured) | PaymentServiceSelection
    "ServiceDetail": "_after_service_detail",  # -> the next ServiceDetail | PaymentServiceSelection
    "PaymentServiceSelection": "_after_payment",  # -> Authorization
    "Authorization": "_after_authorization",  # Ongoing -> Authorization; Finished -> ChargeParameterDiscovery
    "ChargeParameterDiscovery": "_after_charge_parameters",  # -> CableCheck (DC), PowerDelivery (AC, renegotiated)
    "CableCheck": "_after_cable_check",  # Ongoing -> CableCheck; Finished -> PreCharge
    "PreCharge": "_after_pre_charge",  # until the voltage matches -> PowerDelivery(Start)
    "PowerDelivery": "_after_power_delivery",  # Start -> CurrentDemand/ChargingStatus; Stop -> Welding/SessionStop
    "CurrentDemand": "_after_energy_loop",  # -> CurrentDemand | MeteringReceipt | PowerDelivery(Stop/Renegotiate)
    "ChargingStatus": "_after_energy_loop",
    "MeteringReceipt": "_after_energy_loop",
    "WeldingDetection": "_after_welding",  # -> WeldingDetection until < 60 V, then SessionStop
    "SessionStop": "_after_session_stop",  # -> end
}

#: requests the EVCC repeats, pausing EVCCConfig.loop_interval between rounds
_LOOPS = frozenset({"Authorization", "ChargeParameterDiscovery", "CableCheck", "PreCharge", "CurrentDemand",
                    "ChargingStatus", "WeldingDetection"})

#: the energy transfer modes the EVCC requests, best first, for a DC (True) or an AC (False) car; it takes
#: the first the SECC offered (the parameters it sends are the same for every mode of one kind)
EV_MODES = {True: ("DC_extended", "DC_core", "DC_combo_core", "DC_unique"),
            False: ("AC_three_phase_core", "AC_single_phase_core")}


def _fail_reason(name: str, code: Any) -> str:
    return f"SECC answered {name} with {code.name if code is not None else 'no ResponseCode'}"


class EVCCSession(EVCCRole):
    """The car's side of one session: it leads, the SECC answers."""

    def __init__(self, protocol: str, ev: EVController, config: EVCCConfig | None = None,
                 hooks: Hooks | None = None) -> None:
        super().__init__()
        self.cfg = config or EVCCConfig()
        self.core = Core(protocol, self.cfg.dc, hooks)
        self.d = self.core.d
        self.ev = ev
        if self.d.din and not self.cfg.dc:
            raise ValueError("DIN SPEC 70121 sessions are DC only")
        self.core.session_id = self.cfg.resume_session_id or bytes(1)
        self._progress = ""  # of the last PowerDeliveryReq
        self._renegotiated = False
        self._stop_pause = False
        self._welding = 0
        self.evse_notification = Notification.NONE

    # -- drivers ----------------------------------------------------------------------------
    def receive(self, now: float, message: Message) -> list[Output]:
        if self._ended:
            return []
        msg = self.core.incoming(now, message)
        if msg is None:
            return []
        try:
            sid, name, is_req, res = self.core.decode(msg)
        except (ExiError, MessageError) as e:
            return self._end(Reason.UNDECODABLE, f"undecodable response: {e}")
        out: list[Output] = [Timer("response", None), Received(name + ("Req" if is_req else "Res"), res)]
        strict = self.core.strict
        if is_req or (strict and name != self.pending) or name not in EVCC_NEXT:
            return out + self._end(Reason.WRONG_MESSAGE,
                                   f"expected {self.pending}Res, got {name}{'Req' if is_req else 'Res'}")
        self.result.messages += 1
        req, self.pending = self._pending_body, None
        code = res.response_code
        if name == "SessionSetup":
            if strict and code == self.d.RC.OK_OldSessionJoined and sid != self.session_id:
                return out + self._end(Reason.UNKNOWN_SESSION, "OK_OldSessionJoined with another SessionID")
            if not 1 <= len(sid) <= 8:  # read leniently, but every request must carry it: sessionIDType
                return out + self._end(Reason.UNUSABLE, f"SessionSetupRes carries a SessionID of {len(sid)} "
                                                        f"octets (1 to 8)")
            self.core.session_id = sid
        elif strict and sid != self.session_id:
            return out + self._end(Reason.UNKNOWN_SESSION,
                                   f"{name}Res carries SessionID {sid.hex()}, not {self.session_id.hex()}")
        if not self.d.is_ok(code):
            return out + self._end(Reason.FAILED_RESPONSE, _fail_reason(name + "Res", code))
        try:
            self.core.done(name, req, res)
            nxt = getattr(self, EVCC_NEXT[name])(now, res)
        except Stop as stop:
            return out + self._end(stop.reason, stop.detail)
        except Exception as e:  # noqa: BLE001 - our plan or our car failed on a valid answer: a local fault
            out.append(Event("internal_error", {"name": name + "Res", "error": e}))
            return out + self._end(Reason.INTERNAL_ERROR, f"internal error: after {name}Res: {type(e).__name__}: {e}")
        if nxt is None:
            return out + self._end(Reason.PAUSED if self._stop_pause else Reason.TERMINATED)
        return out + self._go_on(now, name, nxt, _LOOPS, "MeteringReceipt")

    # -- helpers ----------------------------------------------------------------------------
    def _status(self) -> Any:
        ev = self.ev
        return self.d.dc_ev_status(ev.ready(), ev.error(), ev.soc())

    def _build(self, name: str) -> Any:
        d, ev = self.d, self.ev
        if name == "SessionSetup":
            body = d.session_setup_req(ev.evcc_id)
        elif name == "ServiceDiscovery":
            body = d.service_discovery_req()
        elif name == "ServiceDetail":
            body = d.m.ServiceDetailReqType(service_id=self._detail_id)
        elif name == "PaymentServiceSelection":
            body = d.payment_selection_req(self._service_id)
        elif name == "Authorization":
            body = d.authorization_req()
        elif name == "ChargeParameterDiscovery":
            body = d.charge_parameter_req(self.cfg.dc, ev.limits(), self._status(), self._mode)
        elif name == "CableCheck":
            body = d.cable_check_req(self._status())
        elif name == "PreCharge":
            body = d.pre_charge_req(self._status(), *ev.precharge_target())
        elif name == "PowerDelivery":
            power = ev.limits().max_power if self._pmax is None else min(ev.limits().max_power, self._pmax)
            body = d.power_delivery_req(self._progress, self.cfg.dc, self._status(), self._schedule_id, power,
                                        ev.bulk_complete(), ev.charging_complete())
        elif name == "CurrentDemand":
            body = d.current_demand_req(self._status(), self._target(), ev.limits(), ev.bulk_complete(),
                                        ev.charging_complete(), ev.remaining_time())
        elif name == "ChargingStatus":
            body = d.charging_status_req()
        elif name == "MeteringReceipt":
            body = d.metering_receipt_req(self.session_id, self._schedule_id, self._meter_info)
        elif name == "WeldingDetection":
            body = d.welding_detection_req(self._status())
        elif name == "SessionStop":
            body = d.session_stop_req(self._stop_pause)
        else:
            raise ValueError(name)
        return body

    def _target(self) -> tuple[float, float]:
        """The car's (voltage, current) target within what the SECC allows: its maximum current and power
        (ChargeParameterDiscoveryRes, updated by CurrentDemandRes) and the schedule's PMax."""
        voltage, current = self.ev.target()
        if self._evse_max_current is not None:
            current = min(current, self._evse_max_current)
        power = min(p for p in (self._evse_max_power, self._pmax, float("inf")) if p is not None)
        if voltage > 0 and power != float("inf"):
            current = min(current, power / voltage)
        return voltage, max(0.0, current)

    def _evse_limits(self, charge_parameter: Any) -> None:
        """Note the SECC's maximum current and power from a DC_EVSEChargeParameter or CurrentDemandRes."""
        for attr, name in (("evse_maximum_current_limit", "_evse_max_current"),
                           ("evse_maximum_power_limit", "_evse_max_power")):
            pv = getattr(charge_parameter, attr, None)
            if pv is not None:
                setattr(self, name, value_of(pv))

    # -- the plan: what follows each response ------------------------------------------------
    _service_id = CHARGE_SERVICE_ID
    _schedule_id = SCHEDULE_TUPLE_ID
    _pmax: float | None = None
    _evse_max_current: float | None = None  # A: what the SECC says it can give (DC)
    _evse_max_power: float | None = None  # W
    _ac_voltage = NOMINAL_AC_VOLTAGE
    _detail_id = 1
    _details: list[int] = []  # noqa: RUF012 - replaced per session
    _meter_info: Any = None
    _mode: str | None = None  # the energy transfer mode to request: one the SECC offered
    _give_up = ""  # why the EV ends the session with SessionStop before charging

    def _after_session_setup(self, now: float, res: Any) -> str:
        return "ServiceDiscovery"

    def _after_service_discovery(self, now: float, res: Any) -> str | None:
        d = self.d
        options = (res.payment_options if d.din else res.payment_option_list).payment_option
        if d.m.paymentOptionType.ExternalPayment not in options:
            # an option the SECC did not offer would only earn FAILED_PaymentSelectionInvalid: end the
            # session with SessionStop, so the SECC learns it is over now, not at its sequence timeout
            self._give_up = "SECC does not offer ExternalPayment"
            return "SessionStop"
        cs = res.charge_service
        self._service_id = cs.service_tag.service_id if d.din else cs.service_id
        # request only a mode the SECC offered ([V2G2-476], [V2G-DC-397] make the SECC refuse any other)
        offered = d.modes_of(res)
        self._mode = next((m for m in EV_MODES[self.cfg.dc] if m in offered), None)
        if self._mode is None:  # as with no usable payment option: SessionStop, not a dropped connection
            kind = "DC" if self.cfg.dc else "AC"
            self._give_up = (f"SECC offers {', '.join(offered) or 'no energy transfer mode'}: no {kind} mode "
                             f"for this {kind} car")
            return "SessionStop"
        self._details = list(self.cfg.service_detail_ids)
        return self._after_service_detail(now, res)

    def _after_service_detail(self, now: float, res: Any) -> str:
        if self._details:
            self._detail_id = self._details.pop(0)
            return "ServiceDetail"
        return "PaymentServiceSelection"

    def _after_payment(self, now: float, res: Any) -> str:
        return PAYMENT_NEXT["ExternalPayment"]

    def _after_authorization(self, now: float, res: Any) -> str | None:
        if res.evse_processing == self.d.m.EVSEProcessingType.Finished:
            self._since.pop("Authorization", None)
            return "ChargeParameterDiscovery"
        return self._poll(now, "Authorization", self.cfg.ongoing_timeout)

    def _after_charge_parameters(self, now: float, res: Any) -> str | None:
        if res.evse_processing != self.d.m.EVSEProcessingType.Finished:
            return self._poll(now, "ChargeParameterDiscovery", self.cfg.ongoing_timeout)
        self._since.pop("ChargeParameterDiscovery", None)
        self._schedule_id, self._pmax = self.d.schedule_of(res)
        ac = res.ac_evse_charge_parameter
        if ac is not None:  # the grid voltage per phase the car will see (DIN calls it EVSEMaxVoltage)
            self._ac_voltage = value_of(ac.evse_max_voltage if self.d.din else ac.evse_nominal_voltage) or NOMINAL_AC_VOLTAGE
        if self.cfg.dc and res.dc_evse_charge_parameter is None:
            raise Stop(Reason.UNUSABLE, "ChargeParameterDiscoveryRes without DC_EVSEChargeParameter for a DC car")
        status = res.dc_evse_charge_parameter.dc_evse_status if self.cfg.dc else None
        if self.cfg.dc:
            self._evse_limits(res.dc_evse_charge_parameter)
        self.evse_notification = self.d.notification_of(status)
        if self._renegotiated or not self.cfg.dc:
            self._renegotiated = False
            self._progress = "Start"
            return "PowerDelivery"
        self.ev.set_cp_state(CPState.C)  # DC: state C before the cable check
        return "CableCheck"

    def _after_cable_check(self, now: float, res: Any) -> str | None:
        if res.evse_processing == self.d.m.EVSEProcessingType.Finished:
            self._since.pop("CableCheck", None)
            status = res.dc_evse_status
            iso = getattr(status, "evse_isolation_status", None) if status is not None else None
            if iso is not None and iso.name == "Fault":  # the insulation test failed: no voltage on this cable
                self._give_up = "the cable check found an insulation fault (EVSEIsolationStatus Fault)"
                self.ev.set_cp_state(CPState.B)
                return "SessionStop"
            return "PreCharge"
        return self._poll(now, "CableCheck", self.cfg.cable_check_timeout)

    def _after_pre_charge(self, now: float, res: Any) -> str | None:
        present = value_of(res.evse_present_voltage)
        self._present = (present, 0.0)
        target = self.ev.precharge_target()[0]
        if abs(present - target) <= self.cfg.pre_charge_tolerance:
            self._since.pop("PreCharge", None)
            self._progress = "Start"
            return "PowerDelivery"
        return self._poll(now, "PreCharge", self.cfg.pre_charge_timeout)

    def _after_power_delivery(self, now: float, res: Any) -> str | None:
        if self._progress == "Start":
            if not self.cfg.dc:
                self.ev.set_cp_state(CPState.C)
            return "CurrentDemand" if self.cfg.dc else "ChargingStatus"
        if self._progress == "Renegotiate":
            self._renegotiated = True
            return "ChargeParameterDiscovery"
        self._present = (self._present[0], 0.0)
        if self.cfg.dc and self.cfg.welding_max_requests > 0:  # WeldingDetection is the EV's option
            return "WeldingDetection"
        self.ev.set_cp_state(CPState.B)
        return "SessionStop"

    def _after_energy_loop(self, now: float, res: Any) -> str | None:
        d, ev = self.d, self.ev
        if self.cfg.dc and hasattr(res, "evse_present_voltage"):
            self._present = (value_of(res.evse_present_voltage), value_of(res.evse_present_current))
            self._evse_limits(res)  # CurrentDemandRes may lower (or raise) the limits
            status = res.dc_evse_status
            emergency = status is not None and status.evse_status_code.name in ("EVSE_EmergencyShutdown",
                                                                                "EVSE_Shutdown", "EVSE_Malfunction")
        elif not self.cfg.dc and hasattr(res, "evse_max_current"):
            lim = ev.limits()
            current = min(lim.max_current, value_of(res.evse_max_current))
            self._present = (self._ac_voltage, current)
            status = res.ac_evse_status
            emergency = False
        else:  # MeteringReceiptRes
            status = getattr(res, "dc_evse_status", None) or getattr(res, "ac_evse_status", None)
            emergency = False
        self.evse_notification = d.notification_of(status)
        if getattr(res, "receipt_required", False) and res.meter_info is not None:
            self._meter_info = res.meter_info
            return "MeteringReceipt"
        if emergency or self.evse_notification is Notification.STOP_CHARGING or ev.wants_stop() \
                or ev.charging_complete() or ev.wants_pause():
            self._stop_pause = ev.wants_pause() and not d.din
            self._progress = "Stop"
            return "PowerDelivery"
        if self.evse_notification is Notification.RENEGOTIATION and not d.din:
            self._progress = "Renegotiate"
            return "PowerDelivery"
        return "CurrentDemand" if self.cfg.dc else "ChargingStatus"

    def _after_welding(self, now: float, res: Any) -> str:
        self._welding += 1
        self._present = (value_of(res.evse_present_voltage), 0.0)
        if self._present[0] > self.cfg.welding_voltage and self._welding < self.cfg.welding_max_requests:
            return "WeldingDetection"
        self.ev.set_cp_state(CPState.B)
        return "SessionStop"

    def _after_session_stop(self, now: float, res: Any) -> None:
        if self._give_up:
            raise Stop(Reason.GAVE_UP, self._give_up)
