"""ISO 15118-20 ACDP messages (V2G_CI_ACDP: automated connection device, pantograph), built and read from
plain values. ACDP_VehiclePositioning, ACDP_Connect and ACDP_Disconnect travel in the main stream (V2GTP payload
type 0x8005); ACDP_SystemStatus is a side stream of its own (0x8103, ISO 15118-20 8.6.5 "multiplexed
communication" names ACDP_SystemStatus among the side-stream messages; the number is Josev's and libcbv2g's
payload-type table, see the issue-10 notes §4).

The style of ``messages.py``: enumerations by their XSD spelling ("State_B", "EndPosition", "Safe",
"FAILED_EmergencyEvent") or member name, every response builder schema-valid for any response code from the
code alone. ACDP_DisconnectReq/Res have no types of their own in the XSD (they reuse the Connect types); the
generated element classes keep them apart, and ``messages.encode`` picks the element from the class.
The deviations of ACDP_VehiclePositioningRes are xs:short; the -20 excerpts read do not name their unit, the
v2gkit simulators use millimetres.
"""

from __future__ import annotations

from typing import Any

from ...controllers import ACDPEVSEStatus, ACDPEVStatus, ACDPPosition
from ...exi.gen import iso20_acdp
from . import messages as msg

__all__ = [
    "EVSESystemStatus",
    "EVTechnicalStatus",
    "connect_req",
    "connect_res",
    "device_status_of",
    "disconnect_req",
    "disconnect_res",
    "positioning_of",
    "system_status_of",
    "system_status_req",
    "system_status_res",
    "technical_status_of",
    "vehicle_positioning_req",
    "vehicle_positioning_res",
]

_A = iso20_acdp


def _xenum(cls: Any, v: Any) -> Any:
    if isinstance(v, cls):
        return v
    if isinstance(v, str):
        if v in cls._xsd:
            return cls(cls._xsd.index(v))
        if v in cls.__members__:
            return cls[v]
    raise ValueError(f"{v!r} is no {cls.__name__}: one of {', '.join(cls._xsd)}")


def _name(member: Any) -> str:
    return type(member)._xsd[int(member)]


def _rc(code: Any) -> Any:
    return msg._enum(_A.responseCodeType, code)


def _proc(processing: Any) -> Any:
    return msg._enum(_A.processingType, processing)


# ----------------------------------------------------------------------------------- vehicle positioning

def vehicle_positioning_req(immobilized: bool = False, positioning_support: bool = True) -> Any:
    """EVMobilityStatus (True: the EV is immobilized in place, [V2G20-4048]), EVPositioningSupport (the EV
    uses the positioning information the EVSE gives)."""
    return _A.ACDP_VehiclePositioningReqType(None, immobilized, positioning_support)


def vehicle_positioning_res(code: Any, processing: str = "Finished", positioning_support: bool = False,
                            x_deviation: int = 0, y_deviation: int = 0, window_x: int = 0, window_y: int = 0,
                            in_charge_position: bool = False) -> Any:
    """EVSEPositioningSupport, the EV's deviation from the charge position (EVRelativeX/YDeviation), the
    contact window (ContactWindowXc/Yc) and EVInChargePosition. Deviations are clamped to xs:short."""
    def short(v: int) -> int:
        return max(-32768, min(32767, int(v)))

    return _A.ACDP_VehiclePositioningResType(None, _rc(code), _proc(processing), positioning_support,
                                             short(x_deviation), short(y_deviation), short(window_x),
                                             short(window_y), in_charge_position)


def positioning_of(res: Any) -> tuple[str, ACDPPosition]:
    """(EVSEProcessing, what the ACDP_VehiclePositioningRes tells the EV)."""
    return res.evse_processing.name, ACDPPosition(res.ev_relative_x_deviation, res.ev_relative_y_deviation,
                                                  res.contact_window_xc, res.contact_window_yc,
                                                  res.ev_in_charge_position, res.evse_positioning_support)


# --------------------------------------------------------------------------------- connect and disconnect

