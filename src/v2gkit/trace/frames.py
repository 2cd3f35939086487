"""Pure synthesis of Ethernet II / IPv6 / TCP|UDP frames, so traces open in Wireshark as real traffic.

The adapters only see socket payloads; these functions rebuild plausible link-layer frames around
them (with correct checksums) so that standard tools dissect and reassemble them without warnings.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Any, NamedTuple

ETHERTYPE_IPV6 = 0x86DD
PROTO_TCP = 6
PROTO_UDP = 17

#: default MACs (locally administered) when neither the caller nor the address provides one
EV_MAC = bytes.fromhex("020000000001")
SECC_MAC = bytes.fromhex("020000000002")

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10

_MAX_IPV6_PAYLOAD = 0xFFFF
_UDP_HEADER = 8
_TCP_HEADER = 20


class Endpoint(NamedTuple):
    """One side of a flow: IPv6 address (scope suffix allowed), port, and optionally its MAC."""

    address: str
    port: int
    mac: bytes | None = None


def as_endpoint(value: Any, what: str = "endpoint") -> Endpoint:
    """Validate an Endpoint (or an (address, port[, mac]) tuple) early, with a message naming the culprit."""
    if not isinstance(value, tuple) or not 2 <= len(value) <= 3:
        raise TypeError(f"{what} must be an Endpoint(address, port, mac=None), got {type(value).__name__}")
    address, port = value[0], value[1]
    mac = value[2] if len(value) == 3 else None
    if not isinstance(address, str):
        raise TypeError(f"{what} address must be a str, got {type(address).__name__}")
    ipv6_packed(address, what)
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"{what} port must be an int, got {type(port).__name__}")
    if not 0 <= port <= 0xFFFF:
        raise ValueError(f"{what} port {port} is outside 0..65535")
    return Endpoint(address, port, None if mac is None else parse_mac(mac, what))


def parse_mac(mac: Any, what: str = "endpoint") -> bytes:
    """A MAC as 6 bytes; also accepts 'aa:bb:cc:dd:ee:ff' text because that is how people write them."""
    if isinstance(mac, str):
        text = mac.replace(":", "").replace("-", "")
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"{what} MAC {mac!r} is not hexadecimal") from None
    elif isinstance(mac, (bytes, bytearray, memoryview)):
        raw = bytes(mac)
    else:
        raise TypeError(f"{what} MAC must be bytes or str, got {type(mac).__name__}")
    if len(raw) != 6:
        raise ValueError(f"{what} MAC must be 6 octets, got {len(raw)}")
    return raw


def ipv6_packed(address: str, what: str = "endpoint") -> bytes:
    """The 16 octets of an IPv6 address; ValueError names the culprit instead of ipaddress' generic text."""
    if not isinstance(address, str):
        raise TypeError(f"{what} address must be a str, got {type(address).__name__}")
    try:
        return ipaddress.IPv6Address(address).packed
    except ValueError:
        raise ValueError(f"{what} address {address!r} is not an IPv6 address") from None


def is_multicast(address: str) -> bool:
    """True for ff00::/8 (SDP requests go to ff02::1)."""
    return ipv6_packed(address)[0] == 0xFF


def is_link_local(address: str) -> bool:
    """True for fe80::/10 unicast."""
    raw = ipv6_packed(address)
    return raw[0] == 0xFE and raw[1] & 0xC0 == 0x80


def eui64_mac(address: str) -> bytes | None:
    """The MAC a link-local EUI-64 address was formed from (U/L bit flipped back), else None."""
    raw = ipv6_packed(address)
    if not is_link_local(address) or raw[11] != 0xFF or raw[12] != 0xFE:
        return None
    return bytes([raw[8] ^ 0x02, raw[9], raw[10], raw[13], raw[14], raw[15]])


def multicast_mac(address: str) -> bytes:
    """RFC 2464 mapping of an IPv6 multicast address to 33:33:xx:xx:xx:xx."""
    return b"\x33\x33" + ipv6_packed(address)[12:]


def endpoint_mac(ep: Endpoint, default: bytes) -> bytes:
    """MAC of a unicast endpoint: the given one, else derived from EUI-64, else the side's default."""
    if ep.mac is not None:
        return parse_mac(ep.mac)
    derived = eui64_mac(ep.address)
    return derived if derived is not None else default


def destination_mac(ep: Endpoint, default: bytes) -> bytes:
    """Like endpoint_mac, but multicast destinations map to 33:33 as on a real link."""
    if is_multicast(ep.address):
        return multicast_mac(ep.address)
    return endpoint_mac(ep, default)


def hop_limit(dst_address: str) -> int:
    """255 where the standards require link scope (SDP, link-local), 64 otherwise."""
    return 255 if is_multicast(dst_address) or is_link_local(dst_address) else 64


