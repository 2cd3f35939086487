"""SessionSetup: ISO 15118-4 TC_SECC_CMN_VTB_SessionSetup_001..004 and TC_SECC_AC_VTB_SessionSetup_001..003
(paused sessions), and v2gkit's own TC_SECC_CMN_VKT_SessionSetup_* (the tester plays the EVCC)."""

from __future__ import annotations

from typing import Any

from ...script import Tester
from ._common import (
    ALL,
    MSG_TIMEOUT,
    TERMINATION,
    closes,
    code,
    family,
    good,
    reach,
    response,
    schema_valid,
    secc_case,
    sequence_error,
    sequence_timeout,
    withhold,
)
from .sdp import COMMUNICATION_SETUP

FAILED_CLOSES = ("V2G2-539", "V2G2-034", "V2G-DC-665", "V2G20-538")


def _new_session(t: Tester, got: Any) -> None:
    sid = got.session_id
    t.check(len(sid) > 0 and any(sid), f"a new SessionID other than 0 ({sid.hex().upper() or 'empty'})")
    evse_id = got.body.evseid
    t.check(evse_id is not None and len(evse_id) > 0, f"an EVSEID ({evse_id!r})")


@secc_case("TC_SECC_CMN_VTB_SessionSetup_001", protocols=ALL, quick=True,
           purpose="Verify that the SECC answers a SessionSetupReq with SessionID 0 and a valid EVCCID with "
                   "a SessionSetupRes carrying a new SessionID, ResponseCode OK_NewSessionEstablished, a "
                   "valid EVSEID and every mandatory parameter.",
           steps=("GoodCase up to SessionSetupReq; send it with SessionID 0 and a valid EVCCID.",
                  "Check the SessionSetupRes: OK_NewSessionEstablished, a SessionID other than 0, an EVSEID, "
                  "schema-valid."))
def session_setup_001(t: Tester) -> None:
    got = good(t, "SessionSetup", "OK_NewSessionEstablished")
    _new_session(t, got)


@secc_case("TC_SECC_CMN_VTB_SessionSetup_002", protocols=ALL, requirements=FAILED_CLOSES,
           purpose="Verify that the SECC answers a valid ServiceDiscoveryReq sent instead of SessionSetupReq "
                   "with a ServiceDiscoveryRes with the current SessionID, FAILED_SequenceError and every "
                   "mandatory parameter, and closes the TCP connection within "
                   "par_CMN_TCP_Connection_Termination_Timeout.",
           steps=("GoodCase up to SessionSetupReq; send a valid ServiceDiscoveryReq instead.",
                  "Check the ServiceDiscoveryRes: FAILED_SequenceError, the current SessionID, schema-valid.",
                  "Check that the SUT closes the TCP connection within "
                  "par_CMN_TCP_Connection_Termination_Timeout."))
def session_setup_002(t: Tester) -> None:
    sequence_error(t, "SessionSetup")


@secc_case("TC_SECC_CMN_VTB_SessionSetup_003", protocols=ALL, requirements=("V2G2-443",),
           purpose="Verify that the SECC terminates the session when no SessionSetupReq follows its "
                   "SupportedAppProtocolRes (OK_SuccessfulNegotiation): once V2G_SECC_Sequence_Timeout has "
                   "run out it closes the TCP connection within par_CMN_TCP_Connection_Termination_Timeout.",
           steps=("GoodCase up to the SupportedAppProtocolRes; send nothing.",
                  "Check that the SUT has closed the TCP connection by V2G_SECC_Sequence_Timeout plus "
                  "par_CMN_TCP_Connection_Termination_Timeout."))
def session_setup_003(t: Tester) -> None:
    sequence_timeout(t, "SessionSetup", early=False)


@secc_case("TC_SECC_CMN_VTB_SessionSetup_004", protocols=ALL, needs=("live",),
           requirements=("V2G2-723", "V2G2-029", "V2G2-032"),
           purpose="Verify that the SECC terminates the session when no SessionSetupReq follows its "
                   "SupportedAppProtocolRes before V2G_SECC_CommunicationSetup_Timeout: it closes the TCP "
                   "connection within par_CMN_TCP_Connection_Termination_Timeout after that timer.",
           preconditions="The communication set-up timer is the SUT's connection-level timer (in v2gkit the "
                         "network adapter's, not the session machine's): only a live link shows it.",
           steps=("GoodCase up to the SupportedAppProtocolRes; send nothing.",
                  "Check that the SUT has closed the TCP connection by V2G_SECC_CommunicationSetup_Timeout "
                  "plus par_CMN_TCP_Connection_Termination_Timeout."))
def session_setup_004(t: Tester) -> None:
    reach(t, "SessionSetupReq")
    withhold(t, "SessionSetupReq")
    closes(t, COMMUNICATION_SETUP + TERMINATION)


# --------------------------------------------------------------------------------------- paused sessions (AC)
_PAUSE_PRE = ("The SECC supports paused sessions (PICS Pause); AC; the test system controls the control "
              "pilot (BCB toggle) and sees the SUT's oscillator.")


def _pause_then_resume(t: Tester, new_id: str, want: str) -> None:
    """The part of the paused-session cases the test system runs today: GoodCase to SessionStopReq(Pause),
    SessionStopRes OK and the SUT ends the connection. Resuming needs a second connection in one case."""
    reach(t, "SessionStopReq")
    paused_id = t.session_id
    t.set("SessionStopReq", lambda req: setattr(req, "charging_session", type(req.charging_session).Pause))
    t.send("SessionStopReq")
    response(t, "SessionStop", "OK")
    closes(t)
    t.log(f"paused session {paused_id.hex().upper()}; resuming would send SessionSetupReq with {new_id} and "
          f"expect {want}")
    t.inconc("the test system cannot yet run the resume part (BCB toggle, a second TCP connection in one "
             "case); the pause part passed")


