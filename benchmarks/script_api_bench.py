"""Script API benchmark: table sizes, function counts, name resolution and field access times (medians).

(a) The generated tables: size per schema set and the time to import them.
(b) Functions per family and role (canonical names), and the time to list them all.
(c) Resolution: a message's first name (its field tree unfolds), a new name of an unfolded message (parse and
    one dict lookup per reading), and a name seen before (the cache: one dict lookup).
(d) Field access on codec objects (v2gkit.testsys.fields): Get and Set of a leaf, a nested leaf, a header
    path through V2G_Message, an indexed list item, Add and Exist.

Run: ``.venv/bin/python benchmarks/script_api_bench.py [--repeat 2000]``.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from v2gkit.exi import schema_module
from v2gkit.testsys import fields
from v2gkit.testsys.api import names
from v2gkit.testsys.api.generate import DEFAULT_OUT, SETS


def median_us(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def tables() -> None:
    print("(a) generated tables")
    total = 0
    for mod in SETS:
        p = Path(DEFAULT_OUT) / f"{mod}.py"
        total += p.stat().st_size
        print(f"    {mod:11s} {p.stat().st_size / 1024:7.1f} KiB")
    t = time.perf_counter()
    for mod in SETS:
        sys.modules.pop(f"v2gkit.testsys.api.tables.{mod}", None)
        importlib.import_module(f"v2gkit.testsys.api.tables.{mod}")
    print(f"    total       {total / 1024:7.1f} KiB; import of all {len(SETS)}: "
          f"{(time.perf_counter() - t) * 1e3:.1f} ms")


def counts() -> None:
    print("(b) functions per family and role (canonical names)")
    for family in ("din", "iso2", "iso20"):
        for role in names.ROLES:
            reg = names.Registry()
            t = time.perf_counter()
            n = sum(1 for _ in reg.all_functions(family, role))
            print(f"    {family:6s} {role}: {n:6d} functions, listed in {(time.perf_counter() - t) * 1e3:6.1f} ms "
                  "(fresh registry: unfolding and resolving every name)")


def resolution(repeat: int) -> None:
    print("(c) name resolution, median")
    first = []
    for _ in range(max(5, repeat // 100)):
        reg = names.Registry()
        reg.tables("iso2")
        t = time.perf_counter()
        reg.resolve("iso2", "secc", "Set_PreChargeRes_DC_EVSEStatus_EVSEStatusCode")
        first.append(time.perf_counter() - t)
    print(f"    first name of a message (unfolds its tree):  {statistics.median(first) * 1e6:8.1f} us")
    reg = names.Registry()
    reg.resolve("iso2", "secc", "Set_PreChargeRes_ResponseCode")
    fresh = [f"Set_PreChargeRes_{n}" for n in ("DC_EVSEStatus_EVSEStatusCode", "EVSEPresentVoltage_Value",
                                               "EVSEPresentVoltage_Multiplier", "DC_EVSEStatus_NotificationMaxDelay",
                                               "DC_EVSEStatus_EVSEIsolationStatusSpecified")]
    new = []
    for _ in range(max(5, repeat // 100)):
        reg._cache.clear()
        for n in fresh:
            t = time.perf_counter()
            reg.resolve("iso2", "secc", n)
            new.append(time.perf_counter() - t)
    print(f"    new name, tree unfolded (uncached):           {statistics.median(new) * 1e6:8.1f} us")
    n = "Set_PreChargeRes_DC_EVSEStatus_EVSEStatusCode"
    print(f"    cached name:                                  "
          f"{median_us(lambda: names.resolve('iso2', 'secc', n), repeat):8.2f} us")


def access(repeat: int) -> None:
    print("(d) field access on codec objects, median")
    m = schema_module("iso2")
    r = names.resolve
    pre = fields.new_message("iso2", "PreChargeRes")
    d = m.V2G_MessageType(header=m.MessageHeaderType(session_id=bytes(8)), body=m.BodyType(pre_charge_res=pre))
    cases = [
        ("Get ResponseCode", lambda: fields.get(pre, r("iso2", "secc", "Get_PreChargeRes_ResponseCode"))),
        ("Set ResponseCode", lambda: fields.set(pre, r("iso2", "secc", "Set_PreChargeRes_ResponseCode"),
                                                ("FAILED_SequenceError",))),
        ("Get DC_EVSEStatus_EVSEStatusCode", lambda: fields.get(pre, r(
            "iso2", "secc", "Get_PreChargeRes_DC_EVSEStatus_EVSEStatusCode"))),
        ("Set EVSEPresentVoltage_Value", lambda: fields.set(pre, r(
            "iso2", "secc", "Set_PreChargeRes_EVSEPresentVoltage_Value"), (3900,))),
        ("Set ..._EVSEIsolationStatusSpecified", lambda: fields.set(pre, r(
            "iso2", "secc", "Set_PreChargeRes_DC_EVSEStatus_EVSEIsolationStatusSpecified"), (True,))),
        ("Get Header_SessionID (V2G_Message)", lambda: fields.get(d, r(
            "iso2", "secc", "Get_PreChargeRes_Header_SessionID"))),
        ("Set Header_SessionID (V2G_Message)", lambda: fields.set(d, r(
            "iso2", "secc", "Set_PreChargeRes_Header_SessionID"), ("C1A61BDEADFA4655",))),
    ]
    pss = fields.new_message("iso2", "PaymentServiceSelectionReq")
    fields.set(pss, r("iso2", "evcc", "Set_PaymentServiceSelectionReq_SelectedServiceList_Count"), (4,))
    cases += [
        ("Set SelectedServiceList_ServiceID(i, v)", lambda: fields.set(pss, r(
            "iso2", "evcc", "Set_PaymentServiceSelectionReq_SelectedServiceList_ServiceID"), (2, 61000))),
        ("Get SelectedServiceList_ServiceID(i)", lambda: fields.get(pss, r(
            "iso2", "evcc", "Get_PaymentServiceSelectionReq_SelectedServiceList_ServiceID"), (2,))),
        ("Exist_PaymentServiceSelection_SelectedService", lambda: fields.exist(pss, r(
            "iso2", "secc", "Exist_PaymentServiceSelection_SelectedService"), (61000, 1))),
    ]
    for label, fn in cases:
        print(f"    {label:44s} {median_us(fn, repeat):6.2f} us (resolve included, cached)")
    f_add = r("iso2", "evcc", "Add_PaymentServiceSelectionReq_SelectedServiceList_ServiceID")
    times = []
    for _ in range(repeat // 10):
        msg = fields.new_message("iso2", "PaymentServiceSelectionReq")
        t = time.perf_counter()
        fields.add(msg, f_add, (61000,))
        times.append(time.perf_counter() - t)
    print(f"    {'Add SelectedServiceList_ServiceID (appends)':44s} {statistics.median(times) * 1e6:6.2f} us")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=2000, help="calls per measurement (default 2000)")
    args = ap.parse_args()
    tables()
    counts()
    resolution(args.repeat)
    access(args.repeat)


if __name__ == "__main__":
    main()
