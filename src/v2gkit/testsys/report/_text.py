"""Text from a SUT is hostile until shown otherwise: what every report does to it before writing it out."""

from __future__ import annotations

import re

#: characters no report shows raw: C0 controls but tab and newline, DEL and the C1 controls, lone
#: surrogates (not UTF-8), the bidirectional overrides and isolates (they reorder what a reader sees:
#: CVE-2021-42574), and U+FFFE/U+FFFF (not XML characters)
_UNSHOWN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069\ufffe\uffff]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def printable(text: object) -> str:
    """``text`` as a str that is safe in XML 1.0 and shows what it holds: unshowable characters become
    ``\\xNN``/``\\uNNNN`` (a carriage return too: it would hide what came before it on a terminal)."""
    s = text if isinstance(text, str) else str(text)
    return _UNSHOWN.sub(_escape, s.replace("\r", "\\r"))


def shorten(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters (an ellipsis marks a cut)."""
    one = " ".join(printable(text).split())
    return one if len(one) <= limit else one[: max(limit - 1, 0)].rstrip() + "…"


def ms(seconds: float) -> str:
    """Milliseconds since the case started, as the reports print them."""
    return f"{seconds * 1000:.1f}"
