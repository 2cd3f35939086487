"""The end of a session (v2gkit's own cases): WeldingDetection (DIN, ISO-2; ISO 15118-20 DC_WeldingDetection)
and SessionStop with Terminate, Pause and (ISO 15118-20) ServiceRenegotiation. The tester plays the EVCC."""

from __future__ import annotations

from typing import Any

from ...script import Tester
from ._common import (
    ALL,
    TERMINATION,
    closes,
    family,
    good,
    mark,
    msg,
    patterns,
    reach,
    response,
    secc_case,
    value,
)


@secc_case("TC_SECC_DC_VKT_WeldingDetection_001", protocols=ALL, from_standard=False,
           purpose="Verify that the SECC answers WeldingDetectionReq (ISO 15118-20: DC_WeldingDetectionReq) "
                   "after PowerDelivery Stop with ResponseCode OK, the current SessionID and "
                   "EVSEPresentVoltage.",
           steps=("GoodCase through the charging loop and PowerDeliveryReq(Stop) up to WeldingDetectionReq; "
                  "send it.",
                  "Check the answer: OK, the current SessionID, schema-valid, EVSEPresentVoltage given."))
def welding_detection_001(t: Tester) -> None:
    got = good(t, "WeldingDetection")
    v = got.body.evse_present_voltage
    t.check(v is not None, f"EVSEPresentVoltage {value(v):g} V" if v is not None else "EVSEPresentVoltage "
                                                                                      "missing")


patterns(__name__, "WeldingDetection", "DC", ALL, after="PowerDeliveryRes (Stop)")


def _charging_session(t: Tester, name: str) -> Any:
    """An edit that sets SessionStopReq's ChargingSession (ISO-2, -20; DIN has none)."""
    def edit(req: Any) -> None:
        req.charging_session = type(req.charging_session)[name]
    return edit


def _after_stop(t: Tester) -> None:
    """What the SUT does with the connection after SessionStopRes (the EVCC closes it in DIN/ISO-2; the SECC
    ends its side too): logged, not judged."""
    if t.expect_close(TERMINATION):
        t.log(f"the connection was closed by the {'SUT' if t.closed_by == 'peer' else 'tester'} after "
              "SessionStopRes")


@secc_case("TC_SECC_CMN_VKT_SessionStop_001", protocols=ALL, from_standard=False, quick=True,
           purpose="Verify that the SECC answers SessionStopReq (ChargingSession Terminate; DIN: no "
                   "parameter) at the end of a session with ResponseCode OK and the current SessionID.",
           steps=("GoodCase through the whole session up to SessionStopReq; send it with Terminate.",
                  "Check the SessionStopRes: OK, the current SessionID, schema-valid."))
def session_stop_001(t: Tester) -> None:
    reach(t, msg(t, "SessionStop") + "Req")
    edit = None if family(t) == "din" else _charging_session(t, "Terminate")
    good(t, "SessionStop", edit=edit)
    _after_stop(t)


patterns(__name__, "SessionStop", "CMN", ALL,
         after="WeldingDetectionRes (ISO 15118-20: DC_WeldingDetectionRes)")


@secc_case("TC_SECC_CMN_VKT_SessionStop_005", protocols=("iso2", "iso20"), from_standard=False,
           needs=("pause",), requirements=("V2G2-741",),
           purpose="Verify that the SECC answers SessionStopReq with ChargingSession Pause with ResponseCode "
                   "OK and the current SessionID (the session can be resumed later with that SessionID).",
           steps=("GoodCase through the session up to SessionStopReq; send it with Pause.",
                  "Check the SessionStopRes: OK, the current SessionID, schema-valid."))
def session_stop_005(t: Tester) -> None:
    good(t, "SessionStop", edit=_charging_session(t, "Pause"))
    _after_stop(t)


@secc_case("TC_SECC_CMN_VKT_SessionStop_006", protocols=("iso20",), from_standard=False,
           requirements=("V2G20-1643", "V2G20-1480", "V2G20-2222"),
           purpose="Verify that the SECC handles SessionStopReq with ChargingSession ServiceRenegotiation as "
                   "its first ServiceDiscoveryRes said: ServiceRenegotiationSupported false -> "
                   "FAILED_NoServiceRenegotiationSupported and the close; true -> OK, and the session goes "
                   "on with a ServiceDiscoveryReq answered OK.",
           steps=("GoodCase through the session up to SessionStopReq; send it with ServiceRenegotiation.",
                  "Not supported: check FAILED_NoServiceRenegotiationSupported, schema-valid, and the close.",
                  "Supported: check OK; send ServiceDiscoveryReq; check ServiceDiscoveryRes OK with the "
                  "current SessionID."))
def session_stop_006(t: Tester) -> None:
    reach(t, "SessionStopReq")
    sd = next((m for m in t.received if m.name == "ServiceDiscoveryRes"), None)
    supported = bool(sd is not None and sd.body.service_renegotiation_supported)
    t.log(f"the first ServiceDiscoveryRes said ServiceRenegotiationSupported {str(supported).lower()}")
    at = mark(t)
    t.send("SessionStopReq", _charging_session(t, "ServiceRenegotiation"))
    if not supported:
        response(t, "SessionStop", "FAILED_NoServiceRenegotiationSupported", after=at)
        closes(t)
        return
    response(t, "SessionStop", "OK", after=at)
    at = mark(t)
    t.send("ServiceDiscoveryReq", now=True)
    response(t, "ServiceDiscovery", "OK", after=at)
