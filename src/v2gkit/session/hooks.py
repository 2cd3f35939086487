"""Hooks: how a test system bends a protocol machine without a second implementation of the protocol.

Every machine (handshake, DIN/ISO-2 and ISO 15118-20 sessions, both roles) takes a :class:`Hooks`:

- ``outgoing(msg)`` sees each message on its way out, decoded, before it is encoded: it may change any field
  of ``msg.body``, ``drop()`` it, replace it with raw bytes (``raw``), ``delay`` it or ``add`` more messages
  after it. The machine's own state moves on as if the message had gone out as built (the test system lies,
  the machine does not know).
- ``incoming(now, message)`` sees each V2GTP message before decoding and validation: return it, another
  message, or None to act as if it never arrived.
- ``strict=False`` skips the sequence and SessionID checks (an SECC that answers anything; an EVCC that may
  send requests out of order and accepts answers with another SessionID).
- ``rules`` replaces the family's table of allowed next requests (both roles check it).
- ``random_bytes`` is where SessionIDs and challenges come from, ``wall_clock(now)`` the seconds since 1970
  that ISO 15118-20 headers carry (TimeStamp): fix both for reproducible runs.

:class:`Exit` is the one exit for outgoing messages that every machine uses; it applies the hook.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .events import Event, Message, Output, Send, Timer

__all__ = ["Exit", "Hooks", "Outgoing"]

_HOOK_TIMER = "hook:"


class Outgoing:
    """A message on its way out, handed to ``Hooks.outgoing``. Change ``body`` in place, or call the
    methods to drop, replace, delay or add."""

    __slots__ = ("_added", "_delay", "_dropped", "_raw", "body", "name", "now", "payload_type")

    def __init__(self, now: float, name: str, body: Any, payload_type: int) -> None:
        self.now, self.name, self.body, self.payload_type = now, name, body, payload_type
        self._dropped = False
        self._raw: bytes | None = None
        self._delay = 0.0
        self._added: list[tuple[str, Any, int | None]] = []

    def drop(self) -> None:
        """Do not send this message (the peer never sees it)."""
        self._dropped = True

    def raw(self, data: bytes, payload_type: int | None = None) -> None:
        """Send ``data`` as the payload instead of the encoded body."""
        self._raw = bytes(data)
        if payload_type is not None:
            self.payload_type = payload_type

    def delay(self, seconds: float) -> None:
        """Send it ``seconds`` later (and whatever ``add`` put after it)."""
        if not seconds >= 0:
            raise ValueError(f"delay must be >= 0 s, not {seconds!r}")
        self._delay = seconds

    def add(self, name_or_raw: str | bytes, body: Any = None, payload_type: int | None = None) -> None:
        """Send another message right after this one: raw bytes, or a message ``name`` ("SessionStopReq")
        with ``body``, encoded like this one (same SessionID)."""
        self._added.append((name_or_raw if isinstance(name_or_raw, str) else "", name_or_raw if isinstance(
            name_or_raw, bytes) else body, payload_type))


@dataclass
class Hooks:
    outgoing: Callable[[Outgoing], None] | None = None
    incoming: Callable[[float, Message], Message | None] | None = None
    strict: bool = True
    rules: Mapping[str, frozenset[str]] | None = None
    random_bytes: Callable[[int], bytes] = field(default=os.urandom)
    wall_clock: Callable[[float], int] = field(default=lambda now: int(time.time()))


#: no hooks at all: what every machine uses unless told otherwise (shared; never mutated)
NO_HOOKS = Hooks()

#: encodes a message body: (name, body) -> payload bytes (and its payload type)
Encoder = Callable[[str, Any], "tuple[int, bytes]"]


class Exit:
    """The one exit of a machine's messages. Without an outgoing hook it is one call and one Send; with
    one it applies the hook's decisions, holding delayed messages until their timer fires."""

    __slots__ = ("_held", "_ids", "hooks")

    def __init__(self, hooks: Hooks) -> None:
        self.hooks = hooks
        self._held: dict[str, list[Send]] = {}
        self._ids = itertools.count(1)

    def send(self, now: float, name: str, body: Any, encode: Encoder) -> list[Output]:
        """The outputs that put message ``name`` on the wire. ``encode`` exceptions propagate: the caller
        knows whether its own message failed to build (a local fault)."""
        hook = self.hooks.outgoing
        if hook is None:
            pt, payload = encode(name, body)
            return [Send(payload, name, body, pt)]
        msg = Outgoing(now, name, body, 0)
        pt, _ = encode(name, body)  # the payload type of this kind of message (and: the original builds)
        msg.payload_type = pt
        hook(msg)
        sends: list[Send] = []
        if not msg._dropped:
            if msg._raw is not None:
                sends.append(Send(msg._raw, name, None, msg.payload_type))
            else:
                ept, payload = encode(name, msg.body)
                sends.append(Send(payload, name, msg.body, msg.payload_type if msg.payload_type != pt else ept))
        for extra_name, extra, extra_pt in msg._added:
            if extra_name:
                ept, payload = encode(extra_name, extra)
                sends.append(Send(payload, extra_name, extra, extra_pt or ept))
            else:
                sends.append(Send(extra, "raw", None, extra_pt or pt))
        out: list[Output] = [Event("hook", {"name": name, "dropped": msg._dropped, "raw": msg._raw is not None,
                                            "delay": msg._delay, "added": len(msg._added)})]
        if msg._delay > 0 and sends:
            key = f"{_HOOK_TIMER}{next(self._ids)}"
            self._held[key] = sends
            return out + [Timer(key, msg._delay)]
        return out + sends

    def timer(self, now: float, name: str) -> list[Output] | None:
        """The held messages of a delay timer; None if ``name`` is not one of this exit's timers."""
        if not name.startswith(_HOOK_TIMER):
            return None
        return list(self._held.pop(name, ()))

    def cancel(self) -> list[Output]:
        """Timers to cancel when the machine closes (held messages are dropped with it)."""
        out: list[Output] = [Timer(k, None) for k in self._held]
        self._held.clear()
        return out
