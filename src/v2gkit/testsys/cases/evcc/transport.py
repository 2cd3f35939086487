"""The transport under a response: V2GTP header faults, malformed EXI, TCP segmentation, a reset.

The response under test is ServiceDiscoveryRes (the session is set up, nothing is energised yet). What the car
must do with a bad header is v2gtp.HEADER_RULES (a receiver never answers a bad header): a wrong protocol
version or inverse, or a length beyond what it can take, means the stream cannot be trusted: the car closes
the TCP connection; an unknown payload type or an empty payload is dropped and the stream read on, so for the
car the response never came: it gives up after V2G_EVCC_Msg_Timeout. A payload that is not a valid EXI
document is no response either: the car closes at once or at its message timeout, and never goes on. TCP is a
byte stream: a response cut into segments, or sent together with another frame, is the same response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .... import timing
from ....v2gtp import HEADER_RULES, Action, Fault
from ... import mutate
from ...catalog import case
from ...script import Tester
from ._common import (
    TERMINATION,
    gives_up,
    requests_since,
    stage,
    stops,
    wait_for_request,
    withhold,
)

SD = stage("ServiceDiscovery")
PROTOCOLS = ("din", "iso2", "iso20")
PRE = "The car runs a session with the test system (the SECC) up to its ServiceDiscoveryReq."


def _add(case_id: str, body: Callable[[Tester], Any], preconditions: str = PRE, **kw: Any) -> None:
    def run(t: Tester) -> None:
        body(t)

    run.__qualname__ = run.__name__ = case_id
    case(case_id, from_standard=False, protocols=PROTOCOLS, preconditions=preconditions, **kw)(run)


def _payload(frame: bytes) -> bytes:
    return frame[8:]


def header_fault(build: Callable[[bytes], mutate.Mutation], fault: Fault) -> Callable[[Tester], None]:
    """Send ServiceDiscoveryRes with a header fault; the car does what HEADER_RULES say for it."""

    def body(t: Tester) -> None:
        res = SD.res(t)
        t.preamble(res)
        mark = len(t.received)
        since = t.received[-1].t
        t.send(res, transform=lambda f: build(_payload(f)).data)
        what = f"a {res} whose V2GTP header has {fault.value}"
        if HEADER_RULES[fault] is Action.CLOSE:
            stops(t, mark, what)
        else:  # discarded: as if no response came
            gives_up(t, since, SD.msg_timeout(t), f"{res} (it must drop {what})", mark)

    return body


def malformed(build: Callable[[bytes], bytes], what: str) -> Callable[[Tester], None]:
    def body(t: Tester) -> None:
        res = SD.res(t)
        t.preamble(res)
        mark = len(t.received)
        t.send(res, transform=lambda f: f[:4] + len(p := build(_payload(f))).to_bytes(4, "big") + p)
        stops(t, mark, f"a {res} whose payload is {what}", within=SD.msg_timeout(t) + TERMINATION)

    return body


def goes_on(shape: Callable[[bytes], list[bytes]], what: str) -> Callable[[Tester], None]:
    """The response arrives in another shape of TCP segments: the car takes it and sends its next request."""

    def body(t: Tester) -> None:
        res = SD.res(t)
        t.preamble(res)
        mark = len(t.received)
        t.send(res, transform=shape)
        nxt = wait_for_request(t, mark, SD.msg_timeout(t) + TERMINATION)
        t.check(
            nxt is not None,
            f"the car takes {res} {what} and goes on ({nxt.name})"
            if nxt is not None
            else f"the car did not go on after {res} {what}"
            + ("" if t.connected else " (it closed the connection)"),
        )

    return body


def slow_halves(t: Tester) -> None:
    """The header, and the payload half a second later (well within V2G_EVCC_Msg_Timeout)."""
    res = SD.res(t)
    t.preamble(res)
    mark = len(t.received)
    payload = t.encode(res, t.pending(res))  # the held default, as the machine built it
    pt = 0x8001 if not (t.protocol or "").startswith("iso20") else 0x8002
    frame = bytes((1, 0xFE)) + pt.to_bytes(2, "big") + len(payload).to_bytes(4, "big") + payload
    withhold(t, res)
    t.write(frame[:8], frame[8:], pause=0.5)
    nxt = wait_for_request(t, mark, SD.msg_timeout(t) + TERMINATION)
    t.check(
        nxt is not None,
        f"the car waits for the rest of the frame and goes on ({nxt.name})"
        if nxt is not None
        else "the car did not go on after the payload came 0.5 s after the header",
    )


def reset_in_loop(t: Tester) -> None:
    """A TCP reset while charging (DC: the first CurrentDemandRes, -20: DC_ChargeLoopRes is never sent)."""
    s = stage("CurrentDemand", "DC")
    res = s.res(t)
    t.preamble(res)
    mark = len(t.received)
    withhold(t, res)
    t.close(reset=True)
    t.check(t.closed_by == "tester", "the test system reset the connection in the charge loop")
    t.wait(s.msg_timeout(t) + TERMINATION)
    t.check(not requests_since(t, mark), "nothing arrives on the dead connection")
    t.log(
        "the car's own reaction (it must end the session and open its contactors, not hang) is in its log; "
        "in-process the run records how v2gkit's EVCC ended"
    )


for _n, _build, _fault in (
    ("001", mutate.header_version, Fault.VERSION),
    ("002", mutate.header_inverse, Fault.VERSION),
    ("003", mutate.header_payload_type, Fault.PAYLOAD_TYPE),
    ("004", lambda p: mutate.header_length_zero(p, with_payload=False), Fault.LENGTH_ZERO),
    ("005", mutate.header_length_huge, Fault.LENGTH_TOO_LARGE),
):
    _what = {
        "001": "protocol version 0xFF",
        "002": "inverse protocol version 0xFF",
        "003": f"payload type 0x{mutate.UNKNOWN_TCP_PAYLOAD_TYPE:04X}",
        "004": "payload length 0 (no payload)",
        "005": "payload length 0xFFFFFFFF",
    }[_n]
    _close = HEADER_RULES[_fault] is Action.CLOSE
    _add(
        f"TC_EVCC_CMN_VKT_V2GTP_{_n}",
        header_fault(_build, _fault),
        quick=_n == "001",
        purpose=f"Verify that the car handles a ServiceDiscoveryRes whose V2GTP header has {_what} as "
        + (
            "a stream it cannot trust: it sends no further request and closes the TCP connection within "
            "par_CMN_TCP_Connection_Termination_Timeout."
            if _close
            else "a message to drop: it does not answer or go on, waits V2G_EVCC_Msg_Timeout "
            "for the response (not less) and then closes the TCP connection."
        ),
        steps=(
            f"Answer the car's ServiceDiscoveryReq with ServiceDiscoveryRes under a header with {_what}.",
            "Check that no request follows and when the car closes the TCP connection.",
        ),
    )

for _n, _fn, _what in (
    ("001", lambda p: mutate.exi_truncated(p, max(1, len(p) // 2)).data, "cut in half"),
    ("002", lambda p: mutate.exi_bad_header(p).data, "an EXI stream with another EXI header"),
    (
        "003",
        lambda p: mutate.exi_random(len(p), seed=11, header=True).data,
        "random octets after V2G's EXI header",
    ),
):
    _add(
        f"TC_EVCC_CMN_VKT_EXI_{_n}",
        malformed(_fn, _what),
        purpose=f"Verify that the car does not take a ServiceDiscoveryRes whose EXI payload is {_what} for "
        "an "
        f"answer: it sends no further request and closes the TCP connection (at once, or after "
        f"V2G_EVCC_Msg_Timeout).",
        steps=(
            f"Answer the car's ServiceDiscoveryReq with a well-framed payload that is {_what}.",
            "Check that no request follows and that the car closes the TCP connection within "
            "V2G_EVCC_Msg_Timeout + par_CMN_TCP_Connection_Termination_Timeout.",
        ),
    )

_add(
    "TC_EVCC_CMN_VKT_TCP_001",
    goes_on(lambda f: mutate.split(f, [3, 10]), "in three TCP segments"),
    quick=True,
    purpose="Verify that the car reassembles a ServiceDiscoveryRes that arrives in three TCP segments (cut "
    "inside "
    "the V2GTP header and inside the payload) and goes on with its next request.",
    steps=(
        "Send ServiceDiscoveryRes in segments of 3, 7 and the remaining octets.",
        "Check the next request.",
    ),
)
_add(
    "TC_EVCC_CMN_VKT_TCP_002",
    goes_on(lambda f: mutate.split_every(f, 1), "one octet per TCP segment"),
    purpose="Verify that the car reassembles a ServiceDiscoveryRes that arrives one octet per TCP segment "
    "and goes "
    "on with its next request.",
    steps=("Send ServiceDiscoveryRes one octet per segment.", "Check the next request."),
)
_add(
    "TC_EVCC_CMN_VKT_TCP_003",
    goes_on(
        lambda f: mutate.merge([f, mutate.header_payload_type(b"\x80\x00").data]),
        "followed in the same TCP segment by a frame of an unknown payload type",
    ),
    purpose="Verify that the car takes a ServiceDiscoveryRes that shares its TCP segment with a following "
    "V2GTP "
    "frame of an unknown payload type (which v2gtp.HEADER_RULES drop) and goes on with its next request.",
    steps=(
        "Send ServiceDiscoveryRes and a frame with payload type 0x"
        f"{mutate.UNKNOWN_TCP_PAYLOAD_TYPE:04X} in one segment.",
        "Check the next request.",
    ),
)
_add(
    "TC_EVCC_CMN_VKT_TCP_004",
    slow_halves,
    purpose="Verify that the car waits for the rest of a frame: ServiceDiscoveryRes's V2GTP header and its "
    "payload "
    "arrive 0.5 s apart (within V2G_EVCC_Msg_Timeout); the car takes the response and goes on.",
    steps=("Send the 8 header octets, then the payload 0.5 s later.", "Check the next request."),
)
_add(
    "TC_EVCC_DC_VKT_TCP_005",
    reset_in_loop,
    preconditions="The car charges (DC) with the test system (the SECC).",
    purpose="Verify that a TCP reset in the charge loop does not leave the car hanging on the connection: "
    "the test "
    "system resets the connection instead of answering the first CurrentDemandReq (-20: DC_ChargeLoopReq) "
    "and checks that nothing more arrives on it. The car's own reaction (end the session, open its "
    "contactors) is not visible on the dead connection: in-process, v2gkit's EVCC's end is in the "
    "run's record.",
    steps=(
        "Play the session to the first CurrentDemandReq.",
        "Reset the TCP connection instead of answering.",
        f"Wait V2G_EVCC_Msg_Timeout + {timing.TCP_TERMINATION_TIMEOUT:g} s.",
    ),
)
