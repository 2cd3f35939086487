"""Shared fixtures: where ../shared lives, and the rule for when it is missing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(os.environ.get("V2GKIT_SHARED", ROOT.parent / "shared"))

# vectors.jsonl "protocol" -> (schema set, is fragment)
PROTOCOLS: dict[str, tuple[str, bool]] = {
    "apphand": ("apphand", False), "DIN": ("din", False), "ISO-2": ("iso2", False),
    "ISO-20:CommonMessages": ("iso20", False), "ISO-20:AC": ("iso20-ac", False),
    "ISO-20:DC": ("iso20-dc", False), "ISO-20:WPT": ("iso20-wpt", False),
    "ISO-20:ACDP": ("iso20-acdp", False), "ISO-2 fragment": ("iso2", True),
    "ISO-20:CommonMessages fragment": ("iso20", True),
    "xmldsig fragment (standalone xmldsig-core-schema grammar)": ("xmldsig", True),
}


def need_shared(*parts: str) -> Path:
    """Path into ../shared; skip with a clear message when absent, fail under CI=true."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        msg = (f"{p} is not there: these tests need the project's shared/ folder beside the checkout "
               "(or V2GKIT_SHARED=/path/to/shared)")
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return p


def load_jsonl(path: Path) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def netns() -> None:
    """Private network namespaces with a veth pair (``unshare -rn``): skip where they are missing, fail in CI."""
    from v2gkit.net.netns import netns_available
    why = netns_available()
    if why is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the veth tests: {why}")
    pytest.skip(f"private network namespaces are not available here: {why}")


@pytest.fixture(scope="module")
def josev(netns: None) -> None:
    """Java and the Josev venv, made before any namespace (pip needs the network); CI installs both."""
    import subprocess
    import sys
    r = subprocess.run([sys.executable, str(Path(__file__).parent / "interop" / "josev.py"), "install"],
                       capture_output=True, text=True, timeout=900)
    if r.returncode:
        why = r.stderr.strip() or r.stdout.strip()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Josev SUTs need Java and the Josev venv: {why}")
        pytest.skip(f"Josev SUTs need Java and the Josev venv: {why}")
