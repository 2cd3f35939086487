"""The live demo: an SECC and an EVCC in one process over loopback, drawn with rich while they charge."""

from __future__ import annotations

import asyncio
import collections
import os
import statistics
import time
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table

from v2gkit.session.events import Received, Send

_LOOP = ("CurrentDemand", "ChargingStatus", "DC_ChargeLoop", "AC_ChargeLoop")
_TITLES = {"din": "DIN SPEC 70121", "iso2": "ISO 15118-2", "iso20-dc": "ISO 15118-20", "iso20-ac": "ISO 15118-20"}


class _State:
    def __init__(self) -> None:
        self.flow: collections.deque[tuple[float, str, str, str]] = collections.deque(maxlen=14)
        self.counts: collections.Counter[str] = collections.Counter()
        self.rtt: dict[str, list[float]] = collections.defaultdict(list)
        self.sent_at = 0.0
        self.evse: Any = None
        self.started = time.perf_counter()
        self.phase = "SDP"
        self.mode = ""  # -20: the control mode agreed (from ServiceSelection)

    def add(self, direction: str, name: str, detail: str = "") -> None:
        """Loops (CurrentDemand, CableCheck, ...) keep one request/response pair with a counter."""
        self.counts[name] += 1
        if len(self.flow) >= 2 and self.flow[-2][2] == name:
            del self.flow[-2]
        n = self.counts[name]
        self.flow.append((time.perf_counter() - self.started, direction, name,
                          (f"x{n} " if n > 1 else "") + detail))


def _value(pv: Any) -> float:
    """A PhysicalValue (DIN, ISO-2: multiplier) or a RationalNumber (-20: exponent) as a float."""
    exp = getattr(pv, "multiplier", None)
    return pv.value * 10.0 ** (exp if exp is not None else pv.exponent)


def _detail(body: Any) -> str:
    parts = []
    for attr, unit in (("ev_target_voltage", "V"), ("ev_target_current", "A"), ("evse_present_voltage", "V"),
                       ("evse_present_current", "A"), ("ev_present_active_power", "W")):
        pv = getattr(body, attr, None)
        if pv is None:  # -20 keeps the targets in the control-mode element
            cm = next((getattr(body, f) for f in ("scheduled_dc_cl_req_control_mode",
                                                   "bpt_scheduled_dc_cl_req_control_mode",
                                                   "scheduled_ac_cl_req_control_mode",
                                                   "bpt_scheduled_ac_cl_req_control_mode")
                       if getattr(body, f, None) is not None), None)
            pv = getattr(cm, attr, None) if cm is not None else None
        if pv is not None:
            parts.append(f"{_value(pv):.0f} {unit}")
    code = getattr(body, "response_code", None)
    if code is not None:
        parts.insert(0, code.name)
    proc = getattr(body, "evse_processing", None)
    if proc is not None:
        parts.append(proc.name)
    return " ".join(parts)


def _console() -> Console:
    """The terminal's width on a terminal; 120 columns when piped or captured (rich would use 80 and cut
    the panel's title), unless COLUMNS says otherwise."""
    console = Console()
    if console.is_terminal or "COLUMNS" in os.environ:
        return console
    return Console(width=120)


