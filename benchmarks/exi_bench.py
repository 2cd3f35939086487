"""EXI codec benchmark: median encode/decode µs per message, and import time per schema.

Run: ``./run bench`` (or ``.venv/bin/python benchmarks/exi_bench.py [--quick]``).
Each figure is the median of 15 runs of a timed loop (the loop count is picked so one
run takes ~20 ms); the minimum is printed beside it for noise context. As ``timeit``
does, the garbage collector is off while timing, and the process is pinned to one CPU.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

from v2gkit.exi import decode, encode
from v2gkit.exi.gen import apphand, din, iso20_dc
from v2gkit.sim import iso2_dc


def messages() -> list[tuple[str, str, Any]]:
    """(label, schema, message) for the benchmark set named in the issue."""
    app = apphand.supportedAppProtocolReqType(app_protocol=[
        apphand.AppProtocolType(protocol_namespace=ns, version_number_major=maj, version_number_minor=0,
                                schema_id=i + 1, priority=i + 1)
        for i, (ns, maj) in enumerate([("urn:iso:std:iso:15118:-20:DC", 1), ("urn:iso:15118:2:2013:MsgDef", 2),
                                        ("urn:din:70121:2012:MsgDef", 2)])])
    seq = {name: m for name, _d, m in iso2_dc.sequence()}
    d = din
    din_cd = d.V2G_MessageType(header=d.MessageHeaderType(session_id=bytes.fromhex("0EBE5B8D693EE379")),
                               body=d.BodyType(current_demand_req=d.CurrentDemandReqType(
                                   dc_ev_status=d.DC_EVStatusType(ev_ready=True, ev_error_code=d.DC_EVErrorCodeType.NO_ERROR,
                                                                  evresssoc=73),
                                   ev_target_current=d.PhysicalValueType(multiplier=0, unit=d.unitSymbolType.A, value=45),
                                   bulk_charging_complete=False, charging_complete=False,
                                   remaining_time_to_full_soc=d.PhysicalValueType(multiplier=0, unit=d.unitSymbolType.s,
                                                                                  value=1200),
                                   remaining_time_to_bulk_soc=d.PhysicalValueType(multiplier=0, unit=d.unitSymbolType.s,
                                                                                  value=600),
                                   ev_target_voltage=d.PhysicalValueType(multiplier=0, unit=d.unitSymbolType.V, value=333))))
    z = iso20_dc
    rn = z.RationalNumberType
    loop = z.DC_ChargeLoopReqType(
        header=z.MessageHeaderType(session_id=bytes.fromhex("5A2CDE53F701D4AC"), time_stamp=1718607543),
        display_parameters=z.DisplayParametersType(present_soc=55, charging_complete=False),
        meter_info_requested=False, ev_present_voltage=rn(exponent=-1, value=4000),
        scheduled_dc_cl_req_control_mode=z.Scheduled_DC_CLReqControlModeType(
            ev_target_current=rn(exponent=0, value=125), ev_target_voltage=rn(exponent=-1, value=4100),
            ev_maximum_charge_power=rn(exponent=3, value=90), ev_maximum_charge_current=rn(exponent=0, value=200),
            ev_maximum_voltage=rn(exponent=-1, value=4500)))
    return [
        ("apphand supportedAppProtocolReq (3 protocols)", "apphand", app),
        ("ISO-2 SessionSetupReq", "iso2", seq["SessionSetupReq"]),
        ("ISO-2 ChargeParameterDiscoveryRes (DC, 5 PMax entries)", "iso2", iso2_dc.charge_parameter_discovery_res(5)),
        ("ISO-2 CurrentDemandReq", "iso2", iso2_dc.current_demand_req()),
        ("ISO-2 CurrentDemandRes", "iso2", iso2_dc.current_demand_res()),
        ("DIN CurrentDemandReq", "din", din_cd),
        ("ISO-20 DC_ChargeLoopReq", "iso20-dc", loop),
    ]


def median_us(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    n = 1
    while True:  # calibrate: one run ~20 ms
        t = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t > 0.02:
            break
        n *= 2
    samples = []
    gc.disable()
    try:
        for _ in range(runs):
            t = time.perf_counter()
            for _ in range(n):
                fn()
            samples.append((time.perf_counter() - t) / n * 1e6)
    finally:
        gc.enable()
    return statistics.median(samples), min(samples)


def import_time(module: str) -> float:
    """Median wall time of importing one generated codec in a fresh interpreter (s)."""
    code = ("import time; t=time.perf_counter(); import importlib; "
            f"importlib.import_module('v2gkit.exi.gen.{module}'); print(time.perf_counter()-t)")
    base = "import time; t=time.perf_counter(); import v2gkit.exi; print(time.perf_counter()-t)"
    vals = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        vals.append(float(out.stdout))
    del base
    return statistics.median(vals)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="5 runs instead of 15")
    args = ap.parse_args()
    runs = 5 if args.quick else 15
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    print(f"Python {sys.version.split()[0]}; median of {runs} runs\n")
    print(f"{'message':56} {'bytes':>5} {'encode µs':>10} {'decode µs':>10}   (min enc/dec)")
    for label, schema, msg in messages():
        data = encode(msg)
        assert decode(data, schema) == msg, label
        enc, enc_min = median_us(lambda: encode(msg), runs)
        dec, dec_min = median_us(lambda: decode(data, schema), runs)
        print(f"{label:56} {len(data):5d} {enc:10.2f} {dec:10.2f}   ({enc_min:.2f}/{dec_min:.2f})")
    print(f"\n{'import of one generated codec (fresh interpreter)':56} {'s':>5}")
    for mod in ("apphand", "din", "iso2", "iso20", "iso20_ac", "iso20_dc", "iso20_wpt", "iso20_acdp", "xmldsig"):
        print(f"  v2gkit.exi.gen.{mod:46} {import_time(mod):8.3f}")


if __name__ == "__main__":
    main()
