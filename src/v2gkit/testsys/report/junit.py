"""JUnit XML for CI systems (Jenkins, GitLab, GitHub test reporters), in the common "JUnit 10" shape.

One ``<testsuite>`` per SUT, one ``<testcase>`` per case: ``name`` is the case ID, ``classname`` its parts
(``TC_SECC_CMN_VTB_SessionSetup_001`` -> ``SECC.CMN.SessionSetup``, so Jenkins groups by role and kind;
with several SUTs in one file the SUT leads, so the same case against two SUTs stays two tests). Verdicts map
as CI systems understand them: fail -> ``<failure>``, error -> ``<error>``, inconc -> ``<skipped>`` (the SUT
never reached what the case tests: neither pass nor fail); the steps and the message sequence go to
``<system-out>``. Every string passes :func:`printable`, so a SUT's control characters cannot make the file
invalid XML.
"""

from __future__ import annotations

import math
import os
import re
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from ..case import CASE_ID, CaseResult, Verdict
from ._text import ms, printable

__all__ = ["classname", "junit_xml", "write_junit"]


def _timestamp(epoch: float) -> str:
    """ISO 8601 without zone, as the JUnit schema wants it (UTC)."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(max(epoch, 0.0)))
    except (OverflowError, OSError, ValueError):
        return "1970-01-01T00:00:00"


def _label(text: str) -> str:
    """A SUT label as a classname segment: dots would split it into packages."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", printable(text)).strip("_") or "sut"


def classname(case_id: str, sut: str = "") -> str:
    """``SECC.CMN.SessionSetup`` for ``TC_SECC_CMN_VTB_SessionSetup_001`` (prefixed by the SUT if given)."""
    m = CASE_ID.match(case_id)
    parts = [m.group(1), m.group(2), m.group(4)] if m else ["other"]
    if sut:
        parts.insert(0, _label(sut))
    return ".".join(parts)


def _seconds(x: float | None) -> str:
    return f"{x:.3f}" if isinstance(x, (int, float)) and math.isfinite(x) and x >= 0 else "0.000"


def _out(r: CaseResult) -> str:
    """The case's own log and its message sequence, for <system-out>."""
    lines = [f"{r.case_id}: {r.verdict.value}" + (f" ({r.reason})" if r.reason else "")]
    if r.requirements:
        lines.append("requirements: " + ", ".join(r.requirements))
    if r.protocol:
        lines.append(f"protocol: {r.protocol}")
    if r.local_endpoint or r.remote_endpoint:
        lines.append(f"tester {r.local_endpoint or '?'} <-> SUT {r.remote_endpoint or '?'}")
    if r.steps:
        lines.append("steps:")
        for s in r.steps:
            v = f" [{s.verdict.value}]" if s.verdict is not None else ""
            lines.append(f"  {ms(s.t):>10} ms  {s.text}{v}")
    if r.wire:
        lines.append("messages (ms since the case started; tx: the tester sent it):")
        for w in r.wire:
            what = w.name or (f"payload type 0x{w.payload_type:04X}" if w.payload_type is not None else "")
            size = f" {len(w.frame)} B" if w.frame else ""
            note = f"  ({w.note})" if w.note else ""
            lines.append(f"  {ms(w.t):>10} ms  {w.direction or '--':2} {w.channel:5} {what}{size}{note}")
    return printable("\n".join(lines)) + "\n"


def _detail(r: CaseResult) -> str:
    """The failure/error text: the reason, what the case checks, and the steps that set the verdict."""
    lines = [r.reason or r.verdict.value]
    if r.requirements:
        lines.append("requirements: " + ", ".join(r.requirements))
    lines += [f"{ms(s.t)} ms: {s.text} [{s.verdict.value}]" for s in r.steps
              if s.verdict is not None and s.verdict is not Verdict.PASS]
    return printable("\n".join(lines))


def _suites(results: list[CaseResult]) -> list[tuple[str, list[CaseResult]]]:
    groups: dict[str, list[CaseResult]] = {}
    for r in results:
        groups.setdefault(r.sut, []).append(r)
    return list(groups.items())


def junit_xml(results: Iterable[CaseResult], *, name: str = "v2gkit test", hostname: str | None = None
              ) -> bytes:
    """The JUnit XML document (UTF-8, with declaration) for ``results``."""
    results = list(results)
    host = printable(hostname if hostname is not None else socket.gethostname()) or "localhost"
    suites = _suites(results)
    several = len(suites) > 1
    root = ET.Element("testsuites", name=printable(name))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for index, (sut, rs) in enumerate(suites):
        counts = {"tests": len(rs), "failures": sum(r.verdict is Verdict.FAIL for r in rs),
                  "errors": sum(r.verdict is Verdict.ERROR for r in rs),
                  "skipped": sum(r.verdict is Verdict.INCONC for r in rs)}
        seconds = sum(float(_seconds(r.seconds)) for r in rs)
        started = min((r.started for r in rs if r.started and r.started == r.started), default=0.0)
        suite = ET.SubElement(root, "testsuite", name=printable(sut or name), id=str(index), package="v2gkit",
                              hostname=host, timestamp=_timestamp(started), time=_seconds(seconds),
                              **{k: str(v) for k, v in counts.items()})
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="sut", value=printable(sut))
        protocols = sorted({r.protocol for r in rs if r.protocol})
        ET.SubElement(props, "property", name="protocols", value=printable(", ".join(protocols)))
        for r in rs:
            tc = ET.SubElement(suite, "testcase", name=printable(r.case_id),
                               classname=printable(classname(r.case_id, sut if several else "")),
                               time=_seconds(r.seconds))
            if r.verdict is Verdict.INCONC:
                ET.SubElement(tc, "skipped", message=printable("inconc: " + (r.reason or "inconclusive")))
            elif r.verdict in (Verdict.ERROR, Verdict.FAIL):
                tag = "error" if r.verdict is Verdict.ERROR else "failure"
                problem = ET.SubElement(tc, tag, message=printable(r.reason or r.verdict.value),
                                        type=r.verdict.value)
                problem.text = _detail(r)
            ET.SubElement(tc, "system-out").text = _out(r)
        for k, v in counts.items():
            totals[k] += v
        total_time += seconds
    root.set("time", _seconds(total_time))
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: str | os.PathLike[str], results: Iterable[CaseResult], *, name: str = "v2gkit test",
                hostname: str | None = None) -> Path:
    """Write the JUnit XML file (through a temporary file, so CI never reads half of it)."""
    path = Path(path)
    data = junit_xml(results, name=name, hostname=hostname)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path
