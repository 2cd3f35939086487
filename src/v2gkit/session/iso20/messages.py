"""ISO 15118-20 messages, built and read from plain values.

In -20 every message is its own root element carrying a MessageHeader (SessionID, TimeStamp, optional
Signature), and the V2GTP payload type names the schema it belongs to (0x8002 CommonMessages, 0x8003 AC,
0x8004 DC, 0x8005 ACDP, 0x8006 WPT). This module holds the table of all of them, derived from the generated
codec modules (no hand-typed list), frames and unframes them (``encode``/``decode``), builds the AC/DC/BPT
messages of an EIM session from SI floats and enum names, and reads back what the policies decide on.
The model is ``session/dialect.py`` for DIN/ISO-2.

Conventions:

* Messages are called by their name without Req/Res ("SessionSetup", "DC_ChargeLoop"); ``request`` says which.
* Numbers are plain SI values: V, A, W, Wh, s, %. On the wire they are RationalNumbers (``rational``).
* Control-mode, energy-transfer-mode and limit values are keyword arguments named after the XSD element
  without its EV/EVSE prefix, Maximum/Minimum shortened to max/min (EVMaximumChargePower -> max_charge_power,
  EVSETargetActivePower_L2 -> target_active_power_l2, EVMaximumV2XEnergyRequest -> max_v2x_energy_request).
  ``values_of`` reads a body back into the same names, so ``builder(**values_of(body))`` rebuilds it.
  A tuple of three sets an AC value and its _L2/_L3 companions (``per_phase``). A mandatory value left out
  is 0.
* Enumerations are given by name ("Finished", "FAILED_SequenceError", "Pause").
* Every response builder gives a schema-valid message for any response code with nothing but the code and
  the agreed control mode/BPT-ness: the SECC answers FAILED_* with minimal mandatory fields and needs nothing
  from the request for it. ``minimal`` does the same for every message of the table (WPT and ACDP included).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ...exi import api as exi
from ...exi.errors import ExiError
from ...exi.gen import iso20, iso20_ac, iso20_acdp, iso20_dc, iso20_wpt
from ...v2gtp import ISO20_SCHEMAS, PayloadType

__all__ = [
    "MESSAGES",
    "Decoded",
    "MessageError",
    "MessageInfo",
    "charge_progress",
    "control_mode",
    "decode",
    "encode",
    "info",
    "is_bpt",
    "is_failed",
    "is_ok",
    "is_warning",
    "minimal",
    "notification",
    "per_phase",
    "phases_of",
    "processing",
    "rational",
    "response_code",
    "value_of",
    "values_of",
    "variant",
]


class MessageError(ValueError):
    """A decoded document that is not an ISO 15118-20 request/response of its payload type's schema."""


# ============================================================================================ the table

#: (exi.api schema name, generated module, V2GTP payload type). The payload type follows the namespace of
#: the schema that declares the element (ISO 15118-20 Table 12 as read by Josev, libiso15118 and libcbv2g,
#: see the issue-10 notes §4): ScheduleExchange, PowerDelivery, MeteringConfirmation and VehicleCheckIn/Out
#: are CommonMessages (0x8002); AC_/DC_ChargeParameterDiscovery live in the AC (0x8003) and DC (0x8004)
#: schemas.
_MODULES = {"iso20": iso20, "iso20-ac": iso20_ac, "iso20-dc": iso20_dc, "iso20-acdp": iso20_acdp,
            "iso20-wpt": iso20_wpt}
SCHEMA_SETS: tuple[tuple[str, ModuleType, PayloadType], ...] = tuple(
    (schema, _MODULES[schema], PayloadType(pt)) for pt, schema in ISO20_SCHEMAS.items())


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """One -20 message: where it lives and what its two elements are called."""

    name: str  # "DC_ChargeLoop"
    schema: str  # exi.api schema name, "iso20-dc"
    namespace: str  # "urn:iso:std:iso:15118:-20:DC"
    payload_type: PayloadType
    request: str  # element names, "DC_ChargeLoopReq"
    response: str
    request_type: type  # the generated classes
    response_type: type
    module: ModuleType

    def element(self, request: bool) -> str:
        return self.request if request else self.response

    def type(self, request: bool) -> type:
        return self.request_type if request else self.response_type


def _is_message(mod: ModuleType, cls: Any) -> bool:
    """A V2GRequestType/V2GResponseType extension: its first element is the MessageHeader."""
    meta = mod.META.get(cls) if isinstance(cls, type) else None
    return bool(meta) and meta[0][0] == "header" and meta[0][4] is mod.MessageHeaderType


def _table() -> dict[str, MessageInfo]:
    out: dict[str, MessageInfo] = {}
    for schema, mod, pt in SCHEMA_SETS:
        pairs: dict[str, dict[str, tuple[str, str, type]]] = {}
        for row in mod.DOC_ELEMENTS:
            element, ns, cls = row[0], row[1], row[4]
            if element[-3:] in ("Req", "Res") and _is_message(mod, cls):
                pairs.setdefault(element[:-3], {})[element[-3:]] = (element, ns, cls)
        for name, pair in sorted(pairs.items()):
            if set(pair) != {"Req", "Res"} or name in out:
                raise RuntimeError(f"{schema}: {name} is not one request/response pair")
            (req, ns, req_t), (res, _, res_t) = pair["Req"], pair["Res"]
            out[name] = MessageInfo(name, schema, ns, pt, req, res, req_t, res_t, mod)
    return out


#: every ISO 15118-20 message of the five schemas, by name
MESSAGES: dict[str, MessageInfo] = _table()

#: payload type -> (schema name, element name -> (MessageInfo, is request))
_BY_PT: dict[int, tuple[str, dict[str, tuple[MessageInfo, bool]]]] = {
    int(pt): (schema, {i.element(r): (i, r) for i in MESSAGES.values() if i.schema == schema
                       for r in (True, False)})
    for schema, _m, pt in SCHEMA_SETS
}
#: (name, request) -> (class, header class, payload type, MessageInfo): encode's one lookup
_ENC: dict[tuple[str, bool], tuple[type, type, int, MessageInfo]] = {
    (i.name, r): (i.type(r), i.module.MessageHeaderType, int(i.payload_type), i)
    for i in MESSAGES.values() for r in (True, False)
}


def info(name: str) -> MessageInfo:
    """The table row of a message name; ValueError naming the known ones otherwise."""
    i = MESSAGES.get(name)
    if i is None:
        raise ValueError(f"no ISO 15118-20 message {name!r}; known: {', '.join(MESSAGES)}")
    return i


# ======================================================================================= framing

class Decoded:
    """A decoded -20 message: its name, direction, header fields and the message object itself (``body``,
    whose ``header`` is ``header``)."""

    __slots__ = ("body", "header", "name", "payload_type", "request", "session_id", "timestamp")

    def __init__(self, name: str, request: bool, session_id: bytes, timestamp: int, body: Any, header: Any,
                 payload_type: int) -> None:
        self.name = name
        self.request = request
        self.session_id = session_id
        self.timestamp = timestamp
        self.body = body
        self.header = header
        self.payload_type = payload_type

    @property
    def element(self) -> str:
        return self.name + ("Req" if self.request else "Res")

    def __repr__(self) -> str:
        return (f"Decoded({self.element}, session_id={self.session_id.hex()}, timestamp={self.timestamp}, "
                f"payload_type=0x{self.payload_type:04X})")


def stamp(name: str, request: bool, body: Any, session_id: bytes, timestamp: int, signature: Any = None) -> int:
    """Set the header of ``body`` (message ``name``) without encoding it; its V2GTP payload type. A test
    system stamps, edits and then encodes leniently."""
    hit = _ENC.get((name, request))
    if hit is None:
        info(name)
        raise TypeError(f"request must be a bool, not {request!r}")
    cls, header_cls, pt, i = hit
    if not isinstance(body, cls.__mro__[1] if len(cls.__mro__) > 3 else cls):
        raise TypeError(f"{i.element(request)} is built from {cls.__name__}, not {type(body).__name__}")
    body.header = header_cls(session_id, timestamp, signature)
    return pt


