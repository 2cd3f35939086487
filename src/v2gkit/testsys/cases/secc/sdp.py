"""SECC Discovery Protocol: ISO 15118-4 TC_SECC_CMN_VTB_SDP_* and TC_SECC_CMN_VTB_V2GTPSDP_* (the tester plays
the EVCC and sends SDP requests to the charger; no V2G connection follows)."""

from __future__ import annotations

from .... import sdp, timing
from ... import mutate
from ...script import Tester
from ._common import ALL, check_sdp_response, no_answer, sdp_exchange, secc_case

#: where the ISO 15118-2 requirements on SDP are cited in v2gkit (port, fields, response address)
SDP_REQS = ("V2G2-139", "V2G2-140", "V2G2-141")
#: how long the SECC keeps its SDP server up without a car connecting: V2G_SECC_CommunicationSetup_Timeout.
#: timing.py has the SECC's 18 s performance time and the EVCC's 20 s timeout; the tester waits the longer.
COMMUNICATION_SETUP = max(timing.SECC_COMMUNICATION_SETUP_PERFORMANCE_TIME,
                          timing.EVCC_COMMUNICATION_SETUP_TIMEOUT)


def _request(security: sdp.Security) -> bytes:
    return sdp.SDPRequest(security, sdp.Transport.TCP).to_bytes()


def _answered(t: Tester, asked: sdp.Security, want: sdp.Security) -> None:
    answer = sdp_exchange(t, _request(asked))
    if answer is None:
        t.fail(f"no SDP response after {timing.SDP_MAX_REQUESTS} requests {timing.SDP_TIMEOUT:g} s apart")
    check_sdp_response(t, answer, want)


@secc_case("TC_SECC_CMN_VTB_SDP_001", protocols=ALL, requirements=SDP_REQS, quick=True,
           purpose="Verify that the SECC answers an SDP request for no transport security over TCP with an "
                   "SDP response offering no transport security over TCP, at a valid port and IP address.",
           preconditions="The SECC's SDP server is up (the car is plugged in); external identification.",
           steps=("Send SDP requests with Security 0x10 (none) and TransportProtocol 0x00 (TCP) until one is "
                  "answered (at most 50, V2G_EVCC_SDP_Timeout apart).",
                  "Check the SDP response: Security 0x10, TransportProtocol 0x00, a valid port and IP "
                  "address (another Security: the SUT does not support it, inconclusive)."))
def sdp_001(t: Tester) -> None:
    _answered(t, sdp.Security.NONE, sdp.Security.NONE)


@secc_case("TC_SECC_CMN_VTB_SDP_002", protocols=ALL, requirements=SDP_REQS, needs=("tls",),
           purpose="Verify that an SECC offering TLS answers an SDP request for TLS over TCP with an SDP "
                   "response offering TLS over TCP, at a valid port and IP address.",
           preconditions="The SECC offers TLS (PIXIT TLS = true); external identification.",
           steps=("Send SDP requests with Security 0x00 (TLS) and TransportProtocol 0x00 (TCP) until one is "
                  "answered.",
                  "Check the SDP response: Security 0x00, TransportProtocol 0x00, a valid port and IP "
                  "address."))
def sdp_002(t: Tester) -> None:
    _answered(t, sdp.Security.TLS, sdp.Security.TLS)


@secc_case("TC_SECC_CMN_VTB_SDP_003", protocols=ALL, requirements=SDP_REQS, needs=("tls", "pnc"),
           purpose="Verify that an SECC with Plug & Charge answers an SDP request for TLS over TCP with an "
                   "SDP response offering TLS over TCP, at a valid port and IP address.",
           preconditions="The SECC supports Plug & Charge identification (which needs TLS).",
           steps=("Send SDP requests with Security 0x00 (TLS) and TransportProtocol 0x00 (TCP) until one is "
                  "answered.",
                  "Check the SDP response: Security 0x00, TransportProtocol 0x00, a valid port and IP "
                  "address."))
def sdp_003(t: Tester) -> None:
    _answered(t, sdp.Security.TLS, sdp.Security.TLS)


def _stopped(t: Tester, security: sdp.Security) -> None:
    t.log(f"waiting {COMMUNICATION_SETUP:g} s: V2G_SECC_CommunicationSetup_Timeout runs out on the SUT's "
          "side")
    t.wait(COMMUNICATION_SETUP)
    no_answer(t, _request(security), f"a valid SDP request for Security 0x{security:02X}")


_STOP_STEPS = ("Let V2G_SECC_CommunicationSetup_Timeout run out on the SUT's side without connecting.",
               "Send a valid SDP request; check that no SDP response comes within V2G_EVCC_SDP_Timeout.")


@secc_case("TC_SECC_CMN_VTB_SDP_004", protocols=ALL, requirements=("V2G2-723", "V2G2-029", "V2G2-032"),
           needs=("live",),
           purpose="Verify that the SECC stops its SDP server once V2G_SECC_CommunicationSetup_Timeout has "
                   "run out without a car connecting: a valid SDP request for no transport security gets no "
                   "response.",
           preconditions="The SECC was just started (plug-in); the SUT's own timer runs, so only a live link "
                         "shows it.",
           steps=_STOP_STEPS)
def sdp_004(t: Tester) -> None:
    _stopped(t, sdp.Security.NONE)


@secc_case("TC_SECC_CMN_VTB_SDP_005", protocols=ALL, requirements=("V2G2-723", "V2G2-029", "V2G2-032"),
           needs=("live", "tls"),
           purpose="Verify that an SECC offering TLS stops its SDP server once "
                   "V2G_SECC_CommunicationSetup_Timeout has run out: a valid SDP request for TLS gets no "
                   "response.",
           preconditions="The SECC offers TLS and was just started; only a live link shows the SUT's own "
                         "timer.",
           steps=_STOP_STEPS)
