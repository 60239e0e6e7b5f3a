"""OCPP 1.6 smart-charging arithmetic: the one implementation of the spec's rules.

Pure Python (no Django): the CSMS preview, the profile validator and the station
simulator all import this module, so they agree on what a set of installed
charging profiles means.

Conventions (see DESIGN.md, "OCPP 1.6 smart charging rules"):

* Limits are compared in watts (W = A x 230 V x phases; phases default to 3) and
  reported in the unit asked, rounded *down* to one decimal so a reported limit is
  never above the real one.
* Where no profile limits a moment, the connector's rated maximum is reported and
  the period is marked ``from_profile=False`` (OCPP leaves such moments undefined).
* A TxDefaultProfile on connector N replaces the connector-0 TxDefault profiles
  for N wherever the connector-N stack has a period; in its gaps the connector-0
  ones apply again (the connector-specific layer is simply stacked above them).
* Among profiles of one purpose and connector with the *same* stackLevel (which a
  conforming station would not keep, as the newer replaces the older), the lowest
  limit wins, so that a limit is never exceeded.
* Times are handled as integer microseconds relative to the moment asked, so
  recurrence arithmetic is exact; the composite is reported on a whole-second
  grid and a second in which a limit changes gets the lowest limit in it.
* Naive datetimes are taken as UTC.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "CHARGE_POINT_MAX_PROFILE",
    "DEFAULT_CONNECTOR_MAX_W",
    "DEFAULT_PHASES",
    "PURPOSES",
    "TX_DEFAULT_PROFILE",
    "TX_PROFILE",
    "VOLTAGE",
    "ActiveTransaction",
    "ChargingProfile",
    "ChargingSchedule",
    "CompositePeriod",
    "CompositeSchedule",
    "InstalledProfile",
    "SchedulePeriod",
    "composite_schedule",
    "energy_wh",
    "format_datetime",
    "limit_at",
    "parse_datetime",
    "round_limit",
    "time_to_energy",
    "to_amps",
    "to_watts",
]

VOLTAGE = 230.0
DEFAULT_PHASES = 3
DEFAULT_CONNECTOR_MAX_W = 22080.0  # 32 A x 230 V x 3 phases

CHARGE_POINT_MAX_PROFILE = "ChargePointMaxProfile"
TX_DEFAULT_PROFILE = "TxDefaultProfile"
TX_PROFILE = "TxProfile"
PURPOSES = (CHARGE_POINT_MAX_PROFILE, TX_DEFAULT_PROFILE, TX_PROFILE)
KINDS = ("Absolute", "Recurring", "Relative")
RECURRENCY_SECONDS = {"Daily": 86_400, "Weekly": 604_800}
UNITS = ("W", "A")

_US = 1_000_000  # microseconds per second
_INF = math.inf


# --------------------------------------------------------------------------- datetimes


def parse_datetime(value: str | datetime | None) -> datetime | None:
    """Parse an OCPP date-time (ISO 8601, 'Z' allowed) into an aware datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return _aware(value)
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 date-time string, got {value!r}")
    text = value.strip()
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 date-time: {value!r}") from exc
    return _aware(parsed)


def format_datetime(value: datetime) -> str:
    """Format as OCPP expects: UTC with a 'Z' suffix."""
    text = _aware(value).astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def _aware(value: datetime) -> datetime:
    # OCPP times are UTC; a naive datetime from a caller is taken to mean UTC
    # rather than failing on the first aware/naive subtraction.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _offset_us(moment: datetime, origin: datetime) -> int:
    return (_aware(moment) - origin) // timedelta(microseconds=1)


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class SchedulePeriod:
    """One chargingSchedulePeriod: from ``start_period`` s on, at most ``limit``."""

    start_period: int
    limit: float
    number_phases: int | None = None