def encode(name: str, request: bool, body: Any, session_id: bytes, timestamp: int,
           signature: Any = None) -> tuple[int, bytes]:
    """(V2GTP payload type, EXI) of a -20 message. ``body`` is the message object from a builder; its
    ``header`` is set here (SessionID, TimeStamp and, for PnC, the xmldsig ``signature``). A body of another
    message's type is a TypeError (our bug); a value the schema forbids an ExiEncodeError naming the field."""
    hit = _ENC.get((name, request))
    if hit is None:
        info(name)
        raise TypeError(f"request must be a bool, not {request!r}")
    cls, header_cls, pt, i = hit
    if body.__class__ is cls:
        body.header = header_cls(session_id, timestamp, signature)
        return pt, exi.encode(body)
    if isinstance(body, cls.__mro__[1]) and len(cls.__mro__) > 3:  # ACDP_Connect/Disconnect share one type
        body.header = header_cls(session_id, timestamp, signature)
        return pt, exi.encode(body, element=i.element(request), schema=i.schema)
    raise TypeError(f"{i.element(request)} is built from {cls.__name__}, not {type(body).__name__}")


def decode(payload_type: int, payload: bytes, strict: bool = False) -> Decoded:
    """Decode a V2GTP payload of an ISO 15118-20 payload type. The schema comes from the payload type.

    ExiError (and its subclasses) when the EXI is unreadable; MessageError when the payload type carries no
    -20 message, or the document is no request/response of that type's schema (a message of another schema
    sent under this payload type is named as such). EXI carries no schema id: a stream that is a valid message
    in two grammars (a few tiny ones are, e.g. an EIM AuthorizationReq and an ACDP_ConnectReq) is what its
    payload type says. ``strict=False`` (default) keeps values outside a schema facet that the stream can
    carry and ignores octets after the document, as a real peer needs (see exi.api.decode_lenient)."""
    hit = _BY_PT.get(payload_type)
    if hit is None:
        raise MessageError(f"payload type 0x{payload_type:04X} carries no ISO 15118-20 message "
                           f"(0x8002 common, 0x8003 AC, 0x8004 DC, 0x8005 ACDP, 0x8006 WPT)")
    schema, elements = hit
    try:
        if strict:
            element, obj = exi.decode_element(payload, schema)
        else:
            r = exi.decode_lenient(payload, schema)
            element, obj = r.element, r.value
            if r.trailing:  # a longer message of another schema can start like a short one of this
                _misfiled(payload_type, payload)
    except ExiError:
        _misfiled(payload_type, payload)
        raise
    found = elements.get(element)
    if found is None:
        _misfiled(payload_type, payload)
        raise MessageError(f"{element} is no ISO 15118-20 request or response ({schema})")
    i, req = found
    h = obj.header
    return Decoded(i.name, req, h.session_id, h.time_stamp, obj, h, payload_type)


def _misfiled(payload_type: int, payload: bytes) -> None:
    """MessageError when ``payload`` is a message of another -20 schema (the error path only)."""
    for pt, (schema, elements) in _BY_PT.items():
        if pt == payload_type:
            continue
        try:
            element = exi.decode_element(payload, schema)[0]
        except ExiError:
            continue
        if element in elements:
            raise MessageError(f"{element} belongs under payload type 0x{pt:04X} ({schema}), "
                               f"not 0x{payload_type:04X}")


# ================================================================================ numbers and enums

_POS10 = tuple(10.0 ** k for k in range(129))  # exact up to 10**22, correctly rounded beyond


def _rational(cls: type, value: float) -> Any:
    v = float(value)
    if v == 0.0:
        return cls(0, 0)
    a = v if v > 0.0 else -v
    if not a < 1e300:  # inf, nan
        raise ValueError(f"{value!r} is no RationalNumber")
    # the estimate, one finer (log10 rounds); below 1e-120 only -128 can come near
    e = -128 if a < 1e-120 else max(-128, math.ceil(math.log10(a / 32767.5)) - 1)
    while e <= 127:
        n = round(v * _POS10[-e]) if e < 0 else round(v / _POS10[e])
        if -32768 <= n <= 32767:
            return cls(e, n)
        e += 1
    raise ValueError(f"{value!r} is too large for a RationalNumber (32767e127)")


def rational(value: float, schema: ModuleType = iso20) -> Any:
    """A RationalNumber (Value int16 x 10^Exponent int8) for ``value``: the finest exponent whose value fits
    16 bits, so the wire keeps every digit it can (400 V -> 4000e-1, 150 kW -> 15000e1, 0 -> 0e0).
    ``schema``: the generated module whose RationalNumberType the message needs (each schema has its own)."""
    return _rational(schema.RationalNumberType, value)


def value_of(r: Any) -> float:
    """A RationalNumber as a float; 0.0 when absent."""
    if r is None:
        return 0.0
    e = r.exponent
    return r.value / _POS10[-e] if e < 0 else r.value * _POS10[e]


def per_phase(field: str, value: float | tuple[float, float, float],
              schema: ModuleType = iso20_ac) -> dict[str, Any]:
    """An AC value as generated-field keywords: {field: L1} for one value, {field, field_l2, field_l3} for
    three. (-20 AC gives the _L2/_L3 companions only for three-phase values.)"""
    if isinstance(value, tuple):
        if len(value) != 3:
            raise ValueError(f"{field}: one value or three (L1, L2, L3), not {len(value)}")
        return {field: rational(value[0], schema), field + "_l2": rational(value[1], schema),
                field + "_l3": rational(value[2], schema)}
    return {field: rational(value, schema)}


def phases_of(obj: Any, field: str) -> tuple[float, ...]:
    """An AC value read back: (L1,) or (L1, L2, L3) when the _L2/_L3 companions are there; () if absent."""
    first = getattr(obj, field)
    if first is None:
        return ()
    l2, l3 = getattr(obj, field + "_l2", None), getattr(obj, field + "_l3", None)
    if l2 is None and l3 is None:
        return (value_of(first),)
    return value_of(first), value_of(l2), value_of(l3)


def _enum(cls: Any, v: Any) -> Any:
    """An enumeration member by name (or a member of the same XSD type from any schema module)."""
    if v.__class__ is cls:
        return v
    try:
        return cls[v if v.__class__ is str else v.name]
    except (KeyError, AttributeError):
        raise ValueError(f"{v!r} is no {cls.__name__}: one of {', '.join(cls._xsd)}") from None


_MODES = ("Scheduled", "Dynamic")


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"control mode {mode!r}: Scheduled or Dynamic")


# ------------------------------------------------------------------------------ response codes
# XSD order (notes §3.1): OK* < WARNING_* < FAILED*. In -20 FAILED* ends the session on both sides
# ([V2G20-2222], [V2G20-1482] SECC; [V2G20-1967], [V2G20-2220] EVCC); WARNING_* keeps it (notes §3.2).

def _code_name(code: Any) -> str:
    return code if code.__class__ is str else code.name


def is_ok(code: Any) -> bool:
    """OK or OK_* (a name or a responseCodeType member)."""
    return code is not None and _code_name(code).startswith("OK")


def is_warning(code: Any) -> bool:
    """WARNING_*: the step failed, the session goes on."""
    return code is not None and _code_name(code).startswith("WARNING")


def is_failed(code: Any) -> bool:
    """FAILED or FAILED_*: the sender stops the session after this message."""
    return code is not None and _code_name(code).startswith("FAILED")


# ====================================================================== value fields by short name

_PREFIX = re.compile(r"^(evse|ev)_")


def _short(py: str) -> str:
    s = _PREFIX.sub("", py)
    s = s.replace("maximum_", "max_").replace("minimum_", "min_").replace("v2_x", "v2x")
    return s


class _Spec:
    """The plain-valued fields of one generated class, by short name."""

    __slots__ = ("fields", "phased", "required")

    def __init__(self, cls: type) -> None:
        mod = sys.modules[cls.__module__]
        R = mod.__dict__.get("RationalNumberType")
        self.fields: dict[str, tuple[str, bool]] = {}  # short -> (py field, is RationalNumber)
        self.required: list[tuple[str, Any]] = []  # (py field, its 0 / minimal value)
        for py, _x, _ns, kind, t, is_list, req, *_ in mod.META.get(cls, ()):
            if kind != "elem" or is_list:
                continue
            if t is R:
                rat, zero = True, None
            elif isinstance(t, tuple) and t[0] in ("nbit", "uint", "int", "bool"):
                rat, zero = False, _minimal_value(py, t)
            else:
                continue
            short = _short(py)
            if short in self.fields:
                raise RuntimeError(f"{cls.__name__}: {py} and {self.fields[short][0]} are both {short}")
            self.fields[short] = (py, rat)
            if req:
                self.required.append((py, zero))
        self.phased = frozenset(s for s in self.fields if s + "_l2" in self.fields)


_SPECS: dict[type, _Spec] = {}


