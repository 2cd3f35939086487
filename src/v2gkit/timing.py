"""Timing parameters of ISO 15118-2/-20 and DIN 70121, in seconds, with where each value comes from.

The sources are listed in ../shared/reference/timing.md; where they disagree the ISO 15118-4 test
suite's values win. Code takes its defaults from here so a test system can change them in one place.
"""

from __future__ import annotations

#: SDP: the EVCC waits this long for an answer before repeating the request (Josev SDP_REQ)
SDP_TIMEOUT = 0.25
#: ... and sends at most this many requests (Josev SDP_MAX_REQUEST_COUNTER)
SDP_MAX_REQUESTS = 50
#: V2G_EVCC_CommunicationSetup_Timeout: from the TCP/TLS set-up to the supportedAppProtocolRes
EVCC_COMMUNICATION_SETUP_TIMEOUT = 20.0
#: V2G_SECC_CommunicationSetup_Performance_Time
SECC_COMMUNICATION_SETUP_PERFORMANCE_TIME = 18.0
#: V2G_EVCC_Msg_Timeout for supportedAppProtocolReq (2 s like most requests)
EVCC_SAP_TIMEOUT = 2.0
#: V2G_SECC_Sequence_Timeout: the SECC waits this long for the next request
SECC_SEQUENCE_TIMEOUT = 60.0
#: par_CMN_TCP_Connection_Termination_Timeout (ISO 15118-4): a closing peer has this long
TCP_TERMINATION_TIMEOUT = 5.0

# --------------------------------------------------------------------------- DIN 70121 / ISO 15118-2 sessions
#: V2G_EVCC_Msg_Timeout per request (ISO 15118-4 values; Josev uses 0.5 s for CurrentDemand)
EVCC_MSG_TIMEOUT: dict[str, float] = {
    "ServiceDetail": 5.0, "PowerDelivery": 5.0, "CertificateInstallation": 5.0, "CertificateUpdate": 5.0,
    "CurrentDemand": 0.25,
}
EVCC_MSG_TIMEOUT_DEFAULT = 2.0
#: V2G_EVCC_Ongoing_Timeout: Authorization / ChargeParameterDiscovery answered "Ongoing" for this long
EVCC_ONGOING_TIMEOUT = 60.0
#: V2G_EVCC_CableCheck_Timeout and V2G_EVCC_PreCharge_Timeout (whole loops)
EVCC_CABLE_CHECK_TIMEOUT = 40.0
EVCC_PRECHARGE_TIMEOUT = 7.0
#: V2G_SECC_Msg_Performance_Time: how fast the SECC must answer (flagged when exceeded)
SECC_PERFORMANCE_TIME: dict[str, float] = {"CurrentDemand": 0.025, "PowerDelivery": 4.5}
SECC_PERFORMANCE_TIME_DEFAULT = 1.5
#: V2G_SECC_Ongoing_Performance_Time and the SECC's cable check limit: after these, "Ongoing" becomes FAILED
SECC_ONGOING_PERFORMANCE_TIME = 55.0
SECC_CABLE_CHECK_PERFORMANCE_TIME = 38.0
