"""A run's results as a JSON file, and back: what the README table merges from several runs.

The file is one JSON object::

    {"format": "v2gkit-test-results", "version": 1, "label": "v2gkit veth", "meta": {...},
     "results": [{"case_id": "TC_...", "verdict": "fail", "reason": "...", "steps": [...],
                  "wire": [{"t": 0.002, "direction": "tx", "channel": "tcp", "payload_type": 32770,
                            "frame": "01FE8002...", "name": "SessionSetupReq", "decoded": {...}}, ...]}, ...]}

Frames are hex; ``decoded`` is the message as JSON (v2gkit.exi.convert), as the result held it. Unknown
keys are ignored when reading (files from a newer v2gkit still load); a missing ``case_id`` or an unknown
verdict is an error naming the file and the result's index.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...trace.jsonl import json_fallback
from ..case import CaseResult, Step, Verdict, WireRecord

__all__ = ["FORMAT", "VERSION", "Run", "dumps", "loads", "read_results", "result_from_dict", "result_to_dict",
           "write_results"]

FORMAT = "v2gkit-test-results"
VERSION = 1


@dataclass
class Run:
    """One run's results: ``label`` names the SUT column in merged tables (e.g. "Josev veth")."""

    label: str
    results: list[CaseResult]
    meta: dict[str, Any] = field(default_factory=dict)
    path: str = ""


def _num(x: float | None) -> float | None:
    """JSON has no NaN or infinity: such a number is written as null."""
    return x if x is None or math.isfinite(x) else None


def result_to_dict(r: CaseResult) -> dict[str, Any]:
    """A CaseResult as plain JSON types."""
    return {
        "case_id": r.case_id, "title": r.title, "purpose": r.purpose, "requirements": list(r.requirements),
        "sut": r.sut, "protocol": r.protocol, "verdict": r.verdict.value, "reason": r.reason,
        "started": _num(r.started), "seconds": _num(r.seconds), "sim_seconds": _num(r.sim_seconds),
        "local_endpoint": r.local_endpoint, "remote_endpoint": r.remote_endpoint,
        "steps": [{"t": _num(s.t), "text": s.text, "verdict": None if s.verdict is None else s.verdict.value}
                  for s in r.steps],
        "wire": [{"t": _num(w.t), "direction": w.direction, "channel": w.channel,
                  "payload_type": w.payload_type, "frame": bytes(w.frame).hex().upper(), "name": w.name,
                  "decoded": w.decoded, "note": w.note} for w in r.wire],
    }


def _verdict(value: Any, where: str) -> Verdict:
    try:
        return Verdict(value)
    except ValueError:
        raise ValueError(f"{where}: verdict {value!r} is not one of "
                         + ", ".join(v.value for v in Verdict)) from None


def _float(value: Any, where: str, default: float | None = 0.0) -> float | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where} must be a number, got {value!r}")
    return float(value)


def _str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string, got {type(value).__name__}")
    return value