def _spec(cls: type) -> _Spec:
    s = _SPECS.get(cls)
    if s is None:
        s = _SPECS[cls] = _Spec(cls)
    return s


def _fill(cls: type, values: dict[str, Any], what: str) -> Any:
    """A ``cls`` with the plain values set by short name; missing mandatory values 0."""
    spec = _spec(cls)
    R = sys.modules[cls.__module__].RationalNumberType
    obj = cls()
    fields = spec.fields
    for k, v in values.items():
        if v is None:
            continue
        f = fields.get(k)
        if f is None:
            raise TypeError(f"{what} has no value {k!r}; it takes: {', '.join(fields)}")
        py, rat = f
        if not rat:
            setattr(obj, py, v)
        elif v.__class__ is tuple:
            if k not in spec.phased or len(v) != 3:
                three = " or three (L1, L2, L3)" if k in spec.phased else ""
                raise ValueError(f"{what}: {k} takes one value{three}")
            setattr(obj, py, _rational(R, v[0]))
            setattr(obj, py + "_l2", _rational(R, v[1]))
            setattr(obj, py + "_l3", _rational(R, v[2]))
        else:
            setattr(obj, py, _rational(R, v))
    for py, zero in spec.required:
        if getattr(obj, py) is None:
            setattr(obj, py, R(0, 0) if zero is None else zero)
    return obj


def _values(obj: Any, out: dict[str, Any]) -> None:
    for short, (py, rat) in _spec(obj.__class__).fields.items():
        v = getattr(obj, py)
        if v is not None:
            out[short] = value_of(v) if rat else v


# ================================================================================== structured inputs

@dataclass(frozen=True)
class Service:
    """An entry of ServiceDiscoveryRes's EnergyTransferServiceList or VASList (ids in services.ServiceID)."""

    id: int
    free: bool = False


@dataclass(frozen=True)
class DisplayParameters:
    """DisplayParameters of a ChargeLoopReq: SOCs in %, times in s, capacity in Wh; None = not sent."""

    present_soc: int | None = None
    min_soc: int | None = None
    target_soc: int | None = None
    max_soc: int | None = None
    remaining_time_to_min_soc: int | None = None
    remaining_time_to_target_soc: int | None = None
    remaining_time_to_max_soc: int | None = None
    charging_complete: bool | None = None
    battery_energy_capacity: float | None = None
    inlet_hot: bool | None = None


@dataclass(frozen=True)
class MeterInfo:
    """MeterInfo: readings in Wh (VArh), the meter's own signature/status/timestamp when it has them."""

    meter_id: str
    charged_wh: int
    discharged_wh: int | None = None
    capacitive_varh: int | None = None
    inductive_varh: int | None = None
    signature: bytes | None = None
    status: int | None = None
    timestamp: int | None = None


@dataclass(frozen=True)
class Receipt:
    """Receipt of a ChargeLoopRes/MeteringConfirmation: costs as (amount, cost per unit), taxes as
    (TaxRuleID, amount)."""

    time_anchor: int
    energy_costs: tuple[float, float] | None = None
    occupancy_costs: tuple[float, float] | None = None
    additional_services_costs: tuple[float, float] | None = None
    overstay_costs: tuple[float, float] | None = None
    taxes: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class PowerEntry:
    """A PowerScheduleEntry (also an EVPowerProfile entry): ``duration`` s at ``power`` W; AC three-phase
    gives L2/L3 too."""

    duration: int
    power: float
    power_l2: float | None = None
    power_l3: float | None = None


@dataclass(frozen=True)
class PowerSchedule:
    """The SECC's PowerSchedule of a schedule tuple (charging or discharging)."""

    entries: tuple[PowerEntry, ...]
    time_anchor: int = 0
    available_energy: float | None = None  # Wh
    power_tolerance: float | None = None  # W


#: PriceAlgorithm URNs of the -20 price schedules (as sent by Josev, enums.PriceAlgorithm)
PRICE_POWER = "urn:iso:std:iso:15118:-20:PriceAlgorithm:1-Power"
PRICE_PEAK_POWER = "urn:iso:std:iso:15118:-20:PriceAlgorithm:2-PeakPower"
PRICE_STACKED_ENERGY = "urn:iso:std:iso:15118:-20:PriceAlgorithm:3-StackedEnergy"


@dataclass(frozen=True)
class PriceRule:
    """One PriceRule of a price rule stack; fees in the schedule's currency."""

    energy_fee: float
    power_range_start: float = 0.0  # W
    parking_fee: float | None = None
    parking_fee_period: int | None = None  # s
    carbon_dioxide_emission: int | None = None
    renewable_generation_percentage: int | None = None


@dataclass(frozen=True)
class PriceRuleStack:
    duration: int  # s
    rules: tuple[PriceRule, ...]


@dataclass(frozen=True)
class TaxRule:
    id: int
    rate: float
    energy_fee: bool = True
    parking_fee: bool = False
    overstay_fee: bool = False
    minimum_maximum_cost: bool = False
    name: str | None = None
    included_in_price: bool | None = None


@dataclass(frozen=True)
class OverstayRule:
    start_time: int  # s
    fee: float
    fee_period: int  # s
    description: str | None = None


@dataclass(frozen=True)
class Overstay:
    rules: tuple[OverstayRule, ...]
    time_threshold: int | None = None  # s
    power_threshold: float | None = None  # W


@dataclass(frozen=True)
class AbsolutePriceSchedule:
    """An AbsolutePriceSchedule (Pricing=1)."""

    price_schedule_id: int
    stacks: tuple[PriceRuleStack, ...]
    currency: str = "EUR"
    language: str = "ENG"
    price_algorithm: str = PRICE_POWER
    time_anchor: int = 0
    id: str | None = None
    description: str | None = None
    minimum_cost: float | None = None
    maximum_cost: float | None = None
    tax_rules: tuple[TaxRule, ...] = ()
    overstay: Overstay | None = None
    additional_services: tuple[tuple[str, float], ...] = ()  # (name, fee)


@dataclass(frozen=True)
class PriceLevelSchedule:
    """A PriceLevelSchedule (Pricing=2): (duration s, level) entries out of ``levels`` levels."""

    price_schedule_id: int
    levels: int
    entries: tuple[tuple[int, int], ...]
    time_anchor: int = 0
    id: str | None = None
    description: str | None = None


Price = AbsolutePriceSchedule | PriceLevelSchedule


@dataclass(frozen=True)
class ScheduleTuple:
    """A ScheduleTuple of a Scheduled ScheduleExchangeRes: the charging schedule and, for BPT, the
    discharging one, each with an optional price schedule."""

    id: int
    charging: PowerSchedule
    charging_price: Price | None = None
    discharging: PowerSchedule | None = None
    discharging_price: Price | None = None


@dataclass(frozen=True)
class EnergyOffer:
    """The EV's EVEnergyOffer (Scheduled BPT ScheduleExchangeReq): its power schedule as (duration s,
    power W) and its absolute price schedule as (duration s, ((energy fee, power range start W), ...))."""

    power: tuple[tuple[int, float], ...]
    prices: tuple[tuple[int, tuple[tuple[float, float], ...]], ...]
    currency: str = "EUR"
    price_algorithm: str = PRICE_POWER
    time_anchor: int = 0


@dataclass(frozen=True)
class PowerProfile:
    """The EVPowerProfile of a PowerDeliveryReq: the entries the EV will follow, and for Scheduled the
    chosen tuple and whether it accepts the SECC's PowerTolerance."""

    entries: tuple[PowerEntry, ...]
    mode: str = "Scheduled"
    schedule_tuple_id: int = 1
    tolerance_acceptance: str | None = None  # PowerToleranceConfirmed / PowerToleranceNotConfirmed
    time_anchor: int = 0


# ------------------------------------------------------------------ structured inputs -> elements

def _r(m: ModuleType, v: float | None) -> Any:
    return None if v is None else _rational(m.RationalNumberType, v)


def _evse_status(m: ModuleType, notification_name: str | None, max_delay: int) -> Any:
    if notification_name is None:
        return None
    return m.EVSEStatusType(max_delay, _enum(m.evseNotificationType, notification_name))


def _display(m: ModuleType, d: DisplayParameters | None) -> Any:
    if d is None:
        return None
    return m.DisplayParametersType(d.present_soc, d.min_soc, d.target_soc, d.max_soc,
                                   d.remaining_time_to_min_soc, d.remaining_time_to_target_soc,
                                   d.remaining_time_to_max_soc, d.charging_complete,
                                   _r(m, d.battery_energy_capacity), d.inlet_hot)


