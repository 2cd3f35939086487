"""The supportedAppProtocol handshake: ISO 15118-4 TC_SECC_CMN_VTB_SupportedAppProtocol_* (the tester plays
the EVCC). "The ISO namespace" of the purposes is the namespace of the protocol under test (ISO 15118-2's; for
a DIN or ISO 15118-20 run, theirs)."""

from __future__ import annotations

from typing import Any

from ... import steps
from ...script import Tester
from ._common import ALL, MSG_TIMEOUT, SEQUENCE, TERMINATION, closes, reach, schema_valid, secc_case, withhold
from .sdp import COMMUNICATION_SETUP

SAP = "SupportedAppProtocol"
#: at most 20 entries, priorities 1..20 (cited in session/handshake.py)
REQS = ("V2G2-167",)
#: a namespace no SECC knows (the one the ISO 15118-4 test behaviour uses: a 2014 edition that does not exist)
INVALID_NAMESPACE = "urn:iso:15118:2:2014:MsgDef"


def _answer(t: Tester, *codes: str) -> Any:
    got = steps.response(t, SAP + "Res", *codes)
    schema_valid(t, got)
    return got


def _negotiated(t: Tester) -> None:
    """The answer to the tester's own (valid) request: OK_SuccessfulNegotiation or ..WithMinorDeviation and
    the SchemaID of the entry offered."""
    t.send(SAP + "Req")
    got = _answer(t, "OK_SuccessfulNegotiation", "OK_SuccessfulNegotiationWithMinorDeviation")
    offered = {p.schema_id for p in t.pending(SAP + "Req").app_protocol}
    t.check(got.body.schema_id in offered, f"SchemaID {got.body.schema_id} is one the tester offered "
                                           f"({sorted(offered)})")


_GOOD_STEPS = ("Connect and send a SupportedAppProtocolReq listing the protocol under test (valid namespace, "
               "version, SchemaID, priority).",
               "Check the SupportedAppProtocolRes: ResponseCode OK_SuccessfulNegotiation or "
               "OK_SuccessfulNegotiationWithMinorDeviation, the SchemaID offered, schema-valid.")


@secc_case("TC_SECC_CMN_VTB_SupportedAppProtocol_001", protocols=ALL, requirements=REQS, needs=("tls",),
           quick=True,
           purpose="Verify that the SECC (over TLS) accepts a SupportedAppProtocolReq listing valid app "
                   "protocols including its namespace: SupportedAppProtocolRes with OK_SuccessfulNegotiation "
                   "or OK_SuccessfulNegotiationWithMinorDeviation and every mandatory parameter.",
           preconditions="The SECC offers TLS (PIXIT TLS = true). In-process runs have no TLS layer: the "
                         "handshake runs over the plain connection there.",
           steps=_GOOD_STEPS)
def sap_001(t: Tester) -> None:
    _negotiated(t)


@secc_case("TC_SECC_CMN_VTB_SupportedAppProtocol_002", protocols=ALL, requirements=REQS,
           purpose="Verify that the SECC refuses a SupportedAppProtocolReq whose only namespace is invalid: "
                   "SupportedAppProtocolRes with Failed_NoNegotiation, then it closes the TCP connection "
                   "within par_CMN_TCP_Connection_Termination_Timeout.",
           steps=(f"Send a SupportedAppProtocolReq whose one entry has the namespace {INVALID_NAMESPACE}, "
                  "major 3.",
                  "Check the SupportedAppProtocolRes: ResponseCode Failed_NoNegotiation, schema-valid.",
                  "Check that the SUT closes the TCP connection within "
                  "par_CMN_TCP_Connection_Termination_Timeout."))
def sap_002(t: Tester) -> None:
    def invalid(req: Any) -> None:
        for p in req.app_protocol:
            p.protocol_namespace = INVALID_NAMESPACE
            p.version_number_major = 3
    t.send(SAP + "Req", invalid)
    _answer(t, "Failed_NoNegotiation")
    closes(t)


