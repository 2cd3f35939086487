"""After V2G_SECC_CommunicationSetup_Timeout with nothing left to serve, the SECC ends: SECCLink says so
(``expired_and_idle``) and ``v2gkit secc`` exits with status 1 and one line, with or without --once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from v2gkit.net.link import SECCLink
from v2gkit.net.v2g import connect

CLI = [sys.executable, "-m", "v2gkit.cli.main"]


async def test_expired_and_idle_waits_for_the_connections_open_at_expiry() -> None:
    link = await SECCLink(loopback=True, sdp_port=15871, protocols="iso2", setup_timeout=0.2).start()
    try:
        port = next(iter(link.servers.values())).port
        conn = await connect("::1", port, timeout=2)  # connected in time, never sends the handshake
        idle = asyncio.ensure_future(link.expired_and_idle())
        await asyncio.sleep(0.4)
        assert link.expired and not idle.done()  # the timeout fired, but a connection is still being served
        await conn.close()
        await asyncio.wait_for(idle, 5)
    finally:
        await link.close()


async def test_without_a_setup_timeout_the_link_never_says_idle() -> None:
    link = await SECCLink(loopback=True, sdp_port=15872, protocols="iso2").start()
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(link.expired_and_idle(), 0.3)
    finally:
        await link.close()


@pytest.mark.parametrize("once", [["--once"], []])
def test_secc_exits_when_no_ev_came(once: list[str]) -> None:
    t0 = time.monotonic()
    r = subprocess.run(CLI + ["secc", "--loopback", "--sdp-port", "15873", "--setup-timeout", "0.1", *once],
                       capture_output=True, text=True, timeout=30)
    took = time.monotonic() - t0
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.strip() == "error: no EV completed the handshake within 0.1 s (--setup-timeout)"
    assert r.stdout.startswith("listening") and "setup_timeout seconds=0.1" in r.stdout
    assert took < 5, took  # it used to wait for a signal forever
