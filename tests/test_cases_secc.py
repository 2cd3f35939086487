"""The TC_SECC_* catalog (the test system plays the EVCC) against v2gkit's own SECC, in-process on the
simulated clock: every case for every protocol it names passes, or is inconclusive with a stated reason (not
applicable to this SUT's configuration, or only a live link shows it). Cases that depend on the SECC's
configuration also run against an SECC configured to meet them, and must pass there. Known v2gkit bugs the
cases found are listed in KNOWN_BUGS (strict xfail: the test fails once the bug is fixed, so the entry
goes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import need_shared

from v2gkit.session.din2 import SECCConfig
from v2gkit.testsys.case import Verdict
from v2gkit.testsys.cases.secc._common import INTENDED_NEEDS
from v2gkit.testsys.catalog import CASES_DIR, NEEDS, scan_catalog
from v2gkit.testsys.drive import Setup, run_case

SECC_DIR = CASES_DIR / "secc"
_CATALOG = scan_catalog()
CASES = {c.case_id: c for c in _CATALOG.cases if Path(c.source).resolve().is_relative_to(SECC_DIR.resolve())}
RUNS = [(cid, p) for cid, c in sorted(CASES.items()) for p in c.protocols]

#: (case ID, protocol) -> what v2gkit's SECC does wrong (reported to the lead with a reproduction)
_TUPLE = ("v2gkit bug: the SECC accepts a PowerDeliveryReq whose SAScheduleTupleID it never offered (answers "
          "OK, not FAILED_TariffSelectionInvalid)")
_PROFILE = ("v2gkit bug: the SECC accepts a ChargingProfile above the PMax of the selected tuple (answers "
            "OK, not FAILED_ChargingProfileInvalid)")
_SELECTION = ("v2gkit bug: the SECC accepts a SelectedServiceList with a ServiceID it never offered (answers "
              "OK, not FAILED_ServiceSelectionInvalid)")
KNOWN_BUGS: dict[tuple[str, str], str] = {}  # the three these cases found are fixed (din2/secc.py)

#: the reasons an inconclusive verdict may give against v2gkit's own SECC (its default configuration)
ACCEPTED_INCONC = ("not applicable: ", "needs a live SUT")


def _params(runs: list[tuple[str, str]]) -> list:
    out = []
    for cid, proto in runs:
        bug = KNOWN_BUGS.get((cid, proto))
        marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
        out.append(pytest.param(cid, proto, id=f"{cid}-{proto}", marks=marks))
    return out


def _explain(res) -> str:
    log = "\n".join(f"  {s.t:8.3f} {s.text}" for s in res.steps[-12:])
    return f"{res.verdict.value}: {res.reason}\n{log}"


def test_the_secc_catalog_loads():
    problems = [p for p in _CATALOG.problems if str(SECC_DIR) in p.path]
    assert not problems, "\n".join(map(str, problems))
    assert len(CASES) > 100
    lua = [c for c in CASES.values() if c.source.endswith(".lua")]
    assert len(lua) >= 4
    for c in CASES.values():
        assert c.role == "evcc" and c.sut_role == "secc", c.case_id
        assert c.purpose and c.steps, f"{c.case_id}: purpose and steps"
        assert c.from_standard == ("_VTB_" in c.case_id), f"{c.case_id}: VTB is ISO 15118-4's, VKT v2gkit's"


@pytest.mark.parametrize(("case_id", "protocol"), _params(RUNS))
def test_case_against_v2gkit_secc(case_id, protocol):
    res = run_case(CASES[case_id], protocol=protocol)
    if res.verdict is Verdict.INCONC:
        assert res.reason.startswith(ACCEPTED_INCONC), _explain(res)
    else:
        assert res.verdict is Verdict.PASS, _explain(res)


# ----------------------------------------------------------------- against an SECC configured to meet `needs`
#: the configuration that makes v2gkit's SECC meet a need
CONFIGURED = {
    "receipt": Setup(secc=SECCConfig(receipt_interval=2)),  # ReceiptRequired true on every 2nd loop answer
    "notls": Setup(sut_tls=False),  # the SDP server offers plain TCP only
}
NEEDS_RUNS = [(cid, p, need) for cid, c in sorted(CASES.items()) for need in INTENDED_NEEDS.get(cid, ())
              if need in CONFIGURED for p in c.protocols]


@pytest.mark.parametrize(("case_id", "protocol", "need"), NEEDS_RUNS,
                         ids=[f"{c}-{p}-{n}" for c, p, n in NEEDS_RUNS])
def test_case_against_a_configured_secc(case_id, protocol, need):
    res = run_case(CASES[case_id], CONFIGURED[need], protocol=protocol)
    assert res.verdict is Verdict.PASS, _explain(res)


def test_configured_runs_cover_receipt_and_notls():
    needs = {n for _, _, n in NEEDS_RUNS}
    assert needs == {"receipt", "notls"}
    assert sum(1 for _, _, n in NEEDS_RUNS if n == "receipt") >= 11


def test_the_catalog_gets_the_needs_it_knows():
    """Every case names its needs; the catalog keeps those in its vocabulary (the others stay in the case's
    own inconclusive verdict until catalog.NEEDS has them)."""
    assert set(INTENDED_NEEDS) <= set(CASES)
    for cid, wanted in INTENDED_NEEDS.items():
        assert CASES[cid].needs == tuple(n for n in wanted if n in NEEDS), cid


# --------------------------------------------------------------------------- the ISO 15118-4 purposes covered
def test_every_secc_purpose_in_the_excerpt_has_its_case():
    """Every TC_SECC_* test purpose of the excerpt (those with a CONDITION) is in the catalog under its own
    ID, marked as from the standard; no VTB case is there without a purpose."""
    text = need_shared("conformance", "test_purposes_excerpt.txt").read_text()
    blocks = re.split(r"verdict_val \w+::(TC_\w+)\(\)", text)
    with_purpose = {blocks[i] for i in range(1, len(blocks), 2) if "CONDITION" in blocks[i + 1]}
    secc = {i for i in with_purpose if i.startswith("TC_SECC_")}
    assert secc, "no SECC purposes found in the excerpt"
    missing = sorted(secc - set(CASES))
    assert not missing, f"purposes without a case: {missing}"
    invented = sorted(c for c in CASES if "_VTB_" in c and c not in secc)
    assert not invented, f"VTB IDs without a purpose in the excerpt: {invented}"
