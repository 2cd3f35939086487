"""Service discovery and selection (v2gkit's own cases, TC_SECC_*_VKT_*): ServiceDiscovery (DIN, ISO-2, -20),
ServiceDetail (ISO-2, -20), PaymentServiceSelection (DIN: ServicePaymentSelection) and ISO 15118-20's
ServiceSelection. The tester plays the EVCC."""

from __future__ import annotations

from typing import Any

from ....exi.gen import din, iso2
from ...emulator import Incoming
from ...script import Tester
from ._common import (
    ALL,
    DIN_ISO2,
    SEQUENCE_REQS,
    closes,
    family,
    good,
    kind,
    mark,
    msg,
    patterns,
    reach,
    reqs,
    response,
    secc_case,
)

#: ISO 15118-20 energy services (ServiceID) by kind: AC 1, AC_BPT 5; DC 2, DC_ACDP 4, DC_BPT 6, DC_ACDP_BPT 7
ISO20_SERVICES = {"AC": {1, 5}, "DC": {2, 4, 6, 7}}
PAYMENT_OPTIONS = ("ExternalPayment", "Contract")


# ------------------------------------------------------------------------------------------- what was offered
def offered_payment(got: Incoming) -> list[str]:
    lst = getattr(got.body, "payment_option_list", None) or getattr(got.body, "payment_options", None)
    return [p.name for p in (lst.payment_option if lst is not None else [])]


def charge_service_id(got: Incoming) -> int | None:
    cs = got.body.charge_service
    if cs is None:
        return None
    tag = getattr(cs, "service_tag", None)  # DIN keeps the ID in a ServiceTag
    return (tag if tag is not None else cs).service_id


def offered_modes(got: Incoming) -> list[str]:
    """The energy transfer modes of a DIN/ISO-2 ServiceDiscoveryRes (DIN names one combined type)."""
    cs = got.body.charge_service
    if cs is None:
        return []
    if hasattr(cs, "energy_transfer_type"):
        return [cs.energy_transfer_type.name] if cs.energy_transfer_type is not None else []
    modes = cs.supported_energy_transfer_mode
    return [m.name for m in modes.energy_transfer_mode] if modes is not None else []


def offered_services20(got: Incoming) -> list[int]:
    lst = got.body.energy_transfer_service_list
    return [s.service_id for s in lst.service] if lst is not None else []


def _discovery_good(t: Tester) -> None:
    got = good(t, "ServiceDiscovery")
    k = kind(t)
    if family(t) == "iso20":
        ids = offered_services20(got)
        t.check(bool(set(ids) & ISO20_SERVICES[k]), f"an {k} energy service is offered (ServiceIDs {ids})")
        t.check(got.body.service_renegotiation_supported is not None, "ServiceRenegotiationSupported is "
                                                                      "given")
        return
    pay = offered_payment(got)
    t.check(bool(pay) and set(pay) <= set(PAYMENT_OPTIONS), f"payment options offered: {pay}")
    sid = charge_service_id(got)
    t.check(sid is not None, f"a ChargeService with a ServiceID ({sid})")
    modes = offered_modes(got)
    t.check(any(k in m for m in modes), f"an {k} energy transfer mode is offered ({modes})")


_SD_STEPS = ("GoodCase up to ServiceDiscoveryReq; send it.",
             "Check the ServiceDiscoveryRes: OK, the current SessionID, schema-valid, payment options "
             "(ExternalPayment and/or Contract), a ChargeService with a ServiceID and an energy transfer "
             "mode of the session's kind (-20: an energy service of that kind and "
             "ServiceRenegotiationSupported).")


@secc_case("TC_SECC_DC_VKT_ServiceDiscovery_001", protocols=ALL, from_standard=False, quick=True,
           purpose="Verify that the SECC answers ServiceDiscoveryReq in a DC session with ResponseCode OK, "
                   "the current SessionID, its payment options and a charge service offering a DC energy "
                   "transfer mode (ISO 15118-20: a DC energy service).", steps=_SD_STEPS)
def dc_service_discovery_001(t: Tester) -> None:
    _discovery_good(t)


@secc_case("TC_SECC_AC_VKT_ServiceDiscovery_001", protocols=("iso2", "iso20"), from_standard=False,
           purpose="Verify that the SECC answers ServiceDiscoveryReq in an AC session with ResponseCode OK, "
                   "the current SessionID, its payment options and a charge service offering an AC energy "
                   "transfer mode (ISO 15118-20: an AC energy service).", steps=_SD_STEPS)
