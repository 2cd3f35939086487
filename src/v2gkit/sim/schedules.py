"""Power schedules and price tables for ISO 15118-20 sessions, read from TOML, and the Dynamic-mode planner.

A file describes one ScheduleTuple as the -20 ScheduleExchangeRes offers it: a ``charging_schedule`` and
optionally a ``discharging_schedule`` (BPT), each a ``power_schedule`` and at most one price schedule
(``absolute_price_schedule`` or ``price_level_schedule``). Keys are the snake_case XSD element names; times
are seconds from the schedule's start (its TimeAnchor, which the session fills in). Everything is checked on
load against the -20 schema's limits; a ``ScheduleError`` names the file, the table and the key.

Reading the price rules: an EnergyFee is what the driver pays per kWh that flows at a power within the
rule's range (from its PowerRangeStart up to the next rule's), in either direction; a negative fee is paid to
the driver. A charging schedule may price discharge with rules of negative PowerRangeStart (the "reverse"
pricing of the standard's examples); a discharging schedule prices discharge by the power's magnitude.

``v2gkit.sim.planner`` plans Dynamic mode over these. Frozen values: nothing here reads a clock.
"""

from __future__ import annotations

import bisect
import math
import tomllib
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

# -- limits of the ISO 15118-20 schema (V2G_CI_CommonMessages.xsd, V2G_CI_CommonTypes.xsd) -------------------
MAX_POWER_SCHEDULE_ENTRIES = 1024  # PowerScheduleEntryListType
MAX_PRICE_RULE_STACKS = 1024  # PriceRuleStackListType
MAX_PRICE_RULES = 8  # PriceRuleStackType: PriceRule{1,8}
MAX_TAX_RULES = 10  # TaxRuleListType
MAX_OVERSTAY_RULES = 5  # OverstayRuleListType
MAX_ADDITIONAL_SERVICES = 5  # AdditionalServiceListType
MAX_PRICE_LEVEL_ENTRIES = 1024  # PriceLevelScheduleEntryListType
MAX_SCHEDULE_TUPLES = 3  # Scheduled_SEResControlModeType: ScheduleTuple{1,3}
UNSIGNED_INT_MAX = 2**32 - 1  # xs:unsignedInt: Duration, StartTime, ParkingFeePeriod, OverstayFeePeriod
NUMERIC_ID_MAX = 2**32 - 1  # numericIDType 1..4294967295: ScheduleTupleID, PriceScheduleID, TaxRuleID
UNSIGNED_SHORT_MAX = 65535  # CarbonDioxideEmission
UNSIGNED_BYTE_MAX = 255  # NumberOfPriceLevels, PriceLevel
CURRENCY_MAX = 3  # currencyType
LANGUAGE_MAX = 3  # languageType
IDENTIFIER_MAX = 255  # identifierType: PriceAlgorithm
NAME_MAX = 80  # nameType: TaxRuleName, ServiceName
DESCRIPTION_MAX = 160  # descriptionType: PriceScheduleDescription, OverstayRuleDescription
MAX_PHASES = 3  # Power, Power_L2, Power_L3

#: the three PriceAlgorithm identifiers the standard defines, by the short names a file may use instead
PRICE_ALGORITHMS = {
    "power": "urn:iso:std:iso:15118:-20:PriceAlgorithm:1-Power",
    "peak-power": "urn:iso:std:iso:15118:-20:PriceAlgorithm:2-PeakPower",
    "stacked-energy": "urn:iso:std:iso:15118:-20:PriceAlgorithm:3-StackedEnergy",
}

#: the example files shipped in ``v2gkit/sim/data`` (``example_path(name)``)
EXAMPLES = ("plain.toml", "v2g_day.toml")


class ScheduleError(ValueError):
    """A schedule file the sessions cannot use; ``source``, ``table`` and ``key`` say where, ``reason`` what."""

    def __init__(self, source: str, table: str, key: str | None, reason: str) -> None:
        where = "".join((f" [{table}]" if table else "", f" {key}" if key else ""))
        super().__init__(f"{source}:{where}: {reason}" if where else f"{source}: {reason}")
        self.source, self.table, self.key, self.reason = source, table, key, reason


# -- the values ---------------------------------------------------------------------------------------