def result_from_dict(d: Mapping[str, Any], where: str = "result") -> CaseResult:
    """The CaseResult a :func:`result_to_dict` dict describes; ValueError names ``where`` and the field."""
    if not isinstance(d, Mapping):
        raise ValueError(f"{where} must be an object, got {type(d).__name__}")
    case_id = d.get("case_id")
    if not isinstance(case_id, str) or not case_id:
        raise ValueError(f"{where} has no case_id")
    where = f"{where} ({case_id})"
    steps = []
    for i, s in enumerate(d.get("steps") or ()):
        w = f"{where} step {i}"
        if not isinstance(s, Mapping):
            raise ValueError(f"{w} must be an object")
        v = s.get("verdict")
        steps.append(Step(t=_float(s.get("t"), f"{w} t"), text=_str(s.get("text"), f"{w} text"),
                          verdict=None if v is None else _verdict(v, w)))
    wire = []
    for i, rec in enumerate(d.get("wire") or ()):
        w = f"{where} wire record {i}"
        if not isinstance(rec, Mapping):
            raise ValueError(f"{w} must be an object")
        try:
            frame = bytes.fromhex(_str(rec.get("frame"), f"{w} frame"))
        except ValueError:
            raise ValueError(f"{w} frame is not hexadecimal") from None
        pt = rec.get("payload_type")
        if pt is not None and (isinstance(pt, bool) or not isinstance(pt, int)):
            raise ValueError(f"{w} payload_type must be an integer, got {pt!r}")
        decoded = rec.get("decoded")
        if decoded is not None and not isinstance(decoded, dict):
            raise ValueError(f"{w} decoded must be an object or null")
        wire.append(WireRecord(t=_float(rec.get("t"), f"{w} t"),
                               direction=_str(rec.get("direction"), f"{w} direction"),
                               channel=_str(rec.get("channel"), f"{w} channel"), payload_type=pt, frame=frame,
                               name=_str(rec.get("name"), f"{w} name"), decoded=decoded,
                               note=_str(rec.get("note"), f"{w} note")))
    reqs = d.get("requirements") or ()
    if isinstance(reqs, str) or not all(isinstance(x, str) for x in reqs):
        raise ValueError(f"{where} requirements must be a list of strings")
    return CaseResult(
        case_id=case_id, title=_str(d.get("title"), f"{where} title"),
        purpose=_str(d.get("purpose"), f"{where} purpose"),
        requirements=tuple(reqs), sut=_str(d.get("sut"), f"{where} sut"),
        protocol=_str(d.get("protocol"), f"{where} protocol"),
        verdict=_verdict(d.get("verdict", "pass"), where),
        reason=_str(d.get("reason"), f"{where} reason"), started=_float(d.get("started"), f"{where} started"),
        seconds=_float(d.get("seconds"), f"{where} seconds"),
        sim_seconds=_float(d.get("sim_seconds"), f"{where} sim_seconds", None), steps=steps, wire=wire,
        local_endpoint=_str(d.get("local_endpoint"), f"{where} local_endpoint"),
        remote_endpoint=_str(d.get("remote_endpoint"), f"{where} remote_endpoint"))


def dumps(results: Iterable[CaseResult], *, label: str = "", meta: Mapping[str, Any] | None = None) -> str:
    """The results file's text. ``label`` defaults to the results' SUT."""
    results = list(results)
    if not label:
        label = next((r.sut for r in results if r.sut), "")
    doc = {"format": FORMAT, "version": VERSION, "label": label, "meta": dict(meta or {}),
           "results": [result_to_dict(r) for r in results]}
    # ASCII: a lone surrogate in a SUT's string round-trips as \udXXX instead of failing to encode
    text = json.dumps(doc, ensure_ascii=True, allow_nan=False, default=json_fallback, separators=(",", ":"))
    return text + "\n"


def loads(text: str | bytes, where: str = "results") -> Run:
    """Read a results file's text; ValueError says what is wrong and where."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"{where}: not JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{where}: not a v2gkit results file (no \"format\": \"{FORMAT}\")")
    version = doc.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ValueError(f"{where}: results format version {version!r}; this v2gkit reads up to {VERSION} "
                         "(update v2gkit)")
    items = doc.get("results")
    if not isinstance(items, list):
        raise ValueError(f"{where}: \"results\" must be a list")
    results = [result_from_dict(d, f"{where}: result {i}") for i, d in enumerate(items)]
    label = doc.get("label") if isinstance(doc.get("label"), str) else ""
    if not label:
        label = next((r.sut for r in results if r.sut), "")
    meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
    return Run(label=label, results=results, meta=meta)


def write_results(path: str | os.PathLike[str], results: Iterable[CaseResult], *, label: str = "",
                  meta: Mapping[str, Any] | None = None) -> Path:
    """Write a run's results file (through a temporary file, so a reader never sees half of it)."""
    path = Path(path)
    text = dumps(results, label=label, meta=meta)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="ascii")
    os.replace(tmp, path)
    return path


def read_results(path: str | os.PathLike[str]) -> Run:
    """A results file as a :class:`Run`; its label falls back to the results' SUT, then the file name."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"{path}: cannot be read ({e.strerror or e})") from None
    run = loads(data, str(path))
    run.path = str(path)
    if not run.label:
        run.label = path.stem
    return run