def _meter(m: ModuleType, x: MeterInfo | None) -> Any:
    if x is None:
        return None
    return m.MeterInfoType(x.meter_id, x.charged_wh, x.discharged_wh, x.capacitive_varh, x.inductive_varh,
                           x.signature, x.status, x.timestamp)


def _receipt(m: ModuleType, x: Receipt | None) -> Any:
    if x is None:
        return None

    def cost(c: tuple[float, float] | None) -> Any:
        return None if c is None else m.DetailedCostType(_r(m, c[0]), _r(m, c[1]))

    return m.ReceiptType(x.time_anchor, cost(x.energy_costs), cost(x.occupancy_costs),
                         cost(x.additional_services_costs), cost(x.overstay_costs),
                         [m.DetailedTaxType(i, _r(m, a)) for i, a in x.taxes])


def _entry(m: ModuleType, e: PowerEntry) -> Any:
    return m.PowerScheduleEntryType(e.duration, _r(m, e.power), _r(m, e.power_l2), _r(m, e.power_l3))


def _power_schedule(s: PowerSchedule) -> Any:
    m = iso20
    return m.PowerScheduleType(s.time_anchor, _r(m, s.available_energy), _r(m, s.power_tolerance),
                               m.PowerScheduleEntryListType([_entry(m, e) for e in s.entries]))


def _absolute(p: AbsolutePriceSchedule) -> Any:
    m = iso20
    taxes = m.TaxRuleListType([m.TaxRuleType(t.id, t.name, _r(m, t.rate), t.included_in_price, t.energy_fee,
                                             t.parking_fee, t.overstay_fee, t.minimum_maximum_cost)
                               for t in p.tax_rules]) if p.tax_rules else None
    stacks = m.PriceRuleStackListType([
        m.PriceRuleStackType(s.duration, [
            m.PriceRuleType(_r(m, r.energy_fee), _r(m, r.parking_fee), r.parking_fee_period,
                            r.carbon_dioxide_emission, r.renewable_generation_percentage,
                            _r(m, r.power_range_start)) for r in s.rules])
        for s in p.stacks])
    o = p.overstay
    overstay = None if o is None else m.OverstayRuleListType(
        o.time_threshold, _r(m, o.power_threshold),
        [m.OverstayRuleType(r.description, r.start_time, _r(m, r.fee), r.fee_period) for r in o.rules])
    extra = None if not p.additional_services else m.AdditionalServiceListType(
        [m.AdditionalServiceType(n, _r(m, f)) for n, f in p.additional_services])
    return m.AbsolutePriceScheduleType(p.id, p.time_anchor, p.price_schedule_id, p.description, p.currency,
                                       p.language, p.price_algorithm, _r(m, p.minimum_cost),
                                       _r(m, p.maximum_cost), taxes, stacks, overstay, extra)


def _levels(p: PriceLevelSchedule) -> Any:
    m = iso20
    return m.PriceLevelScheduleType(p.id, p.time_anchor, p.price_schedule_id, p.description, p.levels,
                                    m.PriceLevelScheduleEntryListType(
                                        [m.PriceLevelScheduleEntryType(d, lv) for d, lv in p.entries]))


def _price(p: Price | None) -> tuple[Any, Any]:
    """(AbsolutePriceSchedule, PriceLevelSchedule) elements, at most one of them."""
    if p is None:
        return None, None
    if isinstance(p, AbsolutePriceSchedule):
        return _absolute(p), None
    if isinstance(p, PriceLevelSchedule):
        return None, _levels(p)
    raise TypeError(f"a price schedule is an AbsolutePriceSchedule or a PriceLevelSchedule, "
                    f"not {type(p).__name__}")


def _charging_schedule(s: PowerSchedule, p: Price | None) -> Any:
    return iso20.ChargingScheduleType(_power_schedule(s), *_price(p))


def _schedule_tuple(t: ScheduleTuple) -> Any:
    return iso20.ScheduleTupleType(t.id, _charging_schedule(t.charging, t.charging_price),
                                   None if t.discharging is None else _charging_schedule(t.discharging,
                                                                                         t.discharging_price))


def _offer(o: EnergyOffer) -> Any:
    m = iso20
    power = m.EVPowerScheduleType(o.time_anchor, m.EVPowerScheduleEntryListType(
        [m.EVPowerScheduleEntryType(d, _r(m, p)) for d, p in o.power]))
    stacks = m.EVPriceRuleStackListType(
        [m.EVPriceRuleStackType(d, [m.EVPriceRuleType(_r(m, fee), _r(m, start)) for fee, start in rules])
         for d, rules in o.prices])
    prices = m.EVAbsolutePriceScheduleType(o.time_anchor, o.currency, o.price_algorithm, stacks)
    return m.EVEnergyOfferType(power, prices)


def _profile(p: PowerProfile) -> Any:
    m = iso20
    _check_mode(p.mode)
    entries = m.EVPowerProfileEntryListType([_entry(m, e) for e in p.entries])
    if p.mode == "Dynamic":
        return m.EVPowerProfileType(p.time_anchor, m.Dynamic_EVPPTControlModeType(), None, entries)
    acc = None if p.tolerance_acceptance is None else \
        _enum(m.powerToleranceAcceptanceType, p.tolerance_acceptance)
    return m.EVPowerProfileType(p.time_anchor, None,
                                m.Scheduled_EVPPTControlModeType(p.schedule_tuple_id, acc), entries)


# ================================================================================ CommonMessages

_C = iso20


def session_setup_req(evcc_id: str) -> Any:
    """EVCCID: the EV's identification (e.g. its MAC address as text or the vehicle certificate's CN)."""
    return _C.SessionSetupReqType(None, evcc_id)


def session_setup_res(code: Any, evse_id: str = "") -> Any:
    """``code``: OK_NewSessionEstablished, OK_OldSessionJoined or FAILED_*."""
    return _C.SessionSetupResType(None, _enum(_C.responseCodeType, code), evse_id)


def authorization_setup_req() -> Any:
    return _C.AuthorizationSetupReqType()


def authorization_setup_res(code: Any, services: Sequence[str] = ("EIM",),
                            certificate_installation: bool = False, gen_challenge: bytes | None = None,
                            providers: Sequence[str] = ()) -> Any:
    """``services``: the AuthorizationServices offered (EIM, PnC). With ``gen_challenge`` (16 random octets,
    [V2G20-697]) the PnC mode element is sent, else the EIM one ([V2G20-2567]/[V2G20-2568] via Josev)."""
    m = _C
    kinds = [_enum(m.authorizationType, s) for s in services] or [m.authorizationType.EIM]
    if gen_challenge is not None and m.authorizationType.PnC not in kinds:
        raise ValueError("a GenChallenge goes with PnC among the AuthorizationServices")
    if gen_challenge is None:
        eim, pnc = m.EIM_ASResAuthorizationModeType(), None
    else:
        eim, pnc = None, m.PnC_ASResAuthorizationModeType(
            gen_challenge, m.SupportedProvidersListType(list(providers)) if providers else None)
    return m.AuthorizationSetupResType(None, _enum(m.responseCodeType, code), kinds, certificate_installation,
                                       eim, pnc)


def pnc_authorization_mode(gen_challenge: bytes, contract_certificate: bytes,
                           sub_certificates: Sequence[bytes], id: str = "id1") -> Any:
    """The PnC_AReqAuthorizationMode of an AuthorizationReq (the part PnC signs in the header; the signing
    lives with the PnC work, not here)."""
    m = _C
    return m.PnC_AReqAuthorizationModeType(id, gen_challenge, m.ContractCertificateChainType(
        contract_certificate, m.SubCertificatesType(list(sub_certificates))))


def authorization_req(pnc: Any = None) -> Any:
    """EIM without arguments; PnC with ``pnc`` from ``pnc_authorization_mode``."""
    m = _C
    if pnc is None:
        return m.AuthorizationReqType(None, m.authorizationType.EIM, m.EIM_AReqAuthorizationModeType(), None)
    return m.AuthorizationReqType(None, m.authorizationType.PnC, None, pnc)


def authorization_res(code: Any, processing: str = "Finished") -> Any:
    """EIM: Ongoing (or Ongoing_WaitingForCustomerInteraction) while waiting; a refusal is Finished with
    WARNING_EIMAuthorizationFailure ([V2G20-2219])."""
    m = _C
    return m.AuthorizationResType(None, _enum(m.responseCodeType, code), _enum(m.processingType, processing))