@secc_case("TC_SECC_CMN_VTB_SupportedAppProtocol_003", protocols=ALL, requirements=("V2G2-443",),
           purpose="Verify that the SECC terminates the V2G communication session when no "
                   "SupportedAppProtocolReq comes after the SDP exchange: once V2G_SECC_Sequence_Timeout has "
                   "run out it closes the TCP connection within par_CMN_TCP_Connection_Termination_Timeout.",
           steps=("Connect (after SDP) and send nothing.",
                  "Check that the SUT has closed the TCP connection by V2G_SECC_Sequence_Timeout plus "
                  "par_CMN_TCP_Connection_Termination_Timeout."))
def sap_003(t: Tester) -> None:
    reach(t, SAP + "Req")
    withhold(t, SAP + "Req")
    t.log(f"silent after the TCP connection came up: V2G_SECC_Sequence_Timeout is {SEQUENCE:g} s")
    closes(t, SEQUENCE + TERMINATION)


@secc_case("TC_SECC_CMN_VTB_SupportedAppProtocol_004", protocols=ALL, requirements=REQS, needs=("notls",),
           purpose="Verify that the SECC (plain TCP, no TLS) accepts a SupportedAppProtocolReq listing valid "
                   "app protocols including its namespace: SupportedAppProtocolRes with "
                   "OK_SuccessfulNegotiation or OK_SuccessfulNegotiationWithMinorDeviation and every "
                   "mandatory parameter.",
           preconditions="The SECC is tested without TLS (PIXIT TLS = false); external identification.",
           steps=_GOOD_STEPS)
def sap_004(t: Tester) -> None:
    _negotiated(t)


@secc_case("TC_SECC_CMN_VTB_SupportedAppProtocol_005", protocols=ALL,
           requirements=("V2G2-723", "V2G2-029", "V2G2-032"),
           needs=("live",),
           purpose="Verify that the SECC stops waiting for the TCP/TLS connection once "
                   "V2G_SECC_CommunicationSetup_Timeout has run out: it does not answer a TCP/TLS connection "
                   "attempt made afterwards.",
           preconditions="The SECC was just started; its own timer runs, so only a live link shows it.",
           steps=("Find the SECC with SDP; let V2G_SECC_CommunicationSetup_Timeout run out on the SUT's side "
                  "without connecting.",
                  "Connect; check that the SUT takes no connection (no SupportedAppProtocolRes within "
                  "V2G_EVCC_Msg_Timeout)."))
def sap_005(t: Tester) -> None:
    # where the SECC listens, asked before its timer runs out (SDP stops with it)
    found = t.sdp(bytes.fromhex("01fe9000000000021000"))
    if found is None:
        t.inconc("the SECC did not answer SDP right after it started")
    t.log(f"waiting {COMMUNICATION_SETUP:g} s before connecting")
    t.wait(COMMUNICATION_SETUP)
    got = t.receive(SAP + "Res", timeout=MSG_TIMEOUT)
    t.check(got is None, "no connection and no SupportedAppProtocolRes after "
                         "V2G_SECC_CommunicationSetup_Timeout"
            if got is None else "the SUT still took the connection and answered SupportedAppProtocolReq")


@secc_case("TC_SECC_CMN_VTB_SupportedAppProtocol_006", protocols=ALL, requirements=REQS,
           purpose="Verify that the SECC accepts a SupportedAppProtocolReq whose VersionNumberMinor differs "
                   "from its own (same namespace and major version) with "
                   "OK_SuccessfulNegotiationWithMinorDeviation.",
           preconditions="The SECC's VersionNumberMinor of the namespace is the published one (0 for DIN "
                         "SPEC 70121 and ISO 15118-2 2.0, ISO 15118-20 1.0); the tester offers that plus "
                         "one.",
           steps=("Send a SupportedAppProtocolReq for the protocol under test with VersionNumberMinor one "
                  "above the SUT's.",
                  "Check the SupportedAppProtocolRes: ResponseCode "
                  "OK_SuccessfulNegotiationWithMinorDeviation, a SchemaID, schema-valid."))
def sap_006(t: Tester) -> None:
    def newer_minor(req: Any) -> None:
        for p in req.app_protocol:
            p.version_number_minor += 1
    t.send(SAP + "Req", newer_minor)
    got = _answer(t, "OK_SuccessfulNegotiationWithMinorDeviation")
    t.check(got.body.schema_id is not None, "the SupportedAppProtocolRes names the SchemaID it chose")
