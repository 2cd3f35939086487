"""What the TC_SECC_* cases share (the test system plays the EVCC against a charger).

A helper module (its name starts with ``_``: the catalog does not load it as a case file). The steps are those
of the ISO 15118-4 test purposes, written once for DIN SPEC 70121, ISO 15118-2 and ISO 15118-20:

* :func:`good`: GoodCase up to the request under test, send it, check the answer's ResponseCode, SessionID and
  that it is schema-valid (every mandatory parameter there, every value within its facets);
* :func:`sequence_error`: a valid request of another name instead -> that request's response with
  FAILED_SequenceError, then the SUT closes within par_CMN_TCP_Connection_Termination_Timeout;
* :func:`unknown_session`: the request with a SessionID that is not the session's -> FAILED_UnknownSession and
  the close;
* :func:`sequence_timeout`: the tester stays silent after the preceding response -> the SUT closes once its
  V2G_SECC_Sequence_Timeout has run out.

Message names are those of ISO 15118-2 (``"PaymentServiceSelection"``, ``"Authorization"``) and of ISO
15118-20; :func:`msg` turns them into the negotiated family's (DIN: ``ServicePaymentSelection``,
``ContractAuthentication``).

Vocabulary of ``needs`` (what the SUT must offer for a case to apply; ISO 15118-4 PICS/PIXIT in short):
``live`` (only a real link shows it), ``tls`` (the SECC offers TLS), ``notls`` (the SECC offers no TLS),
``pnc`` (Plug & Charge identification), ``receipt`` (the SECC asks for metering receipts: ReceiptRequired
true), ``meterinfo`` (the SECC sends MeterInfo), ``pause`` (the SECC supports paused sessions), ``cp`` (the
test system controls the control pilot: BCB toggles, oscillator state). The catalog accepts the names in
``catalog.NEEDS``; :func:`secc_case` passes those on and keeps every intended one in :data:`INTENDED_NEEDS`
(a case whose need the SUT does not meet still says so itself: inconclusive, "not applicable: ...").
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from .... import sdp, timing
from ....exi import api as exi
from ....v2gtp import HEADER_SIZE
from ... import steps
from ...emulator import Incoming, script_name
from ...script import Tester

__all__ = [
    "ALL",
    "DIN_ISO2",
    "SEQUENCE",
    "TERMINATION",
    "body_field",
    "closes",
    "code",
    "family",
    "good",
    "msg",
    "no_answer",
    "schema_valid",
    "sdp_exchange",
    "sequence_error",
    "sequence_timeout",
    "unknown_session",
    "withhold",
    "wrong_session_id",
]

DIN_ISO2 = ("din", "iso2")
ALL = ("din", "iso2", "iso20")
#: par_CMN_TCP_Connection_Termination_Timeout
TERMINATION = steps.TERMINATION
#: V2G_SECC_Sequence_Timeout (DIN, ISO-2 and every -20 message outside the charge loops)
SEQUENCE = timing.SECC_SEQUENCE_TIMEOUT
#: the -20 charge loops: V2G_SECC_Sequence_Timeout after a ChargeLoopRes
LOOP_SEQUENCE = timing.ISO20_SECC_SEQUENCE_TIMEOUT_CHARGE_LOOP
#: how long GoodCase may take to reach the request under test. The tester's own machine guards every exchange
#: with its message timeouts (a SUT that goes quiet ends the preamble at once), so this only bounds a SUT that
#: keeps answering: a live charging loop runs in real time and can outlast the engine's default (60 s).
PREAMBLE_TIMEOUT = 600.0
#: V2G_EVCC_Msg_Timeout of a request the SUT must ignore (how long the tester waits for the answer that
#: must not come)
MSG_TIMEOUT = timing.EVCC_MSG_TIMEOUT_DEFAULT


# -------------------------------------------------------------------------------------------- declaring
#: case ID -> every need the case names (the catalog keeps those it knows, ``catalog.NEEDS``)
INTENDED_NEEDS: dict[str, tuple[str, ...]] = {}


def secc_case(case_id: str, *, needs: Iterable[str] = (), **kw: Any) -> Callable[[Callable[[Any], Any]], Any]:
    """``catalog.case`` for this folder: ``needs`` may name the whole vocabulary above; the catalog gets the
    ones it knows today."""
    from ... import catalog

    wanted = tuple(needs)
    INTENDED_NEEDS[case_id] = wanted
    return catalog.case(case_id, needs=tuple(n for n in wanted if n in catalog.NEEDS), **kw)


def reach(t: Tester, request: str) -> None:
    """GoodCase up to ``request`` (the ISO 15118-4 preamble; inconclusive when the SUT never leads there)."""
    t.preamble(request, timeout=PREAMBLE_TIMEOUT)


# ------------------------------------------------------------------------------------------------- names
def family(t: Tester) -> str:
    """"din", "iso2" or "iso20" (the -20 namespaces all count as iso20)."""
    p = t.protocol or "iso2"
    return "iso20" if p.startswith("iso20") else p


#: ISO 15118-2 names (and a few of the cases' own topics) -> their ISO 15118-20 counterparts; {K} is AC or DC
ISO20_NAMES = {
    "CableCheck": "DC_CableCheck", "PreCharge": "DC_PreCharge", "WeldingDetection": "DC_WeldingDetection",
    "MeteringReceipt": "MeteringConfirmation", "ChargeParameterDiscovery": "{K}_ChargeParameterDiscovery",
    "ChargeLoop": "{K}_ChargeLoop", "CurrentDemand": "DC_ChargeLoop", "ChargingStatus": "AC_ChargeLoop",
}


def kind(t: Tester) -> str:
    """"AC" or "DC": the -20 namespace says; in DIN/ISO-2 the tester's own session configuration does (the
    case's kind picked it). Called before the handshake, it first plays GoodCase up to SessionSetupReq."""
    p = t.protocol or ""
    if p.startswith("iso20"):
        return "AC" if p == "iso20-ac" else "DC"
    if t._emu.session is None:  # before the handshake the tester's session (its configuration) does not exist
        reach(t, "SessionSetupReq")
    return "DC" if getattr(getattr(t._emu.session, "cfg", None), "dc", True) else "AC"