@secc_case("TC_SECC_AC_VTB_SessionSetup_001", protocols=("iso2",), requirements=("V2G2-741",),
           needs=("live", "pause", "cp"),
           purpose="Verify that the SECC resumes a paused session: after SessionStopReq(Pause), the end of "
                   "the logical network and a BCB toggle, a SessionSetupReq with the previous SessionID is "
                   "answered with that SessionID, OK_OldSessionJoined, a valid EVSEID and every mandatory "
                   "parameter.",
           preconditions=_PAUSE_PRE,
           steps=("GoodCase up to SessionStopReq; send it with ChargingSession Pause; check SessionStopRes "
                  "OK.",
                  "Wait for the SUT to end the logical network; resume with a BCB toggle and link detection.",
                  "GoodCase up to SessionSetupReq; send it with the previous SessionID.",
                  "Check the SessionSetupRes: the previous SessionID, OK_OldSessionJoined, an EVSEID, "
                  "schema-valid."))
def ac_session_setup_001(t: Tester) -> None:
    _pause_then_resume(t, "the previous SessionID", "OK_OldSessionJoined with the previous SessionID")


@secc_case("TC_SECC_AC_VTB_SessionSetup_002", protocols=("iso2",), needs=("live", "pause", "cp"),
           purpose="Verify that the SECC starts a new session when, after a paused session is resumed, the "
                   "SessionSetupReq carries a new (unknown) SessionID: SessionSetupRes with the current "
                   "SessionID, OK_NewSessionEstablished, a valid EVSEID and every mandatory parameter.",
           preconditions=_PAUSE_PRE,
           steps=("GoodCase up to SessionStopReq; send it with ChargingSession Pause; check SessionStopRes "
                  "OK.",
                  "Wait for the SUT to end the logical network; resume with a BCB toggle and link detection.",
                  "GoodCase up to SessionSetupReq; send it with a new SessionID.",
                  "Check the SessionSetupRes: OK_NewSessionEstablished, a SessionID, an EVSEID, "
                  "schema-valid."))
def ac_session_setup_002(t: Tester) -> None:
    _pause_then_resume(t, "a new SessionID", "OK_NewSessionEstablished")


@secc_case("TC_SECC_AC_VTB_SessionSetup_003", protocols=("iso2",), needs=("live", "pause", "cp"),
           purpose="Verify that the SECC starts a new session when, after a paused session is resumed, the "
                   "SessionSetupReq carries SessionID 0: SessionSetupRes with the current SessionID, "
                   "OK_NewSessionEstablished, a valid EVSEID and every mandatory parameter.",
           preconditions=_PAUSE_PRE,
           steps=("GoodCase up to SessionStopReq; send it with ChargingSession Pause; check SessionStopRes "
                  "OK.",
                  "Wait for the SUT to end the logical network; resume with a BCB toggle and link detection.",
                  "GoodCase up to SessionSetupReq; send it with SessionID 0.",
                  "Check the SessionSetupRes: OK_NewSessionEstablished, a SessionID, an EVSEID, "
                  "schema-valid."))
def ac_session_setup_003(t: Tester) -> None:
    _pause_then_resume(t, "SessionID 0", "OK_NewSessionEstablished")


# ------------------------------------------------------------------------------------------ v2gkit's own
@secc_case("TC_SECC_CMN_VKT_SessionSetup_001", protocols=ALL, from_standard=False,
           purpose="Verify that the SECC treats a second SessionSetupReq in a running session as out of "
                   "sequence: SessionSetupRes with FAILED_SequenceError, then it closes the TCP connection "
                   "within par_CMN_TCP_Connection_Termination_Timeout (SessionSetup may only start a "
                   "session).",
           requirements=FAILED_CLOSES,
           steps=("GoodCase up to the request after SessionSetupRes; send SessionSetupReq (with the current "
                  "SessionID) instead.",
                  "Check the SessionSetupRes: FAILED_SequenceError; then the close."))
def vkt_session_setup_001(t: Tester) -> None:
    after = "AuthorizationSetup" if family(t) == "iso20" else "ServiceDiscovery"
    sequence_error(t, after, instead="SessionSetup")


@secc_case("TC_SECC_CMN_VKT_SessionSetup_002", protocols=ALL, from_standard=False,
           purpose="Verify that the SECC stays sound when a SessionSetupReq carries an EVCCID longer than "
                   "the schema allows (written by the lenient encoder): it answers with a schema-valid "
                   "SessionSetupRes (any ResponseCode) or closes the connection; it never answers with "
                   "something undecodable.",
           steps=("GoodCase up to SessionSetupReq; send it with an EVCCID of 40 octets (DIN max 8, ISO-2 max "
                  "6; -20: 300 characters, max 255).",
                  f"Check: a schema-valid SessionSetupRes within V2G_EVCC_Msg_Timeout ({MSG_TIMEOUT:g} s), "
                  "or the SUT closes the connection."))
def vkt_session_setup_002(t: Tester) -> None:
    reach(t, "SessionSetupReq")

    def too_long(req: Any) -> None:
        req.evccid = "X" * 300 if family(t) == "iso20" else bytes(range(40))
    t.send("SessionSetupReq", too_long)
    got = t.receive("SessionSetupRes", timeout=MSG_TIMEOUT)
    if got is None:
        t.check(not t.connected, "the SUT closed the connection instead of answering" if not t.connected else
                "the SUT neither answered nor closed the connection")
        return
    t.log(f"the SUT answered {code(got)}")
    schema_valid(t, got)
    if code(got).startswith("FAILED"):
        closes(t)
