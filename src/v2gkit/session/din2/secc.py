"""The charger's policy for DIN SPEC 70121 (DC) and ISO 15118-2 (AC, DC) sessions with external identification.

The rules, the SessionID and the exit live in the shared :class:`~.core.Core`; this module decides what the
SECC answers from its charger (:class:`~v2gkit.controllers.EVSEController`). Request handlers have the
side effects and pick the response code; response builders make the answer from the charger's state alone,
so every FAILED answer is schema-valid whatever the request was.

Plug & Charge goes where ``PAYMENT_NEXT`` and ``_on_authorization`` are: Contract payment adds
PaymentDetails / CertificateInstallation before Authorization.
"""

from __future__ import annotations

from typing import Any

from ...controllers import EVSEController, Isolation
from ...exi.errors import ExiError
from ..events import Event, Message, Output, Reason, Received, Timer
from ..hooks import Hooks
from ..paused import PausedSessions
from ..roles import SECCRole
from .config import SECCConfig
from .core import Core, MessageError
from .dialect import CANONICAL, CHARGE_SERVICE_ID, SCHEDULE_TUPLE_ID, value_of

__all__ = ["PAYMENT_NEXT", "SECCSession"]

#: the payment options this EIM implementation selects; Plug & Charge adds "Contract"
PAYMENT_NEXT = {"ExternalPayment": "Authorization"}



