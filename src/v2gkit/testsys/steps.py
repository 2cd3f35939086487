"""Steps that conformance cases share, in the words of the ISO 15118-4 test purposes.

A case reads like its purpose: "Test System executes GoodCase procedure and sends X instead of Y; then checks
that the SUT sends a Y response with ResponseCode FAILED_SequenceError and terminates the V2G communication
session by closing the TCP connection within par_CMN_TCP_Connection_Termination_Timeout"::

    t.preamble("ServiceDiscoveryReq")        # GoodCase up to the message under test (inconc if not reached)
    t.send("SessionSetupReq")               # instead of the ServiceDiscoveryReq the tester would send
    res = steps.response(t, "SessionSetupRes", "FAILED_SequenceError")
    steps.closes(t)
"""

from __future__ import annotations

from typing import Any

from .. import timing
from .emulator import Incoming
from .script import Tester

__all__ = ["SESSION_STOP", "closes", "code_of", "response", "same_session", "silent", "stays_open"]

#: par_CMN_TCP_Connection_Termination_Timeout (ISO 15118-4): a closing SUT has this long (timing.py)
TERMINATION = timing.TCP_TERMINATION_TIMEOUT

SESSION_STOP = "SessionStopReq"


def code_of(msg: Incoming | Any) -> str:
    """A message's ResponseCode as the XSD literal ("" when it has none)."""
    body = msg.body if isinstance(msg, Incoming) else msg
    code = getattr(body, "response_code", None)
    return "" if code is None else getattr(code, "name", str(code))


def response(t: Tester, name: str, *codes: str, timeout: float | None = None, session: bool = True) -> Incoming:
    """Wait for ``name`` (fail if it does not come), check its ResponseCode is one of ``codes`` (any, if none
    given) and, with ``session``, that it carries the current SessionID."""
    got = t.expect(name, timeout)
    if codes:
        t.check(code_of(got) in codes, f"{name} ResponseCode is {' or '.join(codes)} (got {code_of(got) or 'none'})")
    if session and name != "SessionSetupRes" and not name.startswith("SupportedAppProtocol"):
        same_session(t, got)
    return got


def same_session(t: Tester, got: Incoming) -> bool:
    """The message carries the SessionID the SUT gave in SessionSetupRes."""
    setup = t.received_last("SessionSetupRes")
    want = setup.session_id if setup is not None else t.session_id
    return t.check(got.session_id == want, f"{got.name} carries the current SessionID "
                                           f"({got.session_id.hex().upper()} vs {want.hex().upper()})")


def closes(t: Tester, within: float = TERMINATION) -> bool:
    """The SUT terminates the V2G communication session by closing the TCP connection within ``within``."""
    ok = t.expect_close(within)
    return t.check(ok and t.closed_by == "peer",
                   f"the SUT closes the TCP connection within {within:g} s" if ok else
                   f"the SUT did not close the TCP connection within {within:g} s")


def stays_open(t: Tester, seconds: float) -> bool:
    """The SUT keeps the connection open for ``seconds`` (it must not give up early)."""
    ok = not t.expect_close(seconds)
    return t.check(ok, f"the connection stays open for {seconds:g} s")


def silent(t: Tester, name: str, seconds: float) -> bool:
    """No ``name`` within ``seconds`` (the SUT ignores what it got; the tester detects V2G_Msg_Timeout)."""
    got = t.receive(name, timeout=seconds)
    return t.check(got is None, f"no {name} within {seconds:g} s" if got is None else f"the SUT answered with {name}")