def internet_checksum(data: bytes) -> int:
    """RFC 1071 one's-complement sum, folded to 16 bits and complemented."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo_header(src_ip: bytes, dst_ip: bytes, length: int, next_header: int) -> bytes:
    """IPv6 pseudo-header (RFC 8200 section 8.1) that TCP and UDP checksums cover."""
    return src_ip + dst_ip + struct.pack("!I3xB", length, next_header)


def _check_bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes, got {type(value).__name__}")
    return bytes(value)


def _check_u32(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{what} {value} is outside 0..2**32-1")
    return value


def tcp_segment(src_ip: bytes, dst_ip: bytes, sport: int, dport: int, seq: int, ack: int, flags: int,
                payload: bytes = b"", options: bytes = b"", window: int = 65535) -> bytes:
    """A TCP segment with its checksum over the IPv6 pseudo-header."""
    payload = _check_bytes(payload, "payload")
    options = _check_bytes(options, "options")
    if len(options) % 4 or len(options) > 40:
        raise ValueError("TCP options must be padded to 32 bits and at most 40 octets")
    _check_u32(seq, "seq")
    _check_u32(ack, "ack")
    if len(payload) + _TCP_HEADER + len(options) > _MAX_IPV6_PAYLOAD:
        raise ValueError(f"TCP payload of {len(payload)} octets does not fit in one IPv6 packet")
    offset = (_TCP_HEADER + len(options)) // 4
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset << 4, flags & 0xFF, window, 0, 0)
    segment = header + options + payload
    checksum = internet_checksum(_pseudo_header(src_ip, dst_ip, len(segment), PROTO_TCP) + segment)
    return segment[:16] + struct.pack("!H", checksum) + segment[18:]


def udp_datagram(src_ip: bytes, dst_ip: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    """A UDP datagram with its (mandatory in IPv6) checksum; a computed 0 is sent as 0xFFFF."""
    payload = _check_bytes(payload, "payload")
    length = _UDP_HEADER + len(payload)
    if length > _MAX_IPV6_PAYLOAD:
        raise ValueError(f"UDP payload of {len(payload)} octets is too large (max {_MAX_IPV6_PAYLOAD - 8})")
    datagram = struct.pack("!HHHH", sport, dport, length, 0) + payload
    checksum = internet_checksum(_pseudo_header(src_ip, dst_ip, length, PROTO_UDP) + datagram) or 0xFFFF
    return datagram[:6] + struct.pack("!H", checksum) + datagram[8:]


def ipv6_packet(src_ip: bytes, dst_ip: bytes, next_header: int, payload: bytes, hops: int) -> bytes:
    """IPv6 header (traffic class 0, flow label 0) followed by the upper-layer payload."""
    if len(payload) > _MAX_IPV6_PAYLOAD:
        raise ValueError(f"IPv6 payload of {len(payload)} octets exceeds 65535")
    return struct.pack("!IHBB", 6 << 28, len(payload), next_header, hops) + src_ip + dst_ip + payload


def ethernet_frame(dst_mac: bytes, src_mac: bytes, ethertype: int, payload: bytes) -> bytes:
    """Ethernet II header + payload (no FCS, as captures usually omit it)."""
    return dst_mac + src_mac + struct.pack("!H", ethertype) + payload


def tcp_frame(src: Endpoint, dst: Endpoint, src_mac: bytes, dst_mac: bytes, seq: int, ack: int, flags: int,
              payload: bytes = b"", options: bytes = b"") -> bytes:
    """A whole Ethernet/IPv6/TCP frame between two endpoints."""
    src_ip, dst_ip = ipv6_packed(src.address, "source"), ipv6_packed(dst.address, "destination")
    segment = tcp_segment(src_ip, dst_ip, src.port, dst.port, seq, ack, flags, payload, options)
    packet = ipv6_packet(src_ip, dst_ip, PROTO_TCP, segment, hop_limit(dst.address))
    return ethernet_frame(dst_mac, src_mac, ETHERTYPE_IPV6, packet)


def udp_frame(src: Endpoint, dst: Endpoint, src_mac: bytes, dst_mac: bytes, payload: bytes) -> bytes:
    """A whole Ethernet/IPv6/UDP frame between two endpoints."""
    src_ip, dst_ip = ipv6_packed(src.address, "source"), ipv6_packed(dst.address, "destination")
    datagram = udp_datagram(src_ip, dst_ip, src.port, dst.port, payload)
    packet = ipv6_packet(src_ip, dst_ip, PROTO_UDP, datagram, hop_limit(dst.address))
    return ethernet_frame(dst_mac, src_mac, ETHERTYPE_IPV6, packet)


def mss_option(mss: int) -> bytes:
    """TCP MSS option (kind 2), already a whole 32-bit word."""
    return struct.pack("!BBH", 2, 4, mss)