class _Timed(Protocol):
    @cached_property
    def duration(self) -> int: ...


def _starts(entries: tuple[_Timed, ...]) -> tuple[int, ...]:
    out, t = [], 0
    for e in entries:
        out.append(t)
        t += e.duration
    return tuple(out)


def _cut(entries: tuple[Any, ...], t: int) -> tuple[Any, ...]:
    """The entries from ``t`` seconds on, the first one shortened: what is left of a schedule at ``t``."""
    out, start = [], 0
    for e in entries:
        end = start + e.duration
        if end > t:
            out.append(replace(e, duration=end - max(start, t)))
        start = end
    return tuple(out)


def _index_at(starts: tuple[int, ...], total: int, t: float) -> int | None:
    """Index of the entry in force at ``t`` (seconds from the start), None before 0 or from ``total`` on."""
    if not 0.0 <= t < total:
        return None
    return bisect.bisect_right(starts, t) - 1


@dataclass(frozen=True)
class PowerScheduleEntry:
    """PowerScheduleEntry: for ``duration`` seconds at most ``power`` W (a magnitude; in a discharging
    schedule the most the charger takes from the car)."""

    duration: int  # s, Duration
    power: float  # W, Power (the total over the phases)
    phases: tuple[float, ...] | None = None  # W per phase: Power (L1), Power_L2, Power_L3, when given so
    min_power: float = 0.0  # W, EVSEMinimumChargePower / EVSEMinimumDischargePower while in force


@dataclass(frozen=True)
class PowerSchedule:
    """PowerScheduleType: consecutive entries from the schedule's start."""

    entries: tuple[PowerScheduleEntry, ...]
    available_energy: float | None = None  # Wh, AvailableEnergy
    power_tolerance: float | None = None  # W, PowerTolerance

    @cached_property
    def _starts(self) -> tuple[int, ...]:
        return _starts(self.entries)

    @cached_property
    def duration(self) -> int:
        """Seconds the schedule covers."""
        return sum(e.duration for e in self.entries)

    def boundaries(self) -> tuple[int, ...]:
        """Where one entry ends and the next begins, and the end."""
        return self._starts[1:] + (self.duration,)

    def entry_at(self, t: float) -> PowerScheduleEntry | None:
        """The entry in force ``t`` seconds after the start; None outside the schedule."""
        i = _index_at(self._starts, self.duration, t)
        return None if i is None else self.entries[i]

    def since(self, t: int) -> PowerSchedule | None:
        entries = _cut(self.entries, t)
        return replace(self, entries=entries) if entries else None


@dataclass(frozen=True)
class PriceRule:
    """PriceRule: the fees for power from ``power_range_start`` up to the next rule's start."""

    energy_fee: float  # currency per kWh, EnergyFee
    power_range_start: float = 0.0  # W, PowerRangeStart
    parking_fee: float | None = None  # currency per ParkingFeePeriod, ParkingFee
    parking_fee_period: int | None = None  # s, ParkingFeePeriod
    carbon_dioxide_emission: int | None = None  # g/kWh, CarbonDioxideEmission
    renewable_generation_percentage: int | None = None  # %, RenewableGenerationPercentage


@dataclass(frozen=True)
class PriceRuleStack:
    """PriceRuleStack: the rules for ``duration`` seconds, ordered by PowerRangeStart."""

    duration: int  # s, Duration
    price_rules: tuple[PriceRule, ...]

    def rule_for(self, power: float) -> PriceRule:
        """The rule whose range holds ``power`` (the lowest rule below every start)."""
        chosen = self.price_rules[0]
        for rule in self.price_rules:
            if rule.power_range_start <= power:
                chosen = rule
        return chosen


@dataclass(frozen=True)
class TaxRule:
    """TaxRule."""

    tax_rule_id: int
    tax_rate: float  # fraction: 0.19 is 19 %, TaxRate
    applies_to_energy_fee: bool
    applies_to_parking_fee: bool
    applies_to_overstay_fee: bool
    applies_minimum_maximum_cost: bool
    tax_rule_name: str | None = None
    tax_included_in_price: bool | None = None


