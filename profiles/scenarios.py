"""The test scenarios of ``POST /stations/{id}/test_profiles`` as pure profile generators.

Each scenario turns a few request parameters into one OCPP 1.6 csChargingProfiles
object (camelCase, as sent). No Django and no I/O: the API view supplies the profile
id, the stack level, the clock and the time zone, so the arithmetic can be tested alone.
Every generated profile passes :func:`profiles.validation.validate_profile`.

Daylight saving (time_of_use). A Daily recurrence repeats every 86400 s from a fixed
UTC ``startSchedule``, so across a DST change its periods drift by the change (09:00
becomes 10:00). The generator therefore:

* anchors the schedule at today's midnight *on the clock now in force*: naive local
  midnight minus the UTC offset in effect at ``now``. On an ordinary day this is the
  real local midnight; on the day of a change, generated after the change, it is the
  midnight the new clock would have had, so every period is right for the new offset;
* counts periods in plain hours from that anchor (peak_start_hour x 3600);
* sets ``validTo`` to the next UTC-offset change of the zone (none for zones without
  DST). Until then every period falls on the intended local hour; from then on the
  profile is no longer valid rather than an hour off, and the CSMS should generate a
  fresh one at ``validTo`` (the profile's own validTo says when).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from profiles.scheduling import (
    CHARGE_POINT_MAX_PROFILE,
    TX_DEFAULT_PROFILE,
    TX_PROFILE,
    round_limit,
)

__all__ = [
    "MAX_POWER_W",
    "SCENARIOS",
    "GeneratedProfile",
    "ScenarioError",
    "build",
    "required_fields",
]

SCENARIOS = ("peak_shaving", "time_of_use", "energy_cap")

_REQUIRED: dict[str, tuple[str, ...]] = {
    "peak_shaving": ("max_power_w",),
    "time_of_use": ("off_peak_w", "peak_w", "peak_start_hour", "peak_end_hour"),
    "energy_cap": ("transaction_id", "max_energy_wh", "duration_seconds", "power_limit_w"),
}

# A sanity bound well above any charging site's grid connection (10 MW); it also keeps
# limits in the range where the schema's multipleOf 0.1 check can be evaluated.
MAX_POWER_W = 10_000_000

# How far ahead the next UTC-offset change is looked for; DST changes come yearly.
_TRANSITION_HORIZON_DAYS = 400


class ScenarioError(ValueError):
    """A request the scenario cannot turn into a profile; ``detail`` is the 400 text."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class GeneratedProfile:
    """A profile ready for SetChargingProfile on ``connector_id``."""

    scenario: str
    connector_id: int
    profile: dict[str, Any]


def required_fields(scenario: str) -> tuple[str, ...]:
    """The parameters ``scenario`` needs, in the order a missing one is reported."""
    try:
        return _REQUIRED[scenario]
    except (KeyError, TypeError):
        raise ScenarioError(
            f"Unknown scenario '{scenario}'. Valid: {', '.join(SCENARIOS)}"
        ) from None


def build(
    scenario: str,
    params: Mapping[str, Any],
    *,
    profile_id: int,
    stack_level: int,
    now: datetime,
    time_zone: str = "UTC",
) -> GeneratedProfile:
    """Generate the profile for ``scenario`` from the request's ``params``.

    ``now`` is taken as UTC when naive; ``time_zone`` (an IANA name) is where
    time_of_use's hours are meant. Raises :class:`ScenarioError` for an unknown
    scenario, the first missing parameter, or a value that makes no profile.
    """
    for name in required_fields(scenario):
        if params.get(name) is None:
            raise ScenarioError(f"{name} is required for {scenario}")
    moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    head: dict[str, Any] = {"chargingProfileId": profile_id, "stackLevel": stack_level}
    connector_id, profile = _BUILDERS[scenario](params, head, moment, time_zone)
    return GeneratedProfile(scenario=scenario, connector_id=connector_id, profile=profile)


# --------------------------------------------------------------------------- scenarios

# Each builder gets the request's params, the common head of the profile
# (chargingProfileId, stackLevel), the aware moment of generation and the time zone,
# and answers (connector to send on, the whole csChargingProfiles object).
_Built = tuple[int, dict[str, Any]]
_Head = Mapping[str, Any]


def _peak_shaving(params: Mapping[str, Any], head: _Head, now: datetime, time_zone: str) -> _Built:
    """Cap the whole station from now on: a ChargePointMaxProfile, always on connector 0."""
    max_power = _power(params, "max_power_w")
    return 0, {
        **head,
        "chargingProfilePurpose": CHARGE_POINT_MAX_PROFILE,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": _limit(max_power)}],
            "startSchedule": _iso(now.replace(microsecond=0)),
        },
    }


def _time_of_use(params: Mapping[str, Any], head: _Head, now: datetime, time_zone: str) -> _Built:
    """A daily peak/off-peak TxDefaultProfile whose hours are local to ``time_zone``."""
    connector_id = _connector(params, minimum=0)
    off_peak = _limit(_power(params, "off_peak_w"))
    peak = _limit(_power(params, "peak_w"))
    start = _hour(params, "peak_start_hour")
    end = _hour(params, "peak_end_hour")
    if start >= end:
        raise ScenarioError(f"peak_start_hour ({start}) must be before peak_end_hour ({end})")
    zone = _zone(time_zone)

    local_now = now.astimezone(zone)
    offset = local_now.utcoffset() or timedelta(0)
    wall_midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    anchor = (wall_midnight - offset).replace(tzinfo=UTC)

    periods = []
    if start > 0:
        periods.append({"startPeriod": 0, "limit": off_peak})
    periods.append({"startPeriod": start * 3600, "limit": peak})
    if end < 24:
        periods.append({"startPeriod": end * 3600, "limit": off_peak})

    profile: dict[str, Any] = {
        **head,
        "chargingProfilePurpose": TX_DEFAULT_PROFILE,
        "chargingProfileKind": "Recurring",
        "recurrencyKind": "Daily",
    }
    change = _next_offset_change(zone, now)
    if change is not None:
        profile["validTo"] = _iso(change)
    profile["chargingSchedule"] = {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": periods,
        "startSchedule": _iso(anchor),
    }
    return connector_id, profile


