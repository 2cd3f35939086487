"""The command line: exi decode/encode, exit codes and error lines, the demo."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from v2gkit.cli.main import main
from v2gkit.cli.options import AddressType, Count, InterfaceType, Number, ProtocolsType, SutType

DIN_REQ = "809a02000000000000000011d01a121dc983cd6000"


def run(*args: str, input: str | bytes | None = None) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, list(args), input=input)
    return res.exit_code, res.stdout, res.stderr


def test_decode_json_and_xml() -> None:
    code, out, _ = run("exi", "decode", "--schema", "din", "--format", "json", DIN_REQ)
    assert code == 0
    assert json.loads(out)["V2G_Message"]["Body"]["SessionSetupReq"]["EVCCID"] == "84877260F358"
    code, out, _ = run("exi", "decode", "-s", "din", DIN_REQ)
    assert code == 0 and "<din_b:EVCCID>84877260F358</din_b:EVCCID>" in out


def test_decode_strips_v2gtp_header_and_reads_files(tmp_path: Path) -> None:
    framed = bytes.fromhex("01fe8001") + (len(DIN_REQ) // 2).to_bytes(4, "big") + bytes.fromhex(DIN_REQ)
    code, out, _ = run("exi", "decode", "-s", "din", "--format", "json", framed.hex())
    assert code == 0 and "84877260F358" in out
    f = tmp_path / "msg.exi"
    f.write_bytes(framed)
    code, out2, _ = run("exi", "decode", "-s", "din", "--format", "json", f"@{f}")
    assert code == 0 and out2 == out
    code, out3, _ = run("exi", "decode", "-s", "din", "--format", "json", "-", input=DIN_REQ + "\n")
    assert code == 0 and out3 == out


def test_encode_roundtrip_json_and_xml(tmp_path: Path) -> None:
    _, js, _ = run("exi", "decode", "-s", "din", "--format", "json", DIN_REQ)
    code, out, _ = run("exi", "encode", "-s", "din", "-", input=js)
    assert code == 0 and out.strip() == DIN_REQ
    _, xml, _ = run("exi", "decode", "-s", "din", DIN_REQ)
    p = tmp_path / "m.xml"
    p.write_text(xml)
    code, out, _ = run("exi", "encode", "-s", "din", "--format", "xml", str(p))
    assert code == 0 and out.strip() == DIN_REQ


def test_fragment_roundtrip() -> None:
    frag = "808112b43a3a381d1797bbbbbb973b999737b93397aa2917b1b0b737b734b1b0b616b2bc3497a1ab43a3a381d1797bbbbbb973b999737b933979918181897981a17bc36b63239b4b396b6b7b93291b2b1b239b096b9b430991a9b220623696431025687474703a2f2f7777772e77332e6f72672f54522f63616e6f6e6963616c2d6578692f4852d0e8e8e0745e5eeeeeee5cee665cdee4ce5e646060625e60685ef0dad8cadcc646e6d0c2646a6c8415b52e08c9103fdc0cfb26a7487e42156af65a98ae37cc578e4dfa306cc4cba7a370"
    code, js, _ = run("exi", "decode", "-s", "xmldsig", "--fragment", "--format", "json", frag)
    assert code == 0 and '"SignedInfo"' in js
    code, out, _ = run("exi", "encode", "-s", "xmldsig", "--fragment", "-", input=js)
    assert code == 0 and out.strip() == frag


def test_bad_input_exit_2_with_one_line() -> None:
    code, out, err = run("exi", "decode", "-s", "din", DIN_REQ[:-6])
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: at bit ") and "octets" in lines[0]
    code, _, err = run("exi", "decode", "-s", "din", "4084")
    assert code == 2 and "0x40" in err and "0x80" in err
    code, _, err = run("exi", "encode", "-s", "din", "-", input='{"V2G_Message": {"Header": {}}}')
    assert code == 2 and "error:" in err


def test_entry_point_runs_as_a_program() -> None:
    res = subprocess.run([sys.executable, "-m", "v2gkit.cli.main", "exi", "decode", "-s", "apphand", "80400040"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "OK_SuccessfulNegotiation" in res.stdout


def test_demo_prints_the_sequence() -> None:
    code, out, _ = run("exi", "demo", "--repeat", "20")
    assert code == 0
    for name in ("SessionSetupReq", "CurrentDemandRes", "SessionStopRes"):
        assert name in out
    assert "DIFFERS" not in out and "CurrentDemandReq" in out


# -- exi decode: what INPUT may look like ----------------------------------------------------------


def test_decode_accepts_0x_whitespace_and_colons() -> None:
    _, want, _ = run("exi", "decode", "-s", "din", "--format", "json", DIN_REQ)
    spaced = " ".join(DIN_REQ[i:i + 2] for i in range(0, len(DIN_REQ), 2))
    for text in ("0x" + DIN_REQ, "0X" + DIN_REQ.upper(), spaced, spaced.replace(" ", ":"), f"  {DIN_REQ}\n",
                 " ".join("0x" + DIN_REQ[i:i + 2] for i in range(0, len(DIN_REQ), 2))):
        code, out, err = run("exi", "decode", "-s", "din", "--format", "json", text)
        assert (code, out) == (0, want), (text, err)
    code, out, _ = run("exi", "decode", "-s", "din", "--format", "json", "-", input=f"0x{DIN_REQ}\n")
    assert (code, out) == (0, want)


@pytest.mark.parametrize(("text", "says"), [
    ("zz", "INPUT is not hex: 'z' at digit 1"),
    ("0x809a0g", "INPUT is not hex: 'g' at digit 6"),
    ("809", "INPUT is not hex: an odd number of digits (3)"),
    ("   ", "INPUT is empty"),
])
def test_non_hex_input_says_not_hex(text: str, says: str) -> None:
    code, out, err = run("exi", "decode", "-s", "din", text)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("error: ") and says in err and "EXI header" not in err


def test_hex_text_from_stdin_or_file_must_be_hex(tmp_path: Path) -> None:
    code, _, err = run("exi", "decode", "-s", "din", "-", input="zz\n")
    assert code == 2 and "stdin is not hex" in err
    f = tmp_path / "m.txt"
    f.write_text("hello")
    code, _, err = run("exi", "decode", "-s", "din", f"@{f}")
    assert code == 2 and f"{f} is not hex" in err


@pytest.mark.parametrize(("header", "says"), [
    ("01fe800100000010", "the V2GTP header says 16 payload octets, but 21 follow"),
    ("01fe800100000030", "the V2GTP header says 48 payload octets, but 21 follow"),
    ("01fe900000000015", "V2GTP payload type 0x9000 (SDP_REQUEST) carries no EXI"),
    ("01ff800100000015", "starts like a V2GTP header but is none"),
])
def test_v2gtp_header_faults_are_reported(header: str, says: str, tmp_path: Path) -> None:
    code, _, err = run("exi", "decode", "-s", "din", header + DIN_REQ)
    assert code == 2 and says in err
    f = tmp_path / "framed.bin"
    f.write_bytes(bytes.fromhex(header + DIN_REQ))  # binary files the same way
    code, _, err = run("exi", "decode", "-s", "din", f"@{f}")
    assert code == 2 and says in err


def test_wrong_schema_names_the_one_that_decodes() -> None:
    for wrong in ("iso2", "apphand", "iso20"):
        code, out, err = run("exi", "decode", "-s", wrong, DIN_REQ)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
        assert "it decodes as din (try --schema din)" in err, err
    code, _, err = run("exi", "decode", "-s", "din", "80400040")  # a supportedAppProtocolRes
    assert code == 2 and "try --schema apphand" in err
    code, _, err = run("exi", "decode", "-s", "din", "80ffffffff")
    assert code == 2 and "no other schema decodes it either" in err


# -- every option: help text and a checked value ----------------------------------------------------


def _commands(cmd: click.Command, path: tuple[str, ...] = ("v2gkit",)) -> Iterator[tuple[str, click.Command]]:
    yield " ".join(path), cmd
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from _commands(sub, (*path, name))


def _options() -> Iterator[tuple[str, click.Option]]:
    for path, cmd in _commands(main):
        for p in cmd.params:
            if isinstance(p, click.Option):
                yield f"{path} {p.opts[0]}", p


def test_every_option_of_every_command_has_help() -> None:
    names = [name for name, _ in _options()]
    assert len(names) >= 50 and "v2gkit netns --secc" in names and "v2gkit demo --soc" in names
    assert [name for name, opt in _options() if not (opt.help or "").strip()] == []
    for path, cmd in _commands(main):
        assert (cmd.help or "").strip(), f"{path} has no help"


#: options whose value is free text by nature (a command line, a marker to wait for)
FREE_TEXT = {"v2gkit netns --secc", "v2gkit netns --evcc", "v2gkit netns --ready", "v2gkit replay cars --only",
             "v2gkit replay chargers --only", "v2gkit test run --label"}


def test_every_option_value_is_checked_by_its_type() -> None:
    """No option takes a bare number or string: a range, a choice, a path or a type of our own checks it."""
    checked = (click.Choice, click.Path, click.File, click.types.BoolParamType, Number, Count, ProtocolsType,
               InterfaceType, AddressType, SutType)
    unchecked = [f"{name}: {opt.type!r}" for name, opt in _options()
                 if not isinstance(opt.type, checked) and name not in FREE_TEXT]
    assert unchecked == []


@pytest.mark.parametrize("args", [
    "evcc --loopback --speed 0", "evcc --loopback --speed -1", "evcc --loopback --speed nan",
    "evcc --loopback --speed 1e9", "evcc --loopback --soc 101", "evcc --loopback --target-soc -5",
    "evcc --loopback --loop-interval -0.1", "evcc --loopback --sdp-port 0", "evcc --loopback --sdp-port x",
    "evcc --loopback --protocols iso3", "evcc --loopback --protocols iso2,iso2", "evcc -i no-such-if0",
    "secc --loopback --sdp-port 65536", "secc --loopback --setup-timeout 0", "secc --loopback --setup-timeout inf",
    "secc --loopback --protocols ,", "demo --speed 0", "demo --soc 150", "sdp discover --loopback --port -1",
    "sdp discover --loopback --max-requests 0", "sdp discover --loopback --interval 0", "exi demo --repeat 0",
    "netns --secc a --evcc b --timeout -1", "netns --secc a --evcc b --ready-timeout 0",
])
def test_a_bad_value_is_a_one_line_usage_error(args: str) -> None:
    code, out, err = run(*args.split())
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Invalid value for '-"), err
    assert "Traceback" not in err


@pytest.mark.parametrize(("toml", "says"), [
    ("[evcc]\nspeed = 0\n", "[evcc] speed = 0: 0.0 is not in the range"),
    ("[evcc]\nsoc = 'x'\n", "[evcc] soc = 'x': 'x' is not a valid number"),
    ("[evcc]\nsdp-port = 70000\n", "[evcc] sdp-port = 70000: 70000 is not in the range 1<=x<=65535"),
    ("[evcc]\nprotocols = 5\n", "[evcc] protocols = 5: 5 is not a list of protocols"),
    ("[evcc]\nconfig = 'a.toml'\n", "[evcc] has no option 'config'"),
    ("[evcc.ev]\ncapacity_wh = 'big'\n", "[evcc.ev] capacity_wh = 'big': expected a number"),
    ("[evcc.ev]\ncapacity_wh = 0\n", "[evcc.ev] capacity_wh must be > 0, not 0"),
    ("[evcc.ev]\nac_phases = 2.5\n", "[evcc.ev] ac_phases = 2.5: expected a whole number"),
    ("[evcc.ev]\ncable = 1\n", "[evcc.ev] has no setting 'cable'"),
    ("[evcc.ev]\nsoc = 50\n", "[evcc.ev] soc: set it with --soc"),
    ("[evcc.session]\nmsg_timeouts = {CurrentDemand = -1}\n", "[evcc.session] msg_timeouts = "),
    ("[evcc.session]\nresume_session_id = 'xyz'\n", "[evcc.session] resume_session_id = 'xyz': expected hex digits"),
])
def test_config_values_are_checked_on_load(tmp_path: Path, toml: str, says: str) -> None:
    cfg = tmp_path / "v2g.toml"
    cfg.write_text(toml)
    code, out, err = run("evcc", "--loopback", "--config", str(cfg))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {cfg}: ") and says in err, err


@pytest.mark.parametrize(("toml", "says"), [
    ("[secc]\nsetup-timeout = -3\n", "[secc] setup-timeout = -3:"),
    ("[secc.evse]\nisolation_result = 'Nope'\n", "[secc.evse] isolation_result = 'Nope': expected one of Invalid"),
    ("[secc.evse]\nmax_current = 0\n", "[secc.evse] max_current must be > 0"),
    ("[secc.session]\nreceipt_interval = 'often'\n", "[secc.session] receipt_interval = 'often': expected a whole"),
    ("[secc.session]\nsession_id = 'zz'\n", "[secc.session] session_id = 'zz': expected hex digits"),
])
def test_secc_config_values_are_checked_on_load(tmp_path: Path, toml: str, says: str) -> None:
    cfg = tmp_path / "v2g.toml"
    cfg.write_text(toml)
    code, _, err = run("secc", "--loopback", "--config", str(cfg))
    assert code == 2 and len(err.strip().splitlines()) == 1 and says in err, err


# -- help ---------------------------------------------------------------------------------------------


def test_netns_help_is_a_click_command_like_the_others() -> None:
    code, out, _ = run("netns", "--help")
    assert code == 0 and out.startswith("Usage: v2gkit netns [OPTIONS]")
    for opt in ("--secc CMD", "--evcc CMD", "--ready TEXT", "--ready-timeout", "--timeout"):
        assert opt in out


def test_run_script_has_its_own_help() -> None:
    """``./run --help`` (and -h) says what the run script does, without setting anything up."""
    root = Path(__file__).resolve().parents[1]
    for flag in ("--help", "-h"):
        r = subprocess.run([str(root / "run"), flag], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.startswith("usage: ./run"), r.stderr
        for word in ("demo", "test", "bench [exi|transport|session|abuse|replay]", "fuzz", "--help"):
            assert word in r.stdout
        # every v2gkit command is named there
        for name in main.commands:
            assert re.search(rf"\b{name}\b", r.stdout), name


def test_speed_defaults_and_what_the_car_says() -> None:
    from v2gkit.cli.charge import battery_line, default_speed, duration
    from v2gkit.sim.scaled import fast_ev

    assert (default_speed(True, True), default_speed(False, True)) == (60.0, 240.0)
    assert default_speed(True, False) == default_speed(False, False) == 1.0
    line = battery_line(fast_ev(1.0), 1.0)
    assert line.startswith("SOC 30 % -> 80 % of a 60 kWh battery in real time: about 23 min of charging")
    assert line.endswith("(--speed N fast-forwards)")
    ac = battery_line(fast_ev(240.0, ac=True), 240.0)
    assert "at x240 (it holds 0.25 kWh" in ac and "about 20 s of charging at up to 22.08 kW" in ac
    assert [duration(x) for x in (0.4, 89, 95, 5399, 5400, 7300)] == ["0 s", "89 s", "2 min", "90 min", "1 h 30 min",
                                                                      "2 h 2 min"]