@dataclass(frozen=True)
class OverstayRule:
    """OverstayRule: from ``start_time`` seconds into the overstay, ``overstay_fee`` per period."""

    start_time: int  # s, StartTime
    overstay_fee: float  # currency per OverstayFeePeriod, OverstayFee
    overstay_fee_period: int  # s, OverstayFeePeriod
    description: str | None = None  # OverstayRuleDescription


@dataclass(frozen=True)
class OverstayRules:
    """OverstayRuleListType: when an overstay begins and what it costs."""

    overstay_rules: tuple[OverstayRule, ...]
    overstay_time_threshold: int | None = None  # s, OverstayTimeThreshold
    overstay_power_threshold: float | None = None  # W, OverstayPowerThreshold


@dataclass(frozen=True)
class AdditionalService:
    """AdditionalService of AdditionalSelectedServices."""

    service_name: str
    service_fee: float


@dataclass(frozen=True)
class AbsolutePriceSchedule:
    """AbsolutePriceScheduleType: prices in a currency, stack by stack from the schedule's start."""

    price_schedule_id: int
    currency: str
    language: str
    price_algorithm: str
    price_rule_stacks: tuple[PriceRuleStack, ...]
    description: str | None = None  # PriceScheduleDescription
    minimum_cost: float | None = None
    maximum_cost: float | None = None
    tax_rules: tuple[TaxRule, ...] = ()
    overstay_rules: OverstayRules | None = None
    additional_selected_services: tuple[AdditionalService, ...] = ()

    @cached_property
    def _starts(self) -> tuple[int, ...]:
        return _starts(self.price_rule_stacks)

    @cached_property
    def duration(self) -> int:
        return sum(s.duration for s in self.price_rule_stacks)

    def boundaries(self) -> tuple[int, ...]:
        return self._starts[1:] + (self.duration,)

    @cached_property
    def energy_tax(self) -> float:
        """Tax rate added to an EnergyFee: the rules that apply to it and are not included already."""
        return sum(r.tax_rate for r in self.tax_rules
                   if r.applies_to_energy_fee and not r.tax_included_in_price)

    def since(self, t: int) -> AbsolutePriceSchedule | None:
        stacks = _cut(self.price_rule_stacks, t)
        return replace(self, price_rule_stacks=stacks) if stacks else None

    def price_at(self, t: float, power: float = 0.0) -> float | None:
        """Currency per kWh flowing at ``power`` W, ``t`` seconds after the start, taxes included (the rule
        of that power, as the 1-Power algorithm applies it; the planner uses it for the other two too)."""
        i = _index_at(self._starts, self.duration, t)
        if i is None:
            return None
        return self.price_rule_stacks[i].rule_for(power).energy_fee * (1.0 + self.energy_tax)


@dataclass(frozen=True)
class PriceLevelScheduleEntry:
    duration: int  # s, Duration
    price_level: int  # PriceLevel, lower is cheaper


@dataclass(frozen=True)
class PriceLevelSchedule:
    """PriceLevelScheduleType: relative price levels over time."""

    price_schedule_id: int
    number_of_price_levels: int
    entries: tuple[PriceLevelScheduleEntry, ...]
    description: str | None = None

    @cached_property
    def _starts(self) -> tuple[int, ...]:
        return _starts(self.entries)

    @cached_property
    def duration(self) -> int:
        return sum(e.duration for e in self.entries)

    def boundaries(self) -> tuple[int, ...]:
        return self._starts[1:] + (self.duration,)

    def since(self, t: int) -> PriceLevelSchedule | None:
        entries = _cut(self.entries, t)
        return replace(self, entries=entries) if entries else None

    def price_at(self, t: float, power: float = 0.0) -> float | None:
        """The price level in force ``t`` seconds after the start (``power`` plays no part)."""
        i = _index_at(self._starts, self.duration, t)
        return None if i is None else float(self.entries[i].price_level)


PriceSchedule = AbsolutePriceSchedule | PriceLevelSchedule


@dataclass(frozen=True)
class ChargingSchedule:
    """ChargingScheduleType (used for both directions): a power schedule and at most one price schedule."""

    power_schedule: PowerSchedule | None = None
    price_schedule: PriceSchedule | None = None


