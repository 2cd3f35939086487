"""pcapng writer and TCP/UDP flow synthesis, so a session can be opened in Wireshark.

Sans-IO in the sense that matters here: nothing reads the clock; every packet carries the
timestamp its caller observed. The writer flushes after each block so a crash leaves a file
that is readable up to the last packet.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from typing import Any, BinaryIO

from ._file import TraceFile
from .frames import (
    EV_MAC,
    SECC_MAC,
    TCP_ACK,
    TCP_FIN,
    TCP_PSH,
    TCP_SYN,
    Endpoint,
    as_endpoint,
    destination_mac,
    endpoint_mac,
    is_multicast,
    mss_option,
    tcp_frame,
    udp_frame,
)

BLOCK_SHB = 0x0A0D0D0A
BLOCK_IDB = 0x00000001
BLOCK_EPB = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D
LINKTYPE_ETHERNET = 1
SNAPLEN = 65535
TSRESOL_MICRO = 6

OPT_ENDOFOPT = 0
OPT_COMMENT = 1
SHB_USERAPPL = 4
IF_NAME = 2
IF_TSRESOL = 9

#: TCP maximum segment size used when splitting payloads (1500-byte MTU minus IPv6 and TCP headers with room)
DEFAULT_MSS = 1440
#: V2G SDP server port ([V2G2-139])
SDP_PORT = 15118

_MAX_US = (1 << 64) - 1


def timestamp_us(ts: Any) -> int:
    """Seconds since the epoch as whole microseconds (rounded), validated for pcapng's unsigned 64 bits."""
    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
        raise TypeError(f"ts must be a float (seconds since the epoch), got {type(ts).__name__}")
    if not math.isfinite(ts):
        raise ValueError(f"ts must be finite, got {ts!r}")
    us = round(ts * 1_000_000) if isinstance(ts, float) else ts * 1_000_000
    if not 0 <= us <= _MAX_US:
        raise ValueError(f"ts {ts!r} is outside what pcapng can store (0 .. 2**64-1 microseconds)")
    return us


def _pad4(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    """One option TLV, value padded to 32 bits as the spec requires."""
    if len(value) > 0xFFFF:
        raise ValueError(f"pcapng option {code} is longer than 65535 octets")
    return struct.pack("<HH", code, len(value)) + _pad4(value)


def _options(opts: list[tuple[int, bytes]]) -> bytes:
    """An option list terminated by opt_endofopt, or nothing at all when empty."""
    if not opts:
        return b""
    return b"".join(_option(c, v) for c, v in opts) + struct.pack("<HH", OPT_ENDOFOPT, 0)


def _block(block_type: int, body: bytes) -> bytes:
    """Wrap a (32-bit aligned) body with type and the total length at both ends."""
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def _comment_bytes(comment: Any) -> bytes:
    if not isinstance(comment, str):
        raise TypeError(f"comment must be a str, got {type(comment).__name__}")
    return comment.encode("utf-8")


class PcapngWriter(TraceFile):
    """Writes one pcapng section with one Ethernet interface (microsecond timestamps).

    A path is opened (and later closed) by the writer, and rotated at ``max_bytes`` (see TraceFile;
    None: never; each file is a complete capture); a binary file object is written to and flushed but
    left open for its owner.
    """

    def __init__(self, target: str | os.PathLike[str] | BinaryIO, comment: str = "written by v2gkit", *,
                 max_bytes: int | None = None, backups: int = 4) -> None:
        self._comment = comment
        if isinstance(target, (str, os.PathLike)):
            self._rotation(target, "wb", max_bytes, backups)
            self._file: BinaryIO = open(target, "wb")  # noqa: SIM115 - closed in close()
            self._owned = True
        elif hasattr(target, "write"):
            self._file = target
            self._owned = False
        else:
            raise TypeError(f"target must be a path or a binary file object, got {type(target).__name__}")
        self._closed = False
        try:
            self._write(self._file_header())
        except BaseException:
            if self._owned:
                self._file.close()
            raise

    def _file_header(self) -> bytes:
        return self._section_header(self._comment) + self._interface_description()

    @staticmethod
    def _section_header(comment: str) -> bytes:
        """SHB: byte-order magic, version 1.0, unknown section length, and who wrote the file."""
        body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)
        body += _options([(OPT_COMMENT, _comment_bytes(comment)), (SHB_USERAPPL, b"v2gkit")])
        return _block(BLOCK_SHB, body)

    @staticmethod
    def _interface_description() -> bytes:
        """IDB for interface 0: Ethernet, snaplen 65535, timestamps in microseconds."""
        body = struct.pack("<HHI", LINKTYPE_ETHERNET, 0, SNAPLEN)
        body += _options([(IF_NAME, b"v2gkit"), (IF_TSRESOL, bytes([TSRESOL_MICRO]))])
        return _block(BLOCK_IDB, body)

    def _write(self, data: bytes) -> None:
        if self._closed:
            raise ValueError("pcapng writer is closed")
        try:
            self._file.write(data)
        except TypeError:
            raise TypeError("target must be opened in binary mode") from None
        self._file.flush()
        self._wrote(len(data))


    def write_packet(self, ts: float, frame: bytes, comment: str | None = None) -> None:
        """Append one Enhanced Packet Block; frames beyond the snaplen are truncated like a capture would."""
        us = timestamp_us(ts)
        if not isinstance(frame, (bytes, bytearray, memoryview)):
            raise TypeError(f"frame must be bytes, got {type(frame).__name__}")
        frame = bytes(frame)
        captured = frame[:SNAPLEN]
        body = struct.pack("<IIIII", 0, us >> 32, us & 0xFFFFFFFF, len(captured), len(frame))
        body += _pad4(captured)
        if comment is not None:
            body += _options([(OPT_COMMENT, _comment_bytes(comment))])
        self._write(_block(BLOCK_EPB, body))


