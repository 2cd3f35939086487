"""One SECC per SDP port and interface: a second ``v2gkit secc`` on a port in use fails with a clear
error instead of starting silently (SO_REUSEADDR allowed that, and Linux then gave each SDP request to
only one of them), while chargers on different interfaces still share port 15118 (each socket is bound
to its interface) and answer multicast on their own link."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from v2gkit.net.netns import netns_available, private_netns_command
from v2gkit.testsys.abuse import SeccProcess

CLI = [sys.executable, "-m", "v2gkit.cli.main"]


def test_second_secc_on_the_same_sdp_port_fails_clearly() -> None:
    first = SeccProcess(15780).start()
    try:
        r = subprocess.run([*CLI, "secc", "--loopback", "--sdp-port", "15780"], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert r.stderr.strip() == ("error: SDP port 15780 on ::1 is already in use (is another SECC running "
                                    "there?): stop it, or give this one another SDP port")
        d = subprocess.run([*CLI, "sdp", "discover", "--loopback", "--port", "15780", "--json"], capture_output=True,
                           text=True, timeout=30)
        assert d.returncode == 0 and json.loads(d.stdout)["port"] == first.port  # the first one still answers
    finally:
        first.cleanup()


_SCRIPT = textwrap.dedent('''
    import asyncio, ipaddress, json, subprocess, sys
    from v2gkit.net.netns import VethPair
    from v2gkit.net.sdp import SDPPortInUse, start_responder
    from v2gkit.sdp import SDPServer, Security, SecurityPolicy

    async def main():
        # the chargers' ends (a0, b0) here, each car's end in a namespace of its own
        with VethPair("a0", "a1") as a, VethPair("b0", "b1") as b:
            out = {}
            responders = []
            for name, port in (("a0", 50001), ("b0", 50002)):
                server = SDPServer(ipaddress.IPv6Address("fe80::2"), {Security.NONE: port}, SecurityPolicy.NONE_ONLY)
                responders.append(await start_responder(server, interface=name, port=15118))
            try:
                await start_responder(server, interface="a0", port=15118)
                out["third"] = "started"
            except SDPPortInUse as e:
                out["third"] = str(e)
            for pair, car_if in ((a, "a1"), (b, "b1")):
                p = await asyncio.create_subprocess_exec(
                    *pair.peer_command([sys.executable, "-m", "v2gkit.cli.main", "sdp", "discover", "-i", car_if,
                                        "--json", "--max-requests", "20"]), stdout=subprocess.PIPE)
                out[car_if] = json.loads((await p.communicate())[0])
            for r in responders:
                r.close()
            print(json.dumps(out))

    asyncio.run(main())
''')


def test_chargers_on_two_interfaces_share_the_port_and_answer_their_own_link(tmp_path: Path) -> None:
    why = netns_available()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the veth tests: {why}")
        pytest.skip(f"private network namespaces are not available here: {why}")
    script = tmp_path / "two_chargers.py"
    script.write_text(_SCRIPT)
    r = subprocess.run(private_netns_command([sys.executable, str(script)]), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    assert out["a1"]["port"] == 50001 and out["b1"]["port"] == 50002  # multicast on each link, own answer
    assert out["a1"]["requests"] == 1 and out["b1"]["requests"] == 1
    assert out["third"] == ("SDP port 15118 on interface a0 is already in use (is another SECC running there?): "
                            "stop it, or give this one another SDP port")
