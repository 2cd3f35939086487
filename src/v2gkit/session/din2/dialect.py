"""DIN SPEC 70121 and ISO 15118-2 messages, built and read through one interface.

The two protocols share their flow and most of their types; they differ in names (ServicePaymentSelection
vs PaymentServiceSelection, ContractAuthentication vs Authorization), in a few fields (PowerDelivery's
ReadyToChargeState vs ChargeProgress, SessionStop's ChargingSession, DIN's EVSEID as hexBinary) and in what
they leave out (DIN: no AC, no pause, no metering receipt for EIM). The session state machines speak in
the ISO 15118-2 names ("canonical") and physical floats; this module does the rest.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

from ...controllers import EVLimits, EVSELimits, Isolation, Notification
from ...exi import api as exi
from ...exi.gen import din, iso2

#: canonical name -> (DIN body field stem, ISO 15118-2 body field stem)
_STEMS = {
    "SessionSetup": ("session_setup", "session_setup"),
    "ServiceDiscovery": ("service_discovery", "service_discovery"),
    "ServiceDetail": ("service_detail", "service_detail"),
    "PaymentServiceSelection": ("service_payment_selection", "payment_service_selection"),
    "Authorization": ("contract_authentication", "authorization"),
    "ChargeParameterDiscovery": ("charge_parameter_discovery", "charge_parameter_discovery"),
    "CableCheck": ("cable_check", "cable_check"),
    "PreCharge": ("pre_charge", "pre_charge"),
    "PowerDelivery": ("power_delivery", "power_delivery"),
    "CurrentDemand": ("current_demand", "current_demand"),
    "ChargingStatus": ("charging_status", "charging_status"),
    "MeteringReceipt": ("metering_receipt", "metering_receipt"),
    "WeldingDetection": ("welding_detection", "welding_detection"),
    "SessionStop": ("session_stop", "session_stop"),
}
CANONICAL = tuple(_STEMS)


def _tables(i: int) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, bool]]]:
    """canonical name -> (request field, response field) of the Body, and field -> (canonical, is request)."""
    field = {c: (s[i] + "_req", s[i] + "_res") for c, s in _STEMS.items()}
    return field, {f: (c, k == 0) for c, fs in field.items() for k, f in enumerate(fs)}


_TABLES = {"din": _tables(0), "iso2": _tables(1)}


#: The energy transfer modes an SECC offers in ServiceDiscoveryRes: ISO 15118-2 lists them
#: (SupportedEnergyTransferMode); DIN names one EVSESupportedEnergyTransferType, a combination.
ISO2_OFFER = {True: ("DC_extended",), False: ("AC_three_phase_core", "AC_single_phase_core")}
DIN_OFFER = {True: "DC_extended", False: "AC_single_phase_three_phase_core_DC_extended"}

#: DIN's EVSESupportedEnergyTransferType -> the EVRequestedEnergyTransferType values it admits. The names
#: spell the combinations out; DC_dual has no requested value of its name: both DC kinds.
DIN_SUPPORTED: dict[str, tuple[str, ...]] = {
    "AC_single_phase_core": ("AC_single_phase_core",),
    "AC_three_phase_core": ("AC_three_phase_core",),
    "DC_core": ("DC_core",),
    "DC_extended": ("DC_extended",),
    "DC_combo_core": ("DC_combo_core",),
    "DC_dual": ("DC_core", "DC_extended"),
    "AC_core1p_DC_extended": ("AC_single_phase_core", "DC_extended"),
    "AC_single_DC_core": ("AC_single_phase_core", "DC_core"),
    "AC_single_phase_three_phase_core_DC_extended": ("AC_single_phase_core", "AC_three_phase_core", "DC_extended"),
    "AC_core3p_DC_extended": ("AC_three_phase_core", "DC_extended"),
}


#: the charge service of both standards (ServiceID 1, "AC_DC_Charging"): the only one an EIM session needs
CHARGE_SERVICE_ID = 1
#: the one SAScheduleTuple (and PMaxSchedule) an SECC offers, and the EV selects
SCHEDULE_TUPLE_ID = 1


class MessageError(ValueError):
    """A decoded message that is not a V2G request/response this dialect knows."""


@functools.cache
def _session_id_offset(name: str) -> int:
    """Bit offset of the SessionID's length field: where two messages differing only in it part."""
    d = Dialect(name)
    a, b = (d.encode(bytes([v]) * 8, "SessionStop", True, d.session_stop_req(False)) for v in (0, 255))
    x = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return len(a) * 8 - x.bit_length() - 8