@dataclass(frozen=True)
class ChargingSchedule:
    """A chargingSchedule; ``periods`` may be given as any sequence, kept as a tuple."""

    charging_rate_unit: str
    periods: tuple[SchedulePeriod, ...]
    duration: int | None = None
    start_schedule: datetime | None = None
    min_charging_rate: float | None = None

    def __post_init__(self) -> None:
        # Frozen dataclasses should stay hashable even when a caller passes a list.
        if not isinstance(self.periods, tuple):
            object.__setattr__(self, "periods", tuple(self.periods))

    @classmethod
    def from_ocpp(cls, data: Mapping[str, Any]) -> ChargingSchedule:
        """Build from the camelCase ``chargingSchedule`` JSON object."""
        try:
            unit = data["chargingRateUnit"]
            raw_periods = data["chargingSchedulePeriod"]
        except KeyError as exc:
            raise ValueError(f"chargingSchedule lacks required field {exc.args[0]}") from exc
        if unit not in UNITS:
            raise ValueError(f"chargingRateUnit must be 'W' or 'A', got {unit!r}")
        periods = tuple(
            SchedulePeriod(
                start_period=int(p["startPeriod"]),
                limit=float(p["limit"]),
                number_phases=_opt_int(p.get("numberPhases")),
            )
            for p in raw_periods
        )
        return cls(
            charging_rate_unit=unit,
            periods=periods,
            duration=_opt_int(data.get("duration")),
            start_schedule=parse_datetime(data.get("startSchedule")),
            min_charging_rate=_opt_float(data.get("minChargingRate")),
        )

    def to_ocpp(self) -> dict[str, Any]:
        """Back to the camelCase JSON object, omitting fields that are None."""
        out: dict[str, Any] = {}
        if self.duration is not None:
            out["duration"] = self.duration
        if self.start_schedule is not None:
            out["startSchedule"] = format_datetime(self.start_schedule)
        out["chargingRateUnit"] = self.charging_rate_unit
        out["chargingSchedulePeriod"] = [_period_to_ocpp(p) for p in self.periods]
        if self.min_charging_rate is not None:
            out["minChargingRate"] = self.min_charging_rate
        return out


@dataclass(frozen=True)
class ChargingProfile:
    """A csChargingProfiles object."""

    charging_profile_id: int
    stack_level: int
    purpose: str
    kind: str
    schedule: ChargingSchedule
    recurrency_kind: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: int | None = None

    @classmethod
    def from_ocpp(cls, data: Mapping[str, Any]) -> ChargingProfile:
        """Build from the OCPP camelCase JSON (a whole SetChargingProfile payload works too)."""
        if "csChargingProfiles" in data:
            data = data["csChargingProfiles"]
        try:
            profile_id = int(data["chargingProfileId"])
            stack_level = int(data["stackLevel"])
            purpose = data["chargingProfilePurpose"]
            kind = data["chargingProfileKind"]
            schedule = data["chargingSchedule"]
        except KeyError as exc:
            raise ValueError(f"chargingProfile lacks required field {exc.args[0]}") from exc
        if purpose not in PURPOSES:
            raise ValueError(f"unknown chargingProfilePurpose {purpose!r}")
        if kind not in KINDS:
            raise ValueError(f"unknown chargingProfileKind {kind!r}")
        recurrency = data.get("recurrencyKind")
        if recurrency is not None and recurrency not in RECURRENCY_SECONDS:
            raise ValueError(f"unknown recurrencyKind {recurrency!r}")
        return cls(
            charging_profile_id=profile_id,
            stack_level=stack_level,
            purpose=purpose,
            kind=kind,
            schedule=ChargingSchedule.from_ocpp(schedule),
            recurrency_kind=recurrency,
            valid_from=parse_datetime(data.get("validFrom")),
            valid_to=parse_datetime(data.get("validTo")),
            transaction_id=_opt_int(data.get("transactionId")),
        )

    def to_ocpp(self) -> dict[str, Any]:
        """Back to camelCase JSON, omitting fields that are None."""
        out: dict[str, Any] = {"chargingProfileId": self.charging_profile_id}
        if self.transaction_id is not None:
            out["transactionId"] = self.transaction_id
        out["stackLevel"] = self.stack_level
        out["chargingProfilePurpose"] = self.purpose
        out["chargingProfileKind"] = self.kind
        if self.recurrency_kind is not None:
            out["recurrencyKind"] = self.recurrency_kind
        if self.valid_from is not None:
            out["validFrom"] = format_datetime(self.valid_from)
        if self.valid_to is not None:
            out["validTo"] = format_datetime(self.valid_to)
        out["chargingSchedule"] = self.schedule.to_ocpp()
        return out


@dataclass(frozen=True)
class InstalledProfile:
    """A profile as installed on a connector; ``installed_at`` stands in for a missing validFrom."""

    connector_id: int
    profile: ChargingProfile
    installed_at: datetime | None = None


