"""The fuzzing harness of ``./run fuzz`` (fuzz/) cannot rot: every target's harness runs over its seed corpus
and thousands of mutants here, its oracles are shown to fire, and a few seconds of real coverage-guided
fuzzing (atheris, installed on demand like ``./run fuzz`` does) must produce executions and coverage.

The long runs are ``./run fuzz --minutes N``; this only keeps the machinery honest (~10 s).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fuzz import run as fuzz_run
from fuzz import targets
from fuzz.mutate import mutants
from fuzz.targets import TARGETS, Finding
from v2gkit import v2gtp
from v2gkit.exi import ExiTruncatedError

MUTANTS = 4000


def _run(target: targets.Target, data: bytes) -> None:
    try:
        target.run(data)
    except Exception as e:  # noqa: BLE001 - report the input with its reproduction
        pytest.fail(f"{target.name}: {fuzz_run.finding_kind(e)}\n  input: {data.hex()}\n  {e}")


@pytest.mark.parametrize("name", list(TARGETS))
def test_harness_over_seeds_and_mutants(name: str) -> None:
    target = TARGETS[name]
    seeds = list(target.seeds())
    assert seeds, f"{name} has no seeds"
    assert all(len(s) <= target.max_len for s in seeds)
    for data in seeds:
        _run(target, data)
    for data in mutants(seeds, MUTANTS, seed=8, max_len=target.max_len):
        _run(target, data)


def test_exi_seeds_cover_every_schema_set_and_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each decoder target has real streams that decode, so the round-trip oracle is exercised."""
    trips: list[str] = []
    real = targets._roundtrip
    def counting(items: list, schema: str, *a: object, **kw: object) -> None:
        trips.append(schema)
        real(items, schema, *a, **kw)

    monkeypatch.setattr(targets, "_roundtrip", counting)
    for t in TARGETS.values():
        if t.group == "exi":
            for data in t.seeds():
                t.run(data)
    assert set(trips) == {t.name.removeprefix("exi-") for t in TARGETS.values() if t.group == "exi"}


# ------------------------------------------------------------------ the oracles fire


def test_exi_oracle_flags_an_internal_error_dressed_as_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: bytes, schema: str, strict: bool = True) -> None:
        try:
            raise IndexError("index out of range")
        except IndexError:
            raise ExiTruncatedError("stream ends inside a value", 8) from None

    monkeypatch.setattr(targets, "decode_element", broken)
    with pytest.raises(Finding, match="hides an internal IndexError"):
        TARGETS["exi-din"].run(b"\x80\x9a")


def test_exi_oracle_flags_a_lossy_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    data = next(iter(TARGETS["exi-din"].seeds()))
    real = targets.encode
    monkeypatch.setattr(targets, "encode", lambda obj, **kw: real(obj, **kw)[:-1] + b"\x00")
    with pytest.raises(Finding):
        TARGETS["exi-din"].run(data)


def test_v2gtp_reference_and_segmentation() -> None:
    empty = b"\x01\xfe\x80\x01\x00\x00\x00\x00"
    frames = [v2gtp.frame(0x8001, b"abc"), empty, v2gtp.frame(0x8001, b"d" * 20)]
    stream = b"".join(frames)
    events, held = targets.reference_reader(stream, 16, v2gtp.TCP_PAYLOAD_TYPES)
    assert events[0] == v2gtp.V2GTPMessage(0x8001, b"abc")
    assert events[1].fault is v2gtp.Fault.LENGTH_ZERO and events[1].offset == 11
    assert events[2].fault is v2gtp.Fault.LENGTH_TOO_LARGE and held == 0
    for how in range(8):
        assert b"".join(targets.segments(stream, how, 3)) == stream


def test_v2gtp_oracle_flags_a_reader_that_loses_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    real = v2gtp.V2GTPReader.feed
    monkeypatch.setattr(v2gtp.V2GTPReader, "feed", lambda self, data: real(self, data)[1:])
    with pytest.raises(Finding, match="reference reader"):
        targets.run_v2gtp(b"\x00\x00" + v2gtp.frame(0x8001, b"abc") * 2)


