"""Checks a charging profile before anything is sent to a station.

Errors are ``(path, message)`` pairs with JSON paths as the API request spells them,
for example ``profile.chargingSchedule.chargingSchedulePeriod[2].limit``.

:func:`schema_problems` checks the shape (OCPP 1.6's JSON schema); :func:`validate_profile`
adds the spec's rules and the station's advertised limits, so that a profile a station
would reject is refused with a reason before it is sent.
"""

from __future__ import annotations

import decimal
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ocpp.messages import MessageType, get_validator

from profiles.scheduling import (
    CHARGE_POINT_MAX_PROFILE,
    TX_PROFILE,
    format_datetime,
    parse_datetime,
)

ProblemList = list[tuple[str, str]]

# Names in the OCPP payload → names in our REST request.
_REQUEST_NAMES = {"csChargingProfiles": "profile", "connectorId": "connector_id"}


def json_path(parts: Iterable[Any], root: str = "") -> str:
    path = root
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            part = _REQUEST_NAMES.get(part, part) if not path else part
            path = f"{path}.{part}" if path else part
    return path or "profile"


def schema_problems(connector_id: int, profile: Any) -> ProblemList:
    """Every way the SetChargingProfile.req would break OCPP 1.6's JSON schema."""
    validator = get_validator(
        MessageType.Call, "SetChargingProfile", "1.6", parse_float=decimal.Decimal
    )
    # The schema says multipleOf 0.1; floats would fail it for 21.4, Decimals do not.
    payload = json.loads(
        json.dumps({"connectorId": connector_id, "csChargingProfiles": profile}),
        parse_float=decimal.Decimal,
    )
    problems = []
    for error in sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path)):
        path = json_path(error.absolute_path)
        problems.append((path, error.message))
    return problems


def format_problems(problems: ProblemList) -> str:
    return "; ".join(f"{path}: {message}" for path, message in problems)


# --------------------------------------------------------------------------- spec rules

_SCHEDULE = "profile.chargingSchedule"
_PERIODS = f"{_SCHEDULE}.chargingSchedulePeriod"

# ChargingScheduleAllowedChargingRateUnit values -> chargingRateUnit values.
_UNIT_NAMES = {"current": "A", "power": "W", "a": "A", "w": "W"}

# The schema's multipleOf 0.1 is checked with Decimal arithmetic at 28 digits; from
# about 10^27 on the check itself fails (InvalidOperation) instead of answering.
_MAX_DECIMAL_MAGNITUDE = 10**26


@dataclass(frozen=True)
class StationLimits:
    """What the station reported via GetConfiguration; None means unknown (not checked)."""

    max_stack_level: int | None = None  # ChargeProfileMaxStackLevel
    max_periods: int | None = None  # ChargingScheduleMaxPeriods
    allowed_units: frozenset[str] | None = None  # {"A", "W"} from "Current,Power"
    max_profiles: int | None = None  # MaxChargingProfilesInstalled
    number_of_connectors: int | None = None

    @classmethod
    def from_configuration(
        cls,
        *,
        max_stack_level: int | str | None = None,
        max_periods: int | str | None = None,
        allowed_units: str | None = None,
        max_profiles: int | str | None = None,
        number_of_connectors: int | str | None = None,
    ) -> StationLimits:
        """Build from configuration values as stations send them (strings).

        A value that cannot be read counts as unknown: a station's odd answer must not
        make the CSMS refuse every profile.
        """
        return cls(
            max_stack_level=_config_int(max_stack_level),
            max_periods=_config_int(max_periods),
            allowed_units=_config_units(allowed_units),
            max_profiles=_config_int(max_profiles),
            number_of_connectors=_config_int(number_of_connectors),
        )


def _config_int(value: int | str | None) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def _config_units(value: str | None) -> frozenset[str] | None:
    if not isinstance(value, str):
        return None
    names = (part.strip().lower() for part in value.split(","))
    units = frozenset(_UNIT_NAMES[name] for name in names if name in _UNIT_NAMES)
    return units or None