def msg(t: Tester, name: str) -> str:
    """A message's name (without Req/Res) in the negotiated family: DIN renames two of ISO-2's; ISO 15118-20
    names the AC/DC ones apart (:data:`ISO20_NAMES`)."""
    fam = family(t)
    if fam == "iso20":
        return ISO20_NAMES.get(name, name).replace("{K}", kind(t))
    return script_name(name + "Req", fam)[:-3]


def value(x: Any) -> float:
    """A physical value as a float: ISO-2/DIN PhysicalValue (Value, Multiplier), -20 RationalNumber (Value,
    Exponent), or a bare number (DIN's PMax)."""
    if x is None:
        return 0.0
    if isinstance(x, (int, float)):
        return float(x)
    scale = getattr(x, "multiplier", None)
    if scale is None:
        scale = getattr(x, "exponent", 0) or 0
    return float(x.value) * 10.0 ** int(scale)


def code(got: Incoming | None) -> str:
    return steps.code_of(got) if got is not None else ""


def body_field(got: Incoming, *path: str) -> Any:
    """A field of a received message by attribute path (None when any step is absent); enums as their XSD
    literal."""
    obj: Any = got.body
    for p in path:
        obj = getattr(obj, p, None)
        if obj is None:
            return None
    return obj.name if isinstance(obj, enum.Enum) else obj


def wrong_session_id(sid: bytes) -> bytes:
    """A SessionID of the same length that is not ``sid`` (every bit flipped; 8 octets if ``sid`` is
    empty)."""
    sid = sid or bytes(8)
    return bytes(b ^ 0xFF for b in sid)


