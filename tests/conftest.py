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