def validate_profile(
    connector_id: int,
    profile: Any,
    *,
    limits: StationLimits | None = None,
    installed_count: int | None = None,
    active_transaction_id: int | None = None,
    now: datetime | None = None,
) -> ProblemList:
    """Every reason a station would (or should) reject SetChargingProfile(connector_id, profile).

    The schema is checked first; rule checks need a well-formed profile, so schema
    problems are returned alone. Otherwise every broken rule is reported, in the order
    of the request. ``installed_count`` counts the profiles the CSMS believes installed,
    not those this one replaces; ``active_transaction_id`` None means "not known" and
    ``now`` defaults to the current time (it decides whether validTo already passed).
    A ChargePointMaxProfile on a connector other than 0 is not reported: the API moves
    it to connector 0.
    """
    problems = _unsafe_numbers(profile)
    if problems:
        return problems
    try:
        problems = schema_problems(connector_id, profile)
    except (TypeError, ValueError) as exc:  # not JSON at all (e.g. a datetime object)
        return [("profile", f"must contain only JSON values ({exc})")]
    if problems:
        return problems

    now = parse_datetime(now) if now is not None else datetime.now(UTC)
    purpose = profile["chargingProfilePurpose"]
    kind = profile["chargingProfileKind"]
    schedule = profile["chargingSchedule"]
    periods = schedule["chargingSchedulePeriod"]
    transaction_id = profile.get("transactionId")
    is_cp_max = purpose == CHARGE_POINT_MAX_PROFILE
    out: ProblemList = []

    # connector_id
    if connector_id < 0:
        out.append(("connector_id", f"must be 0 or more (got {connector_id})"))
    elif purpose == TX_PROFILE and connector_id == 0:
        out.append(("connector_id", "must be greater than 0 for a TxProfile (got 0)"))
    if (
        limits is not None
        and limits.number_of_connectors is not None
        and not is_cp_max
        and connector_id > limits.number_of_connectors
    ):
        out.append(
            (
                "connector_id",
                f"must be at most {limits.number_of_connectors}, the station's number of "
                f"connectors (got {connector_id})",
            )
        )

    # the profile as a whole: room on the station
    if (
        limits is not None
        and limits.max_profiles is not None
        and installed_count is not None
        and installed_count >= limits.max_profiles
    ):
        out.append(
            (
                "profile",
                f"would exceed the station's MaxChargingProfilesInstalled ({limits.max_profiles}): "
                f"{installed_count} already installed; clear one first",
            )
        )

    # transactionId
    if purpose == TX_PROFILE:
        if transaction_id is None:
            out.append(("profile.transactionId", "is required for a TxProfile"))
        elif (
            active_transaction_id is not None
            and connector_id > 0
            and transaction_id != active_transaction_id
        ):
            out.append(
                (
                    "profile.transactionId",
                    f"must be {active_transaction_id}, the active transaction on connector "
                    f"{connector_id} (got {transaction_id})",
                )
            )
    elif transaction_id is not None:
        out.append(
            (
                "profile.transactionId",
                f"is only allowed for a TxProfile (purpose is {purpose})",
            )
        )

    # stackLevel
    stack_level = profile["stackLevel"]
    if stack_level < 0:
        out.append(("profile.stackLevel", f"must be 0 or more (got {stack_level})"))
    elif (
        limits is not None
        and limits.max_stack_level is not None
        and stack_level > limits.max_stack_level
    ):
        out.append(
            (
                "profile.stackLevel",
                f"must be at most {limits.max_stack_level}, the station's "
                f"ChargeProfileMaxStackLevel (got {stack_level})",
            )
        )

    # recurrencyKind
    if kind == "Recurring":
        if "recurrencyKind" not in profile:
            out.append(("profile.recurrencyKind", "is required for a Recurring profile"))
    elif "recurrencyKind" in profile:
        out.append(
            (
                "profile.recurrencyKind",
                f"is only allowed for a Recurring profile (kind is {kind})",
            )
        )

    # validFrom / validTo
    valid_from = _date_time(profile, "validFrom", "profile.validFrom", out)
    valid_to = _date_time(profile, "validTo", "profile.validTo", out)
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        out.append(("profile.validTo", f"must be after validFrom ({profile['validFrom']})"))
    elif valid_to is not None and valid_to <= now:
        out.append(("profile.validTo", f"must be in the future (now is {format_datetime(now)})"))

    # chargingSchedule
    if "duration" in schedule and schedule["duration"] <= 0:
        duration = schedule["duration"]
        out.append((f"{_SCHEDULE}.duration", f"must be greater than 0 (got {duration})"))
    _date_time(schedule, "startSchedule", f"{_SCHEDULE}.startSchedule", out)
    if kind == "Recurring" and "startSchedule" not in schedule:
        out.append((f"{_SCHEDULE}.startSchedule", "is required for a Recurring profile"))
    elif kind == "Relative" and "startSchedule" in schedule:
        out.append((f"{_SCHEDULE}.startSchedule", "must not be given for a Relative profile"))
    unit = schedule["chargingRateUnit"]
    if limits is not None and limits.allowed_units is not None and unit not in limits.allowed_units:
        allowed = " or ".join(sorted(limits.allowed_units))
        out.append(
            (
                f"{_SCHEDULE}.chargingRateUnit",
                f"must be {allowed}, the station's ChargingScheduleAllowedChargingRateUnit "
                f"(got {unit})",
            )
        )
    if not periods:
        out.append((_PERIODS, "must have at least one period"))
    elif (
        limits is not None and limits.max_periods is not None and len(periods) > limits.max_periods
    ):
        out.append(
            (
                _PERIODS,
                f"must have at most {limits.max_periods} periods, the station's "
                f"ChargingScheduleMaxPeriods (got {len(periods)})",
            )
        )
    out.extend(_period_problems(periods))
    if schedule.get("minChargingRate", 0) < 0:
        out.append(
            (
                f"{_SCHEDULE}.minChargingRate",
                f"must be 0 or more (got {schedule['minChargingRate']})",
            )
        )
    return out