# ------------------------------------------------------------------------------------------------ checks
def schema_valid(t: Tester, got: Incoming) -> bool:
    """The message decodes strictly: every mandatory parameter present, every value within its facets
    ("all additional mandatory parameters" of the test purposes)."""
    payload = got.frame[HEADER_SIZE:]
    try:
        if got.name.startswith("SupportedAppProtocol"):
            exi.decode_element(payload, "apphand", strict=True)
        elif family(t) == "iso20":
            from ....session.iso20 import messages as m20
            m20.decode(got.payload_type, payload, strict=True)
        else:
            exi.decode(payload, family(t), strict=True)
    except Exception as e:  # noqa: BLE001 - any refusal of the strict decoder is the finding
        return t.check(False, f"{got.name} is schema-valid ({type(e).__name__}: {e})")
    return t.check(True, f"{got.name} is schema-valid (strict decoding)")


def closes(t: Tester, within: float = TERMINATION) -> bool:
    """The SUT terminates the V2G communication session by closing the TCP connection within ``within``."""
    return steps.closes(t, within)


def mark(t: Tester) -> int:
    """Where the received messages stand now: :func:`response` with ``after=mark(t)`` takes only what comes
    later (a Receive would otherwise return a message of that name that arrived before the request was
    sent)."""
    return len(t.received)


def expect(t: Tester, name: str, after: int = 0, timeout: float | None = None) -> Incoming:
    """The first ``name`` received after position ``after`` (fail if none comes)."""
    while True:
        got = t.expect(name, timeout)
        if any(got is m for m in t.received[after:]):
            return got
        t.log(f"({name} from before the request skipped)")


def response(t: Tester, name: str, *codes: str, session: bool = True, after: int = 0) -> Incoming:
    """``name``Res received after ``after`` (fail if it does not come) with one of ``codes``, the current
    SessionID (``session``) and schema-valid."""
    got = expect(t, name + "Res", after)
    if codes:
        t.check(code(got) in codes, f"{got.name} ResponseCode is {' or '.join(codes)} (got "
                                    f"{code(got) or 'none'})")
    if session and name != "SessionSetup":
        steps.same_session(t, got)
    schema_valid(t, got)
    return got


# ------------------------------------------------------------------------------------------------- steps
def withhold(t: Tester, request: str) -> None:
    """The tester's machine is about to send ``request``: let it believe it did, and put nothing on the wire
    (the tester stays silent from here on)."""
    t.send(request, transform=lambda frame: [])
    t.log(f"{request} withheld: nothing sent")


def good(t: Tester, name: str, *codes: str, edit: Callable[[Any], None] | None = None,
         preamble: str | None = None) -> Incoming:
    """GoodCase up to ``name``Req (or up to ``preamble``Req, and ``name``Req goes instead of it), send it
    (with ``edit``), then the answer: ``codes`` (default OK), the current SessionID, schema-valid."""
    n = msg(t, name)
    reach(t, msg(t, preamble or name) + "Req")
    at = mark(t)
    t.send(n + "Req", edit)
    return response(t, n, *(codes or ("OK",)), after=at)


def sequence_error(t: Tester, name: str, instead: str = "ServiceDiscovery", *,
                   preamble: str | None = None) -> None:
    """GoodCase up to ``name``Req; a valid ``instead``Req goes in its place. The SUT answers ``instead``Res
    with FAILED_SequenceError and the current SessionID, and closes within
    par_CMN_TCP_Connection_Termination_Timeout."""
    n, other = msg(t, name), msg(t, instead)
    reach(t, msg(t, preamble or name) + "Req")
    t.log(f"{other}Req instead of {n}Req")
    at = mark(t)
    t.send(other + "Req")
    response(t, other, "FAILED_SequenceError", after=at)
    closes(t)