@dataclass(frozen=True)
class ActiveTransaction:
    """The running transaction on a connector: TxProfiles and Relative profiles depend on it."""

    transaction_id: int
    started_at: datetime


@dataclass(frozen=True)
class CompositePeriod:
    """One period of a composite schedule; ``from_profile`` False means "rated maximum"."""

    start_period: int
    limit: float
    number_phases: int | None = None
    from_profile: bool = True


@dataclass(frozen=True)
class CompositeSchedule:
    """The answer to GetCompositeSchedule for one connector (0 = the grid connection)."""

    connector_id: int
    schedule_start: datetime
    duration: int
    charging_rate_unit: str
    periods: tuple[CompositePeriod, ...] = field(default_factory=tuple)

    def to_ocpp(self) -> dict[str, Any]:
        """The chargingSchedule of GetCompositeSchedule.conf (no startSchedule, per errata)."""
        return {
            "duration": self.duration,
            "chargingRateUnit": self.charging_rate_unit,
            "chargingSchedulePeriod": [_period_to_ocpp(p) for p in self.periods],
        }

    def period_at(self, at: datetime) -> CompositePeriod | None:
        """The period in force at ``at``, None outside the schedule's window."""
        offset = _offset_us(at, _aware(self.schedule_start))
        if offset < 0 or offset >= self.duration * _US or not self.periods:
            return None
        starts = [p.start_period * _US for p in self.periods]
        return self.periods[bisect_right(starts, offset) - 1]


def _period_to_ocpp(period: SchedulePeriod | CompositePeriod) -> dict[str, Any]:
    out: dict[str, Any] = {"startPeriod": period.start_period, "limit": period.limit}
    if period.number_phases is not None:
        out["numberPhases"] = period.number_phases
    return out


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


# --------------------------------------------------------------------------- units


def _check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise ValueError(f"charging rate unit must be 'W' or 'A', got {unit!r}")


def to_watts(
    limit: float, unit: str, number_phases: int | None = None, voltage: float = VOLTAGE
) -> float:
    """Convert a limit to W; amps are per phase, so W = A x voltage x phases (default 3)."""
    _check_unit(unit)
    if unit == "W":
        return float(limit)
    return float(limit) * voltage * (number_phases or DEFAULT_PHASES)


def to_amps(
    limit: float, unit: str, number_phases: int | None = None, voltage: float = VOLTAGE
) -> float:
    """Convert a limit to A per phase; the inverse of :func:`to_watts` (not rounded)."""
    _check_unit(unit)
    if unit == "A":
        return float(limit)
    return float(limit) / (voltage * (number_phases or DEFAULT_PHASES))


def round_limit(value: float) -> float:
    """Round down to one decimal (the schema's multipleOf 0.1) so no limit is exceeded.

    A tiny tolerance keeps values that are one-decimal numbers up to float noise
    (21.4 computed as 21.399999999999999) from dropping a whole step.
    """
    scaled = float(value) * 10.0
    floored = math.floor(scaled + 1e-11 * max(1.0, abs(scaled)))
    return round(floored / 10.0, 1)


# --------------------------------------------------------------------------- evaluation

_Value = tuple[float, int | None]  # (limit in W, numberPhases of the deciding period)