def ac_service_discovery_001(t: Tester) -> None:
    _discovery_good(t)


patterns(__name__, "ServiceDiscovery", "CMN", ALL, after="SessionSetupRes (ISO 15118-20: AuthorizationRes)",
         instead={"din": "Authorization", "iso2": "Authorization", "iso20": "AuthorizationSetup"})


# ---------------------------------------------------------------------------------------------- ServiceDetail
#: the tester's own machine (ISO-2) sends no ServiceDetailReq: it goes at the point of
#: PaymentServiceSelectionReq
_DETAIL_AT = {"iso2": "PaymentServiceSelection"}


def _detail_id(t: Tester) -> int:
    """A ServiceID the SUT offered: ISO-2 its ChargeService, -20 the first energy service."""
    sd = t.received_last("ServiceDiscoveryRes")
    if sd is None:
        t.inconc("no ServiceDiscoveryRes to take a ServiceID from")
        raise AssertionError  # not reached
    if family(t) == "iso20":
        ids = offered_services20(sd)
        return ids[0] if ids else 0
    return charge_service_id(sd) or 0


def _unoffered_id(t: Tester) -> int:
    sd = t.received_last("ServiceDiscoveryRes")
    ids = set(offered_services20(sd)) if family(t) == "iso20" else {charge_service_id(sd)}
    if family(t) != "iso20" and sd is not None and sd.body.service_list is not None:
        ids |= {s.service_id for s in sd.body.service_list.service}
    return next(i for i in (999, 998, 60000) if i not in ids)


@secc_case("TC_SECC_CMN_VKT_ServiceDetail_001", protocols=("iso2", "iso20"), from_standard=False,
           purpose="Verify that the SECC answers a ServiceDetailReq for a service it offered with "
                   "ResponseCode OK, the current SessionID, the requested ServiceID and (ISO 15118-20) the "
                   "service's parameter sets.",
           steps=("GoodCase up to ServiceDetailReq (ISO-2: where PaymentServiceSelectionReq would go); send "
                  "it for the ChargeService (-20: the first energy service) of ServiceDiscoveryRes.",
                  "Check the ServiceDetailRes: OK, the current SessionID, the same ServiceID, schema-valid; "
                  "-20: at least one ParameterSet."))
def service_detail_001(t: Tester) -> None:
    reach(t, msg(t, per_detail(t)) + "Req")
    sid = _detail_id(t)
    at = mark(t)
    t.send("ServiceDetailReq", lambda req: setattr(req, "service_id", sid))
    got = response(t, "ServiceDetail", "OK", after=at)
    t.check(got.body.service_id == sid, f"ServiceID {got.body.service_id} is the one asked for ({sid})")
    if family(t) == "iso20":
        spl = got.body.service_parameter_list
        t.check(spl is not None and len(spl.parameter_set) > 0, "the service's ParameterSets are listed")


def per_detail(t: Tester) -> str:
    return _DETAIL_AT.get(family(t), "ServiceDetail")


patterns(__name__, "ServiceDetail", "CMN", ("iso2", "iso20"), after="ServiceDiscoveryRes",
         preamble=_DETAIL_AT)


@secc_case("TC_SECC_CMN_VKT_ServiceDetail_005", protocols=("iso2", "iso20"), from_standard=False,
           requirements=reqs(SEQUENCE_REQS, ("iso2", "iso20"), "V2G20-464"),
           purpose="Verify that the SECC answers a ServiceDetailReq for a ServiceID it did not offer with "
                   "ResponseCode FAILED_ServiceIDInvalid and the current SessionID, then closes the TCP "
                   "connection within par_CMN_TCP_Connection_Termination_Timeout.",
           steps=("GoodCase up to ServiceDetailReq (ISO-2: where PaymentServiceSelectionReq would go); send "
                  "it with a ServiceID that ServiceDiscoveryRes did not list (999).",
                  "Check the ServiceDetailRes: FAILED_ServiceIDInvalid, the current SessionID, schema-valid; "
                  "then the close."))
def service_detail_005(t: Tester) -> None:
    reach(t, msg(t, per_detail(t)) + "Req")
    bad = _unoffered_id(t)
    at = mark(t)
    t.send("ServiceDetailReq", lambda req: setattr(req, "service_id", bad))
    response(t, "ServiceDetail", "FAILED_ServiceIDInvalid", after=at)
    closes(t)