def unknown_session(t: Tester, name: str, *, preamble: str | None = None) -> None:
    """GoodCase up to ``name``Req, sent with a SessionID that is not the session's. The SUT answers
    FAILED_UnknownSession (with the current SessionID or the one it got) and closes within
    par_CMN_TCP_Connection_Termination_Timeout."""
    n = msg(t, name)
    reach(t, msg(t, preamble or name) + "Req")
    current = t.session_id
    bad = wrong_session_id(current)
    t.set(n + "Req", lambda h: setattr(h, "session_id", bad), header=True)
    t.log(f"{n}Req with SessionID {bad.hex().upper()} (the session's is {current.hex().upper()})")
    at = mark(t)
    t.send(n + "Req")
    got = response(t, n, "FAILED_UnknownSession", session=False, after=at)
    t.check(got.session_id in (current, bad), f"{n}Res carries a valid SessionID (the session's or the one "
                                              f"received; got {got.session_id.hex().upper()})")
    closes(t)


def sequence_timeout(t: Tester, name: str, *, preamble: str | None = None, timeout: float | None = None,
                     early: bool = True) -> None:
    """GoodCase up to ``name``Req, which the tester then never sends. The SUT closes the connection once its
    V2G_SECC_Sequence_Timeout (``timeout``; default by family and the response before) has run out, within
    par_CMN_TCP_Connection_Termination_Timeout; with ``early`` it must not give up before the timeout
    (less a second for the time the answer took to arrive)."""
    n = msg(t, name)
    reach(t, msg(t, preamble or name) + "Req")
    before = t.received[-1].name if t.received else "SupportedAppProtocolRes"
    if timeout is None:
        timeout = LOOP_SEQUENCE if family(t) == "iso20" and before.endswith("ChargeLoopRes") else SEQUENCE
    t.log(f"silent after {before}: V2G_SECC_Sequence_Timeout is {timeout:g} s")
    withhold(t, n + "Req")
    margin = min(1.0, timeout / 5)
    if early and not steps.stays_open(t, timeout - margin):
        return
    closes(t, margin + TERMINATION if early else timeout + TERMINATION)


# --------------------------------------------------------------------------------------------------- SDP
def sdp_exchange(t: Tester, datagram: bytes, attempts: int = timing.SDP_MAX_REQUESTS) -> bytes | None:
    """Send the SDP request up to ``attempts`` times, V2G_EVCC_SDP_Timeout apart, until one is answered (the
    EVCC's SDP procedure); the answer datagram or None."""
    for _ in range(max(1, attempts)):
        answer = t.sdp(datagram)
        if answer is not None:
            return answer
    return None


def check_sdp_response(t: Tester, answer: bytes, security: sdp.Security) -> sdp.SDPResponse | None:
    """An SDP response with ``security``, TransportProtocol TCP, a port and an IP address an EVCC can connect
    to. A response with another security is the SUT not supporting the requested one: inconclusive (as the
    ISO 15118-4 test behaviour does)."""
    try:
        res = sdp.parse_response(answer)
    except sdp.SDPError as e:
        t.fail(f"the SDP response does not parse: {e}")
        raise AssertionError from e  # not reached: fail() stops the script
    t.check(res.transport is sdp.Transport.TCP, f"TransportProtocol is TCP (0x00), got 0x{res.transport:02X}")
    if res.security is not security:
        t.inconc(f"the SUT answered Security 0x{res.security:02X} to a request for 0x{security:02X}: it does "
                 "not support the requested transmission security")
    t.check(True, f"Security is 0x{security:02X} ({security.name})")
    t.check(0 < res.port <= 0xFFFF, f"the SECC port {res.port} is a valid port")
    if res.port not in sdp.DYNAMIC_PORTS:  # the ISO 15118-4 test behaviour logs this, it does not fail
        t.log(f"warning: SECC port {res.port} is outside the dynamic range 49152..65535")
    addr = res.address
    t.check(isinstance(addr, ipaddress.IPv6Address) and not (addr.is_multicast or addr.is_unspecified),
            f"the SECC address {addr} is a unicast IPv6 address")
    if not addr.is_link_local:
        t.log(f"note: SECC address {addr} is not link-local")
    return res