class _Compiled:
    """One profile resolved against the window start: times in integer microseconds."""

    __slots__ = (
        "origin",
        "recurrence",
        "run",
        "stack_level",
        "starts",
        "valid_from",
        "valid_to",
        "values",
    )

    def __init__(
        self,
        installed: InstalledProfile,
        window_start: datetime,
        transaction: ActiveTransaction | None,
        default_phases: int,
    ) -> None:
        profile = installed.profile
        sched = profile.schedule
        installed_at = installed.installed_at

        self.stack_level = profile.stack_level
        valid_from = profile.valid_from or installed_at
        self.valid_from: float = (
            -_INF if valid_from is None else _offset_us(valid_from, window_start)
        )
        self.valid_to: float = (
            _INF if profile.valid_to is None else _offset_us(profile.valid_to, window_start)
        )

        if profile.kind == "Relative":
            origin_dt = transaction.started_at if transaction is not None else window_start
        else:
            origin_dt = sched.start_schedule or installed_at or window_start
        self.origin = _offset_us(origin_dt, window_start)

        run: float = _INF if sched.duration is None else sched.duration * _US
        self.recurrence: int | None = None
        if profile.kind == "Recurring":
            # A Recurring profile without recurrencyKind is malformed; read it as Daily.
            seconds = RECURRENCY_SECONDS.get(profile.recurrency_kind or "Daily", 86_400)
            self.recurrence = seconds * _US
            run = min(run, self.recurrence)  # what lies beyond one recurrence is not executed
        self.run = run

        ordered = sorted(sched.periods, key=lambda p: p.start_period)
        self.starts = [p.start_period * _US for p in ordered]
        self.values: list[_Value] = [
            (
                to_watts(p.limit, sched.charging_rate_unit, p.number_phases or default_phases),
                p.number_phases,
            )
            for p in ordered
        ]

    def _base(self, t: int) -> int | None:
        """Start of the schedule run that covers ``t`` (None before the first one)."""
        if t < self.origin:
            return None
        if self.recurrence is None:
            return self.origin
        return self.origin + (t - self.origin) // self.recurrence * self.recurrence

    def value_at(self, t: int) -> _Value | None:
        if not (self.valid_from <= t < self.valid_to):
            return None
        base = self._base(t)
        if base is None:
            return None
        elapsed = t - base
        if elapsed >= self.run:
            return None
        index = bisect_right(self.starts, elapsed) - 1
        return self.values[index] if index >= 0 else None

    def breakpoints(self, lo: int, hi: int) -> list[int]:
        """Every moment in (lo, hi) where this profile's answer may change."""
        points: list[int] = []
        for edge in (self.valid_from, self.valid_to):
            if lo < edge < hi:
                points.append(int(edge))
        lo_eff = max(lo, self.valid_from)
        hi_eff = min(hi, self.valid_to)
        if lo_eff >= hi_eff:
            return points
        ends = [s for s in self.starts if s < self.run]
        if self.run != _INF:
            ends.append(int(self.run))
        if self.recurrence is None:
            bases: Iterable[int] = (self.origin,)
        else:
            first = max(0, (int(lo_eff) - self.origin) // self.recurrence)
            last = (int(hi_eff) - self.origin) // self.recurrence
            bases = (self.origin + k * self.recurrence for k in range(first, last + 1))
        for base in bases:
            for offset in ends:
                moment = base + offset
                if lo < moment < hi:
                    points.append(moment)
        return points


def _top_of_stack(layers: Sequence[_Compiled], t: int) -> _Value | None:
    """The highest stackLevel with a period at ``t`` decides; lower ones fill its gaps."""
    best: _Value | None = None
    best_level: int | None = None
    for layer in layers:  # sorted by stack level, highest first
        if best_level is not None and layer.stack_level < best_level:
            break
        value = layer.value_at(t)
        if value is not None and (best is None or value[0] < best[0]):
            best, best_level = value, layer.stack_level
    return best


@dataclass
class _ConnectorLayers:
    tx: list[_Compiled]
    tx_default_own: list[_Compiled]
    tx_default_station: list[_Compiled]

    def all(self) -> list[_Compiled]:
        return self.tx + self.tx_default_own + self.tx_default_station

    def value_at(self, t: int) -> _Value | None:
        """TxProfile wins over TxDefault; connector-N TxDefault over connector-0 TxDefault."""
        for group in (self.tx, self.tx_default_own, self.tx_default_station):
            if group:
                value = _top_of_stack(group, t)
                if value is not None:
                    return value
        return None


class _Evaluator:
    """All applicable profiles for one question, ready to be asked about any moment."""

    def __init__(
        self,
        installed: Iterable[InstalledProfile],
        connector_id: int,
        start: datetime,
        transactions: Mapping[int, ActiveTransaction] | None,
        connector_max_w: Mapping[int, float] | float,
        number_of_connectors: int,
        number_phases: int,
    ) -> None:
        if connector_id < 0:
            raise ValueError(f"connector_id must be >= 0, got {connector_id}")
        self.connector_id = connector_id
        transactions = transactions or {}
        installed = list(installed)
        self.connectors = (
            list(range(1, number_of_connectors + 1)) if connector_id == 0 else [connector_id]
        )

        def compile_(items: Iterable[InstalledProfile], conn: int | None) -> list[_Compiled]:
            tx = transactions.get(conn) if conn else None
            out = [_Compiled(i, start, tx, number_phases) for i in items]
            out.sort(key=lambda c: c.stack_level, reverse=True)
            return out

        # ChargePointMaxProfile counts only on connector 0 (a station rejects it elsewhere).
        self.cp_max = compile_(
            (
                i
                for i in installed
                if i.profile.purpose == CHARGE_POINT_MAX_PROFILE and i.connector_id == 0
            ),
            None,
        )
        station_defaults = [
            i for i in installed if i.profile.purpose == TX_DEFAULT_PROFILE and i.connector_id == 0
        ]
        self.layers: dict[int, _ConnectorLayers] = {}
        for conn in self.connectors:
            tx = transactions.get(conn)
            tx_profiles = [
                i
                for i in installed
                if i.profile.purpose == TX_PROFILE
                and i.connector_id == conn
                and tx is not None
                and (
                    i.profile.transaction_id is None
                    or i.profile.transaction_id == tx.transaction_id
                )
            ]
            own_defaults = [
                i
                for i in installed
                if i.profile.purpose == TX_DEFAULT_PROFILE and i.connector_id == conn
            ]
            self.layers[conn] = _ConnectorLayers(
                tx=compile_(tx_profiles, conn),
                tx_default_own=compile_(own_defaults, conn),
                tx_default_station=compile_(station_defaults, conn),
            )

        if isinstance(connector_max_w, Mapping):
            self.rated = {
                c: float(connector_max_w.get(c, DEFAULT_CONNECTOR_MAX_W)) for c in self.connectors
            }
        else:
            self.rated = dict.fromkeys(self.connectors, float(connector_max_w))

    def breakpoints(self, lo: int, hi: int) -> set[int]:
        points: set[int] = set()
        for layer in self.cp_max:
            points.update(layer.breakpoints(lo, hi))
        for conn_layers in self.layers.values():
            for layer in conn_layers.all():
                points.update(layer.breakpoints(lo, hi))
        return points

    def value_at(self, t: int) -> tuple[float, int | None, bool]:
        """(limit W, numberPhases of the deciding period, whether a profile decided)."""
        cap = _top_of_stack(self.cp_max, t) if self.cp_max else None
        if self.connector_id > 0:
            value = self.layers[self.connector_id].value_at(t)
            candidates = [v for v in (value, cap) if v is not None]
            if not candidates:
                return self.rated[self.connector_id], None, False
            watts, phases = min(candidates, key=lambda v: v[0])
            return watts, phases, True
        total = 0.0
        any_profile = False
        for conn in self.connectors:
            value = self.layers[conn].value_at(t)
            if value is None:
                total += self.rated[conn]
            else:
                total += value[0]
                any_profile = True
        if cap is not None and cap[0] <= total:
            return cap[0], cap[1], True
        return total, None, any_profile


def _report(
    watts: float, phases: int | None, unit: str, default_phases: int
) -> tuple[float, int | None]:
    """Limit in the unit asked, rounded down; in A the phases it is per are always given."""
    if unit == "W":
        return round_limit(watts), phases
    used = phases or default_phases
    return round_limit(to_amps(watts, "W", used)), used


# --------------------------------------------------------------------------- public API


def composite_schedule(
    installed: Iterable[InstalledProfile],
    connector_id: int,
    start: datetime,
    duration: int,
    charging_rate_unit: str = "W",
    *,
    transactions: Mapping[int, ActiveTransaction] | None = None,
    connector_max_w: Mapping[int, float] | float = DEFAULT_CONNECTOR_MAX_W,
    number_of_connectors: int = 1,
    number_phases: int = DEFAULT_PHASES,
) -> CompositeSchedule:
    """What GetCompositeSchedule(connector_id, duration, unit) asked at ``start`` should answer.

    Connector N: min(ChargePointMaxProfile, TxProfile else TxDefaultProfile), rated
    maximum where nothing limits. Connector 0: sum of the connectors' transaction
    layers (rated maximum where none) capped by ChargePointMaxProfile. Evaluated
    once per segment between breakpoints, so a week of recurring profiles is cheap.
    """
    _check_unit(charging_rate_unit)
    duration = int(duration)
    if duration <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration}")
    start = _aware(start)
    evaluator = _Evaluator(
        installed,
        connector_id,
        start,
        transactions,
        connector_max_w,
        number_of_connectors,
        number_phases,
    )
    end = duration * _US
    raw = evaluator.breakpoints(0, end)

    # Report on a whole-second grid. A breakpoint inside a second splits nothing;
    # that second gets the lowest limit found in it (checked at each breakpoint).
    grid = {0}
    fractional: list[int] = []
    for point in raw:
        seconds, rest = divmod(point, _US)
        if rest:
            fractional.append(point)
            grid.update(s for s in (seconds, seconds + 1) if 0 < s < duration)
        else:
            grid.add(seconds)
    fractional.sort()
    edges = sorted(grid)

    periods: list[CompositePeriod] = []
    for second in edges:
        at = second * _US
        best = evaluator.value_at(at)
        lo = bisect_left(fractional, at)
        hi = bisect_left(fractional, at + _US)
        for point in fractional[lo:hi]:
            value = evaluator.value_at(point)
            if value[0] < best[0]:
                best = value
        limit, phases = _report(best[0], best[1], charging_rate_unit, number_phases)
        if periods:
            prev = periods[-1]
            if (prev.limit, prev.number_phases, prev.from_profile) == (limit, phases, best[2]):
                continue
        periods.append(CompositePeriod(second, limit, phases, best[2]))

    return CompositeSchedule(
        connector_id=connector_id,
        schedule_start=start,
        duration=duration,
        charging_rate_unit=charging_rate_unit,
        periods=tuple(periods),
    )


