"""Network interfaces: the link-local address and index an SECC announces and an EVCC sends on."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

__all__ = ["InterfaceError", "if_index", "interfaces", "link_local_address"]

_IF_INET6 = Path("/proc/net/if_inet6")


class InterfaceError(OSError):
    """The interface is missing or has no usable IPv6 link-local address."""


def interfaces() -> list[str]:
    return [name for _, name in socket.if_nameindex()]


def if_index(name: str) -> int:
    try:
        return socket.if_nametoindex(name)
    except OSError:
        raise InterfaceError(f"no network interface {name!r}; available: {', '.join(interfaces())}") from None


def link_local_address(name: str) -> ipaddress.IPv6Address:
    """The interface's fe80::/10 address (ISO 15118 runs on link-local addresses only).

    Read from /proc/net/if_inet6 (Linux); tentative addresses (duplicate address detection still
    running, flag 0x40) are skipped because a socket cannot bind to them yet.
    """
    if_index(name)
    try:
        lines = _IF_INET6.read_text().splitlines()
    except OSError as e:
        raise InterfaceError(f"cannot read {_IF_INET6}: {e}") from None
    for line in lines:
        parts = line.split()
        if len(parts) < 6 or parts[5] != name:
            continue
        addr = ipaddress.IPv6Address(bytes.fromhex(parts[0]))
        flags = int(parts[4], 16)
        if addr.is_link_local and not flags & 0x40:
            return addr
    raise InterfaceError(f"interface {name!r} has no ready IPv6 link-local address (is it up? "
                         f"`ip -6 addr show dev {name}`)")
