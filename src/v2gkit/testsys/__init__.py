"""Test-system tools: peers that exercise an SECC or EVCC beyond the happy path."""
