"""Recorded real sessions, rebuilt from the vector collection (``../shared/vectors/*.jsonl``) or from the
small set kept in ``tests/data/real_sessions.json``.

The collection holds each distinct frame once, so a capture is rebuilt from its rows:

* rows of one capture are grouped by direction in the files; the order is the packet number (or log
  timestamp) in ``notes``;
* de-duplication kept a frame that several captures share in one of them only and lists the others under
  "Same bytes also found in:". Such a frame is borrowed back and placed where the protocol needs it: a
  request just before the response that has none, a response just after the request that has none;
* the same pcap is shipped by two repositories (tux-evse's trace-logs are EVerest captures): captures
  that share a charger-assigned SessionID are one capture;
* a session starts at SessionSetupReq (or at a SessionSetupRes when its request was not recorded); a
  missing SessionSetupReq is taken from another capture of the same car and protocol (same EVCCID).

Every rebuilt frame says where it came from, so a replay can report what it borrowed.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..exi import api as exi
from ..exi.errors import ExiError
from ..session.din2.dialect import Dialect, MessageError

__all__ = ["Frame", "RecordedSession", "load_rows", "load_sessions", "rebuild", "sessions_from_json",
           "sessions_to_json"]

#: the vector collection's protocol labels -> v2gkit schema names
_PROTOCOLS = {"DIN": "din", "ISO-2": "iso2", "apphand": "apphand"}
_DIALECTS = {"din": Dialect("din"), "iso2": Dialect("iso2")}
_ALSO = re.compile(r"Same bytes also found in: ([^|]*)")
_PACKET = re.compile(r"[Pp]acket #(\d+)")
_CORPUS = re.compile(r"session capture \(([\w.-]+\.pcap), direction")
_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)=(ED|DD|EH|DH)")


@dataclass(frozen=True)
class Frame:
    """One recorded V2GTP payload (EXI, header stripped)."""

    order: float  # packet number (or log time); borrowed frames sit between two recorded ones
    protocol: str  # "apphand", "din", "iso2"
    name: str  # canonical request/response name: "SessionSetupReq", "supportedAppProtocolRes", ...
    payload: bytes
    session_id: bytes = b""
    #: the capture the bytes were kept under when they were borrowed back (None: recorded here)
    borrowed: str | None = None

    @property
    def request(self) -> bool:
        return self.name.endswith("Req")

    @property
    def kind(self) -> str:
        """The message without Req/Res: "SessionSetup"."""
        return self.name[:-3]


@dataclass
class RecordedSession:
    """One charging session of a capture: its frames in order, both directions."""

    source: str  # the capture (repository@commit:path)
    car: str
    charger: str
    protocol: str  # "din" or "iso2"
    dc: bool
    #: the SessionID the recorded charger assigned (fixed in the SECC that replays the car)
    session_id: bytes
    frames: list[Frame] = field(default_factory=list)
    #: the car's frames are a real vehicle's / the charger's are a real (or EVerest) charger's
    real_car: bool = True
    real_charger: bool = True
    index: int = 0  # the n-th session of its capture

    @property
    def requests(self) -> list[Frame]:
        return [f for f in self.frames if f.request and f.protocol != "apphand"]

    @property
    def responses(self) -> list[Frame]:
        return [f for f in self.frames if not f.request and f.protocol != "apphand"]

    @property
    def handshake(self) -> Frame | None:
        """The car's own supportedAppProtocolReq, where recorded."""
        return next((f for f in self.frames if f.name == "supportedAppProtocolReq"), None)

    @property
    def label(self) -> str:
        path = self.source.split(":", 2)[-1]
        return f"{path}#{self.index}"

    def recorded_answer(self, request: Frame) -> Frame | None:
        """The charger's recorded response to ``request``: the first response of its kind after it."""
        after = False
        for f in self.frames:
            if f is request:
                after = True
            elif after and not f.request and f.kind == request.kind:
                return f
        return None


