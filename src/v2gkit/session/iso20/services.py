"""The ISO 15118-20 service catalogue: ServiceIDs, the ServiceDetail parameter names and their value codes,
parameter sets, and the offers an SECC makes by default. One home for these constants.

Where each value comes from (the standard's tables are not reproduced here; the implementations that read
them are cited):

* ServiceIDs 1-7, 65, 66: ISO 15118-20 Table 204 as read by Josev (``enums.ServiceV20``, "Table 204 in
  8.4.3.1") and libiso15118 (``ServiceCategory``); both agree. libiso15118 also lists MCS (8), MCS_BPT (9)
  and AC_DER (10), from later amendment work: not here.
* Parameter names Connector, ControlMode, EVSENominalVoltage, MobilityNeedsMode, Pricing, BPTChannel,
  GeneratorMode: Josev ``enums.ParameterName`` (Tables 205-207), libiso15118 ``ParameterSet``, and the
  ServiceDetailRes frames in /work/shared/vectors (Josev, EVerest, EDF, dSPACE): all send them as intValue.
* The grid-code islanding parameter is spelt two ways: "GridCodeIslandingDetectionMethod" (Josev) and
  "DetectionMethodGridCodeIslanding" (libiso15118/EVerest). We send Josev's and read both.
* AC Connector: 1 single phase, 2 three phase (Josev ``ACConnector``, "Table 205", and the dSPACE/Josev AC BPT
  trace); libiso15118 uses 3 for three phase. Unsettled until the table itself is read.
* DC Connector 1 Core, 2 Extended, 3 Dual2, 4 Dual4; ControlMode 1 Scheduled, 2 Dynamic; MobilityNeedsMode
  1 ProvidedByEvcc, 2 ProvidedBySecc; Pricing 0 none, 1 absolute, 2 price levels; BPTChannel 1 unified,
  2 separated; GeneratorMode 1 grid following, 2 grid forming; islanding detection 1 active, 2 passive:
  Josev and libiso15118 agree.
* MobilityNeedsMode 2 only with ControlMode 2 ([V2G20-2663] as cited by Josev; libiso15118 forces 1 for
  Scheduled too).
* VAS parameters: Internet Protocol ("ftp"/"http"/"https", finiteString) and Port (20, 21, 80, 443);
  ParkingStatus IntendedService (1 check-in, 2 check-out) and ParkingStatusType (1-4): libiso15118 only.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...exi.gen import iso20
from .messages import rational, value_of


class ServiceID(enum.IntEnum):
    """ServiceIDs of the -20 services (energy transfer 1-7, value-added 65, 66)."""

    AC = 1
    DC = 2
    WPT = 3
    DC_ACDP = 4
    AC_BPT = 5
    DC_BPT = 6
    DC_ACDP_BPT = 7
    INTERNET = 65
    PARKING_STATUS = 66


ENERGY_SERVICES = frozenset({ServiceID.AC, ServiceID.DC, ServiceID.WPT, ServiceID.DC_ACDP, ServiceID.AC_BPT,
                             ServiceID.DC_BPT, ServiceID.DC_ACDP_BPT})
VALUE_ADDED_SERVICES = frozenset({ServiceID.INTERNET, ServiceID.PARKING_STATUS})
AC_SERVICES = frozenset({ServiceID.AC, ServiceID.AC_BPT})
DC_SERVICES = frozenset({ServiceID.DC, ServiceID.DC_BPT, ServiceID.DC_ACDP, ServiceID.DC_ACDP_BPT})
BPT_SERVICES = frozenset({ServiceID.AC_BPT, ServiceID.DC_BPT, ServiceID.DC_ACDP_BPT})


class Param(enum.StrEnum):
    """Parameter names of ServiceDetailRes parameter sets."""

    CONNECTOR = "Connector"
    CONTROL_MODE = "ControlMode"
    EVSE_NOMINAL_VOLTAGE = "EVSENominalVoltage"
    MOBILITY_NEEDS_MODE = "MobilityNeedsMode"
    PRICING = "Pricing"
    BPT_CHANNEL = "BPTChannel"
    GENERATOR_MODE = "GeneratorMode"
    GRID_CODE_ISLANDING = "GridCodeIslandingDetectionMethod"
    PROTOCOL = "Protocol"
    PORT = "Port"
    INTENDED_SERVICE = "IntendedService"
    PARKING_STATUS = "ParkingStatusType"


#: other spellings seen on the wire -> the name used here
PARAM_ALIASES: dict[str, str] = {"DetectionMethodGridCodeIslanding": Param.GRID_CODE_ISLANDING}


class ACConnector(enum.IntEnum):
    SINGLE_PHASE = 1
    THREE_PHASE = 2  # libiso15118: 3 (see the module docstring)


class DCConnector(enum.IntEnum):
    CORE = 1
    EXTENDED = 2
    DUAL2 = 3
    DUAL4 = 4


class ControlMode(enum.IntEnum):
    SCHEDULED = 1
    DYNAMIC = 2

    @property
    def label(self) -> str:
        """The name messages.py uses for it: "Scheduled" or "Dynamic"."""
        return self.name.capitalize()


class MobilityNeedsMode(enum.IntEnum):
    PROVIDED_BY_EVCC = 1
    PROVIDED_BY_SECC = 2


class Pricing(enum.IntEnum):
    NONE = 0
    ABSOLUTE = 1
    LEVELS = 2


class BPTChannel(enum.IntEnum):
    UNIFIED = 1
    SEPARATED = 2


class GeneratorMode(enum.IntEnum):
    GRID_FOLLOWING = 1
    GRID_FORMING = 2


class GridCodeIslanding(enum.IntEnum):
    ACTIVE = 1
    PASSIVE = 2


class InternetProtocol(enum.StrEnum):
    FTP = "ftp"
    HTTP = "http"
    HTTPS = "https"


class IntendedService(enum.IntEnum):
    VEHICLE_CHECK_IN = 1
    VEHICLE_CHECK_OUT = 2


class ParkingStatus(enum.IntEnum):
    AUTO_INTERNAL = 1
    AUTO_EXTERNAL = 2
    MANUAL_INTERNAL = 3
    MANUAL_EXTERNAL = 4


#: what a parameter's value is on the wire follows its Python type: bool -> boolValue, int (IntEnum too) ->
#: intValue (as every implementation sends them), float -> rationalNumber, str -> finiteString
Value = bool | int | float | str


@dataclass(frozen=True)
class ParameterSet:
    """A ServiceDetailRes ParameterSet: its ID and named parameters, in order (a name may repeat on the wire:
    the dSPACE/Josev trace sends GeneratorMode twice; ``get`` gives the first)."""

    id: int
    parameters: tuple[tuple[str, Value], ...]

    def __init__(self, id: int, parameters: Mapping[str, Value] | Sequence[tuple[str, Value]] = ()) -> None:
        items = tuple(parameters.items()) if isinstance(parameters, Mapping) else tuple(parameters)
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "parameters", tuple((str(k), v) for k, v in items))

    def get(self, name: str, default: Value | None = None) -> Value | None:
        for k, v in self.parameters:
            if k == name:
                return v
        return default

    def __getitem__(self, name: str) -> Value:
        v = self.get(name)
        if v is None:
            raise KeyError(name)
        return v

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self.parameters)

    # typed views of the common parameters (None when the set has no such parameter or an unknown code)
    @property
    def control_mode(self) -> ControlMode | None:
        return _code(ControlMode, self.get(Param.CONTROL_MODE))

    @property
    def mobility_needs_mode(self) -> MobilityNeedsMode | None:
        return _code(MobilityNeedsMode, self.get(Param.MOBILITY_NEEDS_MODE))

    @property
    def pricing(self) -> Pricing | None:
        return _code(Pricing, self.get(Param.PRICING))

    @property
    def bpt_channel(self) -> BPTChannel | None:
        return _code(BPTChannel, self.get(Param.BPT_CHANNEL))

    def to_element(self) -> Any:
        """The generated ParameterSetType (CommonMessages)."""
        m = iso20
        return m.ParameterSetType(self.id, [_parameter(k, v) for k, v in self.parameters])

    @classmethod
    def from_element(cls, ps: Any) -> ParameterSet:
        """From a decoded ParameterSetType; alias names (PARAM_ALIASES) come back under their name here."""
        return cls(ps.parameter_set_id,
                   [(PARAM_ALIASES.get(p.name, p.name), _value(p)) for p in ps.parameter])


def _code(cls: type[enum.IntEnum], v: Value | None) -> Any:
    if v is None or isinstance(v, (bool, str, float)):
        return None
    try:
        return cls(v)
    except ValueError:
        return None


def _parameter(name: str, v: Value) -> Any:
    P = iso20.ParameterType
    if isinstance(v, bool):
        return P(name, bool_value=v)
    if isinstance(v, int):
        return P(name, int_value=int(v))
    if isinstance(v, float):
        return P(name, rational_number=rational(v))
    if isinstance(v, str):
        return P(name, finite_string=str(v))
    raise TypeError(f"parameter {name}: a bool, int, float or str, not {type(v).__name__}")


def _value(p: Any) -> Value:
    for v in (p.bool_value, p.byte_value, p.short_value, p.int_value, p.finite_string):
        if v is not None:
            return v
    if p.rational_number is not None:
        return value_of(p.rational_number)
    raise ValueError(f"parameter {p.name!r} has no value")


def parameter_sets_of(res: Any) -> tuple[ParameterSet, ...]:
    """The parameter sets a ServiceDetailRes offers."""
    return tuple(ParameterSet.from_element(ps) for ps in res.service_parameter_list.parameter_set)


def _modes(control_modes: Sequence[ControlMode], secc_mobility_needs: bool) -> list[tuple[int, int]]:
    """(ControlMode, MobilityNeedsMode) pairs: Scheduled with the EV's mobility needs only; Dynamic with the
    EV's and, when the SECC can provide them, the SECC's too."""
    out = []
    for cm in control_modes:
        out.append((ControlMode(cm), MobilityNeedsMode.PROVIDED_BY_EVCC))
        if cm == ControlMode.DYNAMIC and secc_mobility_needs:
            out.append((ControlMode.DYNAMIC, MobilityNeedsMode.PROVIDED_BY_SECC))
    return out


def default_parameter_sets(service_id: int, *, control_modes: Sequence[ControlMode] = (ControlMode.SCHEDULED,
                                                                                       ControlMode.DYNAMIC),
                           secc_mobility_needs: bool = False, pricing: Pricing = Pricing.NONE,
                           connector: int | None = None, nominal_voltage: int = 230,
                           bpt_channel: BPTChannel = BPTChannel.UNIFIED,
                           generator_mode: GeneratorMode = GeneratorMode.GRID_FOLLOWING,
                           islanding: GridCodeIslanding | None = None,
                           first_id: int = 1) -> tuple[ParameterSet, ...]:
    """Sensible ServiceDetailRes offers for a service: one set per (control mode, mobility needs mode) for the
    energy services, numbered from ``first_id``.

    AC/AC_BPT: Connector (three phase), ControlMode, EVSENominalVoltage (V, per phase), MobilityNeedsMode,
    Pricing; DC/DC_BPT: Connector (extended), ControlMode, MobilityNeedsMode, Pricing; DC_ACDP(_BPT):
    ControlMode, MobilityNeedsMode (libiso15118's list); WPT: ControlMode, Pricing; BPT services add
    BPTChannel and GeneratorMode (AC_BPT also the islanding detection method when given). Internet: https/443
    and http/80; ParkingStatus: check-in with manual-internal parking."""
    sid = ServiceID(service_id)
    sets: list[dict[str, Value]] = []
    if sid == ServiceID.INTERNET:
        sets = [{Param.PROTOCOL: InternetProtocol.HTTPS.value, Param.PORT: 443},
                {Param.PROTOCOL: InternetProtocol.HTTP.value, Param.PORT: 80}]
    elif sid == ServiceID.PARKING_STATUS:
        sets = [{Param.INTENDED_SERVICE: int(IntendedService.VEHICLE_CHECK_IN),
                 Param.PARKING_STATUS: int(ParkingStatus.MANUAL_INTERNAL)}]
    elif sid == ServiceID.WPT:
        sets = [{Param.CONTROL_MODE: int(cm), Param.PRICING: int(pricing)} for cm in control_modes]
    else:
        for cm, mnm in _modes(control_modes, secc_mobility_needs):
            p: dict[str, Value] = {}
            if sid in AC_SERVICES:
                p[Param.CONNECTOR] = int(connector if connector is not None else ACConnector.THREE_PHASE)
                p[Param.CONTROL_MODE] = int(cm)
                p[Param.EVSE_NOMINAL_VOLTAGE] = int(nominal_voltage)
            elif sid in (ServiceID.DC, ServiceID.DC_BPT):
                p[Param.CONNECTOR] = int(connector if connector is not None else DCConnector.EXTENDED)
                p[Param.CONTROL_MODE] = int(cm)
            else:
                p[Param.CONTROL_MODE] = int(cm)
            p[Param.MOBILITY_NEEDS_MODE] = int(mnm)
            if sid not in (ServiceID.DC_ACDP, ServiceID.DC_ACDP_BPT):
                p[Param.PRICING] = int(pricing)
            if sid in BPT_SERVICES:
                p[Param.BPT_CHANNEL] = int(bpt_channel)
                if sid != ServiceID.DC_ACDP_BPT:
                    p[Param.GENERATOR_MODE] = int(generator_mode)
                if sid == ServiceID.AC_BPT and islanding is not None:
                    p[Param.GRID_CODE_ISLANDING] = int(islanding)
            sets.append(p)
    return tuple(ParameterSet(first_id + i, {str(k): v for k, v in p.items()}) for i, p in enumerate(sets))
