"""The command line: exi decode/encode, exit codes and error lines, the demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from v2gkit.cli.main import main

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
