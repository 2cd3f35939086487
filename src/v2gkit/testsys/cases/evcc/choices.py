"""The car chooses only what the charger offers, also when nothing it offers suits the car.

- ServiceDiscovery_006 (DC and AC): only energy transfer modes (ISO 15118-20: services) of the other kind are
  offered: the car must not request one that was not offered; ending the session is the way out.
- ServiceDiscovery_007: only the Contract payment option (Plug & Charge) is offered: an EIM-only car must not
  select ExternalPayment; a Plug & Charge car may select Contract.
- AuthorizationSetup_006 (ISO 15118-20): only PnC is offered: the car must not select EIM.

In every case the car's requests must name offered choices ([V2G2-476] / [V2G-DC-397]: the SECC refuses any
other mode), and the car ends the session (SessionStopReq or closing the connection) when it cannot go on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ....session.din2.dialect import Dialect
from ...catalog import case
from ...script import Tester
from ._common import AC, DC, enum_name, family, incoming_name, module_of, requests_since, sent, set_enum

#: ISO 15118-20 energy transfer ServiceIDs (Table 204): AC 1, DC 2, AC_BPT 5, DC_BPT 6
AC_SERVICES, DC_SERVICES = (1, 5), (2, 6)
#: how long the car has to end a session it cannot use: every request of the rest of the session is answered
#: by the tester's machine (which refuses what it did not offer), so a car ends within a few exchanges
END_WITHIN = 30.0


def _add(case_id: str, body: Callable[[Tester], Any], **kw: Any) -> None:
    def run(t: Tester) -> None:
        body(t)

    run.__qualname__ = run.__name__ = case_id
    case(case_id, from_standard=False, **kw)(run)


def _ends(t: Tester, mark: int) -> str:
    """Let the car go its way until it ends the session; says how it ended."""
    closed = t.expect_close(END_WITHIN)
    stop = incoming_name(family(t), "SessionStopReq")
    names = [m.name for m in requests_since(t, mark)]
    how = "with SessionStopReq" if stop in names else "by closing the connection"
    t.check(
        closed and t.closed_by == "peer",
        f"the car ends the session ({how})"
        if closed
        else f"the car did not end the session within {END_WITHIN:g} s",
    )
    return how


def other_kind_offered(kind: str) -> Callable[[Tester], None]:
    """ServiceDiscoveryRes offers only modes (services) of the other kind than the car's session."""

    def body(t: Tester) -> None:
        fam = family(t)
        wrong = AC if kind == DC else DC

        def edit(res: Any) -> None:
            if fam == "iso20":
                m = module_of(res)
                res.energy_transfer_service_list.service = [
                    m.ServiceType(service_id=i, free_service=False)
                    for i in (AC_SERVICES if wrong == AC else DC_SERVICES)
                ]
            elif fam == "din":
                set_enum(res.charge_service, "energy_transfer_type", "AC_three_phase_core")
            else:
                modes = res.charge_service.supported_energy_transfer_mode
                like = modes.energy_transfer_mode[0]
                modes.energy_transfer_mode = [
                    type(like)[n]
                    for n in (
                        ("AC_single_phase_core", "AC_three_phase_core")
                        if wrong == AC
                        else ("DC_core", "DC_extended")
                    )
                ]

        t.preamble("ServiceDiscoveryRes")
        mark = len(t.received)
        t.send("ServiceDiscoveryRes", edit)
        offered_res = sent(t, "ServiceDiscoveryRes")
        how = _ends(t, mark)
        later = requests_since(t, mark)
        if fam == "iso20":
            offered = [s.service_id for s in offered_res.energy_transfer_service_list.service]
            for m in later:
                if m.name == "ServiceDetailReq":
                    t.check(
                        m.body.service_id in offered,
                        f"ServiceDetailReq names an offered service ({m.body.service_id} of {offered})",
                    )
                elif m.name == "ServiceSelectionReq":
                    sid = m.body.selected_energy_transfer_service.service_id
                    t.check(
                        sid in offered, f"ServiceSelectionReq selects an offered service ({sid} of {offered})"
                    )
        else:
            d = Dialect(fam)
            offered = d.modes_of(offered_res)
            for m in later:
                if m.name == "ChargeParameterDiscoveryReq":
                    mode = d.requested_mode(m.body)
                    t.check(
                        mode in offered,
                        f"ChargeParameterDiscoveryReq requests an offered mode ({mode} of "
                        f"{', '.join(offered)})",
                    )
                    t.check(
                        d.charge_parameter_of(m.body, mode) is not None,
                        f"... with the parameters of that mode ({mode})",
                    )
        t.log(f"offered only {wrong} ({offered}); the car ended {how}")

    return body


