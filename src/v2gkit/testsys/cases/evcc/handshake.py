"""The app handshake from the car's side: its SupportedAppProtocolReq, and what it does with the answer.

001 (good): the list is well formed and names the protocol under test; the charger picks it; the car goes on
    with SessionSetupReq of that protocol.
002, 005: in Lua (SupportedAppProtocol_002.lua: Failed_NoNegotiation; _005.lua: a minor deviation).
003: the charger answers with a SchemaID the car did not offer: the car cannot know the protocol and stops.
004: no answer: the car waits V2G_EVCC_Msg_Timeout for supportedAppProtocolRes (2 s), not less, then closes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .... import timing
from ....session.handshake import PROTOCOLS
from ...catalog import case
from ...script import Tester
from ._common import gives_up, requests_since, stops, withhold

SAP_REQ, SAP_RES = "SupportedAppProtocolReq", "SupportedAppProtocolRes"


def _add(case_id: str, body: Callable[[Tester], Any], **kw: Any) -> None:
    def run(t: Tester) -> None:
        body(t)

    run.__qualname__ = run.__name__ = case_id
    case(case_id, from_standard=False, **kw)(run)


def good(t: Tester) -> None:
    req = t.expect(SAP_REQ)
    entries = list(req.body.app_protocol)
    t.check(1 <= len(entries) <= 20, f"1 to 20 AppProtocol entries ({len(entries)})")
    ids = [e.schema_id for e in entries]
    prios = [e.priority for e in entries]
    t.check(len(set(ids)) == len(ids), f"every SchemaID is unique ({ids})")
    t.check(
        len(set(prios)) == len(prios) and all(1 <= p <= 20 for p in prios),
        f"every Priority is unique and 1..20 ({prios})",
    )
    want = PROTOCOLS[t.protocol or ""]
    mine = [
        e for e in entries if e.protocol_namespace == want.namespace and e.version_number_major == want.major
    ]
    if not mine:
        t.inconc(
            f"the car does not offer {want} (it offers "
            f"{', '.join(f'{e.protocol_namespace} {e.version_number_major}' for e in entries)})"
        )
    for e in entries:
        t.log(
            f"offered: {e.protocol_namespace} {e.version_number_major}.{e.version_number_minor} "
            f"SchemaID {e.schema_id} Priority {e.priority}"
        )
    setup = t.expect("SessionSetupReq")
    t.check(setup is not None, f"the car goes on with SessionSetupReq of {want.name}")


def foreign_schema(t: Tester) -> None:
    req = t.expect(SAP_REQ)
    unused = next(i for i in range(255, -1, -1) if i not in {e.schema_id for e in req.body.app_protocol})
    t.set(SAP_RES, lambda res: setattr(res, "schema_id", unused))
    mark = len(t.received)
    t.send(SAP_RES)
    stops(
        t,
        mark,
        f"{SAP_RES} naming SchemaID {unused}, which the car did not offer",
        within=timing.EVCC_SAP_TIMEOUT + timing.TCP_TERMINATION_TIMEOUT,
    )


def no_answer(t: Tester) -> None:
    req = t.expect(SAP_REQ)
    mark = len(t.received)
    withhold(t, SAP_RES)
    gives_up(t, req.t, timing.EVCC_SAP_TIMEOUT, SAP_RES, mark)
    t.check(not requests_since(t, mark), "no SessionSetupReq without a negotiated protocol")


PRE = "The car has connected to the test system (the SECC) over TCP."
_add(
    "TC_EVCC_CMN_VKT_SupportedAppProtocol_001",
    good,
    protocols=("din", "iso2", "iso20"),
    quick=True,
    preconditions=PRE,
    purpose="Verify that the car's SupportedAppProtocolReq lists 1 to 20 AppProtocols with unique SchemaIDs "
    "and "
    "unique priorities 1..20, among them the protocol under test, and that the car goes on with "
    "SessionSetupReq of the protocol the SECC picked.",
    steps=(
        "Receive SupportedAppProtocolReq and check its list.",
        "Answer OK_SuccessfulNegotiation with the car's SchemaID of the protocol under test.",
        "Check that SessionSetupReq of that protocol follows.",
    ),
)
_add(
    "TC_EVCC_CMN_VKT_SupportedAppProtocol_003",
    foreign_schema,
    protocols=("din", "iso2", "iso20"),
    preconditions=PRE,
    purpose="Verify that the car does not start a session when supportedAppProtocolRes says "
    "OK_SuccessfulNegotiation with a SchemaID it did not offer (it cannot know the protocol): it sends no "
    "SessionSetupReq and closes the TCP connection (at once, or after its V2G_EVCC_Msg_Timeout).",
    steps=(
        "Answer SupportedAppProtocolReq with OK_SuccessfulNegotiation and a SchemaID not in its list.",
        "Check that no request follows and that the car closes the TCP connection within "
        "V2G_EVCC_Msg_Timeout "
        "+ par_CMN_TCP_Connection_Termination_Timeout.",
    ),
)
_add(
    "TC_EVCC_CMN_VKT_SupportedAppProtocol_004",
    no_answer,
    protocols=("din", "iso2", "iso20"),
    preconditions=PRE,
    purpose="Verify that the car waits V2G_EVCC_Msg_Timeout (2 s) for supportedAppProtocolRes, not less, "
    "sends "
    "nothing more, and then closes the TCP connection within par_CMN_TCP_Connection_Termination_Timeout.",
    steps=("Do not answer SupportedAppProtocolReq.", "Check the time the car closes the TCP connection."),
)