def sdp_005(t: Tester) -> None:
    _stopped(t, sdp.Security.TLS)


@secc_case("TC_SECC_CMN_VTB_SDP_006", protocols=ALL, requirements=("V2G2-723", "V2G2-029", "V2G2-032"),
           needs=("live", "tls", "pnc"),
           purpose="Verify that an SECC with Plug & Charge stops its SDP server once "
                   "V2G_SECC_CommunicationSetup_Timeout has run out: a valid SDP request for TLS gets no "
                   "response.",
           preconditions="The SECC supports Plug & Charge and was just started; only a live link shows the "
                         "SUT's timer.",
           steps=_STOP_STEPS)
def sdp_006(t: Tester) -> None:
    _stopped(t, sdp.Security.TLS)


@secc_case("TC_SECC_CMN_VTB_SDP_007", protocols=ALL, requirements=SDP_REQS, needs=("notls",),
           purpose="Verify that an SECC without TLS answers an SDP request for TLS over TCP with an SDP "
                   "response offering no transport security over TCP, at a valid port and IP address.",
           preconditions="The SECC does not offer TLS (PIXIT TLS = false); external identification. An SECC "
                         "that answers with TLS offers it: the case does not apply (inconclusive).",
           steps=("Send SDP requests with Security 0x00 (TLS) and TransportProtocol 0x00 (TCP) until one is "
                  "answered.",
                  "Check the SDP response: Security 0x10, TransportProtocol 0x00, a valid port and IP "
                  "address."))
def sdp_007(t: Tester) -> None:
    answer = sdp_exchange(t, _request(sdp.Security.TLS))
    if answer is None:
        t.fail(f"no SDP response after {timing.SDP_MAX_REQUESTS} requests")
    try:
        if sdp.parse_response(answer).security is sdp.Security.TLS:
            t.inconc("not applicable: the SUT offers TLS (it answered a TLS request with TLS); the case is "
                     "for SECCs without TLS")
    except sdp.SDPError:
        pass  # check_sdp_response says what is wrong
    check_sdp_response(t, answer, sdp.Security.NONE)


# ----------------------------------------------------------------------------------------------- V2GTP on UDP
@secc_case("TC_SECC_CMN_VTB_V2GTPSDP_001", protocols=ALL, requirements=("V2G2-107", "V2G2-140"), quick=True,
           purpose="Verify that the SECC answers a valid SDP request (V2GTP header 0x01, 0xFE, payload type "
                   "0x9000) with an SDP response whose V2GTP header is 0x01, 0xFE, payload type 0x9001 and "
                   "payload length 0x00000014.",
           steps=("Send valid SDP requests until one is answered.",
                  "Check the response header: protocol version 0x01, inverse 0xFE, payload type 0x9001, "
                  "length 20."))
def v2gtpsdp_001(t: Tester) -> None:
    answer = sdp_exchange(t, _request(sdp.Security.NONE))
    if answer is None:
        t.fail("no SDP response")
    head = answer[:8]
    t.check(len(answer) >= 8, f"the SDP response has a V2GTP header ({len(answer)} octets)")
    t.check(head[0] == 0x01, f"protocolVersion 0x{head[0]:02X} (want 0x01)")
    t.check(head[1] == 0xFE, f"invProtocolVersion 0x{head[1]:02X} (want 0xFE)")
    t.check(head[2:4] == b"\x90\x01", f"payloadType 0x{head[2:4].hex().upper()} (want 0x9001)")
    t.check(head[4:8] == b"\x00\x00\x00\x14", f"payloadLength 0x{head[4:8].hex().upper()} (want 0x00000014)")


_IGNORED = ("Send the faulty SDP request once.",
            "Check that no SDP response comes within the SDP message timeout (V2G_EVCC_SDP_Timeout).")


@secc_case("TC_SECC_CMN_VTB_V2GTPSDP_002", protocols=ALL, requirements=("V2G2-107",),
           purpose="Verify that the SECC ignores an SDP request whose V2GTP payloadLength is 0x00000000: the "
                   "tester sees an SDP message timeout.", steps=_IGNORED)
def v2gtpsdp_002(t: Tester) -> None:
    no_answer(t, mutate.sdp_req_length(0).data, "an SDP request with payloadLength 0")


@secc_case("TC_SECC_CMN_VTB_V2GTPSDP_003", protocols=ALL, requirements=("V2G2-107",),
           purpose="Verify that the SECC ignores an SDP request whose V2GTP payloadType is 0x7000: the "
                   "tester sees an SDP message timeout.", steps=_IGNORED)
def v2gtpsdp_003(t: Tester) -> None:
    no_answer(t, mutate.sdp_req_payload_type(0x7000).data, "an SDP request with payloadType 0x7000")


@secc_case("TC_SECC_CMN_VTB_V2GTPSDP_004", protocols=ALL, requirements=("V2G2-107",),
           purpose="Verify that the SECC ignores an SDP request whose V2GTP protocolVersion is 0xFF: the "
                   "tester sees an SDP message timeout.", steps=_IGNORED)
def v2gtpsdp_004(t: Tester) -> None:
    no_answer(t, mutate.sdp_req_version(0xFF).data, "an SDP request with protocolVersion 0xFF")


@secc_case("TC_SECC_CMN_VTB_V2GTPSDP_005", protocols=ALL, requirements=("V2G2-107",),
           purpose="Verify that the SECC ignores an SDP request whose V2GTP invProtocolVersion is 0xFF: the "
                   "tester sees an SDP message timeout.", steps=_IGNORED)
def v2gtpsdp_005(t: Tester) -> None:
    no_answer(t, mutate.sdp_req_inverse(0xFF).data, "an SDP request with invProtocolVersion 0xFF")