def limit_at(
    installed: Iterable[InstalledProfile],
    connector_id: int,
    at: datetime,
    charging_rate_unit: str = "W",
    *,
    transactions: Mapping[int, ActiveTransaction] | None = None,
    connector_max_w: Mapping[int, float] | float = DEFAULT_CONNECTOR_MAX_W,
    number_of_connectors: int = 1,
    number_phases: int = DEFAULT_PHASES,
) -> float:
    """The composite limit in force at exactly ``at`` (Relative profiles without a
    transaction count from ``at``, as the spec says "from the moment of the question")."""
    _check_unit(charging_rate_unit)
    at = _aware(at)
    evaluator = _Evaluator(
        installed,
        connector_id,
        at,
        transactions,
        connector_max_w,
        number_of_connectors,
        number_phases,
    )
    watts, phases, _ = evaluator.value_at(0)
    return _report(watts, phases, charging_rate_unit, number_phases)[0]


def _period_watts(schedule: CompositeSchedule) -> list[tuple[int, int, float]]:
    """(start s, end s, limit W) for each period of a composite schedule."""
    out = []
    periods = schedule.periods
    for index, period in enumerate(periods):
        end = periods[index + 1].start_period if index + 1 < len(periods) else schedule.duration
        start = max(period.start_period, 0)
        end = min(end, schedule.duration)
        if end > start:
            watts = to_watts(period.limit, schedule.charging_rate_unit, period.number_phases)
            out.append((start, end, watts))
    return out


