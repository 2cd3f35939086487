"""EXI codec benchmark: median encode/decode µs per message, the size sweep, and import time per schema.

Run: ``./run bench`` (or ``.venv/bin/python benchmarks/exi_bench.py [--quick] [--sweep-only]``).
The size sweep encodes and decodes messages of 1, 8, 32 and 64 KiB (a header signature with many
references, see ``v2gkit.exi.samples``) and prints the cost per KiB relative to the 1 KiB message: a
linear-time codec keeps that ratio near 1.
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
from collections.abc import Callable
from typing import Any

from v2gkit.exi import decode, decode_element, encode
from v2gkit.exi.gen import apphand, din, iso20_dc
from v2gkit.exi.samples import message_of_size
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


#: the size sweep: schemas, reference kinds (0: empty references, 32: SHA-256 digests) and sizes in KiB
SWEEP_SCHEMAS = ("iso2", "din", "iso20-dc", "xmldsig")
SWEEP_DIGESTS = (0, 32)
SWEEP_KIB = (1, 8, 32, 64)


def sweep(runs: int) -> None:
    print(f"\n{'size sweep (µs; per KiB; ratio to the 1 KiB cost per KiB)':56}")
    print(f"{'schema, references':24} {'KiB':>4} {'bytes':>6} {'encode µs':>10} {'/KiB':>7} {'x':>5}"
          f" {'decode µs':>10} {'/KiB':>7} {'x':>5}")
    for schema in SWEEP_SCHEMAS:
        for digest in SWEEP_DIGESTS:
            base: tuple[float, float] | None = None
            for kib in SWEEP_KIB:
                obj, element, data = message_of_size(schema, kib * 1024, digest)
                assert decode_element(data, schema) == (element, obj)
                enc, _ = median_us(lambda: encode(obj, element=element, schema=schema), runs)
                dec, _ = median_us(lambda: decode_element(data, schema), runs)
                per = (enc / (len(data) / 1024), dec / (len(data) / 1024))
                base = base or per
                kind = "empty" if digest == 0 else f"{digest}-octet digest"
                print(f"{schema + ', ' + kind:24} {kib:4d} {len(data):6d} {enc:10.1f} {per[0]:7.1f} {per[0] / base[0]:5.2f}"
                      f" {dec:10.1f} {per[1]:7.1f} {per[1] / base[1]:5.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="5 runs instead of 15")
    ap.add_argument("--sweep-only", action="store_true", help="only the size sweep")
    args = ap.parse_args()
    runs = 5 if args.quick else 15
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    print(f"Python {sys.version.split()[0]}; median of {runs} runs")
    if args.sweep_only:
        sweep(runs)
        return
    print(f"\n{'message':56} {'bytes':>5} {'encode µs':>10} {'decode µs':>10}   (min enc/dec)")
    for label, schema, msg in messages():
        data = encode(msg)
        assert decode(data, schema) == msg, label
        enc, enc_min = median_us(lambda: encode(msg), runs)
        dec, dec_min = median_us(lambda: decode(data, schema), runs)
        print(f"{label:56} {len(data):5d} {enc:10.2f} {dec:10.2f}   ({enc_min:.2f}/{dec_min:.2f})")
    sweep(runs)
    print(f"\n{'import of one generated codec (fresh interpreter)':56} {'s':>5}")
    for mod in ("apphand", "din", "iso2", "iso20", "iso20_ac", "iso20_dc", "iso20_wpt", "iso20_acdp", "xmldsig"):
        print(f"  v2gkit.exi.gen.{mod:46} {import_time(mod):8.3f}")


if __name__ == "__main__":
    main()
