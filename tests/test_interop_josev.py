"""Interop with an independent stack: Josev (PyPI ``iso15118``, its EXI codec in Java) as EVCC against the
v2gkit SECC and as SECC against the v2gkit EVCC, on a veth pair in private network namespaces, for
DIN 70121 DC, ISO 15118-2 AC and ISO 15118-2 DC (EIM, no TLS). Each session must reach SessionStop with
OK on both sides. The harness and its quirks: tests/interop/README.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from v2gkit.net.netns import netns_available

HARNESS = Path(__file__).parent / "interop" / "josev.py"
CASES = [("evcc", "din", "dc"), ("evcc", "iso2", "ac"), ("evcc", "iso2", "dc"),
         ("secc", "din", "dc"), ("secc", "iso2", "ac"), ("secc", "iso2", "dc")]


@pytest.fixture(scope="module", autouse=True)
def _josev() -> None:
    """The Josev venv (built once, cached in ~/.cache/v2gkit) and a Java runtime; CI installs both."""
    problems = [netns_available()]
    r = subprocess.run([sys.executable, str(HARNESS), "install"], capture_output=True, text=True, timeout=900)
    if r.returncode:
        problems.append(f"Josev venv: {r.stderr.strip() or r.stdout.strip()}")
    problems = [p for p in problems if p]
    if problems:
        if os.environ.get("CI") == "true":
            pytest.fail("; ".join(problems))
        pytest.skip("Josev interop needs: " + "; ".join(problems))


@pytest.mark.parametrize("josev,protocol,mode", CASES, ids=[f"josev-{a}-{b}-{c}" for a, b, c in CASES])
def test_josev_interop(josev: str, protocol: str, mode: str, tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(HARNESS), "vs", "--josev", josev, "--protocol", protocol, "--mode", mode,
                        "--logs", str(tmp_path)], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert ": PASS" in r.stdout and "josev_ok=True v2gkit_exit=0" in r.stdout
    seq = next(ln for ln in r.stdout.splitlines() if ln.startswith("  josev: "))
    assert "SessionStopReq" in seq and "SessionStopRes" in seq
    stop_msg = ">PowerDeliveryReq" if josev == "evcc" else "<PowerDeliveryReq"
    assert stop_msg in seq