# ------------------------------------------------------------------------------------ PaymentServiceSelection
@secc_case("TC_SECC_CMN_VKT_PaymentServiceSelection_001", protocols=DIN_ISO2, from_standard=False,
           purpose="Verify that the SECC answers a PaymentServiceSelectionReq (DIN: "
                   "ServicePaymentSelectionReq) selecting an offered payment option and its ChargeService "
                   "with ResponseCode OK, the current SessionID and every mandatory parameter.",
           steps=("GoodCase up to PaymentServiceSelectionReq; send it (the option and ChargeService "
                  "offered).",
                  "Check the PaymentServiceSelectionRes: OK, the current SessionID, schema-valid."))
def payment_service_selection_001(t: Tester) -> None:
    good(t, "PaymentServiceSelection")


patterns(__name__, "PaymentServiceSelection", "CMN", DIN_ISO2, after="ServiceDiscoveryRes")


def _selection(t: Tester, edit: Any, *codes: str) -> None:
    n = msg(t, "PaymentServiceSelection")
    reach(t, n + "Req")
    at = mark(t)
    t.send(n + "Req", edit)
    response(t, n, *codes, after=at)
    closes(t)


def _selected(t: Tester, *ids: int) -> Any:
    m = din if family(t) == "din" else iso2
    return m.SelectedServiceListType(selected_service=[m.SelectedServiceType(service_id=i) for i in ids])


@secc_case("TC_SECC_CMN_VKT_PaymentServiceSelection_005", protocols=DIN_ISO2, from_standard=False,
           requirements=reqs(SEQUENCE_REQS, DIN_ISO2),
           purpose="Verify that the SECC answers a PaymentServiceSelectionReq whose SelectedPaymentOption it "
                   "did not offer with ResponseCode FAILED_PaymentSelectionInvalid, then closes the TCP "
                   "connection within par_CMN_TCP_Connection_Termination_Timeout.",
           preconditions="The SECC offers one payment option only (else the case does not apply: "
                         "inconclusive).",
           steps=("GoodCase up to PaymentServiceSelectionReq; send it with the payment option "
                  "ServiceDiscoveryRes did not list.",
                  "Check the response: FAILED_PaymentSelectionInvalid, the current SessionID, schema-valid; "
                  "the close."))
def payment_service_selection_005(t: Tester) -> None:
    n = msg(t, "PaymentServiceSelection")
    reach(t, n + "Req")
    offered = offered_payment(t.received_last("ServiceDiscoveryRes"))
    missing = [p for p in PAYMENT_OPTIONS if p not in offered]
    if not missing:
        t.inconc(f"not applicable: the SUT offers every payment option ({', '.join(offered)})")

    def other(req: Any) -> None:
        req.selected_payment_option = type(req.selected_payment_option)[missing[0]]
    t.log(f"selecting {missing[0]}; offered: {', '.join(offered)}")
    _selection(t, other, "FAILED_PaymentSelectionInvalid")


@secc_case("TC_SECC_CMN_VKT_PaymentServiceSelection_006", protocols=DIN_ISO2, from_standard=False,
           requirements=reqs(SEQUENCE_REQS, DIN_ISO2),
           purpose="Verify that the SECC refuses a PaymentServiceSelectionReq that selects no charge service "
                   "(only a ServiceID it never offered): ResponseCode FAILED_NoChargeServiceSelected or "
                   "FAILED_ServiceSelectionInvalid (DIN SPEC 70121, which lacks the first: "
                   "FAILED_ServiceSelectionInvalid or FAILED), then it closes the TCP connection within "
                   "par_CMN_TCP_Connection_Termination_Timeout.",
           steps=("GoodCase up to PaymentServiceSelectionReq; send it with SelectedServiceList holding only "
                  "ServiceID 999 (not offered, not the ChargeService).",
                  "Check the response code (see purpose), the current SessionID, schema-valid; then the "
                  "close."))
def payment_service_selection_006(t: Tester) -> None:
    reach(t, msg(t, "PaymentServiceSelection") + "Req")
    bad = _unoffered_id(t)
    codes = (("FAILED_ServiceSelectionInvalid", "FAILED") if family(t) == "din" else
             ("FAILED_NoChargeServiceSelected", "FAILED_ServiceSelectionInvalid"))
    _selection(t, lambda req: setattr(req, "selected_service_list", _selected(t, bad)), *codes)


