"""The case catalog: Python and Lua case files, problems with file and line, selection by ID pattern."""

from __future__ import annotations

import sys
import textwrap
import types
from pathlib import Path

import pytest

from v2gkit.testsys.case import Case
from v2gkit.testsys.catalog import (
    CASES_DIR,
    CatalogError,
    LuaScript,
    case,
    filter_cases,
    load_catalog,
    parse_lua_header,
    scan_catalog,
    select,
    unmatched_patterns,
)

SESSION_SETUP_PY = '''\
"""Example cases (written by the test into a temporary catalog)."""
from v2gkit.testsys.catalog import case

@case("TC_SECC_CMN_VTB_SessionSetup_001",
      purpose="Verify that the SECC answers a SessionSetupReq with a new SessionID.\\nSecond line.",
      requirements=("V2G2-538", "V2G2-539"), protocols=("ISO-2", "din"),
      preconditions="The SECC waits for a SessionSetupReq.",
      steps=("Send SessionSetupReq with SessionID 00.", "Check ResponseCode OK_NewSessionEstablished."),
      quick=True)
def _(t):
    t.calls.append("setup-001")

@case("TC_SECC_DC_VTB_CableCheck_003",
      purpose="Written for v2gkit: cable check under a slow isolation monitor.", protocols=("iso2",),
      from_standard=False, title="Slow cable check", needs=("TLS",))
def _(t):
    t.calls.append("cablecheck-003")
'''

EVCC_LUA = '''\
#!/usr/bin/env lua
-- @case TC_EVCC_AC_VTB_ServiceDiscovery_002
-- @purpose Verify that the EVCC sends a ServiceDiscoveryReq
--          after a successful SessionSetupRes.
-- @requirement V2G2-542, V2G2-543
-- @requirement V2G-DC-497
-- @protocols iso2,din iso20
-- @precondition The tester has answered SessionSetupReq.
-- @step Send SessionSetupRes with ResponseCode OK.
-- @step Wait for the ServiceDiscoveryReq
--       within the sequence timeout.
-- @quick
-- @v2gkit
-- @needs live, pause
Secc.Receive_SessionSetupReq_001()
Secc.Send_SessionSetupRes_001()
-- @step this is in the script, not in the header
'''


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text) if text.startswith("\n") else text, encoding="utf-8")
    return path


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "cases"
    _write(folder, "examples/session_setup.py", SESSION_SETUP_PY)
    _write(folder, "examples/evcc_service_discovery.lua", EVCC_LUA)
    _write(folder, "examples/_helpers.py", "raise RuntimeError('helpers are not imported as case files')\n")
    _write(folder, "examples/notes.txt", "not a case file\n")
    return folder


def test_python_and_lua_cases_load_sorted_with_their_metadata(catalog_dir: Path) -> None:
    cases = load_catalog([catalog_dir], builtin=False)
    assert [c.case_id for c in cases] == ["TC_EVCC_AC_VTB_ServiceDiscovery_002",
                                          "TC_SECC_CMN_VTB_SessionSetup_001", "TC_SECC_DC_VTB_CableCheck_003"]
    lua, setup, cable = cases
    assert setup.title == "Verify that the SECC answers a SessionSetupReq with a new SessionID."
    assert setup.purpose.endswith("Second line.")
    assert setup.requirements == ("V2G2-538", "V2G2-539")
    assert setup.protocols == ("iso2", "din")  # spellings normalised
    assert setup.kind == "CMN" and setup.role == "evcc" and setup.sut_role == "secc"
    assert setup.steps == ("Send SessionSetupReq with SessionID 00.",
                           "Check ResponseCode OK_NewSessionEstablished.")
    assert setup.preconditions == "The SECC waits for a SessionSetupReq."
    assert setup.quick and setup.from_standard
    assert setup.source == str((catalog_dir / "examples/session_setup.py").resolve())
    assert cable.title == "Slow cable check" and cable.kind == "DC" and cable.needs == ("tls",)
    assert setup.needs == ()
    assert not cable.from_standard and not cable.quick

    assert lua.kind == "AC" and lua.role == "secc" and lua.sut_role == "evcc"
    assert lua.purpose == ("Verify that the EVCC sends a ServiceDiscoveryReq\n"
                           "after a successful SessionSetupRes.")
    assert lua.title == "Verify that the EVCC sends a ServiceDiscoveryReq"
    assert lua.requirements == ("V2G2-542", "V2G2-543", "V2G-DC-497")
    assert lua.protocols == ("iso2", "din", "iso20")
    assert lua.steps == ("Send SessionSetupRes with ResponseCode OK.",
                         "Wait for the ServiceDiscoveryReq\nwithin the sequence timeout.")
    assert lua.preconditions == "The tester has answered SessionSetupReq."
    assert lua.quick and not lua.from_standard and lua.needs == ("live", "pause")
    assert lua.source == str((catalog_dir / "examples/evcc_service_discovery.lua").resolve())
    assert lua.run == LuaScript(lua.source)


