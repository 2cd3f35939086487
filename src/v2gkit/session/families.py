"""Which negotiated protocols have a session machine, per family: one home for the lists the CLI, the
runners and the warm-up share. Plain names only (no codec imports), so the command line starts fast."""

from __future__ import annotations

__all__ = ["DEFAULT_EV_OFFER", "DIN2", "ISO20", "SESSION_PROTOCOLS"]

#: DIN SPEC 70121 and ISO 15118-2 (session/din2), in the order an EVCC offers them by default
DIN2: tuple[str, ...] = ("iso2", "din")
#: ISO 15118-20 AC and DC, bidirectional included (session/iso20); WPT and ACDP come later
ISO20: tuple[str, ...] = ("iso20-dc", "iso20-ac")
#: every protocol a charging session exists for
SESSION_PROTOCOLS: tuple[str, ...] = ISO20 + DIN2
#: what the EVCC offers in the app handshake unless told otherwise (handshake.PROTOCOLS names)
DEFAULT_EV_OFFER = ",".join(DIN2)
