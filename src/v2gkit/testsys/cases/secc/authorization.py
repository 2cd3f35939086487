"""Authorization (v2gkit's own cases, TC_SECC_CMN_VKT_*): ISO 15118-20's AuthorizationSetup and the
Authorization of every family (DIN: ContractAuthentication), with its EVSEProcessing Ongoing loop. The tester
plays the EVCC with external identification."""

from __future__ import annotations

from typing import Any

from .... import timing
from ....exi.gen import iso20
from ...script import Tester
from ._common import ALL, family, good, mark, msg, patterns, reach, response, secc_case

#: how long the tester waits for the next answer of an Ongoing loop its own machine repeats
NEXT_POLL = 5.0


def follow_ongoing(t: Tester, name: str, first: Any, limit: float, *codes: str) -> Any:
    """Follow an EVSEProcessing loop from its first answer: each next answer has one of ``codes`` (default OK)
    and the current SessionID, and the loop says Finished within ``limit`` seconds of the first answer."""
    got, n, t0 = first, 1, first.t
    codes = codes or ("OK",)
    while got.body.evse_processing.name != "Finished":
        nxt = t.receive(name + "Res", timeout=NEXT_POLL)
        if nxt is None:
            t.fail(f"{name}Res #{n} said {got.body.evse_processing.name} and no further answer came "
                   f"({'connection closed' if not t.connected else 'the tester machine stopped asking'})")
        got, n = nxt, n + 1
        t.check(got.body.response_code.name in codes, f"{name}Res #{n} ResponseCode "
                                                      f"{got.body.response_code.name}")
        if got.t - t0 > limit:
            t.fail(f"{name} still {got.body.evse_processing.name} after {got.t - t0:.1f} s (limit {limit:g} "
                   "s)")
    t.check(True, f"{name} Finished after {n} answer(s), {got.t - t0:.2f} s")
    return got


# ----------------------------------------------------------------------------------- AuthorizationSetup (-20)
@secc_case("TC_SECC_CMN_VKT_AuthorizationSetup_001", protocols=("iso20",), from_standard=False,
           requirements=("V2G20-697", "V2G20-698"),
           purpose="Verify that the SECC answers AuthorizationSetupReq with ResponseCode OK, the current "
                   "SessionID, the authorization services it offers, CertificateInstallationService, and "
                   "exactly one mode element: EIM, or PnC with a 16-octet GenChallenge.",
           steps=("GoodCase up to AuthorizationSetupReq; send it.",
                  "Check the AuthorizationSetupRes: OK, the current SessionID, schema-valid, a non-empty "
                  "AuthorizationServices list and the mode element that goes with it."))
def authorization_setup_001(t: Tester) -> None:
    got = good(t, "AuthorizationSetup")
    b = got.body
    services = [s.name for s in b.authorization_services or []]
    t.check(bool(services), f"AuthorizationServices offered: {services}")
    modes = [m for m in ("eim_as_res_authorization_mode", "pn_c_as_res_authorization_mode")
             if getattr(b, m) is not None]
    t.check(len(modes) == 1, f"exactly one authorization mode element ({modes})")
    if b.pn_c_as_res_authorization_mode is not None:
        gc = b.pn_c_as_res_authorization_mode.gen_challenge
        t.check(gc is not None and len(gc) == 16, f"a 16-octet GenChallenge ({len(gc or b'')} octets)")


patterns(__name__, "AuthorizationSetup", "CMN", ("iso20",), after="SessionSetupRes")


# --------------------------------------------------------------------------------------------- Authorization
@secc_case("TC_SECC_CMN_VKT_Authorization_001", protocols=ALL, from_standard=False, quick=True,
           purpose="Verify that the SECC answers AuthorizationReq (DIN: ContractAuthenticationReq) with "
                   "external identification with ResponseCode OK, the current SessionID and EVSEProcessing, "
                   "and that the loop of repeated requests it may answer with Ongoing ends with Finished "
                   "within V2G_EVCC_Ongoing_Timeout.",
           steps=("GoodCase up to AuthorizationReq; send it (EIM: no GenChallenge).",
                  "Check the answer: OK, the current SessionID, schema-valid, EVSEProcessing given.",
                  "While it says Ongoing, follow the tester's repeated requests: each answer OK; Finished "
                  "within V2G_EVCC_Ongoing_Timeout (60 s)."))
def authorization_001(t: Tester) -> None:
    got = good(t, "Authorization")
    limit = timing.ISO20_EVCC_ONGOING_TIMEOUT if family(t) == "iso20" else timing.EVCC_ONGOING_TIMEOUT
    follow_ongoing(t, msg(t, "Authorization"), got, limit)


patterns(__name__, "Authorization", "CMN", ALL,
         after="PaymentServiceSelectionRes (DIN: ServicePaymentSelectionRes; ISO 15118-20: "
               "AuthorizationSetupRes)")


@secc_case("TC_SECC_CMN_VKT_Authorization_005", protocols=("iso20",), from_standard=False,
           requirements=("V2G20-2209", "V2G20-2226"),
           purpose="Verify that an SECC offering only EIM answers an AuthorizationReq selecting PnC with "
                   "ResponseCode WARNING_AuthorizationSelectionInvalid, the current SessionID and "
                   "EVSEProcessing Finished (a WARNING: the SECC does not end the session for it).",
           preconditions="The SECC does not offer PnC in AuthorizationSetupRes (else the case does not "
                         "apply).",
           steps=("GoodCase up to AuthorizationReq; send it with SelectedAuthorizationService PnC and a PnC "
                  "mode element (the GenChallenge of AuthorizationSetupRes or 16 zero octets, a dummy "
                  "contract chain).",
                  "Check the AuthorizationRes: WARNING_AuthorizationSelectionInvalid, the current SessionID, "
                  "EVSEProcessing Finished, schema-valid."))
def authorization_005(t: Tester) -> None:
    reach(t, "AuthorizationReq")
    setup = t.received_last("AuthorizationSetupRes")
    offered = [s.name for s in (setup.body.authorization_services or [])] if setup else []
    if "PnC" in offered:
        t.inconc(f"not applicable: the SUT offers PnC ({', '.join(offered)})")
    pnc = setup.body.pn_c_as_res_authorization_mode if setup else None
    challenge = pnc.gen_challenge if pnc is not None and pnc.gen_challenge else bytes(16)

    def select_pnc(req: Any) -> None:
        req.selected_authorization_service = iso20.authorizationType.PnC
        req.eim_a_req_authorization_mode = None
        req.pn_c_a_req_authorization_mode = iso20.PnC_AReqAuthorizationModeType(
            id="ID1", gen_challenge=challenge,
            contract_certificate_chain=iso20.ContractCertificateChainType(
                certificate=b"\x30\x03\x02\x01\x01",
                sub_certificates=iso20.SubCertificatesType(certificate=[b"\x30\x03\x02\x01\x02"])))
    at = mark(t)
    t.send("AuthorizationReq", select_pnc)
    got = response(t, "Authorization", "WARNING_AuthorizationSelectionInvalid", after=at)
    t.check(got.body.evse_processing.name == "Finished", "EVSEProcessing Finished "
                                                         f"({got.body.evse_processing.name})")