@dataclass(frozen=True)
class PowerLimit:
    """What the schedules allow at one moment: magnitudes in W (0 discharge: no discharging schedule)."""

    max_charge: float
    max_discharge: float = 0.0
    min_charge: float = 0.0
    min_discharge: float = 0.0
    charge_phases: tuple[float, ...] | None = None
    discharge_phases: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Schedules:
    """One ScheduleTuple: what a file holds. ``source`` names the file for messages."""

    charging_schedule: ChargingSchedule
    discharging_schedule: ChargingSchedule | None = None
    schedule_tuple_id: int = 1
    source: str = "<schedules>"

    @property
    def prices(self) -> PriceSchedule | None:
        return self.charging_schedule.price_schedule

    @property
    def absolute(self) -> bool:
        """Prices are money (absolute), not levels; the planner compares them differently."""
        return isinstance(self.prices, AbsolutePriceSchedule)

    def power_limit_at(self, t: float) -> PowerLimit | None:
        """The limits ``t`` seconds after the start; None where the charging power schedule says nothing
        (none given, or past its end). Discharge is 0 where no discharging power schedule is in force."""
        charging = self.charging_schedule.power_schedule
        entry = charging.entry_at(t) if charging is not None else None
        if entry is None:
            return None
        discharging = self.discharging_schedule.power_schedule if self.discharging_schedule else None
        d = discharging.entry_at(t) if discharging is not None else None
        if d is None:
            return PowerLimit(max_charge=entry.power, min_charge=entry.min_power, charge_phases=entry.phases)
        return PowerLimit(max_charge=entry.power, min_charge=entry.min_power, charge_phases=entry.phases,
                          max_discharge=d.power, min_discharge=d.min_power, discharge_phases=d.phases)

    def price_at(self, t: float, power: float = 0.0) -> float | None:
        """What the driver pays per kWh flowing at ``power`` W (< 0 discharge) ``t`` seconds after the start
        (a price level for level schedules); negative: paid to the driver. Discharge is priced by the
        discharging schedule's prices where given, else by the charging schedule's rule for that power.
        None where no price schedule covers ``t``."""
        discharging = self.discharging_schedule.price_schedule if self.discharging_schedule else None
        if power < 0.0 and discharging is not None:
            return discharging.price_at(t, -power)
        return self.prices.price_at(t, power) if self.prices is not None else None

    def since(self, t: int) -> Schedules:
        """What is left ``t`` seconds after the start, as a ScheduleExchangeRes made then offers it (its
        TimeAnchor is then): entries that ended are gone, the one in force is shortened. ValueError when
        nothing of the charging schedule is left."""
        if isinstance(t, bool) or not isinstance(t, int) or t < 0:
            raise ValueError(f"t must be a whole number of seconds >= 0, not {t!r}")

        def cut(schedule: ChargingSchedule | None) -> ChargingSchedule | None:
            if schedule is None:
                return None
            power = schedule.power_schedule.since(t) if schedule.power_schedule else None
            price = schedule.price_schedule.since(t) if schedule.price_schedule else None
            return ChargingSchedule(power, price) if power or price else None

        charging = cut(self.charging_schedule)
        if charging is None:
            raise ValueError(f"{self.source}: the charging schedule ends before {t} s")
        return replace(self, charging_schedule=charging, discharging_schedule=cut(self.discharging_schedule))

    def boundaries(self) -> tuple[int, ...]:
        """Every time at which some limit or price changes, sorted."""
        times: set[int] = set()
        for schedule in (self.charging_schedule, self.discharging_schedule):
            if schedule is None:
                continue
            for part in (schedule.power_schedule, schedule.price_schedule):
                if part is not None:
                    times.update(part.boundaries())
        return tuple(sorted(times))


# -- reading TOML ---------------------------------------------------------------------------------------

_REQUIRED: Any = object()


