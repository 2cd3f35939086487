"""What the protocol cores of every family share: the rules table and where a session stands in it, the
checks both roles make against it, the SessionID, the test system's hooks and the one exit for outgoing
messages. A family's core (``din2/core.py``, ``iso20/core.py``) adds its codec and how a request/response pair
maps to a key of its table (``key``); it never knows its role.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .events import Message, Output
from .hooks import NO_HOOKS, Exit, Hooks

__all__ = ["CoreBase"]


class CoreBase:
    """``rules``: the family's table (after a response to <key>, the requests allowed next); the test
    system's ``hooks.rules`` replace it. ``session_id``: what a new session's first request carries."""

    #: keys after which a renegotiation is under way, and the keys that end it (set by the family)
    RENEGOTIATE: frozenset[str] = frozenset()
    RENEGOTIATED: frozenset[str] = frozenset()

    def __init__(self, rules: Mapping[str, frozenset[str]], hooks: Hooks | None, session_id: bytes) -> None:
        self.hooks = hooks or NO_HOOKS
        self.strict = self.hooks.strict
        self.rules: Mapping[str, frozenset[str]] = self.hooks.rules or rules
        self.exit = Exit(self.hooks)
        self.session_id = session_id
        #: the key of the last completed exchange, and the requests allowed after it
        self.state = "Start"
        self.expected = self.rules["Start"]
        self.renegotiating = False

    # -- in ----------------------------------------------------------------------------------
    def incoming(self, now: float, message: Message) -> Message | None:
        """The test system's incoming hook, before anything is decoded or checked."""
        hook = self.hooks.incoming
        return message if hook is None else hook(now, message)

    def request_problem(self, name: str, session_id: bytes) -> str | None:
        """The response code an SECC must answer a request with that breaks the rules (a remote fault), or
        None. Both families: another SessionID after SessionSetup, or a request the table does not allow."""
        if not self.strict:
            return None
        if name != "SessionSetup" and session_id != self.session_id:
            return "FAILED_UnknownSession"
        if name not in self.expected:
            return "FAILED_SequenceError"
        return None

    def allowed(self, name: str) -> bool:
        """May request ``name`` be sent now? The EVCC checks its own plan (a local fault when not); a test
        system (``strict=False``) may break the rules on purpose."""
        return not self.strict or name in self.expected

    # -- the exchange -----------------------------------------------------------------------
    def key(self, name: str, req: Any, res: Any) -> str:
        """The table's key for a request/response pair (the same on both sides): the family's."""
        raise NotImplementedError

    def done(self, name: str, req: Any, res: Any) -> str:
        """A request was answered and the session goes on: move to the next state. Returns its key."""
        key = self.key(name, req, res)
        if key in self.RENEGOTIATE:
            self.renegotiating = True
        elif key in self.RENEGOTIATED:
            self.renegotiating = False
        self.state = key
        self.expected = self.rules.get(key, frozenset())
        return key

    # -- out ---------------------------------------------------------------------------------
    #: (element name, body) -> (payload type, payload): the family's encoder
    _encode: Callable[[str, Any], tuple[int, bytes]]

    def send(self, now: float, element: str, body: Any) -> list[Output]:
        """The one exit: ``element`` ("CurrentDemandRes") with ``body``, through the outgoing hook, under
        its payload type. Encoder errors propagate (the caller's own message: a local fault)."""
        return self.exit.send(now, element, body, self._encode)

    def timer(self, now: float, name: str) -> list[Output] | None:
        """A hook's delay timer (its held messages), or None when ``name`` is the role's own timer."""
        return self.exit.timer(now, name)

    def closing(self) -> list[Output]:
        """The timers to cancel when the machine closes."""
        return self.exit.cancel()