def no_answer(t: Tester, datagram: bytes, what: str) -> None:
    """The SUT ignores the SDP request: the tester sees its SDP message timeout."""
    answer = t.sdp(datagram)
    t.check(answer is None, f"no SDP response to {what} within V2G_EVCC_SDP_Timeout ({timing.SDP_TIMEOUT:g} "
                            "s)"
            if answer is None else f"the SUT answered {what}: {answer.hex()}")


def has_all(values: Iterable[str], wanted: Iterable[str]) -> bool:
    v = set(values)
    return all(w in v for w in wanted)


__all__ += ["ISO20_NAMES", "LOOP_SEQUENCE", "MSG_TIMEOUT", "check_sdp_response", "expect", "has_all", "kind",
            "mark",
            "response", "value"]


# ----------------------------------------------------------------------------- the three generic VKT cases
#: requirement IDs as cited in v2gkit, per family: a FAILED answer ends the session and the SECC closes
#: (ISO-2 [V2G2-539] with [V2G2-034]; DIN [V2G-DC-665]; -20 [V2G20-2222]), out-of-sequence requests get
#: FAILED_SequenceError (-20 [V2G20-538]), a foreign SessionID FAILED_UnknownSession (-20 [V2G20-460]), the
#: SECC's sequence timer ([V2G2-443]; -20 [V2G20-441], [V2G20-443], [V2G20-1481])
SEQUENCE_REQS = {"din": ("V2G-DC-665",), "iso2": ("V2G2-539", "V2G2-034"),
                 "iso20": ("V2G20-538", "V2G20-2222")}
SESSION_REQS = {"din": ("V2G-DC-665",), "iso2": ("V2G2-539", "V2G2-034"),
                "iso20": ("V2G20-460", "V2G20-2222")}
TIMEOUT_REQS = {"din": (), "iso2": ("V2G2-443",), "iso20": ("V2G20-441", "V2G20-443", "V2G20-1481")}


def reqs(table: dict[str, tuple[str, ...]], protocols: Iterable[str], *extra: str) -> tuple[str, ...]:
    """The requirement IDs of ``table`` for ``protocols`` plus ``extra``, each once, in order."""
    out: list[str] = []
    for r in [*(r for p in protocols for r in table.get(p, ())), *extra]:
        if r not in out:
            out.append(r)
    return tuple(out)


Per = str | dict[str, str] | None


def per_family(t: Tester, value: Per) -> str | None:
    """``value`` itself, or its entry for the negotiated family (key "din", "iso2", "iso20"; "*" any
    other)."""
    if isinstance(value, dict):
        return value.get(family(t), value.get("*"))
    return value


def names(topic: str, protocols: Iterable[str], kind_: str = "DC") -> str:
    """How the topic's request is called in the protocols: "CableCheckReq (ISO 15118-20:
    DC_CableCheckReq)"."""
    alias = {"din": {"PaymentServiceSelection": "ServicePaymentSelection",
                     "Authorization": "ContractAuthentication"}.get(topic),
             "iso20": ISO20_NAMES.get(topic, "").replace("{K}", kind_) or None}
    label = {"din": "DIN SPEC 70121", "iso20": "ISO 15118-20"}
    extra = [f"{label[p]}: {alias[p]}Req" for p in protocols if alias.get(p) and alias[p] != topic]
    return f"{topic}Req" + (f" ({'; '.join(extra)})" if extra else "")


