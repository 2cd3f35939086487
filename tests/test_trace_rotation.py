"""Traces of a long run rotate: each file stays under its size cap, only a few old files are kept, and
every rotated pcapng is a complete capture that an independent reader opens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from v2gkit.trace import Tracer
from v2gkit.trace.jsonl import JsonlWriter
from v2gkit.v2gtp import frame


def test_long_trace_rotates_and_every_file_reads_back(tmp_path: Path) -> None:
    from scapy.all import TCP, rdpcap  # independent reader

    pcap, log = tmp_path / "secc.pcapng", tmp_path / "secc.jsonl"
    msg = frame(0x8001, bytes(200))
    with Tracer(pcapng=pcap, jsonl=log, role="SECC", max_bytes=20_000, backups=3) as t:
        for c in range(20):  # 20 connections of 50 messages each: ~300 kB of pcapng, ~700 kB of JSON
            conn = f"tcp{c}"
            t.tcp_open(float(c), conn, ("fe80::2", 50000 + c), ("fe80::1", 61000))
            for i in range(50):
                t.v2g(c + i / 100, conn, i % 2 == 0, msg)
            t.tcp_close(c + 0.9, conn, by_client=True)
        assert t._pcap is not None and t._pcap.rotations > 3
    for base in (pcap, log):
        files = sorted(tmp_path.glob(base.name + "*"))
        assert [f.name for f in files] == [base.name, base.name + ".1", base.name + ".2", base.name + ".3"]
        assert all(f.stat().st_size < 20_000 + 2_000 for f in files)
    for f in sorted(tmp_path.glob("secc.pcapng*")):
        packets = rdpcap(str(f))  # each file starts with its own section header
        assert any(TCP in p for p in packets)
    for f in sorted(tmp_path.glob("secc.jsonl*")):
        lines = [json.loads(x) for x in f.read_text().splitlines()]
        assert lines and all("ts" in x for x in lines)
    last = [json.loads(x) for x in log.read_text().splitlines()]
    assert last[-1]["event"] == "tcp_close" and last[-1]["conn"] == "tcp19"


def test_rotation_needs_a_path_and_sane_limits(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        JsonlWriter(tmp_path / "x.jsonl", max_bytes=0)
    with open(tmp_path / "y.jsonl", "w") as f:  # a file object is the caller's: never rotated
        w = JsonlWriter(f, max_bytes=10)
        for i in range(5):
            w.write(float(i), {"i": i})
    assert len((tmp_path / "y.jsonl").read_text().splitlines()) == 5 and not list(tmp_path.glob("y.jsonl.*"))