@secc_case("TC_SECC_CMN_VKT_PaymentServiceSelection_007", protocols=DIN_ISO2, from_standard=False,
           requirements=reqs(SEQUENCE_REQS, DIN_ISO2),
           purpose="Verify that the SECC refuses a PaymentServiceSelectionReq that selects its ChargeService "
                   "and also a ServiceID it never offered: ResponseCode FAILED_ServiceSelectionInvalid, then "
                   "it closes the TCP connection within par_CMN_TCP_Connection_Termination_Timeout.",
           steps=("GoodCase up to PaymentServiceSelectionReq; send it with SelectedServiceList = the "
                  "ChargeService and ServiceID 999 (not offered).",
                  "Check the response: FAILED_ServiceSelectionInvalid, the current SessionID, schema-valid; "
                  "the close."))
def payment_service_selection_007(t: Tester) -> None:
    reach(t, msg(t, "PaymentServiceSelection") + "Req")
    charge = charge_service_id(t.received_last("ServiceDiscoveryRes")) or 1
    bad = _unoffered_id(t)
    _selection(t, lambda req: setattr(req, "selected_service_list", _selected(t, charge, bad)),
               "FAILED_ServiceSelectionInvalid")


# ------------------------------------------------------------------------------------ ServiceSelection (-20)
@secc_case("TC_SECC_CMN_VKT_ServiceSelection_001", protocols=("iso20",), from_standard=False,
           purpose="Verify that the SECC answers a ServiceSelectionReq selecting an offered energy service "
                   "and one of its parameter sets with ResponseCode OK, the current SessionID and every "
                   "mandatory parameter.",
           steps=("GoodCase up to ServiceSelectionReq; send it (service and parameter set from "
                  "ServiceDetailRes).",
                  "Check the ServiceSelectionRes: OK, the current SessionID, schema-valid."))
def service_selection_001(t: Tester) -> None:
    good(t, "ServiceSelection")


patterns(__name__, "ServiceSelection", "CMN", ("iso20",), after="ServiceDetailRes")


def _service_selection(t: Tester, service: int | None, parameter_set: int | None, code: str) -> None:
    reach(t, "ServiceSelectionReq")

    def edit(req: Any) -> None:
        sel = req.selected_energy_transfer_service
        if service is not None:
            sel.service_id = service
        if parameter_set is not None:
            sel.parameter_set_id = parameter_set
    at = mark(t)
    t.send("ServiceSelectionReq", edit)
    response(t, "ServiceSelection", code, after=at)
    closes(t)


@secc_case("TC_SECC_CMN_VKT_ServiceSelection_005", protocols=("iso20",), from_standard=False,
           requirements=("V2G20-2222",),
           purpose="Verify that the SECC answers a ServiceSelectionReq whose energy service it did not offer "
                   "with ResponseCode FAILED_NoEnergyTransferServiceSelected, then closes the TCP connection "
                   "within par_CMN_TCP_Connection_Termination_Timeout (a FAILED answer ends a -20 session).",
           steps=("GoodCase up to ServiceSelectionReq; send it with SelectedEnergyTransferService ServiceID "
                  "999.",
                  "Check the ServiceSelectionRes: FAILED_NoEnergyTransferServiceSelected, the current "
                  "SessionID, schema-valid; then the close."))
def service_selection_005(t: Tester) -> None:
    _service_selection(t, 999, None, "FAILED_NoEnergyTransferServiceSelected")


@secc_case("TC_SECC_CMN_VKT_ServiceSelection_006", protocols=("iso20",), from_standard=False,
           requirements=("V2G20-2222",),
           purpose="Verify that the SECC answers a ServiceSelectionReq with an offered energy service but a "
                   "ParameterSetID it did not list with ResponseCode FAILED_ServiceSelectionInvalid, then "
                   "closes the TCP connection within par_CMN_TCP_Connection_Termination_Timeout.",
           steps=("GoodCase up to ServiceSelectionReq; send it with ParameterSetID 999 for the offered "
                  "service.",
                  "Check the ServiceSelectionRes: FAILED_ServiceSelectionInvalid, the current SessionID, "
                  "schema-valid; then the close."))
def service_selection_006(t: Tester) -> None:
    _service_selection(t, None, 999, "FAILED_ServiceSelectionInvalid")