def patterns(module: str, topic: str, kind_: str, protocols: tuple[str, ...], *, after: str, first: int = 2,
             instead: Per = "ServiceDiscovery", preamble: Per = None, timeout_note: str = "",
             requirements: Iterable[str] = (), setup: Callable[[Tester], None] | None = None,
             needs: tuple[str, ...] = ()) -> None:
    """Declare v2gkit's three generic cases of request ``topic`` in ``module`` (pass ``__name__``):
    TC_SECC_<kind>_VKT_<topic>_<first, +1, +2>: a valid ``instead`` request in its place (FAILED_SequenceError
    and the close), the request with a foreign SessionID (FAILED_UnknownSession and the close), and silence
    after ``after`` (the close once V2G_SECC_Sequence_Timeout has run out, not before). ``preamble`` names the
    request the tester's own machine would send at that point when it never sends ``topic`` by itself;
    ``setup(t)`` runs first (a precondition the GoodCase alone does not reach, e.g. a receipt being asked
    for)."""
    case = secc_case  # registers in ``module`` (each function's __module__): the case file, not this helper

    req = names(topic, protocols, "AC" if kind_ == "AC" else "DC")
    base = f"TC_SECC_{kind_}_VKT_{topic}_"
    extra = tuple(requirements)
    instead_text = (instead if isinstance(instead, str) else
                    " / ".join(f"{v}Req ({k if k != '*' else 'otherwise'})" for k, v in instead.items()))
    if isinstance(instead, str):
        instead_text += "Req"

    def seq(t: Tester) -> None:
        if setup is not None:
            setup(t)
        other = per_family(t, instead) or "ServiceDiscovery"
        sequence_error(t, topic, other, preamble=per_family(t, preamble))

    def session(t: Tester) -> None:
        if setup is not None:
            setup(t)
        unknown_session(t, topic, preamble=per_family(t, preamble))

    def timeout(t: Tester) -> None:
        if setup is not None:
            setup(t)
        sequence_timeout(t, topic, preamble=per_family(t, preamble))

    for fn in (seq, session, timeout):
        fn.__module__ = module
        fn.__qualname__ = fn.__name__ = f"{topic.lower()}_{fn.__name__}"
    case(base + f"{first:03d}", protocols=protocols, from_standard=False, needs=needs,
         requirements=reqs(SEQUENCE_REQS, protocols, *extra),
         purpose=f"Verify that the SECC answers a valid {instead_text} sent instead of {req} with that "
                 "request's response carrying the current SessionID, ResponseCode FAILED_SequenceError and "
                 "every mandatory parameter, then closes the TCP connection within "
                 "par_CMN_TCP_Connection_Termination_Timeout.",
         steps=(f"GoodCase up to {topic}Req; send the other request instead.",
                "Check its response: FAILED_SequenceError, the current SessionID, schema-valid.",
                "Check that the SUT closes the TCP connection within "
                "par_CMN_TCP_Connection_Termination_Timeout."))(seq)
    case(base + f"{first + 1:03d}", protocols=protocols, from_standard=False, needs=needs,
         requirements=reqs(SESSION_REQS, protocols, *extra),
         purpose=f"Verify that the SECC answers a {req} carrying a SessionID other than the session's with a "
                 "response carrying a valid SessionID, ResponseCode FAILED_UnknownSession and every "
                 "mandatory parameter, then closes the TCP connection within "
                 "par_CMN_TCP_Connection_Termination_Timeout.",
         steps=(f"GoodCase up to {topic}Req; send it with every bit of the SessionID flipped.",
                "Check the response: FAILED_UnknownSession, the session's or the received SessionID, "
                "schema-valid.",
                "Check that the SUT closes the TCP connection within "
                "par_CMN_TCP_Connection_Termination_Timeout."))(
        session)
    case(base + f"{first + 2:03d}", protocols=protocols, from_standard=False, needs=needs,
         requirements=reqs(TIMEOUT_REQS, protocols, *extra),
         purpose=f"Verify that the SECC ends the session when no request follows its {after}: it keeps the "
                 "connection open until V2G_SECC_Sequence_Timeout (less a second) and closes it within "
                 "par_CMN_TCP_Connection_Termination_Timeout after that timeout." + timeout_note,
         steps=(f"GoodCase up to the {after}; send nothing.",
                "Check that the connection stays open for V2G_SECC_Sequence_Timeout less a second.",
                "Check that the SUT closes it within a second plus "
                "par_CMN_TCP_Connection_Termination_Timeout."))(
        timeout)


__all__ += ["INTENDED_NEEDS", "PREAMBLE_TIMEOUT", "SEQUENCE_REQS", "SESSION_REQS", "TIMEOUT_REQS", "Per",
            "names", "patterns", "per_family", "reach", "reqs", "secc_case"]