def service_discovery_req(service_ids: Sequence[int] | None = None) -> Any:
    """``service_ids``: SupportedServiceIDs (optional; filters the VAS list)."""
    m = _C
    ids = None if service_ids is None else m.ServiceIDListType(list(service_ids))
    return m.ServiceDiscoveryReqType(None, ids)


def _service_list(items: Sequence[Service | int]) -> Any:
    m = _C
    return m.ServiceListType([m.ServiceType(s, False) if isinstance(s, int) else m.ServiceType(s.id, s.free)
                              for s in items])


def service_discovery_res(code: Any, services: Sequence[Service | int] = (),
                          vas: Sequence[Service | int] = (), renegotiation: bool = False) -> Any:
    """``services``: the energy transfer services (at least one unless FAILED: then a placeholder ServiceID 0
    keeps the mandatory list, as Josev does); ``vas``: value-added services; ``renegotiation``:
    ServiceRenegotiationSupported."""
    m = _C
    if not services:
        if not is_failed(code):
            raise ValueError("ServiceDiscoveryRes offers at least one energy transfer service")
        services = (Service(0),)
    return m.ServiceDiscoveryResType(None, _enum(m.responseCodeType, code), renegotiation,
                                     _service_list(services), _service_list(vas) if vas else None)


def service_detail_req(service_id: int) -> Any:
    return _C.ServiceDetailReqType(None, service_id)


def service_detail_res(code: Any, service_id: int = 0, parameter_sets: Sequence[Any] = ()) -> Any:
    """``parameter_sets``: services.ParameterSet (or generated ParameterSetType) offers. Without any and
    FAILED (FAILED_ServiceIDInvalid), one empty-named placeholder keeps the mandatory list."""
    m = _C
    sets = [p if isinstance(p, m.ParameterSetType) else p.to_element() for p in parameter_sets]
    if not sets:
        if not is_failed(code):
            raise ValueError("ServiceDetailRes offers at least one parameter set")
        sets = [m.ParameterSetType(0, [m.ParameterType("", False)])]
    return m.ServiceDetailResType(None, _enum(m.responseCodeType, code), service_id,
                                  m.ServiceParameterListType(sets))


def service_selection_req(service_id: int, parameter_set_id: int, vas: Sequence[tuple[int, int]] = ()) -> Any:
    """The energy service with its parameter set; ``vas``: (ServiceID, ParameterSetID) of selected VAS."""
    m = _C
    return m.ServiceSelectionReqType(None, m.SelectedServiceType(service_id, parameter_set_id),
                                     m.SelectedServiceListType([m.SelectedServiceType(s, p) for s, p in vas])
                                     if vas else None)


def service_selection_res(code: Any) -> Any:
    return _C.ServiceSelectionResType(None, _enum(_C.responseCodeType, code))


def schedule_exchange_req(mode: str = "Scheduled", max_supporting_points: int = 1024,
                          offer: EnergyOffer | None = None, **values: Any) -> Any:
    """The EV's mobility needs. Scheduled: departure_time, target/max/min_energy_request (all optional) and,
    for BPT, the EVEnergyOffer ``offer``. Dynamic: departure_time, min_soc, target_soc,
    target/max/min_energy_request (mandatory: 0 when left out), max/min_v2x_energy_request (BPT)."""
    m = _C
    _check_mode(mode)
    if mode == "Scheduled":
        cm = _fill(m.Scheduled_SEReqControlModeType, values, "Scheduled_SEReqControlMode")
        if offer is not None:
            cm.ev_energy_offer = _offer(offer)
        return m.ScheduleExchangeReqType(None, max_supporting_points, None, cm)
    if offer is not None:
        raise ValueError("an EVEnergyOffer belongs to Scheduled mode")
    cm = _fill(m.Dynamic_SEReqControlModeType, values, "Dynamic_SEReqControlMode")
    return m.ScheduleExchangeReqType(None, max_supporting_points, cm, None)


#: what a Scheduled ScheduleExchangeRes carries when it must carry a tuple but has none to give (FAILED or
#: Ongoing: the schema wants one even then)
PLACEHOLDER_TUPLE = ScheduleTuple(1, PowerSchedule((PowerEntry(0, 0.0),)))


def schedule_exchange_res(code: Any, processing: str = "Finished", mode: str = "Scheduled",
                          tuples: Sequence[ScheduleTuple] = (), go_to_pause: bool | None = None,
                          departure_time: int | None = None, min_soc: int | None = None,
                          target_soc: int | None = None, price: Price | None = None) -> Any:
    """Scheduled: up to three ``tuples`` (a placeholder when FAILED or Ongoing and none are given);
    Dynamic: the SECC's departure_time/min_soc/target_soc (mobility needs provided by the SECC) and an
    optional ``price`` schedule."""
    m = _C
    _check_mode(mode)
    rc, proc = _enum(m.responseCodeType, code), _enum(m.processingType, processing)
    if mode == "Scheduled":
        if price is not None or departure_time is not None or min_soc is not None or target_soc is not None:
            raise ValueError("Scheduled ScheduleExchangeRes: prices go into the schedule tuples; "
                             "departure time and SOCs are Dynamic")
        if not tuples:
            if not (is_failed(rc) or proc != m.processingType.Finished):
                raise ValueError("a Finished Scheduled ScheduleExchangeRes offers at least one "
                                 "schedule tuple")
            tuples = (PLACEHOLDER_TUPLE,)
        cm = m.Scheduled_SEResControlModeType([_schedule_tuple(t) for t in tuples])
        return m.ScheduleExchangeResType(None, rc, proc, go_to_pause, None, cm)
    if tuples:
        raise ValueError("schedule tuples belong to Scheduled mode")
    cm = m.Dynamic_SEResControlModeType(departure_time, min_soc, target_soc, *_price(price))
    return m.ScheduleExchangeResType(None, rc, proc, go_to_pause, cm, None)


def power_delivery_req(progress: str = "Start", processing: str = "Finished",
                       profile: PowerProfile | None = None, channel: str | None = None) -> Any:
    """ChargeProgress Start/Stop/Standby/ScheduleRenegotiation; EVProcessing; the EVPowerProfile (with
    Start); BPT_ChannelSelection Charge/Discharge for BPT services."""
    m = _C
    return m.PowerDeliveryReqType(None, _enum(m.processingType, processing),
                                  _enum(m.chargeProgressType, progress),
                                  None if profile is None else _profile(profile),
                                  None if channel is None else _enum(m.channelSelectionType, channel))


def power_delivery_res(code: Any, notification: str | None = None, max_delay: int = 0) -> Any:
    """``notification``: the EVSENotification of an EVSEStatus (Pause, ExitStandby, Terminate, ...), none
    by default; ``max_delay``: its NotificationMaxDelay in s."""
    m = _C
    return m.PowerDeliveryResType(None, _enum(m.responseCodeType, code),
                                  _evse_status(m, notification, max_delay))


def metering_confirmation_req(session_id: bytes, meter: MeterInfo, mode: str = "Scheduled",
                              schedule_tuple_id: int = 1, receipt: Receipt | None = None,
                              id: str = "id1") -> Any:
    """SignedMeteringData (the signature for PnC goes into the header at encode)."""
    m = _C
    _check_mode(mode)
    dyn = m.Dynamic_SMDTControlModeType() if mode == "Dynamic" else None
    sch = m.Scheduled_SMDTControlModeType(schedule_tuple_id) if mode == "Scheduled" else None
    return m.MeteringConfirmationReqType(None, m.SignedMeteringDataType(
        id, session_id, _meter(m, meter), _receipt(m, receipt), dyn, sch))


def metering_confirmation_res(code: Any) -> Any:
    return _C.MeteringConfirmationResType(None, _enum(_C.responseCodeType, code))


def session_stop_req(session: str = "Terminate", termination_code: str | None = None,
                     explanation: str | None = None) -> Any:
    """ChargingSession Terminate, Pause or ServiceRenegotiation; EVTerminationCode/-Explanation optional."""
    m = _C
    return m.SessionStopReqType(None, _enum(m.chargingSessionType, session), termination_code, explanation)


def session_stop_res(code: Any) -> Any:
    return _C.SessionStopResType(None, _enum(_C.responseCodeType, code))


def vehicle_check_in_req(status: str = "CheckIn", parking_method: str = "Manual",
                         vehicle_frame: int | None = None, device_offset: int | None = None,
                         vehicle_travel: int | None = None) -> Any:
    m = _C
    return m.VehicleCheckInReqType(None, _enum(m.evCheckInStatusType, status),
                                   _enum(m.parkingMethodType, parking_method), vehicle_frame, device_offset,
                                   vehicle_travel)