def contract_only(t: Tester) -> None:
    fam = family(t)

    def edit(res: Any) -> None:
        lst = res.payment_options if fam == "din" else res.payment_option_list
        like = lst.payment_option[0]
        lst.payment_option = [type(like).Contract]

    t.preamble("ServiceDiscoveryRes")
    mark = len(t.received)
    t.send("ServiceDiscoveryRes", edit)
    how = _ends(t, mark)
    sel = next(
        (
            m
            for m in requests_since(t, mark)
            if m.name in ("PaymentServiceSelectionReq", "ServicePaymentSelectionReq")
        ),
        None,
    )
    if sel is not None:
        chosen = enum_name(sel.body.selected_payment_option)
        t.check(
            chosen == "Contract", f"the car selects only the offered payment option (Contract; got {chosen})"
        )
    t.log(
        f"offered only Contract; the car ended {how}"
        + (
            f" after selecting {enum_name(sel.body.selected_payment_option)}"
            if sel is not None
            else " without selecting"
        )
    )


def pnc_only(t: Tester) -> None:
    def edit(res: Any) -> None:
        m = module_of(res)
        res.authorization_services = [m.authorizationType.PnC]
        res.eim_as_res_authorization_mode = None
        res.pn_c_as_res_authorization_mode = m.PnC_ASResAuthorizationModeType(gen_challenge=bytes(range(16)))

    t.preamble("AuthorizationSetupRes")
    mark = len(t.received)
    t.send("AuthorizationSetupRes", edit)
    how = _ends(t, mark)
    auth = next((m for m in requests_since(t, mark) if m.name == "AuthorizationReq"), None)
    if auth is not None:
        chosen = enum_name(auth.body.selected_authorization_service)
        t.check(
            chosen == "PnC", f"the car selects only the offered authorization service (PnC; got {chosen})"
        )
    t.log(f"offered only PnC; the car ended {how}")


_add(
    "TC_EVCC_DC_VKT_ServiceDiscovery_006",
    other_kind_offered(DC),
    protocols=("din", "iso2", "iso20"),
    requirements=("V2G2-476", "V2G-DC-397"),
    preconditions="The car runs a DC session with the test system (the SECC) up to ServiceDiscovery.",
    purpose="Verify that a DC car offered only AC energy transfer modes (ISO 15118-20: only the AC and "
    "AC_BPT "
    "services) requests no mode (service) that was not offered and ends the session (SessionStopReq or "
    "closing the TCP connection).",
    steps=(
        "Answer ServiceDiscoveryReq offering only AC modes (services).",
        "Check every later request against the offer and that the car ends the session.",
    ),
)
_add(
    "TC_EVCC_AC_VKT_ServiceDiscovery_006",
    other_kind_offered(AC),
    protocols=("iso2", "iso20"),
    requirements=("V2G2-476",),
    preconditions="The car runs an AC session with the test system (the SECC) up to ServiceDiscovery.",
    purpose="Verify that an AC car offered only DC energy transfer modes (ISO 15118-20: only the DC and "
    "DC_BPT "
    "services) requests no mode (service) that was not offered and ends the session (SessionStopReq or "
    "closing the TCP connection).",
    steps=(
        "Answer ServiceDiscoveryReq offering only DC modes (services).",
        "Check every later request against the offer and that the car ends the session.",
    ),
)
_add(
    "TC_EVCC_CMN_VKT_ServiceDiscovery_007",
    contract_only,
    protocols=("din", "iso2"),
    preconditions="The car runs a session with the test system (the SECC) up to ServiceDiscovery.",
    purpose="Verify that a car offered only the Contract payment option selects no other (an EIM-only car "
    "ends "
    "the session with SessionStopReq or by closing the TCP connection; a Plug & Charge car may select "
    "Contract).",
    steps=(
        "Answer ServiceDiscoveryReq with PaymentOptionList = [Contract].",
        "Check the car's PaymentServiceSelectionReq, if any, and that the car ends the session.",
    ),
)
_add(
    "TC_EVCC_CMN_VKT_AuthorizationSetup_006",
    pnc_only,
    protocols=("iso20",),
    preconditions="The car runs an ISO 15118-20 session with the test system (the SECC) up to "
    "AuthorizationSetup.",
    purpose="Verify that a car offered only PnC in AuthorizationSetupRes does not select EIM (an EIM-only "
    "car "
    "ends the session with SessionStopReq or by closing the TCP connection; a Plug & Charge car may "
    "select PnC).",
    steps=(
        "Answer AuthorizationSetupReq with AuthorizationServices = [PnC] and a GenChallenge.",
        "Check the car's AuthorizationReq, if any, and that the car ends the session.",
    ),
)