class SECCSession(SECCRole):
    """The charger's side of one session (one TCP connection)."""

    def __init__(self, protocol: str, evse: EVSEController, config: SECCConfig | None = None,
                 paused: PausedSessions | None = None, hooks: Hooks | None = None) -> None:
        super().__init__()
        self.cfg = config or SECCConfig()
        self.core = Core(protocol, self.cfg.dc, hooks)
        self.d = self.core.d
        self.evse = evse
        if self.d.din and not self.cfg.dc:
            raise ValueError("DIN SPEC 70121 sessions are DC only")
        self.cfg.check(protocol)
        #: the energy transfer modes ServiceDiscoveryRes offers: what ChargeParameterDiscoveryReq may request
        self.offered = self.d.offered_modes(self.cfg.dc)
        self.paused = paused if paused is not None else PausedSessions()
        self._loop_count = 0
        self._receipt_pending = False
        self._cpd_asked = 0
        self._ev_max_voltage = 0.0  # from ChargeParameterDiscoveryReq
        self._ev_max_current = 0.0
        self._pmax: float | None = None  # W: the PMax offered in ChargeParameterDiscoveryRes

    # -- drivers ----------------------------------------------------------------------------
    def receive(self, now: float, message: Message) -> list[Output]:
        if self._ended:
            return []
        msg = self.core.incoming(now, message)
        if msg is None:
            return []
        try:
            sid, name, is_req, req = self.core.decode(msg)
        except (ExiError, MessageError) as e:
            return self._close(Reason.UNDECODABLE, f"undecodable request: {e}")  # nothing to answer
        out: list[Output] = [Received(name + ("Req" if is_req else "Res"), req)]
        if not is_req:
            return out + self._close(Reason.WRONG_MESSAGE, f"{name}Res received by the SECC")
        self.result.messages += 1
        problem = self.core.request_problem(name, sid)
        if problem is not None:
            reason = Reason.UNKNOWN_SESSION if problem == "FAILED_UnknownSession" else Reason.SEQUENCE_ERROR
            return out + self._answer_failed(now, name, getattr(self.d.RC, problem), reason, f"{name}Req: {problem}")
        try:
            code, finished = getattr(self, _HANDLER[name])(now, sid, req)
        except Exception as e:  # noqa: BLE001 - our handler or our charger failed: a local fault, said so
            out.append(Event("internal_error", {"name": name + "Req", "error": e}))
            return out + self._answer_failed(now, name, self.d.RC.FAILED, Reason.INTERNAL_ERROR,
                                             f"internal error: handling {name}Req: {type(e).__name__}: {e}")
        try:
            body = self._response(name, code, finished)
            sent = self.core.send(now, name + "Res", body)
        except Exception as e:  # noqa: BLE001 - our own answer cannot be built or encoded: our bug
            out.append(Event("internal_error", {"name": name + "Res", "error": e}))
            return out + self._close(Reason.INTERNAL_ERROR,
                                     f"internal error: cannot build {name}Res: {type(e).__name__}: {e}")
        out += sent
        if name == "SessionStop":
            self.result.ok = True
            return out + self._close(Reason.PAUSED if self.result.paused else Reason.TERMINATED)
        if not self.d.is_ok(code):
            why, self._why = self._why, ""
            return out + self._close(Reason.REFUSED, f"answered {name}Res with {code.name}" + (f": {why}" if why else ""))
        try:
            self.core.done(name, req, body)
        except Exception as e:  # noqa: BLE001 - the rules could not read our own answer: our bug
            out.append(Event("internal_error", {"name": name + "Res", "error": e}))
            return out + self._close(Reason.INTERNAL_ERROR, f"internal error: after {name}Res: {type(e).__name__}: {e}")
        out.append(Timer("sequence", self.cfg.sequence_timeout))
        return out

    # -- helpers ------------------------------------------------------------------------------
    def _ongoing(self, now: float, what: str, limit: float, done: bool) -> tuple[Any, bool]:
        """(code, finished) with the SECC's own limit: past it, the answer is FAILED."""
        since = self._since.setdefault(what, now)
        if done:
            self._since.pop(what, None)
            return self.d.RC.OK, True
        if now - since > limit:
            return self.d.RC.FAILED, False
        return self.d.RC.OK, False

    def _dc_status(self, isolation: bool = True) -> Any:
        evse = self.evse
        code = "EVSE_EmergencyShutdown" if evse.emergency_shutdown() else "EVSE_Ready"
        # without a measurement the dialect fills in what the protocol wants (DIN: Invalid, ISO-2: absent)
        iso = evse.isolation() if isolation else None
        return self.d.dc_evse_status(iso, evse.notification(), code)

    def _status(self) -> Any:
        return self._dc_status() if self.cfg.dc else self.d.ac_evse_status(self.evse.notification())

    # -- request handlers: side effects, then (response code, finished) ---------------------------
    def _on_session_setup(self, now: float, sid: bytes, req: Any) -> tuple[Any, bool]:
        rc = self.d.RC
        if sid != bytes(len(sid)) and self.paused.resume(now, sid) is not None:
            self.core.session_id = sid
            return rc.OK_OldSessionJoined, True
        self.core.session_id = self.cfg.session_id or self.core.hooks.random_bytes(8)
        return rc.OK_NewSessionEstablished, True

    def _on_service_discovery(self, now: float, sid: bytes, req: Any) -> tuple[Any, bool]:
        return self.d.RC.OK, True

    def _on_service_detail(self, now: float, sid: bytes, req: Any) -> tuple[Any, bool]:
        ok = req.service_id == CHARGE_SERVICE_ID
        return (self.d.RC.OK if ok else self.d.RC.FAILED_ServiceIDInvalid), True

    def _on_payment_service_selection(self, now: float, sid: bytes, req: Any) -> tuple[Any, bool]:
        rc = self.d.RC
        if req.selected_payment_option.name not in PAYMENT_NEXT:
            return rc.FAILED_PaymentSelectionInvalid, True
        services = req.selected_service_list.selected_service if req.selected_service_list else []
        if not any(s.service_id == CHARGE_SERVICE_ID for s in services):
            return (rc.FAILED_NoChargeServiceSelected if not self.d.din else rc.FAILED), True
        if any(s.service_id != CHARGE_SERVICE_ID for s in services):  # only the charge service was offered
            self._why = f"ServiceIDs {sorted({s.service_id for s in services} - {CHARGE_SERVICE_ID})} were not offered"
            return rc.FAILED_ServiceSelectionInvalid, True
        return rc.OK, True

    def _on_authorization(self, now: float, sid: bytes, req: Any) -> tuple[Any, bool]:
        ok = self.evse.authorized()
        if ok is False:
            return self.d.RC.FAILED, True
        return self._ongoing(now, "Authorization", self.cfg.ongoing_limit, ok is True)

    def _on_charge_parameter_discovery(self, now: float, sid: bytes, req: Any) -> tuple[Any, bool]:
        """Two checks, in this order (both answers end the session):

        1. the requested mode must be one ServiceDiscoveryRes offered, else FAILED_WrongEnergyTransferMode
           (ISO 15118-2 [V2G2-476]; DIN 70121 [V2G-DC-397]: FAILED_WrongEnergyTransferType);
        2. the parameter element must be the mode's (AC_* AC_EVChargeParameter, DC_* DC_EVChargeParameter),
           else FAILED_WrongChargeParameter ([V2G2-477]; [V2G-DC-398]). A real Seres 3 requests
           AC_three_phase_core with DC_EVChargeParameter: an offered mode, the wrong parameters.
        """
        d, rc = self.d, self.d.RC
        mode = d.requested_mode(req)
        if mode not in self.offered:
            self._why = f"{mode or 'no mode'} requested, {', '.join(self.offered)} offered"
            return (rc.FAILED_WrongEnergyTransferType if d.din else rc.FAILED_WrongEnergyTransferMode), False
        param = d.charge_parameter_of(req, mode)
        if param is None:
            given = [n for n, f in (("AC_EVChargeParameter", req.ac_ev_charge_parameter),
                                    ("DC_EVChargeParameter", req.dc_ev_charge_parameter),
                                    ("EVChargeParameter", req.ev_charge_parameter)) if f is not None]
            given = given or ["no parameters"]
            self._why = f"{mode} requested with {' and '.join(given)}"
            return rc.FAILED_WrongChargeParameter, False
        if mode.startswith("DC_"):
            self._ev_max_voltage = value_of(param.ev_maximum_voltage_limit)
        else:
            self._ev_max_current = value_of(param.ev_max_current)
        self._cpd_asked += 1
        if self._cpd_asked <= self.cfg.charge_parameter_ongoing:
            return self._ongoing(now, "ChargeParameterDiscovery", self.cfg.ongoing_limit, False)
        self._since.pop("ChargeParameterDiscovery", None)
        self._pmax = self.evse.limits().max_power  # the PMax of the one SAScheduleTuple the answer offers
        return rc.OK, True

    def _on_cable_check(self, now: float, sid: bytes, req: Any) -> tuple[Any, bool]:
        if "CableCheck" not in self._since:
            # test at the lower of what the car and the charger can stand
            self.evse.start_cable_check(min(self._ev_max_voltage or 500.0, self.evse.limits().max_voltage))
        if self.evse.isolation() is Isolation.FAULT:
            self._since.pop("CableCheck", None)
            return self.d.RC.FAILED, True
        return self._ongoing(now, "CableCheck", self.cfg.cable_check_limit, self.evse.cable_check_done())

    def _on_pre_charge(self, now: float, sid: bytes, req: Any) -> tuple[Any, bool]:
        self.evse.set_output(value_of(req.ev_target_voltage), min(2.0, value_of(req.ev_target_current)))
        return self.d.RC.OK, True

    def _on_power_delivery(self, now: float, sid: bytes, req: Any) -> tuple[Any, bool]:
        progress = self.d.progress(req)
        if progress == "Start":
            rc = self.d.RC
            tuple_id = self.d.selected_tuple(req)
            if tuple_id is not None and tuple_id != SCHEDULE_TUPLE_ID:  # the one tuple offered
                self._why = f"SAScheduleTupleID {tuple_id} was not offered"
                return rc.FAILED_TariffSelectionInvalid, True
            # ISO 15118-2 only: DIN 70121 DC chargers take the profile as information, and real DIN cars send
            # profiles above PMax (the Seres 3 of the replay suite), which their chargers accepted
            top = None if self.d.din else self.d.profile_max_power(req)
            if top is not None and self._pmax is not None and top > self._pmax * 1.001 + 1.0:  # PMax, rounding
                self._why = f"ChargingProfile asks for {top:g} W, the schedule allows {self._pmax:g} W"
                return rc.FAILED_ChargingProfileInvalid, True
            if self.evse.emergency_shutdown():
                return self.d.RC.FAILED_PowerDeliveryNotApplied, True
            if not self.cfg.dc:
                lim = self.evse.limits()
                self.evse.set_output(lim.nominal_voltage, min(lim.max_current, self._ev_max_current or lim.max_current))
            return self.d.RC.OK, True
        self.evse.stop_output()
        if progress == "Renegotiate":
            clear = getattr(self.evse, "clear_notification", None)
            if clear is not None:
                clear()
        return self.d.RC.OK, True

    def _on_current_demand(self, now: float, sid: bytes, req: Any) -> tuple[Any, bool]:
        if self.evse.emergency_shutdown():
            self.evse.stop_output()
        else:
            self.evse.set_output(value_of(req.ev_target_voltage), value_of(req.ev_target_current))
        self._count_loop()
        return self.d.RC.OK, True

    def _on_charging_status(self, now: float, sid: bytes, req: Any) -> tuple[Any, bool]:
        self._count_loop()
        return self.d.RC.OK, True

    def _count_loop(self) -> None:
        self._loop_count += 1
        n = self.cfg.receipt_interval
        self._receipt_pending = bool(n) and not self.d.din and self._loop_count % n == 0  # type: ignore[operator]

    def _on_metering_receipt(self, now: float, sid: bytes, req: Any) -> tuple[Any, bool]:
        self._receipt_pending = False
        ok = req.session_id == self.session_id and req.meter_info is not None
        return (self.d.RC.OK if ok else self.d.RC.FAILED), True

    def _on_welding_detection(self, now: float, sid: bytes, req: Any) -> tuple[Any, bool]:
        return self.d.RC.OK, True

    def _on_session_stop(self, now: float, sid: bytes, req: Any) -> tuple[Any, bool]:
        self.evse.stop_output()
        if self.d.pause_requested(req):
            self.paused.pause(now, self.session_id, {"energy_wh": self.evse.meter_wh()})
            self.result.paused = True
        self.result.session_id = self.session_id
        return self.d.RC.OK, True

    # -- response builders: also used for FAILED answers, so they never depend on the request --------
    def _response(self, name: str, code: Any, finished: bool) -> Any:
        d, evse, cfg = self.d, self.evse, self.cfg
        if name == "SessionSetup":
            return d.session_setup_res(code, cfg.evse_id)
        if name == "ServiceDiscovery":
            return d.service_discovery_res(code, cfg.dc)
        if name == "ServiceDetail":
            return d.service_detail_res(code, CHARGE_SERVICE_ID)
        if name == "PaymentServiceSelection":
            return d.payment_selection_res(code)
        if name == "Authorization":
            return d.authorization_res(code, finished)
        if name == "ChargeParameterDiscovery":
            status = self._dc_status(isolation=False) if cfg.dc else d.ac_evse_status(evse.notification())
            return d.charge_parameter_res(code, finished and d.is_ok(code), cfg.dc, evse.limits(), status,
                                          cfg.schedule_duration)
        if name == "CableCheck":
            return d.cable_check_res(code, self._dc_status(), finished)
        if name == "PreCharge":
            return d.pre_charge_res(code, self._dc_status(), evse.present()[0])
        if name == "PowerDelivery":
            return d.power_delivery_res(code, cfg.dc, self._status())
        if name == "CurrentDemand":
            return d.current_demand_res(code, self._dc_status(), evse.present(), evse.limits_achieved(),
                                        evse.limits(), cfg.evse_id, d.meter_info(cfg.meter_id, evse.meter_wh()),
                                        self._receipt_pending)
        if name == "ChargingStatus":
            return d.charging_status_res(code, self._status(), cfg.evse_id, evse.limits().max_current,
                                         d.meter_info(cfg.meter_id, evse.meter_wh()), self._receipt_pending)
        if name == "MeteringReceipt":  # DIN's MeteringReceiptRes only knows the AC status
            status = d.ac_evse_status(evse.notification()) if d.din or not cfg.dc else self._dc_status()
            return d.metering_receipt_res(code, cfg.dc, status)
        if name == "WeldingDetection":
            return d.welding_detection_res(code, self._dc_status(), evse.present()[0])
        if name == "SessionStop":
            return d.session_stop_res(code)
        raise ValueError(name)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


#: request name -> SECCSession handler method, worked out once instead of per message
_HANDLER = {name: "_on_" + _snake(name) for name in CANONICAL}