def vehicle_check_in_res(code: Any, parking_space: int | None = None, device_location: int | None = None,
                         target_distance: int | None = None) -> Any:
    m = _C
    return m.VehicleCheckInResType(None, _enum(m.responseCodeType, code), parking_space, device_location,
                                   target_distance)


def vehicle_check_out_req(status: str = "CheckOut", check_out_time: int = 0) -> Any:
    m = _C
    return m.VehicleCheckOutReqType(None, _enum(m.evCheckOutStatusType, status), check_out_time)


def vehicle_check_out_res(code: Any, evse_status: str = "Completed") -> Any:
    m = _C
    return m.VehicleCheckOutResType(None, _enum(m.responseCodeType, code), _enum(m.evseCheckOutStatusType,
                                                                                 evse_status))


# ============================================================================================ AC

_AC = iso20_ac


def ac_charge_parameter_req(bpt: bool = False, **limits: Any) -> Any:
    """AC_ChargeParameterDiscoveryReq: max/min_charge_power (W, or (L1, L2, L3)); BPT: also
    max/min_discharge_power."""
    m = _AC
    if bpt:
        return m.AC_ChargeParameterDiscoveryReqType(None, None, _fill(
            m.BPT_AC_CPDReqEnergyTransferModeType, limits, "BPT_AC_CPDReqEnergyTransferMode"))
    return m.AC_ChargeParameterDiscoveryReqType(None, _fill(m.AC_CPDReqEnergyTransferModeType, limits,
                                                            "AC_CPDReqEnergyTransferMode"), None)


def ac_charge_parameter_res(code: Any, bpt: bool = False, **limits: Any) -> Any:
    """AC_ChargeParameterDiscoveryRes: max/min_charge_power, nominal_frequency (Hz), max_power_asymmetry,
    power_ramp_limitation, present_active_power; BPT: max/min_discharge_power."""
    m = _AC
    rc = _enum(m.responseCodeType, code)
    if bpt:
        return m.AC_ChargeParameterDiscoveryResType(None, rc, None, _fill(
            m.BPT_AC_CPDResEnergyTransferModeType, limits, "BPT_AC_CPDResEnergyTransferMode"))
    return m.AC_ChargeParameterDiscoveryResType(None, rc, _fill(m.AC_CPDResEnergyTransferModeType, limits,
                                                                "AC_CPDResEnergyTransferMode"), None)


def _loop_mode(m: ModuleType, kind: str, side: str, mode: str, bpt: bool) -> tuple[str, type]:
    """(field, class) of the {BPT_}{Scheduled,Dynamic}_{AC,DC}_CL{Req,Res}ControlMode alternative."""
    _check_mode(mode)
    name = f"{'BPT_' if bpt else ''}{mode}_{kind}_CL{side}ControlMode"
    return f"{'bpt_' if bpt else ''}{mode.lower()}_{kind.lower()}_cl_{side.lower()}_control_mode", \
        getattr(m, name + "Type")


def ac_charge_loop_req(mode: str = "Scheduled", bpt: bool = False, meter_info_requested: bool = False,
                       display: DisplayParameters | None = None, **values: Any) -> Any:
    """AC_ChargeLoopReq. Scheduled: present_active_power (mandatory), optional target/max/min_energy_request,
    max/min_charge_power, present_reactive_power; Dynamic: departure_time, target/max/min_energy_request,
    max/min_charge_power, present_active/reactive_power (mandatory). BPT adds max/min_discharge_power
    (Dynamic: and max/min_v2x_energy_request). Powers take (L1, L2, L3)."""
    m = _AC
    field, cls = _loop_mode(m, "AC", "Req", mode, bpt)
    msg = m.AC_ChargeLoopReqType(None, _display(m, display), meter_info_requested)
    setattr(msg, field, _fill(cls, values, cls.__name__[:-4]))
    return msg


def ac_charge_loop_res(code: Any, mode: str = "Scheduled", bpt: bool = False, notification: str | None = None,
                       max_delay: int = 0, meter: MeterInfo | None = None, receipt: Receipt | None = None,
                       target_frequency: float | None = None, **values: Any) -> Any:
    """AC_ChargeLoopRes in the agreed control mode. Scheduled: target_active_power, target_reactive_power,
    present_active_power (all optional); Dynamic: departure_time, min_soc, target_soc, ack_max_delay and
    target_active_power (mandatory) plus the Scheduled ones. Powers take (L1, L2, L3)."""
    m = _AC
    field, cls = _loop_mode(m, "AC", "Res", mode, bpt)
    msg = m.AC_ChargeLoopResType(None, _enum(m.responseCodeType, code),
                                 _evse_status(m, notification, max_delay), _meter(m, meter),
                                 _receipt(m, receipt), _r(m, target_frequency))
    setattr(msg, field, _fill(cls, values, cls.__name__[:-4]))
    return msg


# ============================================================================================ DC

_DC = iso20_dc


def dc_charge_parameter_req(bpt: bool = False, **limits: Any) -> Any:
    """DC_ChargeParameterDiscoveryReq: max/min_charge_power, max/min_charge_current, max/min_voltage,
    target_soc; BPT: max/min_discharge_power, max/min_discharge_current."""
    m = _DC
    if bpt:
        return m.DC_ChargeParameterDiscoveryReqType(None, _fill(
            m.BPT_DC_CPDReqEnergyTransferModeType, limits, "BPT_DC_CPDReqEnergyTransferMode"), None)
    return m.DC_ChargeParameterDiscoveryReqType(None, None, _fill(m.DC_CPDReqEnergyTransferModeType, limits,
                                                                  "DC_CPDReqEnergyTransferMode"))


def dc_charge_parameter_res(code: Any, bpt: bool = False, **limits: Any) -> Any:
    """DC_ChargeParameterDiscoveryRes: max/min_charge_power, max/min_charge_current, max/min_voltage,
    power_ramp_limitation; BPT: max/min_discharge_power, max/min_discharge_current."""
    m = _DC
    rc = _enum(m.responseCodeType, code)
    if bpt:
        return m.DC_ChargeParameterDiscoveryResType(None, rc, _fill(
            m.BPT_DC_CPDResEnergyTransferModeType, limits, "BPT_DC_CPDResEnergyTransferMode"), None)
    return m.DC_ChargeParameterDiscoveryResType(None, rc, None, _fill(
        m.DC_CPDResEnergyTransferModeType, limits, "DC_CPDResEnergyTransferMode"))


def dc_cable_check_req() -> Any:
    return _DC.DC_CableCheckReqType()


def dc_cable_check_res(code: Any, processing: str = "Finished") -> Any:
    m = _DC
    return m.DC_CableCheckResType(None, _enum(m.responseCodeType, code), _enum(m.processingType, processing))


def dc_pre_charge_req(present_voltage: float, target_voltage: float, processing: str = "Ongoing") -> Any:
    """EVProcessing Ongoing while pre-charging, Finished when the voltages match."""
    m = _DC
    return m.DC_PreChargeReqType(None, _enum(m.processingType, processing), _r(m, present_voltage),
                                 _r(m, target_voltage))


def dc_pre_charge_res(code: Any, present_voltage: float = 0.0) -> Any:
    m = _DC
    return m.DC_PreChargeResType(None, _enum(m.responseCodeType, code), _r(m, present_voltage))


def dc_charge_loop_req(mode: str = "Scheduled", bpt: bool = False, present_voltage: float = 0.0,
                       meter_info_requested: bool = False, display: DisplayParameters | None = None,
                       **values: Any) -> Any:
    """DC_ChargeLoopReq. Scheduled: target_current, target_voltage (mandatory), optional
    target/max/min_energy_request, max/min_charge_power, max_charge_current, max/min_voltage; Dynamic:
    departure_time, target/max/min_energy_request, max/min_charge_power, max_charge_current, max/min_voltage
    (mandatory, no targets). BPT adds max/min_discharge_power, max_discharge_current (Dynamic: and
    max/min_v2x_energy_request)."""
    m = _DC
    field, cls = _loop_mode(m, "DC", "Req", mode, bpt)
    msg = m.DC_ChargeLoopReqType(None, _display(m, display), meter_info_requested, _r(m, present_voltage))
    setattr(msg, field, _fill(cls, values, cls.__name__[:-4]))
    return msg