def run_demo(*, dc: bool, protocol: str, tls: bool, soc: float, target_soc: float, speed: float, pki_dir: Path,
             sdp_port: int, bpt: bool = False, control_mode: str = "Scheduled", schedules: Any = None,
             departure: float | None = None) -> bool:
    """``protocol``: din, iso2 or iso20 (then iso20-dc / iso20-ac by ``dc``, always over TLS 1.3 with
    mutual authentication, as the standard wants); ``bpt`` and ``control_mode`` are -20's."""
    from v2gkit.controllers import BidirectionalEVSE, EVSE20Controller
    from v2gkit.net.charging import charge, secc_sessions
    from v2gkit.net.link import SECCLink
    from v2gkit.sdp import SecurityPolicy
    from v2gkit.session.din2 import EVCCConfig, SECCConfig
    from v2gkit.session.iso20.config import CONTROL_MODES, EVCC20Config, SECC20Config
    from v2gkit.sim.battery import SimulatedBPTEV
    from v2gkit.sim.bpt_evse import SimulatedBPTACEVSE, SimulatedBPTDCEVSE
    from v2gkit.sim.ev import SimulatedEV
    from v2gkit.sim.evse import SimulatedACEVSE, SimulatedDCEVSE
    from v2gkit.sim.scaled import fast_ev

    iso20 = protocol == "iso20"
    if iso20:
        protocol, tls = ("iso20-dc" if dc else "iso20-ac"), True
    bpt = bpt and iso20
    profile = "iso20" if iso20 else "iso2"

    from .charge import duration
    from .link import _evcc_tls, _secc_tls

    console = _console()
    st = _State()
    # the car's battery is `speed` times smaller, the charger runs in real time: both meter the same energy
    # a V2G car with a departure time stays plugged in until then: the demo's driver leaves after 60 s
    car_kw: dict[str, Any] = {"departure_time": departure, "stop_at": 60.0} if departure is not None else {}
    ev = fast_ev(speed, SimulatedBPTEV if bpt else SimulatedEV, soc=soc, target_soc=target_soc, ac=not dc, **car_kw)
    eta = {"t": -1.0, "left": ev.estimate_charging_time()}

    def evse_factory() -> Any:
        if bpt:
            st.evse = (SimulatedBPTDCEVSE if dc else SimulatedBPTACEVSE)(schedules=schedules)
        else:
            st.evse = SimulatedDCEVSE() if dc else SimulatedACEVSE()
        return st.evse

    def time_left() -> str:
        now = time.perf_counter()
        if now - eta["t"] >= 0.5:  # the car simulates the rest of its charge: twice a second is plenty
            eta["t"], eta["left"] = now, ev.estimate_charging_time()
        if ev.charging_complete():
            return "target reached"
        return f"about {duration(eta['left'])} of charging" + ("" if ev.power > 0 else " (not started)")

    def observe_ev(now: float, out: Any) -> None:
        if isinstance(out, Send):
            st.sent_at = time.perf_counter()
            st.phase = out.name[:-3]
            st.add("EV → SECC", out.name, _detail(out.body))
        elif isinstance(out, Received):
            st.rtt[out.name[:-3]].append(time.perf_counter() - st.sent_at)
            st.add("SECC → EV", out.name, _detail(out.body))
            if out.name == "ServiceSelectionRes":
                st.mode = control_mode

    kind = ("DC" if dc else "AC") + ("_BPT" if bpt else "") + (f" {control_mode}" if iso20 else "")
    security = ("TLS 1.3 (mutual)" if iso20 else "TLS 1.2") if tls else "TCP"
    title = (f"v2gkit demo: {_TITLES[protocol]} {kind} over {security}, loopback, SDP port {sdp_port}, "
             f"battery x{speed:g}")

    def render() -> Any:
        flow = Table(expand=True, show_edge=False, box=None, padding=(0, 1))
        for col in ("s", "direction", "message", "content"):
            flow.add_column(col, no_wrap=True, style="dim" if col == "s" else None)
        for t, d, n, detail in st.flow:
            flow.add_row(f"{t:6.2f}", d, f"[cyan]{n}[/]" if d.startswith("EV") else f"[green]{n}[/]", detail)
        stats = Table.grid(padding=(0, 2))
        stats.add_column(justify="right", style="bold")
        stats.add_column()
        v, a = st.evse.present() if st.evse is not None else (0.0, 0.0)
        phases = 1 if dc else 3
        stats.add_row("phase", st.phase)
        stats.add_row("SOC", f"{ev.soc():5.1f} % (target {target_soc:g} %)")
        stats.add_row("", ProgressBar(total=100, completed=ev.soc(), width=30))
        stats.add_row("time left", time_left())
        stats.add_row("voltage", f"{v:6.1f} V")
        stats.add_row("current", f"{a:6.1f} A" + ("" if dc else " per phase"))
        power = v * a * phases
        if isinstance(st.evse, EVSE20Controller):
            power = sum(st.evse.present_power()) if not dc else power
        flow_dir = "to the car" if power > 0 else "to the grid (V2G)" if power < 0 else ""
        stats.add_row("power", f"{power / 1000:6.1f} kW {flow_dir}")
        if isinstance(st.evse, EVSE20Controller):  # -20: the limits in force, both directions
            charge_w, discharge_w = st.evse.power_limits()
            stats.add_row("in force", f"charge <= {charge_w / 1000:.1f} kW" +
                          (f", discharge <= {discharge_w / 1000:.1f} kW" if bpt else "") +
                          (f", {st.mode}" if st.mode else ""))
            schedules = getattr(st.evse, "schedules", None)
            if schedules is not None:
                price = schedules.price_at(st.evse.time, power)
                if price is not None:
                    stats.add_row("price", f"{price:.3f} per kWh")
        meter = f", charger meter {st.evse.meter_wh() / 1000:.3f} kWh" if st.evse is not None else ""
        if isinstance(st.evse, BidirectionalEVSE):
            meter += f" in, {st.evse.exported_wh() / 1000:.3f} kWh out"
        given = f", gave {ev.discharged_wh / 1000:.3f} kWh" if bpt else ""
        stats.add_row("energy", f"car {ev.charged_wh / 1000:.3f} kWh{given}{meter}")
        loop = next((n for n in _LOOP if st.rtt.get(n)), None)
        if loop:
            rt = st.rtt[loop]
            stats.add_row("round trip", f"{statistics.median(rt) * 1e3:.2f} ms median ({loop}, n={len(rt)})")
        return Panel(Group(stats, flow), title=title, border_style="blue")

    async def run() -> Any:
        ctx_s = _secc_tls(profile, pki_dir, None) if tls else None
        ctx_c = _evcc_tls(profile, pki_dir, None) if tls else None
        records: list[Any] = []
        modes = (control_mode,) + tuple(m for m in CONTROL_MODES if m != control_mode)
        link = SECCLink(loopback=True, sdp_port=sdp_port, protocols=protocol, ssl_context=ctx_s,
                        policy=SecurityPolicy.TLS_ONLY if tls else SecurityPolicy.NONE_ONLY,
                        session=secc_sessions(evse_factory, SECCConfig(dc=dc), on_done=records.append,
                                              iso20=SECC20Config(bpt=bpt, control_modes=modes, schedules=schedules)))
        async with link:
            with Live(render(), console=console, refresh_per_second=8, transient=False) as live:
                async def refresh() -> None:
                    while True:
                        await asyncio.sleep(0.125)
                        live.update(render())
                painter = asyncio.get_running_loop().create_task(refresh())
                try:
                    res = await charge(ev, EVCCConfig(dc=dc, loop_interval=0.1), protocols=protocol,
                                       iso20=EVCC20Config(bpt=bpt, control_mode=control_mode, loop_interval=0.1),
                                       observe=observe_ev, loopback=True, tls=tls, ssl_context=ctx_c,
                                       sdp_port=sdp_port)
                finally:
                    painter.cancel()
                    live.update(render())
            await asyncio.sleep(0.05)
        return res, records

    res, records = asyncio.run(run())
    o = res.outcome
    console.print()
    summary = Table(title="summary", show_header=False)
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("result", ("[green]SessionStop OK[/]" if o.ok else "[red]FAILED[/]") + f" ({o.detail})")
    summary.add_row("negotiated", f"{res.link.protocol.name} ({res.link.protocol.namespace}), "
                                  f"set-up {res.link.setup_seconds * 1e3:.1f} ms")
    summary.add_row("messages", f"{o.sent} requests, {o.received} responses")
    metered = f", charger meter {records[0].meter_wh / 1000:.3f} kWh" if records else ""
    if records and isinstance(st.evse, BidirectionalEVSE):
        metered += f" in, {st.evse.exported_wh() / 1000:.3f} kWh out"
    given = f", gave {ev.discharged_wh / 1000:.3f} kWh" if bpt else ""
    summary.add_row("energy", f"car {ev.charged_wh / 1000:.3f} kWh{given}{metered}")
    summary.add_row("SOC", f"{soc:g} → {ev.soc():.1f} % (target {target_soc:g} %) of a "
                           f"{ev.capacity_wh * speed / 1000:g} kWh battery at x{speed:g} "
                           f"(holds {ev.capacity_wh / 1000:.3g} kWh)")
    summary.add_row("time", f"{o.seconds:.1f} s (the battery's SOC x{speed:g}, everything else real time)")
    for name, values in sorted(o.round_trips.items(), key=lambda kv: -len(kv[1])):
        values = sorted(values)
        summary.add_row(f"RTT {name}", f"median {statistics.median(values) * 1e3:.2f} ms, p99 "
                                       f"{values[int(len(values) * 0.99)] * 1e3:.2f} ms, n={len(values)}")
    if records:
        answer = records[0].outcome.answer_times
        loop = next((n + "Res" for n in _LOOP if answer.get(n + "Res")), None)
        if loop:
            limit = 250 if iso20 else 25  # V2G_SECC_Msg_Performance_Time of the loop (timing.py)
            summary.add_row("SECC answer", f"{loop} median {statistics.median(answer[loop]) * 1e3:.2f} ms "
                                           f"(performance time {limit} ms)")
    console.print(summary)
    return o.ok