def physical(mod: ModuleType, value: float, unit: str) -> Any:
    """A PhysicalValue with the finest multiplier (-3..3) whose value fits a signed 16-bit integer."""
    for mult in (-1, 0, 1, 2, 3):
        v = round(value / 10 ** mult)
        if -32768 <= v <= 32767:
            return mod.PhysicalValueType(multiplier=mult, unit=getattr(mod.unitSymbolType, unit), value=v)
    raise ValueError(f"{value} {unit} does not fit a PhysicalValue")


def value_of(pv: Any) -> float:
    """A PhysicalValue as a float (0.0 when absent)."""
    if pv is None:
        return 0.0
    return pv.value * 10.0 ** pv.multiplier


class Dialect:
    """Message building and reading for one protocol (``din`` or ``iso2``)."""

    def __init__(self, name: str) -> None:
        if name not in ("din", "iso2"):
            raise ValueError(f"no DIN/ISO 15118-2 dialect for {name!r}")
        self.name = name
        self.din = name == "din"
        self.m: ModuleType = din if self.din else iso2
        self.schema = name
        self._field, self._by_field = _TABLES[name]  # shared by every session: built once at import
        self.RC = self.m.responseCodeType

    # ------------------------------------------------------------------------------------ framing
    def encode(self, session_id: bytes, canonical: str, request: bool, body: Any) -> bytes:
        b = self.m.BodyType()
        setattr(b, self._field[canonical][0 if request else 1], body)
        return exi.encode(self.m.V2G_MessageType(header=self.m.MessageHeaderType(session_id=session_id), body=b))

    def decode(self, payload: bytes) -> tuple[bytes, str, bool, Any]:
        """(session id, canonical name, is request, body); ExiError or MessageError when unusable."""
        msg = exi.decode(payload, self.schema, strict=False)
        if not isinstance(msg, self.m.V2G_MessageType):  # the schema's other global elements decode too
            raise MessageError(f"{type(msg).__name__} where a V2G_Message belongs")
        body = msg.body
        items = [(k, v) for k, v in vars(body).items() if v is not None] if body is not None else []
        if len(items) != 1 or items[0][0] not in self._by_field:
            raise MessageError(f"unsupported message body {[k for k, _ in items]}")
        canonical, is_req = self._by_field[items[0][0]]
        return msg.header.session_id, canonical, is_req, items[0][1]

    def with_session_id(self, payload: bytes, sid: bytes) -> bytes:
        """``payload`` with only its header's SessionID replaced, every other bit as the sender wrote it
        (a re-encoding would refuse a car's out-of-range value, such as MaxNumberOfPhasesInUse=4). The
        SessionID's length and octets sit at a fixed bit offset of every DIN/ISO-2 message; the new ones
        are spliced in there, and the result is checked by decoding it (MessageError otherwise)."""
        off = _session_id_offset(self.name)
        n = len(payload) * 8
        bits = int.from_bytes(payload, "big")
        old_len = (bits >> (n - off - 8)) & 0xFF
        if old_len > 8 or not 1 <= len(sid) <= 8:
            raise MessageError(f"no SessionID of 1-8 octets at bit {off}")
        rest_bits = n - off - 8 - 8 * old_len
        head = bits >> (n - off)
        rest = bits & ((1 << rest_bits) - 1)
        out = (((head << 8 | len(sid)) << 8 * len(sid) | int.from_bytes(sid, "big")) << rest_bits) | rest
        new = out.to_bytes(len(payload) - old_len + len(sid), "big")
        got, _, _, body = self.decode(new)
        if got != sid or body != self.decode(payload)[3]:
            raise MessageError("SessionID splice changed the message")
        return new

    def pv(self, value: float, unit: str) -> Any:
        return physical(self.m, value, unit)

    # ------------------------------------------------------------------------------- statuses
    def dc_ev_status(self, ready: bool, error: str, soc: float) -> Any:
        return self.m.DC_EVStatusType(ev_ready=ready, ev_error_code=getattr(self.m.DC_EVErrorCodeType, error),
                                      evresssoc=max(0, min(100, int(soc))))

    def dc_evse_status(self, isolation: Isolation | None, notification: Notification, code: str,
                       max_delay: int = 0) -> Any:
        iso = None
        if isolation is not None:
            iso = getattr(self.m.isolationLevelType, isolation.value, None)
            if iso is None:  # DIN has no No_IMD
                iso = self.m.isolationLevelType.Invalid
        if self.din and iso is None:
            iso = self.m.isolationLevelType.Invalid  # mandatory in DIN
        return self.m.DC_EVSEStatusType(notification_max_delay=max_delay, evse_notification=self._notif(notification),
                                        evse_isolation_status=iso,
                                        evse_status_code=getattr(self.m.DC_EVSEStatusCodeType, code))

    def ac_evse_status(self, notification: Notification, max_delay: int = 0) -> Any:
        if self.din:
            return self.m.AC_EVSEStatusType(power_switch_closed=True, rcd=False, notification_max_delay=max_delay,
                                            evse_notification=self._notif(notification))
        return self.m.AC_EVSEStatusType(notification_max_delay=max_delay, evse_notification=self._notif(notification),
                                        rcd=False)

    def _notif(self, n: Notification) -> Any:
        return {Notification.NONE: self.m.EVSENotificationType.None_,
                Notification.STOP_CHARGING: self.m.EVSENotificationType.StopCharging,
                Notification.RENEGOTIATION: self.m.EVSENotificationType.ReNegotiation,
                Notification.PAUSE: self.m.EVSENotificationType.StopCharging,
                Notification.SERVICE_RENEGOTIATION: self.m.EVSENotificationType.ReNegotiation}[n]

    @staticmethod
    def notification_of(status: Any) -> Notification:
        if status is None:
            return Notification.NONE
        return {0: Notification.NONE, 1: Notification.STOP_CHARGING, 2: Notification.RENEGOTIATION}[
            int(status.evse_notification)]

    # --------------------------------------------------------------------------- EV requests
    def session_setup_req(self, evcc_id: bytes) -> Any:
        return self.m.SessionSetupReqType(evccid=evcc_id)

    def service_discovery_req(self) -> Any:
        return self.m.ServiceDiscoveryReqType(service_category=self.m.serviceCategoryType.EVCharging)

    def payment_selection_req(self, service_id: int) -> Any:
        sel = self.m.SelectedServiceListType(selected_service=[self.m.SelectedServiceType(service_id=service_id)])
        cls = self.m.ServicePaymentSelectionReqType if self.din else self.m.PaymentServiceSelectionReqType
        return cls(selected_payment_option=self.m.paymentOptionType.ExternalPayment, selected_service_list=sel)

    def authorization_req(self) -> Any:
        return self.m.ContractAuthenticationReqType() if self.din else self.m.AuthorizationReqType()

    def charge_parameter_req(self, dc: bool, lim: EVLimits, ev_status: Any, mode: str | None = None) -> Any:
        """``mode``: the requested energy transfer mode, one the SECC offered (default DC_extended or
        AC_three_phase_core); its kind (AC_*/DC_*) must be ``dc``'s, as the parameters follow ``dc``."""
        m = self.m
        if mode is not None and mode.startswith("DC_") != dc:
            raise ValueError(f"{mode} requested with {'DC' if dc else 'AC'} charge parameters")
        if dc:
            param = m.DC_EVChargeParameterType(
                dc_ev_status=ev_status, ev_maximum_current_limit=self.pv(lim.max_current, "A"),
                ev_maximum_power_limit=self.pv(lim.max_power, "W"),
                ev_maximum_voltage_limit=self.pv(lim.max_voltage, "V"),
                ev_energy_capacity=self.pv(lim.energy_capacity, "Wh"),
                ev_energy_request=self.pv(lim.energy_request, "Wh"), full_soc=lim.full_soc, bulk_soc=lim.bulk_soc)
            if not self.din and lim.departure_time is not None:
                param.departure_time = lim.departure_time
            mode = mode or "DC_extended"
            kw = {"dc_ev_charge_parameter": param}
        else:
            param = m.AC_EVChargeParameterType(
                departure_time=lim.departure_time or 0, e_amount=self.pv(lim.energy_request, "Wh"),
                ev_max_voltage=self.pv(lim.max_voltage, "V"), ev_max_current=self.pv(lim.max_current, "A"),
                ev_min_current=self.pv(lim.min_current, "A"))
            mode = mode or "AC_three_phase_core"
            kw = {"ac_ev_charge_parameter": param}
        if self.din:
            return m.ChargeParameterDiscoveryReqType(
                ev_requested_energy_transfer_type=getattr(m.EVRequestedEnergyTransferType, mode), **kw)
        return m.ChargeParameterDiscoveryReqType(
            requested_energy_transfer_mode=getattr(m.EnergyTransferModeType, mode), **kw)

    def cable_check_req(self, ev_status: Any) -> Any:
        return self.m.CableCheckReqType(dc_ev_status=ev_status)

    def pre_charge_req(self, ev_status: Any, voltage: float, current: float) -> Any:
        return self.m.PreChargeReqType(dc_ev_status=ev_status, ev_target_voltage=self.pv(voltage, "V"),
                                       ev_target_current=self.pv(current, "A"))

    def power_delivery_req(self, progress: str, dc: bool, ev_status: Any, schedule_id: int, max_power: float,
                           bulk_complete: bool = False, complete: bool = False) -> Any:
        """``progress``: Start, Stop or Renegotiate (DIN: Start -> ReadyToChargeState true, else false)."""
        m = self.m
        entry = (m.ProfileEntryType(charging_profile_entry_start=0, charging_profile_entry_max_power=(
            int(max_power / 1000) if self.din else self.pv(max_power, "W"))))
        kw: dict[str, Any] = {}
        if dc:
            kw["dc_ev_power_delivery_parameter"] = m.DC_EVPowerDeliveryParameterType(
                dc_ev_status=ev_status, bulk_charging_complete=bulk_complete, charging_complete=complete)
        if self.din:
            profile = m.ChargingProfileType(sa_schedule_tuple_id=schedule_id, profile_entry=[entry])
            return m.PowerDeliveryReqType(ready_to_charge_state=progress == "Start",
                                          charging_profile=profile if progress == "Start" else None, **kw)
        return m.PowerDeliveryReqType(
            charge_progress=getattr(m.chargeProgressType, progress), sa_schedule_tuple_id=schedule_id,
            charging_profile=m.ChargingProfileType(profile_entry=[entry]) if progress == "Start" else None, **kw)

    def current_demand_req(self, ev_status: Any, target: tuple[float, float], lim: EVLimits, bulk_complete: bool,
                           complete: bool, remaining: tuple[float | None, float | None]) -> Any:
        full, bulk = remaining
        return self.m.CurrentDemandReqType(
            dc_ev_status=ev_status, ev_target_current=self.pv(target[1], "A"),
            ev_maximum_voltage_limit=self.pv(lim.max_voltage, "V"),
            ev_maximum_current_limit=self.pv(lim.max_current, "A"),
            ev_maximum_power_limit=self.pv(lim.max_power, "W"), bulk_charging_complete=bulk_complete,
            charging_complete=complete,
            remaining_time_to_full_soc=None if full is None else self.pv(min(full, 172800), "s"),
            remaining_time_to_bulk_soc=None if bulk is None else self.pv(min(bulk, 172800), "s"),
            ev_target_voltage=self.pv(target[0], "V"))

    def charging_status_req(self) -> Any:
        return self.m.ChargingStatusReqType()

    def metering_receipt_req(self, session_id: bytes, schedule_id: int, meter_info: Any) -> Any:
        return self.m.MeteringReceiptReqType(id="id1", session_id=session_id, sa_schedule_tuple_id=schedule_id,
                                             meter_info=meter_info)

    def welding_detection_req(self, ev_status: Any) -> Any:
        return self.m.WeldingDetectionReqType(dc_ev_status=ev_status)

    def session_stop_req(self, pause: bool) -> Any:
        if self.din:
            return self.m.SessionStopType()
        return self.m.SessionStopReqType(charging_session=(
            self.m.chargingSessionType.Pause if pause else self.m.chargingSessionType.Terminate))

    # ------------------------------------------------------------------------- SECC responses
    def session_setup_res(self, code: Any, evse_id: str) -> Any:
        return self.m.SessionSetupResType(response_code=code, evseid=evse_id.encode() if self.din else evse_id)

    def service_discovery_res(self, code: Any, dc: bool) -> Any:
        m = self.m
        if self.din:
            return m.ServiceDiscoveryResType(
                response_code=code,
                payment_options=m.PaymentOptionsType(payment_option=[m.paymentOptionType.ExternalPayment]),
                charge_service=m.ServiceChargeType(
                    service_tag=m.ServiceTagType(service_id=CHARGE_SERVICE_ID, service_category=m.serviceCategoryType.EVCharging),
                    free_service=False,
                    energy_transfer_type=getattr(m.EVSESupportedEnergyTransferType, DIN_OFFER[dc])))
        modes = [getattr(m.EnergyTransferModeType, name) for name in ISO2_OFFER[dc]]
        return m.ServiceDiscoveryResType(
            response_code=code,
            payment_option_list=m.PaymentOptionListType(payment_option=[m.paymentOptionType.ExternalPayment]),
            charge_service=m.ChargeServiceType(
                service_id=CHARGE_SERVICE_ID, service_name="AC_DC_Charging", service_category=m.serviceCategoryType.EVCharging,
                free_service=False,
                supported_energy_transfer_mode=m.SupportedEnergyTransferModeType(energy_transfer_mode=modes)))

    def service_detail_res(self, code: Any, service_id: int) -> Any:
        return self.m.ServiceDetailResType(response_code=code, service_id=service_id)

    def payment_selection_res(self, code: Any) -> Any:
        cls = self.m.ServicePaymentSelectionResType if self.din else self.m.PaymentServiceSelectionResType
        return cls(response_code=code)

    def authorization_res(self, code: Any, finished: bool) -> Any:
        cls = self.m.ContractAuthenticationResType if self.din else self.m.AuthorizationResType
        return cls(response_code=code, evse_processing=self._processing(finished))

    def _processing(self, finished: bool) -> Any:
        return self.m.EVSEProcessingType.Finished if finished else self.m.EVSEProcessingType.Ongoing

    def schedule(self, max_power: float, duration: int) -> Any:
        m = self.m
        interval = m.RelativeTimeIntervalType(start=0, duration=duration)
        if self.din:
            entry = m.PMaxScheduleEntryType(relative_time_interval=interval, p_max=min(32767, int(max_power / 1000)))
            pmax = m.PMaxScheduleType(p_max_schedule_id=SCHEDULE_TUPLE_ID, p_max_schedule_entry=[entry])
        else:
            entry = m.PMaxScheduleEntryType(relative_time_interval=interval, p_max=self.pv(max_power, "W"))
            pmax = m.PMaxScheduleType(p_max_schedule_entry=[entry])
        return m.SAScheduleListType(sa_schedule_tuple=[m.SAScheduleTupleType(sa_schedule_tuple_id=SCHEDULE_TUPLE_ID,
                                                                              p_max_schedule=pmax)])

    def charge_parameter_res(self, code: Any, finished: bool, dc: bool, lim: EVSELimits, status: Any,
                             duration: int) -> Any:
        m = self.m
        kw: dict[str, Any] = {}
        if dc:
            kw["dc_evse_charge_parameter"] = m.DC_EVSEChargeParameterType(
                dc_evse_status=status, evse_maximum_current_limit=self.pv(lim.max_current, "A"),
                evse_maximum_power_limit=self.pv(lim.max_power, "W"),
                evse_maximum_voltage_limit=self.pv(lim.max_voltage, "V"),
                evse_minimum_current_limit=self.pv(lim.min_current, "A"),
                evse_minimum_voltage_limit=self.pv(lim.min_voltage, "V"),
                evse_peak_current_ripple=self.pv(lim.peak_current_ripple, "A"))
        elif self.din:
            kw["ac_evse_charge_parameter"] = m.AC_EVSEChargeParameterType(
                ac_evse_status=status, evse_max_voltage=self.pv(lim.nominal_voltage, "V"),
                evse_max_current=self.pv(lim.max_current, "A"), evse_min_current=self.pv(lim.min_current, "A"))
        else:
            kw["ac_evse_charge_parameter"] = m.AC_EVSEChargeParameterType(
                ac_evse_status=status, evse_nominal_voltage=self.pv(lim.nominal_voltage, "V"),
                evse_max_current=self.pv(lim.max_current, "A"))
        return m.ChargeParameterDiscoveryResType(
            response_code=code, evse_processing=self._processing(finished),
            # DIN's schema makes the schedule mandatory even while Ongoing (and in FAILED answers)
            sa_schedule_list=self.schedule(lim.max_power, duration) if finished or self.din else None, **kw)

    def cable_check_res(self, code: Any, status: Any, finished: bool) -> Any:
        return self.m.CableCheckResType(response_code=code, dc_evse_status=status,
                                        evse_processing=self._processing(finished))

    def pre_charge_res(self, code: Any, status: Any, voltage: float) -> Any:
        return self.m.PreChargeResType(response_code=code, dc_evse_status=status,
                                       evse_present_voltage=self.pv(voltage, "V"))

    def power_delivery_res(self, code: Any, dc: bool, status: Any) -> Any:
        if dc:
            return self.m.PowerDeliveryResType(response_code=code, dc_evse_status=status)
        return self.m.PowerDeliveryResType(response_code=code, ac_evse_status=status)

    def meter_info(self, meter_id: str, wh: float, t: int | None = None) -> Any:
        return self.m.MeterInfoType(meter_id=meter_id, meter_reading=int(wh), t_meter=t)

    def current_demand_res(self, code: Any, status: Any, present: tuple[float, float], achieved: tuple[bool, ...],
                           lim: EVSELimits, evse_id: str, meter: Any, receipt: bool) -> Any:
        res = self.m.CurrentDemandResType(
            response_code=code, dc_evse_status=status, evse_present_voltage=self.pv(present[0], "V"),
            evse_present_current=self.pv(present[1], "A"), evse_current_limit_achieved=achieved[0],
            evse_voltage_limit_achieved=achieved[1], evse_power_limit_achieved=achieved[2],
            evse_maximum_voltage_limit=self.pv(lim.max_voltage, "V"),
            evse_maximum_current_limit=self.pv(lim.max_current, "A"),
            evse_maximum_power_limit=self.pv(lim.max_power, "W"))
        if not self.din:
            res.evseid, res.sa_schedule_tuple_id, res.meter_info, res.receipt_required = evse_id, 1, meter, receipt
        return res

    def charging_status_res(self, code: Any, status: Any, evse_id: str, max_current: float, meter: Any,
                            receipt: bool) -> Any:
        return self.m.ChargingStatusResType(
            response_code=code, evseid=evse_id.encode() if self.din else evse_id, sa_schedule_tuple_id=1,
            evse_max_current=self.pv(max_current, "A"), meter_info=meter, receipt_required=receipt,
            ac_evse_status=status)

    def metering_receipt_res(self, code: Any, dc: bool, status: Any) -> Any:
        if self.din or not dc:
            return self.m.MeteringReceiptResType(response_code=code, ac_evse_status=status)
        return self.m.MeteringReceiptResType(response_code=code, dc_evse_status=status)

    def welding_detection_res(self, code: Any, status: Any, voltage: float) -> Any:
        return self.m.WeldingDetectionResType(response_code=code, dc_evse_status=status,
                                              evse_present_voltage=self.pv(voltage, "V"))

    def session_stop_res(self, code: Any) -> Any:
        return self.m.SessionStopResType(response_code=code)

    # ------------------------------------------------------------------------------ reading
    def offered_modes(self, dc: bool) -> tuple[str, ...]:
        """The modes an SECC of this kind offers in its ServiceDiscoveryRes (built from the same tables),
        as EnergyTransferMode / EVRequestedEnergyTransferType names."""
        return DIN_SUPPORTED[DIN_OFFER[dc]] if self.din else ISO2_OFFER[dc]

    def modes_of(self, res: Any) -> tuple[str, ...]:
        """The modes a ServiceDiscoveryRes offers (EVCC side), as requestable names."""
        cs = res.charge_service
        if self.din:
            return DIN_SUPPORTED.get(cs.energy_transfer_type.name, ()) if cs.energy_transfer_type is not None else ()
        offer = cs.supported_energy_transfer_mode
        return tuple(x.name for x in offer.energy_transfer_mode) if offer is not None else ()

    def requested_mode(self, req: Any) -> str:
        """ChargeParameterDiscoveryReq's RequestedEnergyTransferMode (DIN: EVRequestedEnergyTransferType)
        by name; "" when absent (only a lenient decode lets that through)."""
        mode = req.ev_requested_energy_transfer_type if self.din else req.requested_energy_transfer_mode
        return mode.name if mode is not None else ""

    @staticmethod
    def charge_parameter_of(req: Any, mode: str) -> Any:
        """The EV's charge parameters when the element matches ``mode`` (AC_* carries AC_EVChargeParameter,
        DC_* DC_EVChargeParameter, nothing else beside it), else None: FAILED_WrongChargeParameter
        ([V2G2-477], [V2G-DC-398]). The abstract EVChargeParameter head never fits."""
        ac, dc = req.ac_ev_charge_parameter, req.dc_ev_charge_parameter
        if req.ev_charge_parameter is not None:
            return None
        if mode.startswith("AC_"):
            return ac if dc is None else None
        if mode.startswith("DC_"):
            return dc if ac is None else None
        return None

    def schedule_of(self, res: Any) -> tuple[int, float | None]:
        """(SAScheduleTupleID, PMax in W of its first interval) from ChargeParameterDiscoveryRes: the car's
        ChargingProfile must stay within it ([V2G2-225]). DIN's PMax is a bare number in kW."""
        tuples = res.sa_schedule_list.sa_schedule_tuple if res.sa_schedule_list is not None else None
        if not tuples:
            return 1, None
        t = tuples[0]
        entries = t.p_max_schedule.p_max_schedule_entry if t.p_max_schedule is not None else None
        if not entries:
            return t.sa_schedule_tuple_id, None
        pmax = entries[0].p_max
        return t.sa_schedule_tuple_id, (pmax * 1000.0 if self.din else value_of(pmax))

    def selected_tuple(self, req: Any) -> int | None:
        """PowerDeliveryReq: the SAScheduleTupleID the EV chose (DIN: in its ChargingProfile), or None."""
        if self.din:
            return req.charging_profile.sa_schedule_tuple_id if req.charging_profile is not None else None
        return req.sa_schedule_tuple_id

    def profile_max_power(self, req: Any) -> float | None:
        """PowerDeliveryReq: the highest ChargingProfileEntryMaxPower in W (DIN's are kW), or None."""
        entries = req.charging_profile.profile_entry if req.charging_profile is not None else None
        if not entries:
            return None
        return max(e.charging_profile_entry_max_power * 1000.0 if self.din else
                   value_of(e.charging_profile_entry_max_power) for e in entries)

    def progress(self, req: Any) -> str:
        """PowerDeliveryReq: Start, Stop or Renegotiate."""
        if self.din:
            return "Start" if req.ready_to_charge_state else "Stop"
        return req.charge_progress.name

    def pause_requested(self, req: Any) -> bool:
        return not self.din and req.charging_session == self.m.chargingSessionType.Pause

    @staticmethod
    def is_ok(code: Any) -> bool:
        return code is not None and code.name.startswith("OK")