def _energy_cap(params: Mapping[str, Any], head: _Head, now: datetime, time_zone: str) -> _Built:
    """A TxProfile that charges at power_limit_w until max_energy_wh, then at 0 W.

    The switch second is rounded down and computed with the limit as sent (after
    rounding to one decimal), in exact arithmetic, so the cap is never exceeded.
    """
    connector_id = _connector(params, minimum=1)
    transaction_id = _whole(params, "transaction_id")
    max_energy = _number(params, "max_energy_wh")
    if max_energy <= 0:
        raise ScenarioError(f"max_energy_wh must be greater than 0 (got {max_energy!r})")
    duration = _whole(params, "duration_seconds")
    if duration <= 0:
        raise ScenarioError(f"duration_seconds must be greater than 0 (got {duration!r})")
    power = _number(params, "power_limit_w")
    if power <= 0:
        raise ScenarioError(f"power_limit_w must be greater than 0 (got {power!r})")
    if power > MAX_POWER_W:
        raise ScenarioError(f"power_limit_w must be at most {MAX_POWER_W} (got {power!r})")
    limit = _limit(power)
    if limit == 0:
        raise ScenarioError(f"power_limit_w must be at least 0.1 (got {power!r})")

    # Seconds at `limit` W until max_energy Wh: E * 3600 / P, floored.
    switch = math.floor(_exact(max_energy) * 3600 / _exact(limit))
    if switch >= duration:
        periods = [{"startPeriod": 0, "limit": limit}]
    elif switch == 0:  # not even one second fits under the cap
        periods = [{"startPeriod": 0, "limit": 0}]
    else:
        periods = [{"startPeriod": 0, "limit": limit}, {"startPeriod": switch, "limit": 0}]
    return connector_id, {
        "chargingProfileId": head["chargingProfileId"],
        "transactionId": transaction_id,
        "stackLevel": head["stackLevel"],
        "chargingProfilePurpose": TX_PROFILE,
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "duration": duration,
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": periods,
        },
    }


_BUILDERS: dict[str, Callable[[Mapping[str, Any], _Head, datetime, str], _Built]] = {
    "peak_shaving": _peak_shaving,
    "time_of_use": _time_of_use,
    "energy_cap": _energy_cap,
}


# --------------------------------------------------------------------------- helpers


def _number(params: Mapping[str, Any], name: str) -> int | float:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{name} must be a number (got {value!r})")
    if isinstance(value, float) and not math.isfinite(value):
        raise ScenarioError(f"{name} must be a finite number (got {value!r})")
    return value


def _power(params: Mapping[str, Any], name: str) -> int | float:
    """A limit in W where 0 is allowed (it pauses charging)."""
    value = _number(params, name)
    if value < 0:
        raise ScenarioError(f"{name} must be 0 or more (got {value!r})")
    if value > MAX_POWER_W:
        raise ScenarioError(f"{name} must be at most {MAX_POWER_W} (got {value!r})")
    return value


def _whole(params: Mapping[str, Any], name: str, what: str = "a whole number") -> int:
    """An integer; 9.0 from a JSON body counts as 9, 9.5 and "9" do not."""
    value = params[name]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{name} must be {what} (got {value!r})")
    return value


def _hour(params: Mapping[str, Any], name: str) -> int:
    value = _whole(params, name, "a whole hour")
    if not 0 <= value <= 24:
        raise ScenarioError(f"{name} must be between 0 and 24 (got {value})")
    return value


def _connector(params: Mapping[str, Any], *, minimum: int) -> int:
    if params.get("connector_id") is None:
        return 1
    connector_id = _whole(params, "connector_id")
    if connector_id < minimum:
        raise ScenarioError(f"connector_id must be {minimum} or more (got {connector_id})")
    return connector_id


def _limit(value: float) -> int | float:
    """Round down to one decimal (never above what was asked); whole numbers as int."""
    rounded = round_limit(value)
    return int(rounded) if rounded.is_integer() else rounded


def _exact(value: float) -> Fraction:
    """The number as its JSON text reads (7.4 is 37/5, not the nearest binary float)."""
    return Fraction(repr(value))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ScenarioError(f"Unknown time zone '{name}'") from None


def _iso(moment: datetime) -> str:
    """ISO 8601 in UTC with +00:00, as the contract's examples write it."""
    return moment.astimezone(UTC).isoformat()


def _next_offset_change(zone: ZoneInfo, now: datetime) -> datetime | None:
    """The first whole second after ``now`` at which ``zone``'s UTC offset changes.

    zoneinfo has no public list of transitions, so the offset is sampled a day at a
    time and the change is then found by bisection; real zones never change twice
    within a day. None when nothing changes within the horizon (no DST).
    """
    origin = math.floor(now.timestamp())  # transitions fall on whole seconds

    def offset_at(second: int) -> timedelta | None:
        return datetime.fromtimestamp(second, UTC).astimezone(zone).utcoffset()

    reference = offset_at(origin)
    low = origin
    for day in range(1, _TRANSITION_HORIZON_DAYS + 1):
        high = origin + day * 86_400
        if offset_at(high) != reference:
            break
        low = high
    else:
        return None
    while high - low > 1:
        middle = (low + high) // 2
        if offset_at(middle) == reference:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)
