"""Session tracing: pcapng for Wireshark and JSON lines for people and scripts."""

from __future__ import annotations

from .frames import Endpoint
from .jsonl import JsonlWriter, iso_utc
from .pcapng import PcapngWriter, TcpFlow, udp
from .tracer import PAYLOAD_TYPES, TRACE_SCHEMAS, Tracer, decode_payload, parse_v2gtp

__all__ = [
    "PAYLOAD_TYPES",
    "TRACE_SCHEMAS",
    "Endpoint",
    "JsonlWriter",
    "PcapngWriter",
    "TcpFlow",
    "Tracer",
    "decode_payload",
    "iso_utc",
    "parse_v2gtp",
    "udp",
]