def _check_writer(writer: Any) -> PcapngWriter:
    if not isinstance(writer, PcapngWriter):
        raise TypeError(f"writer must be a PcapngWriter, got {type(writer).__name__}")
    return writer


def _check_payload(payload: Any) -> bytes:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(f"payload must be bytes, got {type(payload).__name__}")
    return bytes(payload)


def _check_unicast(ep: Endpoint, what: str) -> None:
    if is_multicast(ep.address):
        raise ValueError(f"{what} address {ep.address} is multicast; only a destination may be")


def default_isn(src: Endpoint, dst: Endpoint) -> int:
    """A deterministic initial sequence number per direction, so reruns give identical files."""
    key = f"{src.address}|{src.port}|{dst.address}|{dst.port}".encode()
    return zlib.crc32(key)


class TcpFlow:
    """Synthesises one TCP connection (handshake, data with ACKs, teardown) into a PcapngWriter.

    The client is the EV side (EVCC connects to the SECC), which picks the default MACs.
    """

    def __init__(self, writer: PcapngWriter, client: Endpoint, server: Endpoint,
                 isn_client: int | None = None, isn_server: int | None = None,
                 mss: int = DEFAULT_MSS) -> None:
        self._writer = _check_writer(writer)
        self.client = as_endpoint(client, "client")
        self.server = as_endpoint(server, "server")
        _check_unicast(self.client, "client")
        _check_unicast(self.server, "server")
        if isinstance(mss, bool) or not isinstance(mss, int) or not 1 <= mss <= 65535 - 60:
            raise ValueError(f"mss must be an int in 1..65475, got {mss!r}")
        self.mss = mss
        self._mac_c = endpoint_mac(self.client, EV_MAC)
        self._mac_s = endpoint_mac(self.server, SECC_MAC)
        self._seq_c = self._isn(isn_client, "isn_client", self.client, self.server)
        self._seq_s = self._isn(isn_server, "isn_server", self.server, self.client)
        self.opened = False
        self.closed = False

    @staticmethod
    def _isn(value: Any, what: str, src: Endpoint, dst: Endpoint) -> int:
        if value is None:
            return default_isn(src, dst)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{what} must be an int, got {type(value).__name__}")
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"{what} {value} is outside 0..2**32-1")
        return value

    @property
    def next_seq(self) -> tuple[int, int]:
        """Next sequence number of (client, server): what the other side currently acknowledges."""
        return self._seq_c, self._seq_s

    def _send(self, ts: float, from_client: bool, flags: int, payload: bytes = b"", options: bytes = b"",
              comment: str | None = None) -> None:
        """Emit one segment and advance the sender's sequence number (SYN and FIN count one)."""
        if from_client:
            src, dst, smac, dmac, seq, ack = (self.client, self.server, self._mac_c, self._mac_s,
                                              self._seq_c, self._seq_s)
        else:
            src, dst, smac, dmac, seq, ack = (self.server, self.client, self._mac_s, self._mac_c,
                                              self._seq_s, self._seq_c)
        if not flags & TCP_ACK:
            ack = 0
        frame = tcp_frame(src, dst, smac, dmac, seq, ack, flags, payload, options)
        self._writer.write_packet(ts, frame, comment)
        step = len(payload) + (1 if flags & TCP_SYN else 0) + (1 if flags & TCP_FIN else 0)
        if from_client:
            self._seq_c = (self._seq_c + step) & 0xFFFFFFFF
        else:
            self._seq_s = (self._seq_s + step) & 0xFFFFFFFF

    def open(self, ts: float, comment: str | None = None) -> None:
        """Three-way handshake (SYN, SYN+ACK, ACK) with an MSS option on both SYNs."""
        timestamp_us(ts)
        if self.closed:
            raise ValueError("TCP flow is already closed")
        if self.opened:
            raise ValueError("TCP flow is already open")
        self.opened = True
        mss = mss_option(self.mss)
        self._send(ts, True, TCP_SYN, options=mss, comment=comment)
        self._send(ts, False, TCP_SYN | TCP_ACK, options=mss)
        self._send(ts, True, TCP_ACK)

    def data(self, ts: float, from_client: bool, payload: bytes, comment: str | None = None) -> None:
        """Payload as PSH+ACK segments of at most mss octets, then a bare ACK from the receiver."""
        timestamp_us(ts)
        payload = _check_payload(payload)
        if not isinstance(from_client, bool):
            raise TypeError(f"from_client must be a bool, got {type(from_client).__name__}")
        if self.closed:
            raise ValueError("TCP flow is already closed")
        if not payload:
            return
        if not self.opened:
            self.open(ts)
        for i in range(0, len(payload), self.mss):
            self._send(ts, from_client, TCP_PSH | TCP_ACK, payload[i:i + self.mss], comment=comment)
            comment = None
        self._send(ts, not from_client, TCP_ACK)

    def close(self, ts: float, from_client: bool) -> None:
        """Orderly teardown: FIN+ACK from the closer, FIN+ACK back, final ACK."""
        timestamp_us(ts)
        if not isinstance(from_client, bool):
            raise TypeError(f"from_client must be a bool, got {type(from_client).__name__}")
        if self.closed:
            raise ValueError("TCP flow is already closed")
        if not self.opened:
            self.open(ts)
        self._send(ts, from_client, TCP_FIN | TCP_ACK)
        self._send(ts, not from_client, TCP_FIN | TCP_ACK)
        self._send(ts, from_client, TCP_ACK)
        self.closed = True


def udp(writer: PcapngWriter, ts: float, src: Endpoint, dst: Endpoint, payload: bytes,
        src_is_ev: bool | None = None, comment: str | None = None) -> None:
    """Write one UDP datagram (SDP). ``src_is_ev`` picks the default MACs; when None, a source
    port of 15118 means the SECC (the SDP server) sent it and anything else means the EV."""
    writer = _check_writer(writer)
    timestamp_us(ts)
    src = as_endpoint(src, "source")
    dst = as_endpoint(dst, "destination")
    payload = _check_payload(payload)
    _check_unicast(src, "source")
    if src_is_ev is None:
        src_is_ev = src.port != SDP_PORT
    elif not isinstance(src_is_ev, bool):
        raise TypeError(f"src_is_ev must be a bool or None, got {type(src_is_ev).__name__}")
    src_mac = endpoint_mac(src, EV_MAC if src_is_ev else SECC_MAC)
    dst_mac = destination_mac(dst, SECC_MAC if src_is_ev else EV_MAC)
    writer.write_packet(ts, udp_frame(src, dst, src_mac, dst_mac, payload), comment)
