"""What a valid request of a car contains, stage by stage: the checks of the good cases (``..._001``).

Every request after SessionSetupReq carries the SessionID the SECC gave (steps.same_session); beyond that each
stage checks what the SECC's earlier answers bind the car to: it chooses only what was offered (payment
option, service, energy transfer mode, authorization service, parameter set, schedule) and its targets stay
within its own limits and those the SECC announced. ``RULES[(kind, topic)](t, fam, req)`` makes the checks;
``REQUIREMENTS`` names the requirement IDs the repository cites for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ....session.din2.dialect import Dialect
from ...emulator import Incoming
from ...script import Tester
from ._common import AC, CMN, DC, enum_name, num, sent

#: numbers compare with this relative slack (a target computed from rounded PhysicalValues)
SLACK = 1e-6
#: powers (voltage x current against a power limit) with this much: the car's rounding of V and I
POWER_SLACK = 0.02


def _le(a: float | None, b: float | None, slack: float = SLACK) -> bool:
    return a is None or b is None or a <= b * (1 + slack) + 1e-9


def _fmt(x: float | None, unit: str) -> str:
    return "absent" if x is None else f"{x:g} {unit}"


def _last_req(t: Tester, name: str) -> Any:
    got = t.received_last(name)
    return got.body if got is not None else None


# ------------------------------------------------------------------------------------------- session set-up
def session_setup(t: Tester, fam: str, req: Incoming) -> None:
    sid = req.session_id
    t.check(
        not any(sid) and (fam != "iso20" or len(sid) == 8),
        f"SessionSetupReq carries SessionID 0 for a new session (got {sid.hex().upper() or 'none'})",
    )
    evccid = req.body.evccid
    if fam == "iso20":  # evccIDType: string, 1..255 characters
        ok = isinstance(evccid, str) and 1 <= len(evccid) <= 255
    else:  # evccIDType: hexBinary of at most 6 (ISO 15118-2) / 8 (DIN SPEC 70121) octets
        ok = isinstance(evccid, (bytes, bytearray)) and 1 <= len(evccid) <= (8 if fam == "din" else 6)
    t.check(ok, f"EVCCID is a valid evccIDType ({evccid!r})")


def _offered_payment(t: Tester, fam: str) -> tuple[list[str], list[int]]:
    res = sent(t, "ServiceDiscoveryRes")
    if res is None:
        return [], []
    options = (res.payment_options if fam == "din" else res.payment_option_list).payment_option
    cs = res.charge_service
    ids = [cs.service_tag.service_id if fam == "din" else cs.service_id]
    sl = getattr(res, "service_list", None)
    for s in (sl.service if sl is not None else []) or []:
        ids.append(s.service_tag.service_id if fam == "din" else s.service_id)
    return [enum_name(o) for o in options], ids


def payment_selection(t: Tester, fam: str, req: Incoming) -> None:
    options, ids = _offered_payment(t, fam)
    chosen = enum_name(req.body.selected_payment_option)
    t.check(
        chosen in options,
        f"SelectedPaymentOption {chosen} is one ServiceDiscoveryRes offered ({', '.join(options)})",
    )
    sl = req.body.selected_service_list
    picked = [s.service_id for s in (sl.selected_service if sl is not None else [])]
    t.check(
        bool(ids) and ids[0] in picked,
        f"SelectedServiceList holds the ChargeService {ids[:1]} (got {picked})",
    )
    t.check(all(i in ids for i in picked), f"every selected ServiceID was offered ({picked} of {ids})")


def authorization(t: Tester, fam: str, req: Incoming) -> None:
    if fam != "iso20":
        # EIM: nothing mandatory beyond the SessionID (ISO-2 AuthorizationReq, DIN ContractAuthenticationReq)
        return
    res = sent(t, "AuthorizationSetupRes")
    offered = [enum_name(s) for s in (res.authorization_services if res is not None else [])]
    chosen = enum_name(req.body.selected_authorization_service)
    t.check(
        chosen in offered,
        f"SelectedAuthorizationService {chosen} is one AuthorizationSetupRes offered ({', '.join(offered)})",
    )
    if chosen == "EIM":
        t.check(
            req.body.eim_a_req_authorization_mode is not None, "EIM_AReqAuthorizationMode is present for EIM"
        )


def _offered_services(t: Tester) -> list[int]:
    res = sent(t, "ServiceDiscoveryRes")
    if res is None:
        return []
    ids = [s.service_id for s in res.energy_transfer_service_list.service]
    vas = getattr(res, "vas_list", None)
    ids += [s.service_id for s in (vas.service if vas is not None else [])]
    return ids


def service_detail(t: Tester, fam: str, req: Incoming) -> None:
    ids = _offered_services(t)
    t.check(
        req.body.service_id in ids,
        f"ServiceDetailReq asks for a service ServiceDiscoveryRes offered ({req.body.service_id} of {ids})",
    )


def _parameter_sets(t: Tester, service_id: int) -> dict[int, dict[str, Any]]:
    """ServiceDetailRes (the tester's last) for ``service_id``: parameter set ID -> {name: value}."""
    res = sent(t, "ServiceDetailRes")
    if res is None or res.service_id != service_id:
        return {}
    out: dict[int, dict[str, Any]] = {}
    for ps in res.service_parameter_list.parameter_set:
        out[ps.parameter_set_id] = {
            p.name: next(
                (
                    getattr(p, a)
                    for a in (
                        "int_value",
                        "bool_value",
                        "byte_value",
                        "short_value",
                        "finite_string",
                        "rational_number",
                    )
                    if getattr(p, a, None) is not None
                ),
                None,
            )
            for p in ps.parameter
        }
    return out


def service_selection(t: Tester, fam: str, req: Incoming) -> None:
    sel = req.body.selected_energy_transfer_service
    energy = [s.service_id for s in sent(t, "ServiceDiscoveryRes").energy_transfer_service_list.service]
    t.check(
        sel.service_id in energy,
        f"SelectedEnergyTransferService {sel.service_id} is an energy transfer "
        f"service ServiceDiscoveryRes offered ({energy})",
    )
    sets = _parameter_sets(t, sel.service_id)
    if sets:
        t.check(
            sel.parameter_set_id in sets,
            f"ParameterSetID {sel.parameter_set_id} is one ServiceDetailRes offered ({sorted(sets)})",
        )


# ------------------------------------------------------------------------------------------ charge parameters
def charge_parameters(t: Tester, fam: str, req: Incoming, dc: bool) -> None:
    if fam == "iso20":
        x = (
            (req.body.dc_cpd_req_energy_transfer_mode or req.body.bpt_dc_cpd_req_energy_transfer_mode)
            if dc
            else (req.body.ac_cpd_req_energy_transfer_mode or req.body.bpt_ac_cpd_req_energy_transfer_mode)
        )
        if not t.check(x is not None, "the energy transfer mode element of the selected service is present"):
            return
        pairs = [("ev_maximum_charge_power", "ev_minimum_charge_power", "W")]
        if dc:
            pairs += [
                ("ev_maximum_charge_current", "ev_minimum_charge_current", "A"),
                ("ev_maximum_voltage", "ev_minimum_voltage", "V"),
            ]
        for hi, lo, unit in pairs:
            a, b = num(getattr(x, hi)), num(getattr(x, lo))
            t.check(
                a is not None and a > 0 and (b is None or b <= a),
                f"{hi} > 0 and >= {lo} ({_fmt(a, unit)} >= {_fmt(b, unit)})",
            )
        return
    d = Dialect(fam)
    offered = d.modes_of(sent(t, "ServiceDiscoveryRes"))
    mode = d.requested_mode(req.body)
    # ISO 15118-2 [V2G2-476] / DIN 70121 [V2G-DC-397]: the SECC refuses a mode it did not offer
    t.check(
        mode in offered,
        f"the requested energy transfer mode {mode or 'none'} is one the SECC offered ({', '.join(offered)})",
    )
    t.check(
        mode.startswith("DC_" if dc else "AC_"),
        f"a {'DC' if dc else 'AC'} mode for a {'DC' if dc else 'AC'} session ({mode})",
    )
    p = d.charge_parameter_of(req.body, mode)
    # [V2G2-477] / [V2G-DC-398]: the parameter element must be the mode's
    if not t.check(p is not None, f"the charge parameters are those of {mode} (DC_ or AC_EVChargeParameter)"):
        return
    if dc:
        for f, unit in (("ev_maximum_voltage_limit", "V"), ("ev_maximum_current_limit", "A")):
            v = num(getattr(p, f))
            t.check(v is not None and v > 0, f"{f} > 0 ({_fmt(v, unit)})")
    else:
        hi, lo = num(p.ev_max_current), num(p.ev_min_current)
        t.check(
            hi is not None and hi > 0 and (lo is None or lo <= hi),
            f"EVMaxCurrent > 0 and >= EVMinCurrent ({_fmt(hi, 'A')} >= {_fmt(lo, 'A')})",
        )
        v = num(p.ev_max_voltage)
        t.check(v is not None and v > 0, f"EVMaxVoltage > 0 ({_fmt(v, 'V')})")


def _control_mode(t: Tester) -> str | None:
    """The control mode of the parameter set the car selected ("Scheduled", "Dynamic"), if known."""
    sel = _last_req(t, "ServiceSelectionReq")
    if sel is None:
        return None
    params = _parameter_sets(t, sel.selected_energy_transfer_service.service_id).get(
        sel.selected_energy_transfer_service.parameter_set_id, {}
    )
    return {1: "Scheduled", 2: "Dynamic"}.get(params.get("ControlMode"))


def schedule_exchange(t: Tester, fam: str, req: Incoming) -> None:
    n = req.body.maximum_supporting_points
    t.check(12 <= n <= 1024, f"MaximumSupportingPoints is 12..1024 ({n})")
    mode = _control_mode(t)
    if mode is not None:
        el = (
            req.body.scheduled_se_req_control_mode
            if mode == "Scheduled"
            else req.body.dynamic_se_req_control_mode
        )
        t.check(el is not None, f"the request is in the {mode} control mode of the selected parameter set")


# ----------------------------------------------------------------------------------------------- DC: voltage
def _dc_limits(t: Tester, fam: str) -> dict[str, float | None]:
    """The car's own maxima (its ChargeParameterDiscoveryReq) and the SECC's (the tester's answer)."""
    if fam == "iso20":
        req = _last_req(t, "DC_ChargeParameterDiscoveryReq")
        res = sent(t, "DC_ChargeParameterDiscoveryRes")
        x = (req.dc_cpd_req_energy_transfer_mode or req.bpt_dc_cpd_req_energy_transfer_mode) if req else None
        y = (res.dc_cpd_res_energy_transfer_mode or res.bpt_dc_cpd_res_energy_transfer_mode) if res else None
        return {
            "ev_v": num(x.ev_maximum_voltage) if x else None,
            "ev_i": num(x.ev_maximum_charge_current) if x else None,
            "ev_p": num(x.ev_maximum_charge_power) if x else None,
            "evse_v": num(y.evse_maximum_voltage) if y else None,
            "evse_i": num(y.evse_maximum_charge_current) if y else None,
            "evse_p": num(y.evse_maximum_charge_power) if y else None,
        }
    req = _last_req(t, "ChargeParameterDiscoveryReq")
    res = sent(t, "ChargeParameterDiscoveryRes")
    x = req.dc_ev_charge_parameter if req is not None else None
    y = res.dc_evse_charge_parameter if res is not None else None
    return {
        "ev_v": num(x.ev_maximum_voltage_limit) if x else None,
        "ev_i": num(x.ev_maximum_current_limit) if x else None,
        "ev_p": num(x.ev_maximum_power_limit) if x else None,
        "evse_v": num(y.evse_maximum_voltage_limit) if y else None,
        "evse_i": num(y.evse_maximum_current_limit) if y else None,
        "evse_p": num(y.evse_maximum_power_limit) if y else None,
    }


def pre_charge(t: Tester, fam: str, req: Incoming) -> None:
    lim = _dc_limits(t, fam)
    v = num(req.body.ev_target_voltage)
    t.check(v is not None and v > 0, f"EVTargetVoltage > 0 ({_fmt(v, 'V')})")
    t.check(
        _le(v, lim["ev_v"]),
        f"EVTargetVoltage within the car's maximum ({_fmt(v, 'V')} <= {_fmt(lim['ev_v'], 'V')})",
    )
    t.check(
        _le(v, lim["evse_v"]),
        f"EVTargetVoltage within the SECC's maximum ({_fmt(v, 'V')} <= {_fmt(lim['evse_v'], 'V')})",
    )
    if fam != "iso20":
        i = num(req.body.ev_target_current)
        t.check(
            i is not None and i >= 0 and _le(i, lim["ev_i"]),
            f"EVTargetCurrent 0 .. the car's maximum ({_fmt(i, 'A')} <= {_fmt(lim['ev_i'], 'A')})",
        )


# --------------------------------------------------------------------------------------------- schedules
def offered_schedules(t: Tester, fam: str) -> dict[int, float | None]:
    """Schedule tuple ID -> its highest power limit in W (None: no limit given) from the tester's answer."""
    out: dict[int, float | None] = {}
    if fam == "iso20":
        res = sent(t, "ScheduleExchangeRes")
        cm = res.scheduled_se_res_control_mode if res is not None else None
        for st in cm.schedule_tuple if cm is not None else []:
            entries = st.charging_schedule.power_schedule.power_schedule_entries.power_schedule_entry
            out[st.schedule_tuple_id] = max((num(e.power) or 0.0) for e in entries) if entries else None
        return out
    res = sent(t, "ChargeParameterDiscoveryRes")
    lst = res.sa_schedule_list if res is not None else None
    for st in lst.sa_schedule_tuple if lst is not None else []:
        entries = st.p_max_schedule.p_max_schedule_entry if st.p_max_schedule is not None else []
        scale = 1000.0 if fam == "din" else 1.0  # DIN's PMax is a bare number in kW
        out[st.sa_schedule_tuple_id] = max(num(e.p_max) * scale for e in entries) if entries else None
    return out


def profile_of(fam: str, body: Any) -> tuple[int | None, list[float]]:
    """(the schedule tuple ID a PowerDeliveryReq names, its profile's power limits in W)."""
    if fam == "iso20":
        p = body.ev_power_profile
        if p is None:
            return None, []
        cm = p.scheduled_evppt_control_mode
        entries = p.ev_power_profile_entries.ev_power_profile_entry if p.ev_power_profile_entries else []
        return (cm.selected_schedule_tuple_id if cm is not None else None), [
            num(e.power) or 0.0 for e in entries
        ]
    prof = body.charging_profile
    if fam == "din":
        tid = prof.sa_schedule_tuple_id if prof is not None else None
        return tid, [
            num(e.charging_profile_entry_max_power) * 1000.0 for e in (prof.profile_entry if prof else [])
        ]
    return body.sa_schedule_tuple_id, [
        num(e.charging_profile_entry_max_power) or 0.0
        for e in (prof.profile_entry if prof is not None else [])
    ]


def progress_of(fam: str, body: Any) -> str:
    if fam == "din":
        return "Start" if body.ready_to_charge_state else "Stop"
    return enum_name(body.charge_progress)


def power_delivery(t: Tester, fam: str, req: Incoming) -> None:
    progress = progress_of(fam, req.body)
    t.check(
        progress == "Start",
        f"the first PowerDeliveryReq starts the energy transfer (ChargeProgress {progress})",
    )
    offered = offered_schedules(t, fam)
    tid, entries = profile_of(fam, req.body)
    if tid is not None or fam == "iso2":
        t.check(
            tid in offered,
            f"the schedule tuple it names is one the SECC offered ({tid} of {sorted(offered)})",
        )
    pmax = offered.get(tid) if tid is not None else None
    top = max(entries) if entries else None
    # ISO 15118-2 [V2G2-225]: the charging profile stays within the chosen schedule
    t.check(
        _le(top, pmax),
        f"the charging profile stays within the schedule's power limit ({_fmt(top, 'W')} <= "
        f"{_fmt(pmax, 'W')})",
    )


# ---------------------------------------------------------------------------------------------- energy loops
def _min(*xs: float | None) -> float | None:
    vals = [x for x in xs if x is not None]
    return min(vals) if vals else None


def _latest(new: float | None, before: float | None) -> float | None:
    return before if new is None else new


def current_demand(t: Tester, fam: str, req: Incoming) -> None:
    lim = _dc_limits(t, fam)
    last = sent(t, "DC_ChargeLoopRes" if fam == "iso20" else "CurrentDemandRes")  # the answer before this one
    b = req.body
    if fam == "iso20":
        cm = b.scheduled_dc_cl_req_control_mode or b.bpt_scheduled_dc_cl_req_control_mode
        if cm is None:
            t.log("Dynamic control mode: the SECC sets the targets")
            return
        i, v = num(cm.ev_target_current), num(cm.ev_target_voltage)
        own_i, own_v, own_p = lim["ev_i"], lim["ev_v"], lim["ev_p"]
        rc = (
            (last.scheduled_dc_cl_res_control_mode or last.bpt_scheduled_dc_cl_res_control_mode)
            if last
            else None
        )
        # the loop's answers may announce other limits as the session goes: the latest ones hold
        evse_i = _latest(num(rc.evse_maximum_charge_current) if rc else None, lim["evse_i"])
        evse_v = _latest(num(rc.evse_maximum_voltage) if rc else None, lim["evse_v"])
        evse_p = _latest(num(rc.evse_maximum_charge_power) if rc else None, lim["evse_p"])
    else:
        i, v = num(b.ev_target_current), num(b.ev_target_voltage)
        own_i = _min(num(b.ev_maximum_current_limit), lim["ev_i"])
        own_v = _min(num(b.ev_maximum_voltage_limit), lim["ev_v"])
        own_p = _min(num(b.ev_maximum_power_limit), lim["ev_p"])
        # CurrentDemandRes may announce other limits as the session goes: the latest ones hold
        evse_i = _latest(num(last.evse_maximum_current_limit) if last else None, lim["evse_i"])
        evse_v = _latest(num(last.evse_maximum_voltage_limit) if last else None, lim["evse_v"])
        evse_p = _latest(num(last.evse_maximum_power_limit) if last else None, lim["evse_p"])
    t.check(i is not None and i >= 0, f"EVTargetCurrent >= 0 ({_fmt(i, 'A')})")
    t.check(
        _le(i, own_i) and _le(v, own_v),
        f"targets within the car's maxima ({_fmt(v, 'V')} <= {_fmt(own_v, 'V')}, "
        f"{_fmt(i, 'A')} <= {_fmt(own_i, 'A')})",
    )
    t.check(
        _le(i, evse_i) and _le(v, evse_v),
        f"targets within the limits the SECC announced ({_fmt(v, 'V')} <= "
        f"{_fmt(evse_v, 'V')}, {_fmt(i, 'A')} <= {_fmt(evse_i, 'A')})",
    )
    p = v * i if v is not None and i is not None else None
    t.check(
        _le(p, own_p, POWER_SLACK) and _le(p, evse_p, POWER_SLACK),
        f"target power within both power limits ({_fmt(p, 'W')} <= {_fmt(own_p, 'W')}, {_fmt(evse_p, 'W')})",
    )


def charging_status(t: Tester, fam: str, req: Incoming) -> None:
    if fam != "iso20":
        return  # ISO 15118-2 ChargingStatusReq has no content beyond the header
    cm = req.body.scheduled_ac_cl_req_control_mode or req.body.bpt_scheduled_ac_cl_req_control_mode
    if cm is None:
        return
    res = sent(t, "AC_ChargeParameterDiscoveryRes")
    y = (
        (res.ac_cpd_res_energy_transfer_mode or res.bpt_ac_cpd_res_energy_transfer_mode)
        if res is not None
        else None
    )
    evse = None
    if y is not None:
        evse = sum(
            num(getattr(y, f)) or 0.0
            for f in (
                "evse_maximum_charge_power",
                "evse_maximum_charge_power_l2",
                "evse_maximum_charge_power_l3",
            )
        )
    p = num(cm.ev_present_active_power)
    t.check(
        _le(p, evse, POWER_SLACK),
        f"EVPresentActivePower within the SECC's maximum ({_fmt(p, 'W')} <= {_fmt(evse, 'W')})",
    )


def session_stop(t: Tester, fam: str, req: Incoming) -> None:
    if fam == "din":
        return  # DIN's SessionStopReq is empty
    how = enum_name(req.body.charging_session)
    t.check(how in ("Terminate", "Pause"), f"ChargingSession is Terminate or Pause ({how})")
    t.log(f"ChargingSession {how}")


def nothing(t: Tester, fam: str, req: Incoming) -> None:
    """Nothing beyond the SessionID is mandatory (or the content is the car's own business)."""


Rule = Callable[[Tester, str, Incoming], None]
RULES: dict[tuple[str, str], Rule] = {
    (CMN, "SessionSetup"): session_setup,
    (CMN, "AuthorizationSetup"): nothing,
    (CMN, "ServiceDiscovery"): nothing,
    (CMN, "ServiceDetail"): service_detail,
    (CMN, "PaymentServiceSelection"): payment_selection,
    (CMN, "ServiceSelection"): service_selection,
    (CMN, "Authorization"): authorization,
    (DC, "ChargeParameterDiscovery"): lambda t, f, r: charge_parameters(t, f, r, True),
    (AC, "ChargeParameterDiscovery"): lambda t, f, r: charge_parameters(t, f, r, False),
    (CMN, "ScheduleExchange"): schedule_exchange,
    (DC, "CableCheck"): nothing,
    (DC, "PreCharge"): pre_charge,
    (DC, "PowerDelivery"): power_delivery,
    (AC, "PowerDelivery"): power_delivery,
    (DC, "CurrentDemand"): current_demand,
    (AC, "ChargingStatus"): charging_status,
    (DC, "WeldingDetection"): nothing,
    (CMN, "SessionStop"): session_stop,
}

#: the requirement IDs (cited in the repository) a stage's good case checks beyond the SessionID
REQUIREMENTS: dict[tuple[str, str], tuple[str, ...]] = {
    (DC, "ChargeParameterDiscovery"): ("V2G2-476", "V2G2-477", "V2G-DC-397", "V2G-DC-398"),
    (AC, "ChargeParameterDiscovery"): ("V2G2-476", "V2G2-477"),
    (DC, "PowerDelivery"): ("V2G2-225",),
    (AC, "PowerDelivery"): ("V2G2-225",),
}

#: what the good case of a stage checks, in words (for its purpose)
WHAT: dict[tuple[str, str], str] = {
    (CMN, "SessionSetup"): "SessionID 0 (a new session) and a valid EVCCID",
    (CMN, "AuthorizationSetup"): "the SessionID the SECC gave",
    (CMN, "ServiceDiscovery"): "the SessionID the SECC gave",
    (CMN, "ServiceDetail"): "the SessionID and a ServiceID that ServiceDiscoveryRes offered",
    (CMN, "PaymentServiceSelection"): "the SessionID, a payment option and the ChargeService that "
    "ServiceDiscoveryRes offered",
    (
        CMN,
        "ServiceSelection",
    ): "the SessionID, an energy transfer service and a parameter set the SECC offered",
    (
        CMN,
        "Authorization",
    ): "the SessionID (ISO 15118-20: an authorization service AuthorizationSetupRes offered)",
    (DC, "ChargeParameterDiscovery"): "the SessionID, an energy transfer mode the SECC offered with the DC "
    "parameters of that mode, maxima above 0 (-20: maxima >= minima)",
    (AC, "ChargeParameterDiscovery"): "the SessionID, an energy transfer mode the SECC offered with the AC "
    "parameters of that mode, maxima above 0 and >= minima",
    (CMN, "ScheduleExchange"): "the SessionID, MaximumSupportingPoints 12..1024, the control mode of the "
    "selected parameter set",
    (DC, "CableCheck"): "the SessionID the SECC gave",
    (DC, "PreCharge"): "the SessionID and a target voltage above 0 within the car's and the SECC's maxima "
    "(DIN/ISO-2: a target current within the car's maximum)",
    (DC, "PowerDelivery"): "the SessionID, ChargeProgress Start, a schedule tuple the SECC offered and a "
    "charging profile within its power limit",
    (AC, "PowerDelivery"): "the SessionID, ChargeProgress Start, a schedule tuple the SECC offered and a "
    "charging profile within its power limit",
    (
        DC,
        "CurrentDemand",
    ): "the SessionID in every request and targets within the car's maxima and the limits "
    "the SECC announced (ChargeParameterDiscoveryRes and the previous answer)",
    (
        AC,
        "ChargingStatus",
    ): "the SessionID in every request (-20: the present power within the SECC's maximum)",
    (DC, "WeldingDetection"): "the SessionID the SECC gave",
    (CMN, "SessionStop"): "the SessionID and ChargingSession Terminate or Pause (DIN: an empty body)",
}