def connect_req(device_status: str = "State_B") -> Any:
    """EVElectricalChargingDeviceStatus: the EV's view of the conductive connection (CP State_A..D)."""
    return _A.ACDP_ConnectReq(None, _xenum(_A.electricalChargingDeviceStatusType, device_status))


def connect_res(code: Any, processing: str = "Finished", electrical: str = "State_A",
                mechanical: str = "Home") -> Any:
    """EVSEElectricalChargingDeviceStatus (State_A: not connected, B/C/D connected) and
    EVSEMechanicalChargingDeviceStatus (Home, Moving, EndPosition)."""
    return _A.ACDP_ConnectRes(None, _rc(code), _proc(processing),
                              _xenum(_A.electricalChargingDeviceStatusType, electrical),
                              _xenum(_A.mechanicalChargingDeviceStatusType, mechanical))


def disconnect_req(device_status: str = "State_B") -> Any:
    return _A.ACDP_DisconnectReq(None, _xenum(_A.electricalChargingDeviceStatusType, device_status))


def disconnect_res(code: Any, processing: str = "Finished", electrical: str = "State_A",
                   mechanical: str = "Home") -> Any:
    """Finished once the charging device is back in its home position ([V2G20-4075])."""
    return _A.ACDP_DisconnectRes(None, _rc(code), _proc(processing),
                                 _xenum(_A.electricalChargingDeviceStatusType, electrical),
                                 _xenum(_A.mechanicalChargingDeviceStatusType, mechanical))


def device_status_of(res: Any) -> tuple[str, str]:
    """(electrical, mechanical) status of an ACDP_ConnectRes / ACDP_DisconnectRes."""
    return _name(res.evse_electrical_charging_device_status), _name(res.evse_mechanical_charging_device_status)


# ------------------------------------------------------------------------------------------ system status

#: the bodies of ACDP_SystemStatusReq/Res (the controllers' types)
EVTechnicalStatus = ACDPEVStatus
EVSESystemStatus = ACDPEVSEStatus


def system_status_req(status: EVTechnicalStatus) -> Any:
    m = _A
    s = status
    return m.ACDP_SystemStatusReqType(None, m.EVTechnicalStatusType(
        s.ready_to_charge, s.immobilization_request, s.immobilized,
        None if s.wlan_strength is None else msg.rational(s.wlan_strength, m),
        None if s.cp_status is None else _xenum(m.cpStatusType, s.cp_status), s.soc,
        None if s.error_code is None else _xenum(m.errorCodeType, s.error_code), s.timeout))


def technical_status_of(req: Any) -> EVTechnicalStatus:
    t = req.ev_technical_status
    return EVTechnicalStatus(t.ev_ready_to_charge, t.ev_immobilization_request, t.ev_immobilized,
                             None if t.evwlan_strength is None else msg.value_of(t.evwlan_strength),
                             None if t.evcp_status is None else _name(t.evcp_status), t.evsoc,
                             None if t.ev_error_code is None else _name(t.ev_error_code), t.ev_timeout)


_NO_STATUS = ACDPEVSEStatus()


def system_status_res(code: Any, status: EVSESystemStatus = _NO_STATUS) -> Any:
    """OK when the EVSE can represent its status ([V2G20-4017]), FAILED when not ([V2G20-4018])."""
    s = status
    return _A.ACDP_SystemStatusResType(None, _rc(code), _xenum(_A.mechanicalChargingDeviceStatusType, s.mechanical),
                                       s.ready_to_charge, _xenum(_A.isolationStatusType, s.isolation), s.disabled,
                                       s.utility_interrupt, s.emergency_shutdown, s.malfunction,
                                       s.ev_in_charge_position, s.ev_association)


def system_status_of(res: Any) -> EVSESystemStatus:
    return EVSESystemStatus(_name(res.evse_mechanical_charging_device_status), res.evse_ready_to_charge,
                            _name(res.evse_isolation_status), res.evse_disabled, res.evse_utility_interrupt_event,
                            res.evse_emergency_shutdown, res.evse_malfunction, res.ev_in_charge_position,
                            res.ev_association_status)