def dc_charge_loop_res(code: Any, mode: str = "Scheduled", bpt: bool = False, present_voltage: float = 0.0,
                       present_current: float = 0.0, power_limit_achieved: bool = False,
                       current_limit_achieved: bool = False, voltage_limit_achieved: bool = False,
                       notification: str | None = None, max_delay: int = 0, meter: MeterInfo | None = None,
                       receipt: Receipt | None = None, **values: Any) -> Any:
    """DC_ChargeLoopRes in the agreed control mode. Scheduled: max/min_charge_power, max_charge_current,
    max_voltage (optional); Dynamic: departure_time, min_soc, target_soc, ack_max_delay and the four limits
    (mandatory). BPT adds max/min_discharge_power, max_discharge_current, min_voltage."""
    m = _DC
    field, cls = _loop_mode(m, "DC", "Res", mode, bpt)
    msg = m.DC_ChargeLoopResType(None, _enum(m.responseCodeType, code),
                                 _evse_status(m, notification, max_delay), _meter(m, meter),
                                 _receipt(m, receipt), _r(m, present_current),
                                 _r(m, present_voltage), power_limit_achieved, current_limit_achieved,
                                 voltage_limit_achieved)
    setattr(msg, field, _fill(cls, values, cls.__name__[:-4]))
    return msg


def dc_welding_detection_req(processing: str = "Ongoing") -> Any:
    m = _DC
    return m.DC_WeldingDetectionReqType(None, _enum(m.processingType, processing))


def dc_welding_detection_res(code: Any, present_voltage: float = 0.0) -> Any:
    m = _DC
    return m.DC_WeldingDetectionResType(None, _enum(m.responseCodeType, code), _r(m, present_voltage))


# ================================================================== any message, minimal content

_HEADS = ("cl_req_control_mode", "cl_res_control_mode")  # abstract-typed substitution heads: never sent


def _pick(names: list[str], mode: str, bpt: bool) -> str:
    """The alternative of a choice to fill: the agreed control mode and BPT-ness where the names say so,
    else the first (EIM before PnC in AuthorizationSetupRes, as the XSD orders them)."""
    want = mode.lower() + "_"

    def score(name: str) -> int:
        if name in _HEADS:
            return -10
        b = name.startswith("bpt_")
        core = name[4:] if b else name
        s = 2 if b == bpt else 0
        if core.startswith(("dynamic_", "scheduled_")):
            s += 1 if core.startswith(want) else -1
        return s

    return max(names, key=score)  # max keeps the first of equals


def _minimal_value(py: str, t: Any) -> Any:
    kind, lo, hi, enum_cls, _max = t
    if kind == "bool":
        return False
    if kind in ("nbit", "uint", "int"):
        return 0 if (lo is None or lo <= 0) and (hi is None or hi >= 0) else lo
    if kind == "enum":
        return enum_cls(0)
    if kind == "string":
        return "id1" if py == "id" else ""
    return b"\x00"  # hex, b64


def _minimal(mod: ModuleType, cls: type, mode: str, bpt: bool, code: Any, depth: int = 0) -> Any:
    if depth > 12:
        raise RecursionError(f"{cls.__name__}: no finite minimal content")
    obj = cls()
    meta = mod.META[cls]
    groups: dict[int, list[tuple]] = {}
    for row in meta:
        groups.setdefault(row[8], []).append(row)
    required_choices = mod.CHOICE_REQUIRED.get(cls, ())
    for g, rows in groups.items():
        if len(rows) > 1 and not any(r[5] for r in rows):  # a choice
            if g not in required_choices:
                continue
            name = _pick([r[0] for r in rows], mode, bpt)
            rows = [r for r in rows if r[0] == name]
        for py, _x, _ns, kind, t, is_list, required, _mx, _g, min_occ in rows:
            if py == "header":
                continue
            if py == "response_code":
                obj.response_code = _enum(mod.responseCodeType, code)
                continue
            if is_list:
                if min_occ:
                    setattr(obj, py, [_minimal(mod, t, mode, bpt, code, depth + 1) if isinstance(t, type)
                                      else _minimal_value(py, t) for _ in range(min_occ)])
                continue
            if not required and len(rows) == len(groups[g]):
                continue
            setattr(obj, py, _minimal(mod, t, mode, bpt, code, depth + 1) if isinstance(t, type)
                    else _minimal_value(py, t))
    return obj


def minimal(name: str, request: bool = False, code: Any = "FAILED", mode: str = "Scheduled",
            bpt: bool = False) -> Any:
    """Any message of the table with only its mandatory content (zeros, empty strings, one octet, the first
    enumeration value), choices filled in kind with ``mode``/``bpt`` (control mode, BPT_ variant, CPD
    energy transfer mode). For a response, ``code`` is its ResponseCode: the SECC's answer to a request it
    refuses, whatever the request held. Also the way to build WPT and ACDP messages for now."""
    i = info(name)
    _check_mode(mode)
    cls = i.type(request)
    return _minimal(i.module, cls, mode, bpt, code)


# ======================================================================================== readers

#: concrete control-mode / energy-transfer-mode class -> (control mode or None, is BPT)
_KIND: dict[type, tuple[str | None, bool]] = {}
#: message class -> the fields holding its variant element
_VARIANT_FIELDS: dict[type, tuple[str, ...]] = {}
_LOOP = re.compile(r"^(BPT_)?(Scheduled|Dynamic)_(AC|DC)_CL(Req|Res)ControlModeType$")
_CPD = re.compile(r"^(BPT_)?(AC|DC)_CPD(Req|Res)EnergyTransferModeType$")
_SE = re.compile(r"^(Scheduled|Dynamic)_SE(Req|Res)ControlModeType$")


def _init_variants() -> None:
    for _s, mod, _pt in SCHEMA_SETS:
        for cls in mod.META:
            n = cls.__name__
            if (x := _LOOP.match(n)) is not None:
                _KIND[cls] = (x.group(2), x.group(1) is not None)
            elif (x := _CPD.match(n)) is not None:
                _KIND[cls] = (None, x.group(1) is not None)
            elif (x := _SE.match(n)) is not None:
                _KIND[cls] = (x.group(1), False)
    for i in MESSAGES.values():
        for cls in (i.request_type, i.response_type):
            _VARIANT_FIELDS[cls] = tuple(r[0] for r in i.module.META[cls]
                                         if isinstance(r[4], type) and (r[4] in _KIND or r[0] in _HEADS))


_init_variants()


def _variant_element(body: Any) -> Any:
    for f in _VARIANT_FIELDS.get(body.__class__, ()):
        x = getattr(body, f)
        if x is not None:
            return x
    return None


def variant(body: Any) -> tuple[str | None, bool]:
    """(control mode, BPT) of a message body, from the concrete type of the element it carries (BPT_ types
    extend the plain ones in the XSD, so the element's type decides, not a base-type test):

    * {AC,DC}_ChargeLoop Req/Res: ("Scheduled"|"Dynamic", BPT_ variant or not);
    * {AC,DC}_ChargeParameterDiscovery Req/Res: (None, BPT_ energy transfer mode or not);
    * ScheduleExchange Req/Res: (mode, whether it carries discharge information: an EVEnergyOffer,
      V2X energy requests or a DischargingSchedule). The message has no BPT_ variant and Josev's EVCC sends
      an EVEnergyOffer in plain DC sessions too: the session's BPT-ness is the selected service's;
    * PowerDeliveryReq: (the EVPowerProfile's mode or None, BPT_ChannelSelection present);
    * MeteringConfirmationReq: (the SignedMeteringData's mode, False).

    (None, False) when there is nothing to tell (an abstract CLReqControlMode, another message)."""
    cls = body.__class__
    if cls is iso20.PowerDeliveryReqType:
        p = body.ev_power_profile
        mode = None if p is None else ("Dynamic" if p.dynamic_evppt_control_mode is not None else
                                       "Scheduled" if p.scheduled_evppt_control_mode is not None else None)
        return mode, body.bpt_channel_selection is not None
    if cls is iso20.MeteringConfirmationReqType:
        s = body.signed_metering_data
        return ("Dynamic" if s.dynamic_smdt_control_mode is not None else
                "Scheduled" if s.scheduled_smdt_control_mode is not None else None), False
    x = _variant_element(body)
    if x is None:
        return None, False
    kind = _KIND.get(x.__class__)
    if kind is None:
        return None, False
    mode, bpt = kind
    if cls is iso20.ScheduleExchangeReqType:
        bpt = (x.ev_energy_offer is not None) if mode == "Scheduled" else \
            (x.ev_maximum_v2_x_energy_request is not None or x.ev_minimum_v2_x_energy_request is not None)
    elif cls is iso20.ScheduleExchangeResType:
        bpt = mode == "Scheduled" and any(t.discharging_schedule is not None for t in x.schedule_tuple)
    return mode, bpt