def energy_wh(
    schedule: CompositeSchedule,
    ev_max_w: float,
    start: datetime | None = None,
    end: datetime | None = None,
) -> float:
    """Energy (Wh) an EV drawing up to ``ev_max_w`` gets between start and end.

    The window defaults to, and is clipped to, the schedule's own window.
    """
    origin = _aware(schedule.schedule_start)
    lo = 0.0 if start is None else _offset_us(start, origin) / _US
    hi = float(schedule.duration) if end is None else _offset_us(end, origin) / _US
    lo, hi = max(lo, 0.0), min(hi, float(schedule.duration))
    total = 0.0
    for p_start, p_end, watts in _period_watts(schedule):
        overlap = min(hi, p_end) - max(lo, p_start)
        if overlap > 0:
            total += max(0.0, min(ev_max_w, watts)) * overlap
    return total / 3600.0


def time_to_energy(schedule: CompositeSchedule, ev_max_w: float, energy_wh: float) -> int | None:
    """Whole seconds from schedule_start until ``energy_wh`` is delivered (rounded up),
    None when the schedule's window does not allow it."""
    remaining = float(energy_wh) * 3600.0  # in joules
    if remaining <= 0:
        return 0
    for p_start, p_end, watts in _period_watts(schedule):
        power = max(0.0, min(ev_max_w, watts))
        if power <= 0:
            continue
        length = p_end - p_start
        needed = remaining / power
        if needed <= length + 1e-9:
            return p_start + min(length, math.ceil(needed - 1e-9))
        remaining -= power * length
    return None