def test_sdp_oracle_flags_a_server_answering_junk(monkeypatch: pytest.MonkeyPatch) -> None:
    from v2gkit import sdp

    answer = sdp.SDPResponse(targets._SECC, 50000, sdp.Security.NONE).to_bytes()
    monkeypatch.setattr(sdp.SDPServer, "datagram_received", lambda self, d: (answer, "answered"))
    with pytest.raises(Finding, match="not a valid request"):
        targets.run_sdp(b"junk")


def test_handshake_oracle_flags_a_wrong_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    from v2gkit.session import handshake

    req = handshake.EVHandshake(["din", "iso2"]).request()  # din has priority 1
    targets.run_handshake(req)
    monkeypatch.setattr(handshake, "select", _pick_last)
    with pytest.raises(Finding, match="another entry"):
        targets.run_handshake(req)


def _pick_last(req, supported):  # type: ignore[no-untyped-def]
    from v2gkit.exi.gen import apphand
    from v2gkit.session import handshake

    e = req.app_protocol[-1]
    proto = next(p for p in handshake.PROTOCOLS.values() if p.namespace == e.protocol_namespace)
    code = handshake.ResponseCode.OK_SuccessfulNegotiation
    return (apphand.supportedAppProtocolResType(response_code=code, schema_id=e.schema_id),
            handshake.Negotiated(proto, e.schema_id, code))


# ------------------------------------------------------------------ findings, reproduction, the engine


def test_recorder_keeps_the_shortest_input_and_reproduces_it(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    target = TARGETS["sdp"]
    folder = tmp_path / "findings" / "sdp"
    rec = fuzz_run.Recorder(target, folder)
    for data in (b"long input", b"short", b"longer still"):
        rec.finding(data, Finding("the same bug", "detail"))
    (found,) = [p for p in folder.iterdir() if p.suffix != ".txt"]
    assert found.read_bytes() == b"short"
    report = found.with_suffix(".txt").read_text()
    assert "kind: the same bug" in report and f"./run fuzz --reproduce {found}" in report
    assert capsys.readouterr().err.count("FINDING ") == 1  # announced once
    fuzz_run.Recorder(target, folder).finding(b"again", Finding("the same bug"))  # a later run
    assert "FINDING " + found.name + " known the same bug" in capsys.readouterr().err
    # the harness no longer fails on it: reproduce says so and exits 0
    assert fuzz_run.reproduce([found], []) == 0
    assert "no finding" in capsys.readouterr().out


def test_reproduce_shows_what_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "input"
    path.write_bytes(b"\x00\x00" + v2gtp.frame(0x8001, b"abc") * 2)
    real = v2gtp.V2GTPReader.feed
    monkeypatch.setattr(v2gtp.V2GTPReader, "feed", lambda self, data: real(self, data)[1:])
    assert fuzz_run.reproduce([path], ["v2gtp"]) == 1
    assert "reader output differs from the reference reader" in capsys.readouterr().out


def test_command_line_refuses_bad_values() -> None:
    for args in (["--minutes", "0"], ["--target", "nosuch"], ["--jobs", "0"]):
        with pytest.raises(SystemExit) as e:
            fuzz_run.main(args)
        assert e.value.code == 2


def test_a_short_coverage_guided_run(tmp_path: Path) -> None:
    """Five seconds of atheris on the SDP target: it executes inputs, reports coverage and a summary."""
    fuzz_run.ensure_engine()
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "fuzz" / "run.py"), "--minutes", "0.07", "--target", "sdp",
           "--out", str(out), "--progress", "0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (s,) = json.loads((out / "summary.json").read_text())["targets"]
    assert s["target"] == "sdp" and s["execs"] > 1000 and s["cov"] > 50 and s["corpus"] > 5
    assert s["findings_new"] == s["findings_known"] == s["artifacts"] == []
    assert "summary after" in proc.stdout and any((out / "corpus" / "sdp").iterdir())