def test_a_python_case_runs_its_function_with_the_tester(catalog_dir: Path) -> None:
    cases = {c.case_id: c for c in load_catalog([catalog_dir], builtin=False)}
    tester = types.SimpleNamespace(calls=[])
    cases["TC_SECC_CMN_VTB_SessionSetup_001"].run(tester)
    cases["TC_SECC_DC_VTB_CableCheck_003"].run(tester)
    assert tester.calls == ["setup-001", "cablecheck-003"]


def test_a_lua_case_runs_its_file_through_the_lua_binding(catalog_dir: Path, monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    # the binding (testsys/lua.py) is imported only when a Lua case runs; stand in for it here
    seen: list[tuple[object, str]] = []
    binding = types.ModuleType("v2gkit.testsys.lua")
    binding.run_script = (  # type: ignore[attr-defined]
        lambda tester, path: seen.append((tester, path)) or "ran")
    monkeypatch.setitem(sys.modules, "v2gkit.testsys.lua", binding)
    (lua,) = select(load_catalog([catalog_dir], builtin=False), "ServiceDiscovery")
    tester = object()
    assert lua.run(tester) == "ran"
    assert seen == [(tester, lua.source)]


def test_loading_twice_gives_the_same_cases_and_edits_are_seen(catalog_dir: Path) -> None:
    first = load_catalog([catalog_dir], builtin=False)
    second = load_catalog([catalog_dir], builtin=False)
    assert [(c.case_id, c.title, c.source) for c in first] == [(c.case_id, c.title, c.source) for c in second]
    path = catalog_dir / "examples/session_setup.py"
    path.write_text(SESSION_SETUP_PY.replace("Slow cable check", "Very slow cable check"), encoding="utf-8")
    third = {c.case_id: c for c in load_catalog([catalog_dir], builtin=False)}
    assert third["TC_SECC_DC_VTB_CableCheck_003"].title == "Very slow cable check"


def test_duplicate_ids_are_an_error_naming_both_files(catalog_dir: Path) -> None:
    other = _write(catalog_dir, "more/again.py", '''\
from v2gkit.testsys.catalog import case


@case("TC_SECC_CMN_VTB_SessionSetup_001", purpose="Same ID again.", protocols=("din",))
def _(t):
    pass
''')
    with pytest.raises(CatalogError) as info:
        load_catalog([catalog_dir], builtin=False)
    text = str(info.value)
    assert "duplicate case ID TC_SECC_CMN_VTB_SessionSetup_001" in text
    assert str((catalog_dir / "examples/session_setup.py").resolve()) in text
    assert f"{other.resolve()}:4" in text  # the second place, with the line of its @case
    # the first one is kept, and everything else still loads
    assert len(info.value.cases) == 3
    examples = catalog_dir / "examples"
    assert {c.source for c in info.value.cases} == {str((examples / "session_setup.py").resolve()),
                                                   str((examples / "evcc_service_discovery.lua").resolve())}


def test_broken_files_are_problems_with_file_and_line_not_a_crash(catalog_dir: Path) -> None:
    syntax = _write(catalog_dir, "broken/syntax.py",
                    "from v2gkit.testsys.catalog import case\n\ndef _(t:\n    pass\n")
    runtime = _write(catalog_dir, "broken/runtime.py",
                     "import os\n\nx = 1\nraise RuntimeError('no charger config')\n")
    bad_id = _write(catalog_dir, "broken/bad_id.py", '''\
from v2gkit.testsys.catalog import case

@case("TC_SECC_SessionSetup_1", purpose="ID without kind and number.", protocols=("iso2",))
def _(t):
    pass
''')
    bad_proto = _write(catalog_dir, "broken/bad_protocol.py", '''\
from v2gkit.testsys.catalog import case
@case("TC_SECC_AC_VTB_ChargeParameterDiscovery_001", purpose="x", protocols=("iso2", "iso15118-3"))
def _(t):
    pass
''')
    arity = _write(catalog_dir, "broken/arity.py", '''\
from v2gkit.testsys.catalog import case
@case("TC_SECC_AC_VTB_ChargeParameterDiscovery_002", purpose="x", protocols=("iso2",))
def _():
    pass
''')
    missing = _write(catalog_dir, "broken/missing_import.py", "import v2gkit_no_such_module\n")
    _write(catalog_dir, "broken/bad_need.lua",
           "-- @case TC_SECC_CMN_VTB_SessionStop_009\n-- @purpose x\n-- @protocols din\n"
           "-- @needs tls, wifi\n")
    exits = _write(catalog_dir, "broken/exits.py", "import sys\nsys.exit(3)\n")
    empty = _write(catalog_dir, "broken/no_cases.py", "X = 1\n")
    found = scan_catalog([catalog_dir], builtin=False)
    assert len(found.cases) == 3  # the good files still load
    problems = {Path(p.path).name: p for p in found.problems}
    assert set(problems) == {"syntax.py", "runtime.py", "bad_id.py", "bad_protocol.py", "arity.py",
                             "missing_import.py", "exits.py", "no_cases.py", "bad_need.lua"}
    assert problems["bad_need.lua"].line == 1 and "unknown need(s) 'wifi'" in problems["bad_need.lua"].message
    assert problems["syntax.py"].line == 3 and "SyntaxError" in problems["syntax.py"].message
    assert problems["runtime.py"].line == 4
    assert "RuntimeError: no charger config" in problems["runtime.py"].message
    assert problems["bad_id.py"].line == 3 and "not a conformance case ID" in problems["bad_id.py"].message
    assert problems["bad_protocol.py"].line == 2 and "'iso15118-3'" in problems["bad_protocol.py"].message
    assert problems["arity.py"].line == 2 and "exactly one argument" in problems["arity.py"].message
    assert problems["missing_import.py"].line == 1
    assert "v2gkit_no_such_module" in problems["missing_import.py"].message
    assert problems["exits.py"].line == 2 and "exit()" in problems["exits.py"].message
    assert "defines no case" in problems["no_cases.py"].message
    assert str(problems["runtime.py"]) == f"{runtime.resolve()}:4: RuntimeError: no charger config"
    for path in (syntax, bad_id, bad_proto, arity, missing, exits, empty):
        assert str(path.resolve()) in {p.path for p in found.problems}
    with pytest.raises(CatalogError, match="9 problem"):
        load_catalog([catalog_dir], builtin=False)


def test_lua_header_problems_name_the_line(tmp_path: Path) -> None:
    _write(tmp_path, "typo.lua",
           "-- @case TC_SECC_CMN_VTB_SessionStop_001\n-- @purpose Stop.\n-- @requirment V2G2-1\n")
    _write(tmp_path, "nocase.lua", "-- a library, not a case\nreturn {}\n")
    _write(tmp_path, "twice.lua",
           "-- @case TC_SECC_CMN_VTB_SessionStop_002\n-- @case TC_SECC_CMN_VTB_SessionStop_003\n")
    _write(tmp_path, "noproto.lua", "\n\n-- @case TC_SECC_CMN_VTB_SessionStop_004\n-- @purpose Stop.\n")
    _write(tmp_path, "nopurpose.lua", "-- @case TC_SECC_CMN_VTB_SessionStop_005\n-- @protocols din\n")
    _write(tmp_path, "badid.lua", "-- @case TC_SECC_StopIt\n-- @purpose x\n-- @protocols din\n")
    _write(tmp_path, "latin1.lua", "-- @case TC_SECC_CMN_VTB_SessionStop_006\n-- @purpose caf\xe9\n")
    (tmp_path / "latin1.lua").write_bytes(b"-- @case TC_SECC_CMN_VTB_SessionStop_006\n-- @purpose caf\xe9\n")
    _write(tmp_path, "_lib.lua", "return {}\n")  # helpers start with '_'
    found = scan_catalog([tmp_path], builtin=False)
    assert found.cases == []
    got = {Path(p.path).name: (p.line, p.message) for p in found.problems}
    assert got["typo.lua"][0] == 3 and "unknown tag @requirment" in got["typo.lua"][1]
    assert got["nocase.lua"][0] == 1 and "-- @case" in got["nocase.lua"][1]
    assert got["twice.lua"] == (2, "@case is given twice")
    assert got["noproto.lua"][0] == 3 and "@protocols" in got["noproto.lua"][1]
    assert got["nopurpose.lua"][0] == 1 and "purpose is empty" in got["nopurpose.lua"][1]
    assert got["badid.lua"][0] == 1 and "not a conformance case ID" in got["badid.lua"][1]
    assert "cannot be read" in got["latin1.lua"][1]
    assert "_lib.lua" not in got


def test_lua_header_ends_at_the_first_code_line() -> None:
    fields = parse_lua_header(EVCC_LUA)
    assert fields["line"] == 2 and fields["case_id"] == "TC_EVCC_AC_VTB_ServiceDiscovery_002"
    assert len(fields["steps"]) == 2  # the @step in the script body is code's business


def test_missing_folder_is_a_problem(tmp_path: Path) -> None:
    found = scan_catalog([tmp_path / "nowhere"], builtin=False)
    assert found.cases == [] and "does not exist" in found.problems[0].message


def test_the_shipped_catalog_loads_without_problems() -> None:
    """Every case file in v2gkit/testsys/cases is valid and every ID unique (an empty catalog is valid
    too)."""
    cases = load_catalog()
    assert [c.case_id for c in cases] == sorted({c.case_id for c in cases})
    for c in cases:
        assert c.run is not None and c.purpose and c.protocols, c.case_id
        assert Path(c.source).resolve().is_relative_to(CASES_DIR), c.source


def test_the_decorator_returns_the_function_with_its_case() -> None:
    @case("TC_EVCC_DC_VTB_CurrentDemand_007", purpose="Inline case.", protocols="iso2, din70121")
    def body(t: object) -> str:
        return "ran"

    assert isinstance(body.case, Case) and body.case.run is body and body("t") == "ran"
    assert body.case.protocols == ("iso2", "din") and body.case.source == __file__


def _cases(*ids: str, quick: tuple[str, ...] = (), protocols: dict[str, tuple[str, ...]] | None = None
           ) -> list[Case]:
    out = []
    for i in ids:
        out.append(Case(case_id=i, title=i, purpose=i, requirements=(), kind=i.split("_")[2],
                        protocols=(protocols or {}).get(i, ("iso2", "din")), quick=i in quick))
    return out


IDS = ("TC_SECC_CMN_VTB_SessionSetup_001", "TC_SECC_CMN_VTB_SessionSetup_002",
       "TC_SECC_DC_VTB_CableCheck_001", "TC_EVCC_CMN_VTB_SessionSetup_001",
       "TC_EVCC_AC_VTB_ChargingStatus_004", "TC_SECC_AC_VTB_PowerDelivery_010")


def test_select_by_shell_pattern_and_substring() -> None:
    cases = _cases(*IDS)
    ids = lambda cs: [c.case_id for c in cs]  # noqa: E731
    assert ids(select(cases, "TC_SECC_*_SessionSetup_*")) == list(IDS[:2])
    assert ids(select(cases, "tc_secc_*_sessionsetup_00[2]")) == [IDS[1]]  # case-insensitive, classes
    assert ids(select(cases, "sessionsetup")) == [IDS[0], IDS[1], IDS[3]]  # substring
    assert ids(select(cases, ["CableCheck", "TC_EVCC_AC_*"])) == [IDS[2], IDS[4]]  # OR, in catalog order
    assert ids(select(cases, "SessionSetup*")) == []  # a shell pattern matches the whole ID
    assert ids(select(cases, None)) == list(IDS) and ids(select(cases, [])) == list(IDS)
    assert ids(select(cases, ["", "  "])) == list(IDS)
    assert unmatched_patterns(cases, ["CableCheck", "TC_SECC_DC_*_Welding*", "nothing"]) == [
        "TC_SECC_DC_*_Welding*", "nothing"]


def test_filter_by_role_protocol_kind_and_quick() -> None:
    cases = _cases(*IDS, quick=(IDS[0], IDS[4]), protocols={IDS[2]: ("din",), IDS[4]: ("iso20",)})
    ids = lambda cs: [c.case_id for c in cs]  # noqa: E731
    assert ids(filter_cases(cases, sut_role="SECC")) == [IDS[0], IDS[1], IDS[2], IDS[5]]
    assert ids(filter_cases(cases, tester_role="secc")) == [IDS[3], IDS[4]]  # the tester plays the charger
    assert ids(filter_cases(cases, protocol="DIN70121")) == [IDS[0], IDS[1], IDS[2], IDS[3], IDS[5]]
    assert ids(filter_cases(cases, protocol="ISO-20")) == [IDS[4]]
    assert ids(filter_cases(cases, kind="ac")) == [IDS[4], IDS[5]]
    assert ids(filter_cases(cases, quick=True)) == [IDS[0], IDS[4]]
    assert ids(filter_cases(cases, sut_role="secc", protocol="iso2", quick=False)) == [IDS[1], IDS[5]]
    with pytest.raises(ValueError, match="'secc' or 'evcc'"):
        filter_cases(cases, sut_role="charger")
    with pytest.raises(ValueError, match="unknown protocol"):
        filter_cases(cases, protocol="iso3")