def control_mode(body: Any) -> str | None:
    """"Scheduled", "Dynamic" or None (see ``variant``)."""
    return variant(body)[0]


def is_bpt(body: Any) -> bool:
    """Whether the body is the bidirectional (BPT_) kind (see ``variant``)."""
    return variant(body)[1]


def response_code(body: Any) -> str:
    return body.response_code.name


def charge_progress(req: Any) -> str:
    """PowerDeliveryReq's ChargeProgress: Start, Stop, Standby or ScheduleRenegotiation."""
    return req.charge_progress.name


def processing(body: Any) -> str:
    """EVSEProcessing of a response (or EVProcessing of DC_PreCharge/DC_WeldingDetection/PowerDelivery
    requests): Finished, Ongoing, Ongoing_WaitingForCustomerInteraction."""
    p = getattr(body, "evse_processing", None)
    if p is None:
        p = body.ev_processing
    return p.name


def notification(body: Any) -> tuple[str | None, int]:
    """(EVSENotification name or None without an EVSEStatus, NotificationMaxDelay s)."""
    s = getattr(body, "evse_status", None)
    if s is None:
        return None, 0
    return s.evse_notification.name, s.notification_max_delay


def values_of(body: Any) -> dict[str, Any]:
    """The plain values of a body and of its control-mode / energy-transfer-mode element, by the builders'
    keyword names: RationalNumbers as floats (V, A, W, Wh), times/SOCs as ints, flags as bools; AC per-phase
    companions as their own _l2/_l3 keys (``phases_of`` groups them)."""
    out: dict[str, Any] = {}
    _values(body, out)
    x = _variant_element(body)
    if x is not None:
        _values(x, out)
    return out


def meter_info_of(body: Any) -> MeterInfo | None:
    x = getattr(body, "meter_info", None)
    if x is None:
        return None
    return MeterInfo(x.meter_id, x.charged_energy_reading_wh, x.bpt_discharged_energy_reading_wh,
                     x.capacitive_energy_reading_va_rh, x.bpt_inductive_energy_reading_va_rh,
                     x.meter_signature, x.meter_status, x.meter_timestamp)


def receipt_of(body: Any) -> Receipt | None:
    x = getattr(body, "receipt", None)
    if x is None:
        return None

    def cost(c: Any) -> tuple[float, float] | None:
        return None if c is None else (value_of(c.amount), value_of(c.cost_per_unit))

    return Receipt(x.time_anchor, cost(x.energy_costs), cost(x.occupancy_costs),
                   cost(x.additional_services_costs), cost(x.overstay_costs),
                   tuple((t.tax_rule_id, value_of(t.amount)) for t in x.tax_costs))


def display_of(req: Any) -> DisplayParameters | None:
    d = getattr(req, "display_parameters", None)
    if d is None:
        return None
    return DisplayParameters(d.present_soc, d.minimum_soc, d.target_soc, d.maximum_soc,
                             d.remaining_time_to_minimum_soc, d.remaining_time_to_target_soc,
                             d.remaining_time_to_maximum_soc, d.charging_complete,
                             _opt(d.battery_energy_capacity), d.inlet_hot)


def _opt(r: Any) -> float | None:
    return None if r is None else value_of(r)


def _entry_of(e: Any) -> PowerEntry:
    return PowerEntry(e.duration, value_of(e.power), _opt(e.power_l2), _opt(e.power_l3))


def _power_schedule_of(s: Any) -> PowerSchedule:
    return PowerSchedule(tuple(_entry_of(e) for e in s.power_schedule_entries.power_schedule_entry),
                         s.time_anchor, _opt(s.available_energy), _opt(s.power_tolerance))


def _price_of(abs_: Any, lev: Any) -> Price | None:
    if abs_ is not None:
        p = abs_
        o = p.overstay_rules
        return AbsolutePriceSchedule(
            p.price_schedule_id,
            tuple(PriceRuleStack(s.duration, tuple(
                PriceRule(value_of(r.energy_fee), value_of(r.power_range_start), _opt(r.parking_fee),
                          r.parking_fee_period, r.carbon_dioxide_emission, r.renewable_generation_percentage)
                for r in s.price_rule)) for s in p.price_rule_stacks.price_rule_stack),
            p.currency, p.language, p.price_algorithm, p.time_anchor, p.id, p.price_schedule_description,
            _opt(p.minimum_cost), _opt(p.maximum_cost),
            tuple(TaxRule(t.tax_rule_id, value_of(t.tax_rate), t.applies_to_energy_fee,
                          t.applies_to_parking_fee, t.applies_to_overstay_fee, t.applies_minimum_maximum_cost,
                          t.tax_rule_name, t.tax_included_in_price)
                  for t in p.tax_rules.tax_rule) if p.tax_rules else (),
            None if o is None else Overstay(
                tuple(OverstayRule(r.start_time, value_of(r.overstay_fee), r.overstay_fee_period,
                                   r.overstay_rule_description) for r in o.overstay_rule),
                o.overstay_time_threshold, _opt(o.overstay_power_threshold)),
            tuple((a.service_name, value_of(a.service_fee))
                  for a in p.additional_selected_services.additional_service)
            if p.additional_selected_services else ())
    if lev is not None:
        p = lev
        return PriceLevelSchedule(p.price_schedule_id, p.number_of_price_levels,
                                  tuple((e.duration, e.price_level)
                                        for e in p.price_level_schedule_entries.price_level_schedule_entry),
                                  p.time_anchor, p.id, p.price_schedule_description)
    return None


def schedules_of(res: Any) -> tuple[ScheduleTuple, ...]:
    """The schedule tuples of a Scheduled ScheduleExchangeRes (() for Dynamic)."""
    cm = res.scheduled_se_res_control_mode
    if cm is None:
        return ()
    out = []
    for t in cm.schedule_tuple:
        c, d = t.charging_schedule, t.discharging_schedule
        charging = _power_schedule_of(c.power_schedule), _price_of(c.absolute_price_schedule,
                                                                  c.price_level_schedule)
        discharging = (None, None) if d is None else (
            _power_schedule_of(d.power_schedule),
            _price_of(d.absolute_price_schedule, d.price_level_schedule))
        out.append(ScheduleTuple(t.schedule_tuple_id, *charging, *discharging))
    return tuple(out)


def price_of(res: Any) -> Price | None:
    """The price schedule of a Dynamic ScheduleExchangeRes."""
    cm = res.dynamic_se_res_control_mode
    return None if cm is None else _price_of(cm.absolute_price_schedule, cm.price_level_schedule)


def offer_of(req: Any) -> EnergyOffer | None:
    """The EVEnergyOffer of a Scheduled ScheduleExchangeReq."""
    cm = req.scheduled_se_req_control_mode
    o = None if cm is None else cm.ev_energy_offer
    if o is None:
        return None
    ps, pr = o.ev_power_schedule, o.ev_absolute_price_schedule
    return EnergyOffer(tuple((e.duration, value_of(e.power))
                             for e in ps.ev_power_schedule_entries.ev_power_schedule_entry),
                       tuple((s.duration, tuple((value_of(r.energy_fee), value_of(r.power_range_start))
                                                for r in s.ev_price_rule))
                             for s in pr.ev_price_rule_stacks.ev_price_rule_stack),
                       pr.currency, pr.price_algorithm, ps.time_anchor)


def power_profile_of(req: Any) -> PowerProfile | None:
    """The EVPowerProfile of a PowerDeliveryReq."""
    p = req.ev_power_profile
    if p is None:
        return None
    entries = tuple(_entry_of(e) for e in p.ev_power_profile_entries.ev_power_profile_entry)
    s = p.scheduled_evppt_control_mode
    if s is None:
        return PowerProfile(entries, "Dynamic", 1, None, p.time_anchor)
    acc = None if s.power_tolerance_acceptance is None else s.power_tolerance_acceptance.name
    return PowerProfile(entries, "Scheduled", s.selected_schedule_tuple_id, acc, p.time_anchor)


def services_of(res: Any) -> tuple[tuple[Service, ...], tuple[Service, ...]]:
    """(energy transfer services, value-added services) of a ServiceDiscoveryRes."""
    vas = res.vas_list.service if res.vas_list is not None else []
    return (tuple(Service(s.service_id, s.free_service) for s in res.energy_transfer_service_list.service),
            tuple(Service(s.service_id, s.free_service) for s in vas))
