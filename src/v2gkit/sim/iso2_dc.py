"""A complete ISO 15118-2 DC charging message sequence, built in code (EIM, no TLS).

Used by ``v2gkit demo`` and the benchmarks until live sessions land; the values are
those of a plausible 400 V car charging at 125 A.
"""

from __future__ import annotations

from v2gkit.exi.gen import iso2 as m

SESSION_ID = bytes.fromhex("C1A61BDEADFA4655")
EVCC_ID = bytes.fromhex("0A1B2C3D4E5F")
EVSE_ID = "DE*V2G*E12345"


def pv(value: int, unit: m.unitSymbolType, multiplier: int = 0) -> m.PhysicalValueType:
    return m.PhysicalValueType(multiplier=multiplier, unit=unit, value=value)


A, V, W, S, WH = (m.unitSymbolType.A, m.unitSymbolType.V, m.unitSymbolType.W, m.unitSymbolType.s,
                  m.unitSymbolType.Wh)
OK = m.responseCodeType.OK


def ev_status(soc: int = 50) -> m.DC_EVStatusType:
    return m.DC_EVStatusType(ev_ready=True, ev_error_code=m.DC_EVErrorCodeType.NO_ERROR, evresssoc=soc)


def evse_status(iso: m.isolationLevelType | None = m.isolationLevelType.Valid) -> m.DC_EVSEStatusType:
    return m.DC_EVSEStatusType(notification_max_delay=0, evse_notification=m.EVSENotificationType.None_,
                               evse_isolation_status=iso, evse_status_code=m.DC_EVSEStatusCodeType.EVSE_Ready)


def msg(body_field: str, body: object, session_id: bytes = SESSION_ID) -> m.V2G_MessageType:
    b = m.BodyType()
    setattr(b, body_field, body)
    return m.V2G_MessageType(header=m.MessageHeaderType(session_id=session_id), body=b)


def current_demand_req(soc: int = 62) -> m.V2G_MessageType:
    return msg("current_demand_req", m.CurrentDemandReqType(
        dc_ev_status=ev_status(soc), ev_target_current=pv(125, A),
        ev_maximum_voltage_limit=pv(4500, V, -1), ev_maximum_current_limit=pv(200, A),
        ev_maximum_power_limit=pv(90, W, 3), bulk_charging_complete=False, charging_complete=False,
        remaining_time_to_full_soc=pv(2400, S), remaining_time_to_bulk_soc=pv(1800, S),
        ev_target_voltage=pv(4000, V, -1)))


def current_demand_res() -> m.V2G_MessageType:
    return msg("current_demand_res", m.CurrentDemandResType(
        response_code=OK, dc_evse_status=evse_status(), evse_present_voltage=pv(3995, V, -1),
        evse_present_current=pv(1248, A, -1), evse_current_limit_achieved=False,
        evse_voltage_limit_achieved=False, evse_power_limit_achieved=False,
        evse_maximum_voltage_limit=pv(5000, V, -1), evse_maximum_current_limit=pv(200, A),
        evse_maximum_power_limit=pv(150, W, 3), evseid=EVSE_ID, sa_schedule_tuple_id=1,
        receipt_required=False))


def charge_parameter_discovery_res(entries: int = 5) -> m.V2G_MessageType:
    pmax = [m.PMaxScheduleEntryType(relative_time_interval=m.RelativeTimeIntervalType(
        start=i * 3600, duration=3600 if i == entries - 1 else None), p_max=pv(150 - 10 * i, W, 3))
        for i in range(entries)]
    tuple_ = m.SAScheduleTupleType(sa_schedule_tuple_id=1, p_max_schedule=m.PMaxScheduleType(
        p_max_schedule_entry=pmax))
    return msg("charge_parameter_discovery_res", m.ChargeParameterDiscoveryResType(
        response_code=OK, evse_processing=m.EVSEProcessingType.Finished,
        sa_schedule_list=m.SAScheduleListType(sa_schedule_tuple=[tuple_]),
        dc_evse_charge_parameter=m.DC_EVSEChargeParameterType(
            dc_evse_status=evse_status(None), evse_maximum_current_limit=pv(200, A),
            evse_maximum_power_limit=pv(150, W, 3), evse_maximum_voltage_limit=pv(5000, V, -1),
            evse_minimum_current_limit=pv(0, A), evse_minimum_voltage_limit=pv(1500, V, -1),
            evse_peak_current_ripple=pv(5, A))))