class _Table:
    """One TOML table being read: typed getters that raise ScheduleError naming the key, and ``finish``
    refusing the keys nobody asked for (a typo must not silently fall back to a default)."""

    def __init__(self, data: Any, source: str, name: str) -> None:
        self.source, self.name = source, name
        if not isinstance(data, dict):
            raise ScheduleError(source, name, None, f"must be a table, not {type(data).__name__} {data!r}")
        self.data: dict[str, Any] = data
        self.used: set[str] = set()

    def error(self, key: str | None, reason: str) -> ScheduleError:
        return ScheduleError(self.source, self.name, key, reason)

    def _get(self, key: str, default: Any) -> tuple[Any, bool]:
        self.used.add(key)
        if key in self.data:
            return self.data[key], True
        if default is _REQUIRED:
            raise self.error(key, "is missing")
        return default, False

    def number(self, key: str, default: Any = _REQUIRED, *, low: float | None = None, what: str = "") -> Any:
        value, given = self._get(key, default)
        if not given:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.error(key, f"must be a number{what}, not {value!r}")
        if low is not None and value < low:
            raise self.error(key, f"must be >= {low:g}{what}, not {value!r}")
        return float(value)

    def integer(self, key: str, low: int, high: int, default: Any = _REQUIRED, *, what: str = "") -> Any:
        value, given = self._get(key, default)
        if not given:
            return value
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(key, f"must be a whole number {low}..{high}{what}, not {value!r}")
        return value

    def text(self, key: str, max_length: int, default: Any = _REQUIRED, *, what: str = "") -> Any:
        value, given = self._get(key, default)
        if not given:
            return value
        if not isinstance(value, str) or not 1 <= len(value) <= max_length:
            raise self.error(key, f"must be a string of 1 to {max_length} characters{what}, not {value!r}")
        return value

    def flag(self, key: str, default: Any = _REQUIRED) -> Any:
        value, given = self._get(key, default)
        if given and not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {value!r}")
        return value

    def tables(self, key: str, low: int, high: int, *, what: str = "") -> list[_Table]:
        """An array of tables (``[[name.key]]`` or ``key = [{...}, ...]``) of ``low``..``high`` entries."""
        value, _ = self._get(key, [] if low == 0 else _REQUIRED)
        if not isinstance(value, list):
            raise self.error(key, f"must be an array of tables{what}, not {value!r}")
        if not low <= len(value) <= high:
            raise self.error(key, f"must have {low} to {high} entries{what}, not {len(value)}")
        return [_Table(item, self.source, f"{self.name}.{key}[{i}]") for i, item in enumerate(value)]

    def table(self, key: str) -> _Table | None:
        value, given = self._get(key, None)
        return _Table(value, self.source, f"{self.name}.{key}" if self.name else key) if given else None

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            known = ", ".join(sorted(self.used)) or "none"
            raise self.error(unknown[0], f"is not a key of this table (keys: {known})")


def _duration(t: _Table) -> int:
    return t.integer("duration", 1, UNSIGNED_INT_MAX, what=" s (unsignedInt; 0 s would never apply)")


def _power_entry(t: _Table) -> PowerScheduleEntry:
    duration = _duration(t)
    value, _ = t._get("power", _REQUIRED)
    phases: tuple[float, ...] | None = None
    if isinstance(value, list):
        if not 1 <= len(value) <= MAX_PHASES:
            raise t.error("power", f"per phase is a list of 1 to {MAX_PHASES} numbers (Power, Power_L2, "
                                   f"Power_L3), not {len(value)}")
        for v in value:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise t.error("power", f"per-phase powers must be numbers of watts >= 0, not {v!r}")
        phases = tuple(float(v) for v in value)
        power = sum(phases)
    else:
        power = t.number("power", low=0.0, what=" of watts (a magnitude), or a list of them per phase")
    min_power = t.number("min_power", 0.0, low=0.0, what=" of watts")
    if min_power > power:
        raise t.error("min_power", f"must not be above power ({min_power:g} W > {power:g} W)")
    t.finish()
    return PowerScheduleEntry(duration, power, phases, min_power)


def _power_schedule(t: _Table) -> PowerSchedule:
    entries = tuple(_power_entry(e) for e in t.tables("entry", 1, MAX_POWER_SCHEDULE_ENTRIES,
                                                      what=" (PowerScheduleEntry)"))
    available = t.number("available_energy", None, low=0.0, what=" of Wh")
    tolerance = t.number("power_tolerance", None, low=0.0, what=" of watts")
    t.finish()
    return PowerSchedule(entries, available, tolerance)


