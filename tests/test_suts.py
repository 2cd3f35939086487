"""Systems under test (v2gkit.testsys.suts): each launcher starts its SUT, the SUT is reachable from the
tester's side (an SECC answers an SDP request and accepts a TCP connection; an EVCC's SDP request reaches a
UDP listener), and after the stop no process of it is left. Loopback runs here; the veth runs re-execute this
file under ``unshare -rn`` (``python tests/test_suts.py SCENARIO``), where the probes below use plain sockets,
not the module's own checks. Also: which cases apply to which SUT, and an EVCC that is fresh for every
case."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # a veth scenario, inside the private namespace
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import pytest

from v2gkit.testsys.case import Case
from v2gkit.testsys.suts import (
    SUT,
    SUTConfig,
    SUTError,
    V2gkitSECC,
    Where,
    get_launcher,
    open_sut,
    sut_names,
)

HERE = Path(__file__).resolve()
SDP_REQ_NONE = bytes.fromhex("01fe9000000000021000")  # SDP request: no TLS, TCP
V2GKIT = [sys.executable, "-m", "v2gkit.cli.main"]


# ------------------------------------------------------------------------------- probes (plain sockets)

def sdp_ask(where: Where, timeout: float = 5.0) -> tuple[str, int, int]:
    """Send SDP requests from the tester's side until one is answered: (address, port, security byte)."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        if where.loopback:
            s.bind(("::1", 0))
            target: tuple = ("::1", where.sdp_port)
        else:
            scope = socket.if_nametoindex(str(where.tester_interface))
            s.bind((where.tester_address, 0, 0, scope))
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, scope)
            target = ("ff02::1", where.sdp_port, 0, scope)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.sendto(SDP_REQ_NONE, target)
            s.settimeout(0.25)
            try:
                data, _ = s.recvfrom(100)
            except TimeoutError:
                continue
            assert data[:8] == bytes.fromhex("01fe900100000014"), data.hex()
            addr = socket.inet_ntop(socket.AF_INET6, data[8:24])
            return addr, int.from_bytes(data[24:26], "big"), data[26]
        raise AssertionError(f"no SDP answer within {timeout} s at {where.describe()}")
    finally:
        s.close()


def tcp_connect(where: Where, address: str, port: int) -> None:
    scope = 0 if where.loopback else socket.if_nametoindex(str(where.tester_interface))
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect((address, port, 0, scope))