# ------------------------------------------------------------------------------------------ rows
def load_rows(paths: Iterable[Path]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for p in paths:
        with open(p) as fh:
            rows.extend(json.loads(line) for line in fh if line.strip())
    return rows


def _order(notes: str) -> float | None:
    m = _PACKET.search(notes)
    if m:
        return float(m.group(1))
    m = _STAMP.search(notes)
    if m:
        return datetime.fromisoformat(m.group(1)).timestamp()
    return None


def _decode(protocol: str, payload: bytes) -> tuple[str, bytes] | None:
    """(canonical name, SessionID) of a frame, None when it is not a DIN/ISO-2/handshake message."""
    try:
        if protocol == "apphand":
            msg = exi.decode(payload, "apphand", strict=False)
            return type(msg).__name__.removesuffix("Type"), b""
        sid, name, is_req, _ = _DIALECTS[protocol].decode(payload)
        return name + ("Req" if is_req else "Res"), sid
    except (ExiError, MessageError, KeyError):
        return None


#: tux-evse's trace-logs (EVerest captures) by file name
_TUX_CARS = {"porsche-taycan": "Porsche Taycan", "vw-": "VW", "tesla-3": "Tesla Model 3", "audi-": "Audi Q4"}


#: folder names -> the names people use (the vector README's list of cars)
_NAMES = {"Polestar Polestar2": "Polestar 2", "Hyundai Ioniq5": "Hyundai Ioniq 5", "BYD Atto3": "BYD Atto 3",
          "MG MG4 electric": "MG4", "XPENG P7 performance": "XPENG P7", "Seres": "Seres 3",
          "Opel Ampera-E": "Opel Ampera-e", "Opel Mokka-E": "Opel Mokka-e"}


def _everest_car(path: str) -> str:
    """``BMW/iX_fw_11_2022.64/...`` -> ``BMW iX``: make and model from EVerest/logfiles' folders."""
    parts = path.split("/")
    model = parts[1] if len(parts) > 2 and not parts[1][:1].isdigit() else ""
    model = re.split(r"_(?:fw|v?\d)", model)[0].replace("_", " ")
    car = f"{parts[0]} {model}".strip()
    return _NAMES.get(car, car)


_PYPLC_CAR = re.compile(r"EVSE mode with an? ([^;,.]+?)(?: car)?[;,.]")
_PYPLC_CHARGER = re.compile(r"PEV (?:\(car-emulator\) )?mode against an? ([^;,.]+?)[;,.]")


def _who(source: str, notes: str) -> tuple[str, str, bool, bool] | None:
    """(car, charger, real car, real charger) of a capture, None for sources that are no real sessions."""
    if "EVerest/logfiles" in source:
        car = _everest_car(source.split(":", 2)[-1])
        charger = "Josev SECC" if "Josev" in notes.split("This frame")[0] else "EVerest EvseV2G"
        return car, charger, True, True
    if "tux-evse/iso15118-simulator-rs" in source and "trace-logs/" in source:
        name = source.rsplit("/", 1)[-1].removesuffix(".pcap")
        car = next((c for prefix, c in _TUX_CARS.items() if name.startswith(prefix)), name)
        return car, "EVerest EvseV2G", True, True
    if "uhi22/pyPLC" in source and ":results/" in source:
        m = _PYPLC_CAR.search(notes)
        if m:
            return m.group(1).strip(), "pyPLC", True, False
        m = _PYPLC_CHARGER.search(notes)
        if m:
            return "pyPLC", m.group(1).strip(), False, True
    return None


# ------------------------------------------------------------------------------------ rebuilding
@dataclass
class _Capture:
    source: str
    car: str
    charger: str
    real_car: bool
    real_charger: bool
    frames: list[Frame] = field(default_factory=list)
    floating: list[Frame] = field(default_factory=list)


def rebuild(rows: Sequence[dict[str, Any]]) -> list[RecordedSession]:
    """Every real session in the rows, capture by capture, in capture order."""
    caps: dict[str, _Capture] = {}
    for r in rows:
        protocol = _PROTOCOLS.get(r.get("protocol", ""))
        if protocol is None:
            continue
        notes = r.get("notes") or ""
        who = _who(r["source"], notes)
        order = _order(notes)
        if who is None or order is None:
            continue
        decoded = _decode(protocol, bytes.fromhex(r["hex"]))
        if decoded is None:
            continue
        cap = caps.get(r["source"])
        if cap is None:
            cap = caps[r["source"]] = _Capture(r["source"], *who)
        cap.frames.append(Frame(order, protocol, decoded[0], bytes.fromhex(r["hex"]), decoded[1]))
    _borrow(rows, caps)
    merged = _merge_same_pcap(caps)
    out: list[RecordedSession] = []
    for cap in merged:
        cap.frames.sort(key=lambda f: f.order)
        _place(cap)
        out.extend(_split(cap))
    _borrow_session_setup(out, rows)
    _fill_resumed(out)
    return out


def _borrow(rows: Sequence[dict[str, Any]], caps: dict[str, _Capture]) -> None:
    """Frames kept under another source that name one of our captures as also holding them: in "Same
    bytes also found in:", or as the pcap an unordered corpus was taken from."""
    by_file = {c.source.rsplit("/", 1)[-1]: c for c in caps.values()}
    for r in rows:
        notes = r.get("notes") or ""
        protocol = _PROTOCOLS.get(r.get("protocol", ""))
        if protocol is None:
            continue
        m = _ALSO.search(notes)
        hit = [caps[t.strip()] for t in m.group(1).split(";") if t.strip() in caps] if m else []
        pcap = _CORPUS.search(notes)
        if pcap and pcap.group(1) in by_file:
            hit.append(by_file[pcap.group(1)])
        if not hit:
            continue
        decoded = _decode(protocol, bytes.fromhex(r["hex"]))
        if decoded is None:
            continue
        for cap in hit:
            cap.floating.append(Frame(-1.0, protocol, decoded[0], bytes.fromhex(r["hex"]), decoded[1],
                                      borrowed=r["source"]))


def _merge_same_pcap(caps: dict[str, _Capture]) -> list[_Capture]:
    """One capture shipped by two repositories: the charger's SessionIDs give it away."""
    by_sid: dict[bytes, _Capture] = {}
    out: list[_Capture] = []
    for cap in sorted(caps.values(), key=lambda c: ("EVerest/logfiles" not in c.source, c.source)):
        sids = {f.session_id for f in cap.frames if f.name == "SessionSetupRes" and len(f.session_id) >= 4}
        twin = next((by_sid[s] for s in sids if s in by_sid), None)
        if twin is None:
            out.append(cap)
            for s in sids:
                by_sid[s] = cap
            continue
        have = {f.order: f for f in twin.frames}
        for f in cap.frames:
            if f.order not in have:
                twin.frames.append(f)
        twin.floating.extend(cap.floating)
    return out


def _place(cap: _Capture) -> None:
    """Put each borrowed frame where the protocol needs it (or drop it: nothing lacks it). Requests go
    first, so that a response whose request was borrowed too finds it; passes repeat while frames land."""
    frames = cap.frames
    seen = {(f.name, f.payload) for f in frames}
    todo = sorted((f for f in cap.floating if (f.name, f.payload) not in seen), key=lambda f: not f.request)
    while todo:
        left = []
        for fl in todo:
            if (fl.name, fl.payload) in seen:
                continue
            slot = _slot(frames, fl)
            if slot is None:
                left.append(fl)
                continue
            seen.add((fl.name, fl.payload))
            frames.insert(slot[0], Frame(slot[1], fl.protocol, fl.name, fl.payload, fl.session_id, fl.borrowed))
        if len(left) == len(todo):
            break
        todo = left
    cap.floating.clear()


#: where each request stands in a DIN / ISO 15118-2 session (PowerDelivery: 8 starts, 10 stops)
_RANK = {"supportedAppProtocol": -1, "SessionSetup": 0, "ServiceDiscovery": 1, "ServiceDetail": 2,
         "PaymentServiceSelection": 3, "Authorization": 4, "ChargeParameterDiscovery": 5, "CableCheck": 6,
         "PreCharge": 7, "PowerDelivery": 8, "CurrentDemand": 9, "ChargingStatus": 9, "MeteringReceipt": 9,
         "WeldingDetection": 11, "SessionStop": 12}


#: requests a car repeats while the answers change (Ongoing -> Finished, the energy loop, ramps)
_LOOPS = frozenset({"Authorization", "ChargeParameterDiscovery", "CableCheck", "PreCharge", "CurrentDemand",
                    "ChargingStatus", "WeldingDetection"})


@functools.lru_cache(maxsize=4096)  # placing frames asks again and again; a PowerDeliveryReq is decoded once
def _rank(f: Frame) -> int:
    if f.kind == "PowerDelivery" and f.request:
        d = _DIALECTS[f.protocol]
        return 10 if d.progress(d.decode(f.payload)[3]) == "Stop" else 8
    return _RANK.get(f.kind, 9)


def _slot(frames: list[Frame], fl: Frame) -> tuple[int, float] | None:
    """(index, order) for a borrowed frame: a request before the first response of its kind whose
    request is missing, else before the first request of the session that comes later in the protocol;
    a response after the first request of its kind whose response is missing."""
    def same_session(f: Frame) -> bool:
        return fl.protocol == "apphand" or fl.kind == "SessionSetup" or f.session_id == fl.session_id

    def between(i: int) -> tuple[int, float]:
        lo = frames[i - 1].order if i else frames[i].order - 1.0
        return i, (lo + frames[i].order) / 2

    def after(i: int) -> tuple[int, float]:
        hi = frames[i + 1].order if i + 1 < len(frames) else frames[i].order + 1.0
        return i + 1, (frames[i].order + hi) / 2

    if fl.request:
        for i, f in enumerate(frames):
            if f.protocol == fl.protocol and f.name == fl.kind + "Res" and same_session(f):
                prev = next((g for g in reversed(frames[:i]) if g.request), None)
                if prev is None or prev.kind != fl.kind:
                    return between(i)
        if fl.protocol == "apphand":
            return None
        ours = [i for i, f in enumerate(frames) if f.protocol == fl.protocol]
        if fl.kind == "SessionSetup":  # a capture that lost its only SessionSetupReq: it opened the capture
            if ours and not any(frames[i].name == "SessionSetupReq" for i in ours):
                return between(ours[0])
            return None
        rank = _rank(fl)
        mine = [i for i in ours if frames[i].request and (frames[i].kind == "SessionSetup"
                                                          or frames[i].session_id == fl.session_id)]
        later = [i for i in mine if _rank(frames[i]) > rank]
        if later and any(_rank(frames[i]) < rank for i in mine if i < later[0]):  # inside its session
            return between(later[0])
        return None
    for i, f in enumerate(frames):
        if f.protocol == fl.protocol and f.name == fl.kind + "Req" and same_session(f):
            nxt = next((g for g in frames[i + 1:] if not g.request), None)
            if nxt is None or nxt.kind != fl.kind:
                return after(i)
    if fl.kind in _LOOPS:  # one more answer of a loop (Ongoing, then Finished): after the loop's last frame
        last = [i for i, f in enumerate(frames) if f.protocol == fl.protocol and f.kind == fl.kind
                and same_session(f)]
        if last:
            return after(last[-1])
    return None


def _split(cap: _Capture) -> Iterator[RecordedSession]:
    """Sessions of one capture: a new one at each SessionSetupReq, or at a SessionSetupRes whose
    request was not recorded; handshake frames belong to the session after them."""
    groups: list[list[Frame]] = []
    pending: list[Frame] = []
    current: list[Frame] | None = None
    for f in cap.frames:
        if f.protocol == "apphand":
            pending.append(f)
            continue
        new = f.name == "SessionSetupReq" or (
            f.name == "SessionSetupRes" and (current is None or any(g.name == "SessionSetupRes" for g in current)))
        if new or current is None:
            current = pending + [f]
            pending = []
            groups.append(current)
        else:
            current.append(f)
    for n, frames in enumerate(groups):
        protocols = {f.protocol for f in frames if f.protocol != "apphand"}
        if len(protocols) != 1:
            continue
        protocol = protocols.pop()
        setup = next((f for f in frames if f.name == "SessionSetupRes"), None)
        sid = setup.session_id if setup else next((f.session_id for f in frames if f.request
                                                   and f.kind != "SessionSetup" and f.protocol != "apphand"), b"")
        yield RecordedSession(cap.source, cap.car, cap.charger, protocol, _is_dc(protocol, frames), sid, frames,
                              cap.real_car, cap.real_charger, n)


def _is_dc(protocol: str, frames: list[Frame]) -> bool:
    """What the recorded charger offered in ServiceDiscoveryRes (the car's requested mode where it
    offered both or is not recorded; then the loop messages)."""
    d = _DIALECTS[protocol]
    offered: set[str] = set()
    requested: str | None = None
    for f in frames:
        if f.name == "ServiceDiscoveryRes":
            cs = d.decode(f.payload)[3].charge_service
            if d.din:
                offered.add(cs.energy_transfer_type.name)
            else:
                offered.update(m.name for m in cs.supported_energy_transfer_mode.energy_transfer_mode)
        elif f.name == "ChargeParameterDiscoveryReq" and requested is None:
            body = d.decode(f.payload)[3]
            mode = body.ev_requested_energy_transfer_type if d.din else body.requested_energy_transfer_mode
            requested = mode.name
    if offered and len({m[:2] for m in offered}) == 1:
        return next(iter(offered)).startswith("DC")
    if requested:
        return requested.startswith("DC")
    kinds = {f.kind for f in frames}
    return protocol == "din" or not ("ChargingStatus" in kinds and "CurrentDemand" not in kinds)


_SAME_CAR = "same car, other capture"


def _borrow_session_setup(sessions: list[RecordedSession], rows: Sequence[dict[str, Any]]) -> None:
    """A session without its SessionSetupReq gets the same car's from another capture of the protocol
    (its bytes were identical, so the collection kept them once)."""
    setups: dict[tuple[str, str], Frame] = {}
    for s in sessions:
        for f in s.frames:
            if f.name == "SessionSetupReq" and f.borrowed != _SAME_CAR and f.session_id == bytes(len(f.session_id)):
                setups.setdefault((s.car, s.protocol), f)
    for s in sessions:
        if s.frames and not any(f.name == "SessionSetupReq" for f in s.frames):
            donor = setups.get((s.car, s.protocol))
            if donor is None:
                continue
            first = next(i for i, f in enumerate(s.frames) if f.protocol != "apphand")
            at = s.frames[first].order - 0.5
            s.frames.insert(first, Frame(at, donor.protocol, donor.name, donor.payload, donor.session_id,
                                         borrowed=_SAME_CAR))


_EARLIER = "earlier session of this capture"


def _answers(session: RecordedSession, request: Frame) -> list[Frame]:
    """The answers of ``request``'s kind that follow it, up to the car's next request of another kind."""
    out: list[Frame] = []
    for f in session.frames[session.frames.index(request) + 1:]:
        if f.request and f.kind != request.kind:
            break
        if not f.request and f.kind == request.kind:
            out.append(f)
    return out


def _fill_resumed(sessions: list[RecordedSession]) -> None:
    """A car that paused and came back sends, with its old SessionID, the same bytes as before: the
    collection kept them under the first session only. Where a session has answers of kinds it has no
    request for (the charger answered ChargingStatus, the car's ChargingStatusReq is missing), its
    requests are taken from the earlier session with that SessionID, in the protocol's order: every step
    up to the last one answered, and when power flowed, the PowerDelivery that stopped it; with them the
    answers they got then, where this session has none of their kind (the charger's were identical too)."""
    by_sid: dict[tuple[str, bytes], RecordedSession] = {}
    for s in sessions:
        asked = {f.kind for f in s.requests}
        unanswered = [f for f in s.responses if f.kind not in asked and f.kind != "SessionSetup"]
        donor = by_sid.get((s.source, s.session_id))
        if unanswered and donor is not None:
            top = max(_rank(f) for f in unanswered)
            if top >= 8:
                top = 11  # power flowed: PowerDelivery Stop (and WeldingDetection) came before SessionStop
            have = {(f.kind, _rank(f)) for f in s.requests}
            borrowed = [f for f in donor.requests if 0 < _rank(f) <= top and (f.kind, _rank(f)) not in have]
            for f in borrowed:
                later = [i for i, g in enumerate(s.frames) if g.protocol != "apphand" and g.kind != "SessionSetup"
                         and (_rank(g) > _rank(f) or (not g.request and g.kind == f.kind and _rank(g) >= _rank(f)))]
                at = later[0] if later else len(s.frames)
                lo = s.frames[at - 1].order if at else s.frames[0].order - 1.0
                hi = s.frames[at].order if at < len(s.frames) else lo + 1.0
                s.frames.insert(at, Frame((lo + hi) / 2, f.protocol, f.name, f.payload, f.session_id, _EARLIER))
            for f in s.requests:  # the answers they got then (Ongoing, Finished), where none is here
                if any(g.name == f.kind + "Res" for g in s.frames):
                    continue
                then = next((g for g in donor.requests if g.kind == f.kind and _rank(g) == _rank(f)), None)
                at = s.frames.index(f)
                for answer in reversed(_answers(donor, then) if then is not None else []):
                    nxt = s.frames[at + 1].order if at + 1 < len(s.frames) else f.order + 1.0
                    s.frames.insert(at + 1, Frame((f.order + nxt) / 2, answer.protocol, answer.name,
                                                  answer.payload, answer.session_id, _EARLIER))
        by_sid.setdefault((s.source, s.session_id), s)


# ---------------------------------------------------------------------------------- entry points
#: the checkout's root (src/v2gkit/testsys/ is three levels below it)
_ROOT = Path(__file__).resolve().parents[3]
#: the sessions kept in the repository (see KEPT)
KEPT_FILE = _ROOT / "tests" / "data" / "real_sessions.json"


def default_vectors() -> Path:
    """Where the vector collection usually is: ``$V2GKIT_SHARED/vectors``, else ``shared/vectors`` beside
    the checkout (as the tests look for it)."""
    return Path(os.environ.get("V2GKIT_SHARED", _ROOT.parent / "shared")) / "vectors"


def load_sessions(vectors: Path) -> list[RecordedSession]:
    """The sessions rebuilt from a vector directory (``vectors.jsonl`` + ``vectors_bulk.jsonl``)."""
    paths = [p for p in (vectors / "vectors.jsonl", vectors / "vectors_bulk.jsonl") if p.exists()]
    if not paths:
        raise FileNotFoundError(f"no vectors.jsonl in {vectors}")
    return rebuild(load_rows(paths))


def sessions_to_json(sessions: Iterable[RecordedSession]) -> list[dict[str, Any]]:
    return [{"source": s.source, "index": s.index, "car": s.car, "charger": s.charger, "protocol": s.protocol,
             "dc": s.dc, "session_id": s.session_id.hex(), "real_car": s.real_car, "real_charger": s.real_charger,
             "frames": [[f.order, f.protocol, f.name, f.payload.hex(), f.session_id.hex(), f.borrowed]
                        for f in s.frames]} for s in sessions]


def sessions_from_json(data: Iterable[dict[str, Any]]) -> list[RecordedSession]:
    return [RecordedSession(d["source"], d["car"], d["charger"], d["protocol"], d["dc"], bytes.fromhex(d["session_id"]),
                            [Frame(o, p, n, bytes.fromhex(h), bytes.fromhex(sid), b) for o, p, n, h, sid, b in d["frames"]],
                            d["real_car"], d["real_charger"], d["index"]) for d in data]


def protocol_label(session: RecordedSession) -> str:
    """"DIN DC", "ISO-2 AC": what a table says a session was."""
    return f"{'DIN' if session.protocol == 'din' else 'ISO-2'} {'DC' if session.dc else 'AC'}"


#: the sessions kept in tests/data/real_sessions.json (EVerest/logfiles captures, Apache-2.0), so the
#: replay suites run without the vector collection: rebuilt with ``python -m v2gkit.testsys.captures``
KEPT = (
    "BMW/iX_fw_11_2022.64/din_spec_70121/2023-03-30T06:24:26.582Z_din_spec/ethernet-traffic.dump#0",
    "Porsche/Taycan_4S/iso-15118-2-DC/2023-04-11T09:29:27.010Z-taycan-iso-2-DC/ethernet-traffic.dump#0",
    "Skoda/Enyaq_v3.0/iso15118_AC_Josev/enyaq_ac_0.dump#0",
    "VW/id.3/iso_15118-2_AC/2023-04-14T12:45:39.624Z-3_config-ac-iso2/ethernet-traffic.dump#0",
    "Seres/2024-01-10T13:40:14.939Z-2_iso2_ac/ethernet-traffic.dump#0",
    "VW/id.4/iso_15118-2_DC/2023-04-14T09:53:34.808Z-4_config-dc-iso2-pnc/ethernet-traffic.dump#0",
    "Opel/Ampera-E/2023-01-13-din_spec_70121/session/ampera_dc_din_2.dump#0",
    "Audi/Q4/ac_iso2-1.dump#0",
    "Audi/Q4/ac_iso2-1.dump#1",
)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m v2gkit.testsys.captures VECTORS_DIR OUT.json``: write the KEPT sessions."""
    import sys
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        raise SystemExit("usage: python -m v2gkit.testsys.captures VECTORS_DIR OUT.json")
    sessions = {s.label: s for s in load_sessions(Path(args[0]))}
    missing = [k for k in KEPT if k not in sessions]
    if missing:
        raise SystemExit(f"not in {args[0]}: {', '.join(missing)}")
    Path(args[1]).write_text(json.dumps(sessions_to_json(sessions[k] for k in KEPT), indent=1) + "\n")


if __name__ == "__main__":
    main()