def _period_problems(periods: list[Mapping[str, Any]]) -> ProblemList:
    out: ProblemList = []
    previous: int | None = None
    for index, period in enumerate(periods):
        path = f"{_PERIODS}[{index}]"
        start = period["startPeriod"]
        if previous is None and start != 0:
            out.append((f"{path}.startPeriod", f"must be 0 for the first period (got {start})"))
        elif previous is not None and start <= previous:
            out.append(
                (
                    f"{path}.startPeriod",
                    f"must be greater than the previous period's ({previous})",
                )
            )
        previous = start
        limit = period["limit"]
        if limit < 0:
            out.append((f"{path}.limit", f"must be 0 or more (got {limit})"))
        phases = period.get("numberPhases")
        if phases is not None and not 1 <= phases <= 3:
            out.append((f"{path}.numberPhases", f"must be between 1 and 3 (got {phases})"))
    return out


def _date_time(
    container: Mapping[str, Any], key: str, path: str, out: ProblemList
) -> datetime | None:
    """The parsed date-time at ``key``; an unreadable one is reported (the schema's
    "format" is not enforced by its validator)."""
    if key not in container:
        return None
    raw = container[key]
    try:
        return parse_datetime(raw)
    except (ValueError, IndexError):
        out.append((path, f"must be an ISO 8601 date-time (got {raw!r})"))
        return None


def _unsafe_numbers(profile: Any) -> ProblemList:
    """Numbers that the schema's multipleOf check cannot evaluate (it would raise).

    NaN and infinities are not JSON; magnitudes from about 10^27 on overflow the
    28-digit Decimal the check uses. Reported here so validation always answers.
    """
    if not isinstance(profile, Mapping):
        return []
    schedule = profile.get("chargingSchedule")
    if not isinstance(schedule, Mapping):
        return []
    candidates: list[tuple[str, Any]] = [
        (f"{_SCHEDULE}.minChargingRate", schedule.get("minChargingRate"))
    ]
    periods = schedule.get("chargingSchedulePeriod")
    if isinstance(periods, list):
        candidates += [
            (f"{_PERIODS}[{i}].limit", p.get("limit"))
            for i, p in enumerate(periods)
            if isinstance(p, Mapping)
        ]
    out: ProblemList = []
    for path, value in candidates:
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            out.append((path, f"must be a finite number (got {value})"))
        elif abs(value) >= _MAX_DECIMAL_MAGNITUDE:
            out.append((path, f"must be less than 1e26 (got {value})"))
    return sorted(out)