def sdp_listen(where: Where, timeout: float = 15.0) -> tuple[bytes, str]:
    """A UDP listener on the tester's side: the first SDP request that arrives, and who sent it."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        if where.loopback:
            s.bind(("::1", where.sdp_port))
        else:
            idx = socket.if_nametoindex(str(where.tester_interface))
            s.bind(("::", where.sdp_port, 0, 0))
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                         socket.inet_pton(socket.AF_INET6, "ff02::1") + idx.to_bytes(4, sys.byteorder))
        s.settimeout(timeout)
        data, peer = s.recvfrom(100)
        return data, peer[0]
    finally:
        s.close()


def alive(pid: int) -> bool:
    """A live (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def group_alive(pgid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            f = stat[stat.rindex(")") + 2:].split()
            if int(f[2]) == pgid and f[0] not in "ZX":
                out.append(int(d.name))
    return out


def reachable(sut: SUT) -> dict:
    """The SUT's reachability from the tester's side, by role; plus what must be gone after the stop."""
    where = sut.where
    assert where is not None and sut.current is not None
    out: dict = {"where": where.as_dict(), "ready_s": sut.timings()[0]["ready_s"],
                 "pgids": [p.pgid for p in sut.instances], "holder": where.sut_netns_pid,
                 "log": sut.current.log_path.read_text()}
    if sut.role == "secc":
        address, port, security = sdp_ask(where)
        tcp_connect(where, address, port)
        out.update(sdp_address=address, sdp_port_tcp=port, security=security)
    else:
        data, peer = sdp_listen(where)
        out.update(sdp_request=data.hex(), sdp_from=peer)
    return out


def gone(info: dict) -> list[int]:
    """Processes of the SUT (its groups) and the namespace holder still alive."""
    left = [pid for g in info["pgids"] for pid in group_alive(g)]
    if info["holder"] is not None and alive(info["holder"]):
        left.append(info["holder"])
    return left


# --------------------------------------------------------------------------------------- veth scenarios

def scenario_start(name: str, workdir: str) -> dict:
    """Start ``name`` on the veth pair, probe it, stop it."""
    t0 = time.monotonic()
    with open_sut(name, link="veth", workdir=workdir) as sut:
        info = reachable(sut)
    info["seconds"] = time.monotonic() - t0
    info["left"] = gone(info)
    return info


def scenario_evcc_cases(name: str, workdir: str) -> dict:
    """Two cases against one EVCC SUT, the tester stood in for by ``v2gkit secc --once`` on the tester's
    interface: each case gets a fresh EVCC process and runs a whole (ISO 15118-2 AC: short) session with
    it."""
    out: dict = {"cases": []}
    with open_sut(name, link="veth", config=SUTConfig(protocols=("iso2",), dc=False), workdir=workdir) as sut:
        for _ in range(2):
            where = sut.before_case()
            pid = sut.current.pid if sut.current else None
            tester = ["secc", *where.tester_args(), "--protocols", "iso2", "--ac", "--once", "--no-warm-up"]
            r = subprocess.run(V2GKIT + tester, capture_output=True, text=True, timeout=60)
            log = sut.after_case()
            assert log == sut.case_log()
            out["cases"].append({"rc": r.returncode, "pid": pid, "secc": r.stdout[-600:] + r.stderr[-600:],
                                 "pid_alive_after": alive(pid) if pid else None, "sut_log": log[-2000:]})
        out["instances"] = len(sut.instances)
        holder = sut.where.sut_netns_pid if sut.where else None
        info = {"pgids": [p.pgid for p in sut.instances], "holder": holder}
    out["left"] = gone(info)
    return out


def scenario_secc_cases(name: str, workdir: str) -> dict:
    """Two cases against one SECC SUT, each an SDP request, a TCP connection and its close: how long the
    second case's SDP answer takes, and how many processes served them."""
    out: dict = {"cases": []}
    with open_sut(name, link="veth", workdir=workdir) as sut:
        for _ in range(2):
            t0 = time.monotonic()
            where = sut.before_case()
            address, port, _ = sdp_ask(where, timeout=10)
            pid = sut.current.pid if sut.current else 0
            out["cases"].append({"sdp_s": time.monotonic() - t0, "pid": pid})
            tcp_connect(where, address, port)
            time.sleep(0.5)  # the SUT has seen the connection and its close
            sut.after_case()
        out["instances"] = len(sut.instances)
        holder = sut.where.sut_netns_pid if sut.where else None
        info = {"pgids": [p.pgid for p in sut.instances], "holder": holder}
    out["left"] = gone(info)
    return out


SCENARIOS = {"start": scenario_start, "evcc-cases": scenario_evcc_cases, "secc-cases": scenario_secc_cases}


def run_scenario(scenario: str, name: str, tmp_path: Path, timeout: float = 120) -> dict:
    """``scenario`` for SUT ``name`` in a fresh private network namespace; its JSON result."""
    from v2gkit.net.netns import private_netns_command
    cmd = private_netns_command([sys.executable, str(HERE), scenario, name, str(tmp_path)])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------- tests: descriptions

def case(case_id: str, protocols: tuple[str, ...] = ("din", "iso2"), **kw: object) -> Case:
    kind = case_id.split("_")[2]
    return Case(case_id, "", "", (), protocols, kind, **kw)  # type: ignore[arg-type]


def test_every_sut_is_known() -> None:
    assert sut_names() == ["v2gkit-secc", "v2gkit-evcc", "josev-secc", "josev-evcc"]
    for name in sut_names():
        la = get_launcher(name)
        assert la.name == name and la.role == name.split("-")[1] and la.ready_marker
    with pytest.raises(SUTError, match="unknown SUT 'nope'; known: v2gkit-secc"):
        get_launcher("nope")


def test_fit_v2gkit_secc() -> None:
    la = get_launcher("v2gkit-secc")
    cfg = la.default_config()
    f = la.fit(case("TC_SECC_DC_VTB_CableCheck_001"), cfg)
    assert (f.protocol, f.dc, f.tls, f.applicable) == ("din", True, False, True)
    f = la.fit(case("TC_SECC_AC_VTB_ChargingStatus_001"), cfg)
    assert (f.protocol, f.dc) == ("iso2", False)  # DIN has no AC: the case's next protocol
    f = la.fit(case("TC_SECC_CMN_VTB_SessionSetup_001", ("iso20",)), cfg)
    assert (f.protocol, f.dc, f.tls, f.iso20_without_tls) == ("iso20-dc", True, True, False)  # -20: TLS 1.3
    assert "EVCC case" in la.fit(case("TC_EVCC_CMN_VTB_SessionSetup_001"), cfg).reason
    pnc = case("TC_SECC_CMN_VTB_CertificateInstallation_001", ("iso2",))
    assert "Plug & Charge" in la.fit(pnc, cfg).reason
    assert "DIN 70121 is DC only" in la.fit(case("TC_SECC_AC_VTB_SessionStop_001", ("din",)), cfg).reason
    assert la.fit(case("TC_SECC_CMN_VTB_SDP_001", needs=("live",)), cfg).applicable
    f = la.fit(case("TC_SECC_CMN_VTB_SessionSetup_004", ("din", "iso2"), needs=("tls",)), cfg)
    assert (f.protocol, f.tls) == ("iso2", True)  # DIN has no TLS; the tester asks for it
    assert la.config_for(SUTConfig(), f).tls  # an SECC started without TLS is started with it for this case


def test_fit_josev() -> None:
    secc, evcc = get_launcher("josev-secc"), get_launcher("josev-evcc")
    f = secc.fit(case("TC_SECC_DC_VTB_CurrentDemand_001", ("iso20",)), secc.default_config())
    assert (f.protocol, f.tls, f.iso20_without_tls) == ("iso20-dc", False, True)  # the tester must allow it
    f = evcc.fit(case("TC_EVCC_AC_VTB_ChargingStatus_001", ("iso2",)), evcc.default_config())
    assert (f.protocol, f.dc, f.tls) == ("iso2", False, False)
    assert "TLS" in secc.fit(case("TC_SECC_CMN_VTB_TLS_001", ("iso2",)), secc.default_config()).reason
    pnc = case("TC_EVCC_CMN_VTB_PaymentDetails_001", ("iso2",))
    assert "EIM" in evcc.fit(pnc, evcc.default_config()).reason
    wpt = case("TC_SECC_WPT_VTB_SessionSetup_001", ("iso20",))
    assert "WPT" in secc.fit(wpt, secc.default_config()).reason
    with pytest.raises(ValueError, match="veth only"):
        SUT(secc, link="loopback")
    with pytest.raises(ValueError, match="exactly one protocol"):
        SUT(evcc, config=SUTConfig(protocols=("din", "iso2")))
    bpt = SUT(evcc, config=SUTConfig(protocols=("iso20-dc",), bpt=True))  # DIN has no BPT: not applicable
    din = case("TC_EVCC_DC_VTB_CableCheck_001", ("din",))
    assert "din has the modes dc, not 'dc_bpt'" in bpt.fit(din).reason
    assert bpt.fit(case("TC_EVCC_DC_VTB_CableCheck_001", ("iso20",))).protocol == "iso20-dc"
    keys = {a.key for a in evcc.allowances}
    assert {"no-loopback", "no-tls", "no-pnc", "one-protocol", "no-new-session", "slow-exi"} <= keys


def test_restart_rules() -> None:
    """A v2gkit SECC started for DC serves DC cases of any protocol it offers and is restarted for AC or
    for a protocol it does not offer; Josev's SECC serves AC and DC from one process."""
    la = V2gkitSECC()
    run = la.default_config()
    ac = la.fit(case("TC_SECC_AC_VTB_SessionStop_001", ("iso2",)), run)
    dc = la.fit(case("TC_SECC_DC_VTB_SessionStop_001", ("iso2",)), run)
    assert la.covers(run, la.config_for(run, dc)) and not la.covers(run, la.config_for(run, ac))
    only_din = SUTConfig(protocols=("din",), tls=True)
    assert not la.covers(only_din, la.config_for(only_din, dc))
    assert la.config_for(only_din, dc).protocols == ("iso2", "din")
    js = get_launcher("josev-secc")
    assert js.covers(js.default_config(), js.config_for(js.default_config(), js.fit(
        case("TC_SECC_AC_VTB_SessionStop_001", ("iso2",)), js.default_config())))
    ev = get_launcher("v2gkit-evcc")  # an EVCC offers the case's protocol only, TLS for -20
    f = ev.fit(case("TC_EVCC_DC_VTB_SessionSetup_001", ("iso20", "iso2")), ev.default_config())
    c = ev.config_for(ev.default_config(), f)
    assert c.protocols == ("iso20-dc",) and c.tls and f.tls


def test_veth_needs_a_private_namespace(tmp_path: Path) -> None:
    """Never on the host's own namespace: the pair would appear there."""
    from v2gkit.net.netns import inside_private_netns
    if inside_private_netns():
        pytest.skip("already inside a private namespace")
    sut = open_sut("v2gkit-secc", workdir=tmp_path)
    try:
        with pytest.raises(SUTError, match="needs a private network namespace, and this one has"):
            sut.start()
        assert sut.where is None and sut.instances == []
    finally:
        sut.stop()


# --------------------------------------------------------------------------------------- tests: loopback

def test_v2gkit_secc_on_loopback(tmp_path: Path) -> None:
    with open_sut("v2gkit-secc", link="loopback", workdir=tmp_path) as sut:
        where = sut.where
        assert where is not None and where.loopback and where.tester_interface is None
        assert where.sdp_port != 15118  # a free port of its own: never a charger's
        address, port, security = sdp_ask(where)
        assert (address, security) == ("::1", 0x10) and port == where.tcp_port  # the listening line's port
        tcp_connect(where, address, port)
        pgid = sut.current.pgid if sut.current else 0
        assert group_alive(pgid)
    assert not group_alive(pgid)
    log = (tmp_path / "v2gkit-secc-1.log").read_text()
    assert "listening address=::1" in log and f"sdp_port={where.sdp_port}" in log
    assert sut.leftovers() == []


def test_deferred_evcc_starts_when_the_tester_listens(tmp_path: Path) -> None:
    """before_case(defer=True) leaves no EVCC running (no SDP request goes unanswered before the tester
    listens); launch() starts the case's EVCC, whose very first SDP request the listener gets."""
    import threading
    with open_sut("v2gkit-evcc", link="loopback", workdir=tmp_path) as sut:
        started = sut.current
        where = sut.before_case(defer=True)
        assert sut.current is None and started is not None and not alive(started.pid)
        got: list = []
        listener = threading.Thread(target=lambda: got.append(sdp_listen(where, timeout=10)))
        listener.start()
        time.sleep(0.2)  # the listener is bound
        t0 = time.monotonic()
        sut.launch()
        listener.join()
        assert got and got[0][0] == SDP_REQ_NONE
        assert sut.current is not None and sut.current.first("car: ") is not None
        assert time.monotonic() - t0 < 5 and len(sut.instances) == 2
        sut.after_case()
    assert sut.leftovers() == []


async def test_in_process_tester_reaches_the_secc_through_where(tmp_path: Path) -> None:
    """What a runner does (async API): the tester's own v2gkit.net link, given where.link_kwargs() and the
    fit, negotiates DIN over TCP and ISO 15118-20 over TLS 1.3 (the SUT's default offer, the shared PKI)."""
    from v2gkit.cli.link import DEFAULT_PKI, _evcc_tls
    from v2gkit.net.link import ev_link

    async with open_sut("v2gkit-secc", link="loopback", workdir=tmp_path) as sut:
        for case_id, protocols in (("TC_SECC_DC_VTB_SessionSetup_001", ("din",)),
                                   ("TC_SECC_CMN_VTB_SessionSetup_001", ("iso20",))):
            fit = sut.fit(case(case_id, protocols))
            where = await sut.abefore_case(fit)
            pki = Path(where.pki_dir) if where.pki_dir else DEFAULT_PKI
            ctx = _evcc_tls("iso20", pki, None) if fit.tls else None
            link = await ev_link(**where.link_kwargs(), protocols=[fit.protocol], tls=fit.tls,
                                 ssl_context=ctx)
            await link.connection.close()
            assert link.protocol.name == fit.protocol and (link.connection.tls or {}).get("version") == (
                "TLSv1.3" if fit.tls else None)
            await sut.aafter_case()
        assert len(sut.instances) == 1  # one SECC served both
    assert sut.leftovers() == []


def test_v2gkit_evcc_on_loopback_fresh_per_case(tmp_path: Path) -> None:
    """Each case gets a new EVCC process (the one of the case before is gone), started in after_case()."""
    with open_sut("v2gkit-evcc", link="loopback", workdir=tmp_path, prespawn=True) as sut:
        pids = []
        for _ in range(3):
            where = sut.before_case()
            assert sut.current is not None
            pids.append(sut.current.pid)
            data, peer = sdp_listen(where, timeout=5)
            assert data == SDP_REQ_NONE and peer == "::1"
            sut.after_case()
            assert not alive(pids[-1])
        assert len(set(pids)) == 3 and len(sut.instances) == 4  # the fourth: started for a next case
    assert sut.leftovers() == [] and not any(alive(p) for p in pids)
    assert [p.log_path.name for p in sut.instances] == [f"v2gkit-evcc-{n}.log" for n in (1, 2, 3, 4)]


def test_evcc_that_gave_up_is_replaced(tmp_path: Path) -> None:
    """A pre-started EVCC that has given up SDP (or is too old to have half of its SDP window left) is not
    handed to a case: a new one is."""
    sut = open_sut("v2gkit-evcc", link="loopback", workdir=tmp_path, prespawn=True)
    with sut:
        first = sut.current
        assert first is not None
        sut.before_case()
        assert sut.current is first  # fresh and unused: kept
        sut.after_case()
        nxt = sut._next[0] if sut._next else None
        assert nxt is not None
        sut._ready(nxt)
        nxt.ready_at = time.monotonic() - 100  # as if it had waited past its SDP window
        sut.before_case()
        assert sut.current is not nxt and not alive(nxt.pid)
    assert sut.leftovers() == []


def test_process_log_is_bounded_and_positions_stay_absolute(tmp_path: Path) -> None:
    """A SUT that logs a lot keeps only the newest lines in memory (all of them in its file); positions
    handed out by mark() still select the output after them."""
    from v2gkit.testsys.suts import Spawn, SUTProcess

    class Small(SUTProcess):
        MAX_LINES = 100

    code = "import time; [print(i) for i in range(1000)]; time.sleep(60)"
    p = Small(Spawn([sys.executable, "-c", code], dict(os.environ), tmp_path), tmp_path / "x.log", "printer")
    try:
        assert p.wait_for("999", 10)[1] == "999"
        assert p.mark() == 1000 and len(p.lines) <= 100
        assert p.text(995).split() == ["995", "996", "997", "998", "999"]
        assert p.first("990", 980) is not None and p.first("5", 999) is None
    finally:
        p.stop(0.5)
    assert p.proc.returncode == -15 and p.group() == []  # SIGTERM ended it
    assert (tmp_path / "x.log").read_text().splitlines()[1:] == [str(i) for i in range(1000)]


def test_manual_command_runs_a_tester_beside_the_sut(tmp_path: Path) -> None:
    """``python -m v2gkit.testsys.suts NAME --loopback -- CMD``: CMD gets the SUT's SDP port and its exit
    status comes back; the SUT is stopped after it."""
    cmd = [sys.executable, "-m", "v2gkit.testsys.suts", "v2gkit-secc", "--loopback", "--logs", str(tmp_path),
           "--", *V2GKIT, "sdp", "discover", "--loopback", "--port", "{sdp_port}", "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("v2gkit-secc (v2gkit, SECC on loopback): SECC on loopback: [::1], SDP on UDP ")
    assert json.loads(lines[-1])["address"] == "::1"
    assert "listening address=::1" in (tmp_path / "v2gkit-secc-1.log").read_text()
    r = subprocess.run([sys.executable, "-m", "v2gkit.testsys.suts", "josev-secc", "--loopback"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "veth only" in r.stderr


# --------------------------------------------------------------------------------------- tests: veth

@pytest.mark.parametrize("name", ["v2gkit-secc", "v2gkit-evcc"])
def test_v2gkit_on_veth(name: str, tmp_path: Path, netns: None) -> None:
    info = run_scenario("start", name, tmp_path)
    where = info["where"]
    if name.endswith("secc"):
        assert (where["sut_interface"], where["tester_interface"]) == ("v2g-secc", "v2g-ev")
        assert info["sdp_address"] == "fe80::1" and info["sdp_port_tcp"] == where["tcp_port"]
        assert info["security"] == 0x10
    else:
        assert (where["sut_interface"], where["tester_interface"]) == ("v2g-ev", "v2g-secc")
        assert info["sdp_request"] == SDP_REQ_NONE.hex() and info["sdp_from"] == "fe80::2"
    assert info["left"] == [] and info["ready_s"] < 10


@pytest.mark.parametrize("name", ["josev-secc", "josev-evcc"])
def test_josev_on_veth(name: str, tmp_path: Path, josev: None) -> None:
    info = run_scenario("start", name, tmp_path)
    if name.endswith("secc"):
        assert info["sdp_address"] == "fe80::1" and info["security"] == 0x10
        assert "UDP server started at address" in info["log"]
    else:
        assert info["sdp_request"] == SDP_REQ_NONE.hex() and info["sdp_from"] == "fe80::2"
        assert "Sending SDPRequest" in info["log"]
    assert info["left"] == []  # Josev's JVM too: it is in the SUT's process group


@pytest.mark.parametrize("name", ["v2gkit-secc", "josev-secc"])
def test_secc_answers_sdp_at_once_in_the_next_case(name: str, tmp_path: Path, netns: None,
                                                    request: pytest.FixtureRequest) -> None:
    """v2gkit's SECC serves both cases from one process; Josev's would not answer SDP for 5 s after the
    first case's connection closed, so the second case gets a new one, which answers at once."""
    if name.startswith("josev"):
        request.getfixturevalue("josev")
    out = run_scenario("secc-cases", name, tmp_path)
    assert out["instances"] == (1 if name.startswith("v2gkit") else 2), out
    assert out["cases"][1]["sdp_s"] < 4.5, out  # waiting for Josev would take 5 s
    assert out["left"] == []


def test_v2gkit_evcc_runs_a_session_per_case_on_veth(tmp_path: Path, netns: None) -> None:
    out = run_scenario("evcc-cases", "v2gkit-evcc", tmp_path)
    for c in out["cases"]:
        assert c["rc"] == 0 and "ok=True" in c["secc"], c
        assert "-> SessionSetupReq" in c["sut_log"] and not c["pid_alive_after"]
    assert out["cases"][0]["pid"] != out["cases"][1]["pid"] and out["instances"] == 2
    assert out["left"] == []


if __name__ == "__main__":
    scenario, name, workdir = sys.argv[1:4]
    print(json.dumps(SCENARIOS[scenario](name, workdir)))