def _price_rule(t: _Table) -> PriceRule:
    rule = PriceRule(
        energy_fee=t.number("energy_fee", what=" (currency per kWh; negative: paid to the driver)"),
        power_range_start=t.number("power_range_start", 0.0, what=" of watts"),
        parking_fee=t.number("parking_fee", None),
        parking_fee_period=t.integer("parking_fee_period", 0, UNSIGNED_INT_MAX, None, what=" s"),
        carbon_dioxide_emission=t.integer("carbon_dioxide_emission", 0, UNSIGNED_SHORT_MAX, None,
                                          what=" g/kWh"),
        renewable_generation_percentage=t.integer("renewable_generation_percentage", 0, 100, None,
                                                  what=" %"))
    t.finish()
    return rule


def _price_rule_stack(t: _Table) -> PriceRuleStack:
    duration = _duration(t)
    rules = [_price_rule(r) for r in t.tables("price_rule", 1, MAX_PRICE_RULES, what=" (PriceRule)")]
    starts = [r.power_range_start for r in rules]
    if len(set(starts)) != len(starts):
        raise t.error("price_rule", f"two rules start at the same power_range_start ({sorted(starts)}): "
                                    "each power must have one rule")
    t.finish()
    return PriceRuleStack(duration, tuple(sorted(rules, key=lambda r: r.power_range_start)))


def _tax_rule(t: _Table) -> TaxRule:
    rule = TaxRule(
        tax_rule_id=t.integer("tax_rule_id", 1, NUMERIC_ID_MAX),
        tax_rate=t.number("tax_rate", low=0.0, what=" (a fraction: 0.19 is 19 %)"),
        applies_to_energy_fee=t.flag("applies_to_energy_fee"),
        applies_to_parking_fee=t.flag("applies_to_parking_fee"),
        applies_to_overstay_fee=t.flag("applies_to_overstay_fee"),
        applies_minimum_maximum_cost=t.flag("applies_minimum_maximum_cost"),
        tax_rule_name=t.text("tax_rule_name", NAME_MAX, None),
        tax_included_in_price=t.flag("tax_included_in_price", None))
    t.finish()
    return rule


def _overstay_rules(t: _Table) -> OverstayRules:
    rules = []
    for r in t.tables("overstay_rule", 1, MAX_OVERSTAY_RULES, what=" (OverstayRule)"):
        rules.append(OverstayRule(
            start_time=r.integer("start_time", 0, UNSIGNED_INT_MAX, what=" s"),
            overstay_fee=r.number("overstay_fee"),
            overstay_fee_period=r.integer("overstay_fee_period", 1, UNSIGNED_INT_MAX, what=" s"),
            description=r.text("description", DESCRIPTION_MAX, None)))
        r.finish()
    out = OverstayRules(
        tuple(rules),
        overstay_time_threshold=t.integer("overstay_time_threshold", 0, UNSIGNED_INT_MAX, None, what=" s"),
        overstay_power_threshold=t.number("overstay_power_threshold", None, low=0.0, what=" of watts"))
    t.finish()
    return out


def _absolute_price_schedule(t: _Table) -> AbsolutePriceSchedule:
    algorithm = t.text("price_algorithm", IDENTIFIER_MAX, "power",
                       what=f" ({', '.join(PRICE_ALGORITHMS)} or an identifier URN)")
    services = []
    for s in t.tables("additional_service", 0, MAX_ADDITIONAL_SERVICES, what=" (AdditionalService)"):
        services.append(AdditionalService(s.text("service_name", NAME_MAX), s.number("service_fee")))
        s.finish()
    tax_rules = tuple(_tax_rule(r) for r in t.tables("tax_rule", 0, MAX_TAX_RULES, what=" (TaxRule)"))
    ids = [r.tax_rule_id for r in tax_rules]
    if len(set(ids)) != len(ids):
        raise t.error("tax_rule", f"tax_rule_id must differ between rules, not {ids}")
    overstay = t.table("overstay_rules")
    schedule = AbsolutePriceSchedule(
        price_schedule_id=t.integer("price_schedule_id", 1, NUMERIC_ID_MAX),
        currency=t.text("currency", CURRENCY_MAX, what=" (an ISO 4217 code such as EUR)"),
        language=t.text("language", LANGUAGE_MAX, what=" (an ISO 639 code such as ENG)"),
        price_algorithm=PRICE_ALGORITHMS.get(algorithm, algorithm),
        price_rule_stacks=tuple(_price_rule_stack(s) for s in t.tables(
            "price_rule_stack", 1, MAX_PRICE_RULE_STACKS, what=" (PriceRuleStack)")),
        description=t.text("description", DESCRIPTION_MAX, None),
        minimum_cost=t.number("minimum_cost", None, low=0.0),
        maximum_cost=t.number("maximum_cost", None, low=0.0),
        tax_rules=tax_rules,
        overstay_rules=_overstay_rules(overstay) if overstay is not None else None,
        additional_selected_services=tuple(services))
    if (schedule.minimum_cost is not None and schedule.maximum_cost is not None
            and schedule.minimum_cost > schedule.maximum_cost):
        raise t.error("minimum_cost", f"must not be above maximum_cost ({schedule.minimum_cost:g} > "
                                      f"{schedule.maximum_cost:g})")
    t.finish()
    return schedule