def sequence() -> list[tuple[str, str, m.V2G_MessageType]]:
    """(message name, direction, message) from SessionSetup to SessionStop."""
    zero = bytes(1)
    seq: list[tuple[str, str, m.V2G_MessageType]] = [
        ("SessionSetupReq", "EV->EVSE", msg("session_setup_req", m.SessionSetupReqType(evccid=EVCC_ID), zero)),
        ("SessionSetupRes", "EVSE->EV", msg("session_setup_res", m.SessionSetupResType(
            response_code=m.responseCodeType.OK_NewSessionEstablished, evseid=EVSE_ID,
            evse_time_stamp=1_790_000_000))),
        ("ServiceDiscoveryReq", "EV->EVSE", msg("service_discovery_req", m.ServiceDiscoveryReqType(
            service_category=m.serviceCategoryType.EVCharging))),
        ("ServiceDiscoveryRes", "EVSE->EV", msg("service_discovery_res", m.ServiceDiscoveryResType(
            response_code=OK, payment_option_list=m.PaymentOptionListType(
                payment_option=[m.paymentOptionType.ExternalPayment]),
            charge_service=m.ChargeServiceType(
                service_id=1, service_category=m.serviceCategoryType.EVCharging, free_service=False,
                supported_energy_transfer_mode=m.SupportedEnergyTransferModeType(
                    energy_transfer_mode=[m.EnergyTransferModeType.DC_extended]))))),
        ("PaymentServiceSelectionReq", "EV->EVSE", msg("payment_service_selection_req",
                                                      m.PaymentServiceSelectionReqType(
            selected_payment_option=m.paymentOptionType.ExternalPayment,
            selected_service_list=m.SelectedServiceListType(
                selected_service=[m.SelectedServiceType(service_id=1)])))),
        ("PaymentServiceSelectionRes", "EVSE->EV", msg("payment_service_selection_res",
                                                      m.PaymentServiceSelectionResType(response_code=OK))),
        ("AuthorizationReq", "EV->EVSE", msg("authorization_req", m.AuthorizationReqType())),
        ("AuthorizationRes", "EVSE->EV", msg("authorization_res", m.AuthorizationResType(
            response_code=OK, evse_processing=m.EVSEProcessingType.Finished))),
        ("ChargeParameterDiscoveryReq", "EV->EVSE", msg("charge_parameter_discovery_req",
                                                       m.ChargeParameterDiscoveryReqType(
            max_entries_sa_schedule_tuple=12,
            requested_energy_transfer_mode=m.EnergyTransferModeType.DC_extended,
            dc_ev_charge_parameter=m.DC_EVChargeParameterType(
                departure_time=7200, dc_ev_status=ev_status(30), ev_maximum_current_limit=pv(200, A),
                ev_maximum_power_limit=pv(90, W, 3), ev_maximum_voltage_limit=pv(4500, V, -1),
                ev_energy_capacity=pv(77, WH, 3), ev_energy_request=pv(50, WH, 3), full_soc=100,
                bulk_soc=80)))),
        ("ChargeParameterDiscoveryRes", "EVSE->EV", charge_parameter_discovery_res()),
        ("CableCheckReq", "EV->EVSE", msg("cable_check_req", m.CableCheckReqType(dc_ev_status=ev_status(30)))),
        ("CableCheckRes", "EVSE->EV", msg("cable_check_res", m.CableCheckResType(
            response_code=OK, dc_evse_status=evse_status(), evse_processing=m.EVSEProcessingType.Finished))),
        ("PreChargeReq", "EV->EVSE", msg("pre_charge_req", m.PreChargeReqType(
            dc_ev_status=ev_status(30), ev_target_voltage=pv(3900, V, -1), ev_target_current=pv(2, A)))),
        ("PreChargeRes", "EVSE->EV", msg("pre_charge_res", m.PreChargeResType(
            response_code=OK, dc_evse_status=evse_status(), evse_present_voltage=pv(3895, V, -1)))),
        ("PowerDeliveryReq", "EV->EVSE", msg("power_delivery_req", m.PowerDeliveryReqType(
            charge_progress=m.chargeProgressType.Start, sa_schedule_tuple_id=1,
            dc_ev_power_delivery_parameter=m.DC_EVPowerDeliveryParameterType(
                dc_ev_status=ev_status(30), bulk_charging_complete=False, charging_complete=False)))),
        ("PowerDeliveryRes", "EVSE->EV", msg("power_delivery_res", m.PowerDeliveryResType(
            response_code=OK, dc_evse_status=evse_status()))),
        ("CurrentDemandReq", "EV->EVSE", current_demand_req()),
        ("CurrentDemandRes", "EVSE->EV", current_demand_res()),
        ("PowerDeliveryReq", "EV->EVSE", msg("power_delivery_req", m.PowerDeliveryReqType(
            charge_progress=m.chargeProgressType.Stop, sa_schedule_tuple_id=1,
            dc_ev_power_delivery_parameter=m.DC_EVPowerDeliveryParameterType(
                dc_ev_status=ev_status(80), charging_complete=True)))),
        ("PowerDeliveryRes", "EVSE->EV", msg("power_delivery_res", m.PowerDeliveryResType(
            response_code=OK, dc_evse_status=evse_status()))),
        ("WeldingDetectionReq", "EV->EVSE", msg("welding_detection_req", m.WeldingDetectionReqType(
            dc_ev_status=ev_status(80)))),
        ("WeldingDetectionRes", "EVSE->EV", msg("welding_detection_res", m.WeldingDetectionResType(
            response_code=OK, dc_evse_status=evse_status(), evse_present_voltage=pv(120, V, -1)))),
        ("SessionStopReq", "EV->EVSE", msg("session_stop_req", m.SessionStopReqType(
            charging_session=m.chargingSessionType.Terminate))),
        ("SessionStopRes", "EVSE->EV", msg("session_stop_res", m.SessionStopResType(response_code=OK))),
    ]
    return seq