def _price_level_schedule(t: _Table) -> PriceLevelSchedule:
    levels = t.integer("number_of_price_levels", 1, UNSIGNED_BYTE_MAX)
    entries = []
    for e in t.tables("entry", 1, MAX_PRICE_LEVEL_ENTRIES, what=" (PriceLevelScheduleEntry)"):
        entries.append(PriceLevelScheduleEntry(
            _duration(e), e.integer("price_level", 0, levels, what=f" (number_of_price_levels is {levels})")))
        e.finish()
    schedule = PriceLevelSchedule(t.integer("price_schedule_id", 1, NUMERIC_ID_MAX), levels, tuple(entries),
                                  t.text("description", DESCRIPTION_MAX, None))
    t.finish()
    return schedule


def _charging_schedule(t: _Table) -> ChargingSchedule:
    power = t.table("power_schedule")
    absolute = t.table("absolute_price_schedule")
    levels = t.table("price_level_schedule")
    if absolute is not None and levels is not None:
        raise t.error("price_level_schedule", "a schedule has one price schedule: absolute_price_schedule or "
                                              "price_level_schedule, not both")
    price: PriceSchedule | None = None
    if absolute is not None:
        price = _absolute_price_schedule(absolute)
    elif levels is not None:
        price = _price_level_schedule(levels)
    out = ChargingSchedule(_power_schedule(power) if power is not None else None, price)
    if out.power_schedule is None and out.price_schedule is None:
        raise t.error(None, "is empty: give a power_schedule, a price schedule or both")
    t.finish()
    return out


def parse_schedules(data: dict[str, Any], source: str = "<schedules>") -> Schedules:
    """``Schedules`` from the TOML document ``data`` (already parsed); ScheduleError names what is wrong."""
    top = _Table(data, source, "")
    charging = top.table("charging_schedule")
    if charging is None:
        raise top.error("charging_schedule", "is missing: every schedule tuple has a charging_schedule")
    discharging = top.table("discharging_schedule")
    schedules = Schedules(
        charging_schedule=_charging_schedule(charging),
        discharging_schedule=_charging_schedule(discharging) if discharging is not None else None,
        schedule_tuple_id=top.integer("schedule_tuple_id", 1, NUMERIC_ID_MAX, 1),
        source=source)
    top.finish()
    d = schedules.discharging_schedule
    if d is not None and d.price_schedule is not None and (
            schedules.prices is None or type(d.price_schedule) is not type(schedules.prices)):
        raise ScheduleError(source, "discharging_schedule", "price schedule",
                            "must be of the same kind as the charging_schedule's (both absolute or both levels)")
    return schedules


def load_schedules(path: str | Path) -> Schedules:
    """Read and check a schedule file; ScheduleError (a ValueError) names the file, table and key."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ScheduleError(str(p), "", None, f"cannot read it ({e})") from e
    except tomllib.TOMLDecodeError as e:
        raise ScheduleError(str(p), "", None, f"is not valid TOML ({e})") from e
    return parse_schedules(data, str(p))


def example_path(name: str) -> Path:
    """Path of a shipped example (``EXAMPLES``): ``example_path("v2g_day.toml")``."""
    if name not in EXAMPLES:
        raise ValueError(f"no example {name!r}; examples: {', '.join(EXAMPLES)}")
    return Path(__file__).resolve().parent / "data" / name
