"""profiles.validation.validate_profile: the spec's rules and the station's limits.

Each rule is checked with its exact (path, message), as the API answers them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from profiles.validation import StationLimits, validate_profile

NOW = datetime(2026, 1, 8, 10, 0, tzinfo=UTC)
PERIODS = "profile.chargingSchedule.chargingSchedulePeriod"


def absolute(**changes: Any) -> dict[str, Any]:
    """A valid TxDefaultProfile; ``changes`` are top-level fields (None removes one)."""
    profile: dict[str, Any] = {
        "chargingProfileId": 100,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 22000},
                {"startPeriod": 3600, "limit": 11000.5},
            ],
            "startSchedule": "2026-01-08T10:00:00+00:00",
        },
    }
    for key, value in changes.items():
        if value is None:
            profile.pop(key, None)
        else:
            profile[key] = value
    return profile


def tx_profile(transaction_id: int | None = 1234) -> dict[str, Any]:
    profile = absolute(chargingProfilePurpose="TxProfile", chargingProfileKind="Relative")
    del profile["chargingSchedule"]["startSchedule"]
    if transaction_id is not None:
        profile["transactionId"] = transaction_id
    return profile


def recurring() -> dict[str, Any]:
    return absolute(chargingProfileKind="Recurring", recurrencyKind="Daily")


def with_schedule(profile: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``profile`` with chargingSchedule fields changed (None removes one)."""
    profile = copy.deepcopy(profile)
    for key, value in changes.items():
        if value is None:
            profile["chargingSchedule"].pop(key, None)
        else:
            profile["chargingSchedule"][key] = value
    return profile


def with_periods(*periods: dict[str, Any]) -> dict[str, Any]:
    return with_schedule(absolute(), chargingSchedulePeriod=list(periods))


def check(connector_id: int, profile: Any, **kwargs: Any) -> list[tuple[str, str]]:
    kwargs.setdefault("now", NOW)
    return validate_profile(connector_id, profile, **kwargs)


# --------------------------------------------------------------------------- valid profiles


@pytest.mark.parametrize(
    ("connector_id", "profile"),
    [
        (1, absolute()),
        (0, absolute()),
        (2, tx_profile()),
        (1, recurring()),
        (1, with_schedule(recurring(), duration=3600)),
        (1, absolute(validFrom="2026-01-01T00:00:00Z", validTo="2026-02-01T00:00:00Z")),
        (1, with_periods({"startPeriod": 0, "limit": 16.1, "numberPhases": 1})),
        (1, with_schedule(absolute(), chargingRateUnit="A", minChargingRate=6.0)),
        (1, with_periods({"startPeriod": 0, "limit": 0})),
    ],
)
def test_a_valid_profile_has_no_problems(connector_id: int, profile: dict[str, Any]) -> None:
    assert check(connector_id, profile) == []


def test_the_contract_example_is_valid_on_connector_1() -> None:
    """A ChargePointMaxProfile on connector 1 is not reported: the API moves it to 0."""
    profile = absolute(chargingProfilePurpose="ChargePointMaxProfile")
    assert check(1, profile) == []
    limits = StationLimits(number_of_connectors=1)
    assert check(3, profile, limits=limits) == []


# --------------------------------------------------------------------------- one rule each


RULES: list[tuple[str, int, Callable[[], dict[str, Any]], dict[str, Any], tuple[str, str]]] = [
    (
        "negative connector",
        -1,
        absolute,
        {},
        ("connector_id", "must be 0 or more (got -1)"),
    ),
    (
        "first period not at 0",
        1,
        lambda: with_periods({"startPeriod": 60, "limit": 10}),
        {},
        (f"{PERIODS}[0].startPeriod", "must be 0 for the first period (got 60)"),
    ),
    (
        "periods not ascending (equal)",
        1,
        lambda: with_periods(
            {"startPeriod": 0, "limit": 10},
            {"startPeriod": 3600, "limit": 10},
            {"startPeriod": 3600, "limit": 10},
        ),
        {},
        (f"{PERIODS}[2].startPeriod", "must be greater than the previous period's (3600)"),
    ),
    (
        "periods not ascending (lower)",
        1,
        lambda: with_periods({"startPeriod": 0, "limit": 10}, {"startPeriod": -5, "limit": 10}),
        {},
        (f"{PERIODS}[1].startPeriod", "must be greater than the previous period's (0)"),
    ),
    (
        "no periods",
        1,
        lambda: with_periods(),
        {},
        (PERIODS, "must have at least one period"),
    ),
    (
        "Recurring without recurrencyKind",
        1,
        lambda: absolute(chargingProfileKind="Recurring"),
        {},
        ("profile.recurrencyKind", "is required for a Recurring profile"),
    ),
    (
        "Recurring without startSchedule",
        1,
        lambda: with_schedule(recurring(), startSchedule=None),
        {},
        ("profile.chargingSchedule.startSchedule", "is required for a Recurring profile"),
    ),
    (
        "recurrencyKind on Absolute",
        1,
        lambda: absolute(recurrencyKind="Weekly"),
        {},
        ("profile.recurrencyKind", "is only allowed for a Recurring profile (kind is Absolute)"),
    ),
    (
        "Relative with startSchedule",
        1,
        lambda: absolute(chargingProfileKind="Relative"),
        {},
        ("profile.chargingSchedule.startSchedule", "must not be given for a Relative profile"),
    ),
    (
        "TxProfile without transactionId",
        1,
        lambda: tx_profile(transaction_id=None),
        {},
        ("profile.transactionId", "is required for a TxProfile"),
    ),
    (
        "TxProfile on connector 0",
        0,
        tx_profile,
        {},
        ("connector_id", "must be greater than 0 for a TxProfile (got 0)"),
    ),
    (
        "TxProfile for another transaction",
        2,
        lambda: tx_profile(transaction_id=1234),
        {"active_transaction_id": 99},
        (
            "profile.transactionId",
            "must be 99, the active transaction on connector 2 (got 1234)",
        ),
    ),
    (
        "transactionId on a TxDefaultProfile",
        1,
        lambda: absolute(transactionId=5),
        {},
        ("profile.transactionId", "is only allowed for a TxProfile (purpose is TxDefaultProfile)"),
    ),
    (
        "validTo before validFrom",
        1,
        lambda: absolute(validFrom="2026-02-01T00:00:00Z", validTo="2026-01-20T00:00:00Z"),
        {},
        ("profile.validTo", "must be after validFrom (2026-02-01T00:00:00Z)"),
    ),
    (
        "validTo equal to validFrom",
        1,
        lambda: absolute(validFrom="2026-02-01T00:00:00Z", validTo="2026-02-01T01:00:00+01:00"),
        {},
        ("profile.validTo", "must be after validFrom (2026-02-01T00:00:00Z)"),
    ),
    (
        "validTo already passed",
        1,
        lambda: absolute(validTo="2026-01-08T09:59:59Z"),
        {},
        ("profile.validTo", "must be in the future (now is 2026-01-08T10:00:00Z)"),
    ),
    (
        "unreadable validFrom",
        1,
        lambda: absolute(validFrom="next tuesday"),
        {},
        ("profile.validFrom", "must be an ISO 8601 date-time (got 'next tuesday')"),
    ),
    (
        "unreadable startSchedule",
        1,
        lambda: with_schedule(absolute(), startSchedule=""),
        {},
        ("profile.chargingSchedule.startSchedule", "must be an ISO 8601 date-time (got '')"),
    ),
    (
        "negative limit",
        1,
        lambda: with_periods({"startPeriod": 0, "limit": -1.5}),
        {},
        (f"{PERIODS}[0].limit", "must be 0 or more (got -1.5)"),
    ),
    (
        "zero duration",
        1,
        lambda: with_schedule(absolute(), duration=0),
        {},
        ("profile.chargingSchedule.duration", "must be greater than 0 (got 0)"),
    ),
    (
        "negative duration",
        1,
        lambda: with_schedule(absolute(), duration=-60),
        {},
        ("profile.chargingSchedule.duration", "must be greater than 0 (got -60)"),
    ),
    (
        "four phases",
        1,
        lambda: with_periods({"startPeriod": 0, "limit": 16, "numberPhases": 4}),
        {},
        (f"{PERIODS}[0].numberPhases", "must be between 1 and 3 (got 4)"),
    ),
    (
        "zero phases",
        1,
        lambda: with_periods({"startPeriod": 0, "limit": 16, "numberPhases": 0}),
        {},
        (f"{PERIODS}[0].numberPhases", "must be between 1 and 3 (got 0)"),
    ),
    (
        "negative stack level",
        1,
        lambda: absolute(stackLevel=-1),
        {},
        ("profile.stackLevel", "must be 0 or more (got -1)"),
    ),
    (
        "negative minChargingRate",
        1,
        lambda: with_schedule(absolute(), minChargingRate=-0.5),
        {},
        ("profile.chargingSchedule.minChargingRate", "must be 0 or more (got -0.5)"),
    ),
]


@pytest.mark.parametrize(
    ("connector_id", "make", "kwargs", "expected"),
    [pytest.param(c, m, k, e, id=name) for name, c, m, k, e in RULES],
)
def test_each_rule_reports_its_path_and_message(
    connector_id: int,
    make: Callable[[], dict[str, Any]],
    kwargs: dict[str, Any],
    expected: tuple[str, str],
) -> None:
    assert check(connector_id, make(), **kwargs) == [expected]


def test_a_limit_with_two_decimals_is_refused_by_the_schema() -> None:
    """At most one decimal: the schema's multipleOf 0.1 (read as Decimal) decides."""
    problems = check(1, with_periods({"startPeriod": 0, "limit": 8.69}))
    assert problems == [(f"{PERIODS}[0].limit", "Decimal('8.69') is not a multiple of 0.1")]
    assert check(1, with_periods({"startPeriod": 0, "limit": 8.7})) == []


def test_the_transaction_id_is_only_compared_when_known_and_matches() -> None:
    assert check(1, tx_profile(1234), active_transaction_id=1234) == []
    assert check(1, tx_profile(1234), active_transaction_id=None) == []


def test_validto_in_the_past_uses_the_current_time_by_default() -> None:
    profile = absolute(validTo="2001-01-01T00:00:00Z")
    problems = validate_profile(1, profile)
    assert len(problems) == 1
    assert problems[0][0] == "profile.validTo"
    assert problems[0][1].startswith("must be in the future (now is ")
    assert validate_profile(1, absolute(validTo="2999-01-01T00:00:00Z")) == []


# --------------------------------------------------------------------------- together


def test_every_problem_is_reported_together() -> None:
    profile = absolute(
        chargingProfilePurpose="TxProfile",
        chargingProfileKind="Relative",
        recurrencyKind="Daily",
        stackLevel=9,
    )
    profile["chargingSchedule"]["chargingSchedulePeriod"] = [
        {"startPeriod": 30, "limit": -2},
        {"startPeriod": 10, "limit": 5, "numberPhases": 5},
    ]
    limits = StationLimits(max_stack_level=3, number_of_connectors=2, allowed_units=frozenset("A"))
    assert check(0, profile, limits=limits) == [
        ("connector_id", "must be greater than 0 for a TxProfile (got 0)"),
        ("profile.transactionId", "is required for a TxProfile"),
        (
            "profile.stackLevel",
            "must be at most 3, the station's ChargeProfileMaxStackLevel (got 9)",
        ),
        ("profile.recurrencyKind", "is only allowed for a Recurring profile (kind is Relative)"),
        ("profile.chargingSchedule.startSchedule", "must not be given for a Relative profile"),
        (
            "profile.chargingSchedule.chargingRateUnit",
            "must be A, the station's ChargingScheduleAllowedChargingRateUnit (got W)",
        ),
        (f"{PERIODS}[0].startPeriod", "must be 0 for the first period (got 30)"),
        (f"{PERIODS}[0].limit", "must be 0 or more (got -2)"),
        (f"{PERIODS}[1].startPeriod", "must be greater than the previous period's (30)"),
        (f"{PERIODS}[1].numberPhases", "must be between 1 and 3 (got 5)"),
    ]


def test_schema_problems_come_alone() -> None:
    """Rule checks need a well-formed profile: with a schema error they are not run."""
    profile = absolute(stackLevel="high", recurrencyKind="Daily")  # recurrencyKind: a rule
    profile["chargingSchedule"]["chargingSchedulePeriod"] = [{"startPeriod": 60, "limit": 1.25}]
    assert check(-1, profile) == [
        (f"{PERIODS}[0].limit", "Decimal('1.25') is not a multiple of 0.1"),
        ("profile.stackLevel", "'high' is not of type 'integer'"),
    ]


def test_a_profile_that_is_not_an_object_is_a_schema_problem() -> None:
    assert check(1, [1, 2]) == [("profile", "[1, 2] is not of type 'object'")]


def test_numbers_the_schema_cannot_check_are_reported_instead_of_raising() -> None:
    profile = with_periods(
        {"startPeriod": 0, "limit": float("nan")},
        {"startPeriod": 60, "limit": 1e30},
        {"startPeriod": 120, "limit": float("-inf")},
    )
    assert check(1, profile) == [
        (f"{PERIODS}[0].limit", "must be a finite number (got nan)"),
        (f"{PERIODS}[1].limit", "must be less than 1e26 (got 1e+30)"),
        (f"{PERIODS}[2].limit", "must be a finite number (got -inf)"),
    ]


def test_a_value_that_is_not_json_is_reported() -> None:
    profile = absolute(validFrom=datetime(2026, 1, 1, tzinfo=UTC))
    problems = check(1, profile)
    assert [path for path, _ in problems] == ["profile"]
    assert problems[0][1].startswith("must contain only JSON values (")


# --------------------------------------------------------------------------- station limits

FULL = StationLimits(
    max_stack_level=3,
    max_periods=2,
    allowed_units=frozenset({"A"}),
    max_profiles=5,
    number_of_connectors=2,
)


def test_every_station_limit_is_checked_when_known() -> None:
    profile = absolute(stackLevel=4)
    profile["chargingSchedule"]["chargingSchedulePeriod"].append({"startPeriod": 7200, "limit": 0})
    assert check(3, profile, limits=FULL, installed_count=5) == [
        ("connector_id", "must be at most 2, the station's number of connectors (got 3)"),
        (
            "profile",
            "would exceed the station's MaxChargingProfilesInstalled (5): "
            "5 already installed; clear one first",
        ),
        (
            "profile.stackLevel",
            "must be at most 3, the station's ChargeProfileMaxStackLevel (got 4)",
        ),
        (
            "profile.chargingSchedule.chargingRateUnit",
            "must be A, the station's ChargingScheduleAllowedChargingRateUnit (got W)",
        ),
        (
            PERIODS,
            "must have at most 2 periods, the station's ChargingScheduleMaxPeriods (got 3)",
        ),
    ]


def test_a_profile_at_the_station_limits_passes() -> None:
    profile = with_schedule(absolute(stackLevel=3), chargingRateUnit="A")
    assert check(2, profile, limits=FULL, installed_count=4) == []
    both = StationLimits(allowed_units=frozenset({"A", "W"}))
    assert check(2, absolute(), limits=both) == []


def test_unknown_station_limits_are_not_checked() -> None:
    profile = absolute(stackLevel=40)
    profile["chargingSchedule"]["chargingSchedulePeriod"] = [
        {"startPeriod": i * 60, "limit": 10} for i in range(50)
    ]
    assert check(9, profile) == []
    assert check(9, profile, limits=StationLimits(), installed_count=1000) == []
    # The profile count needs both the station's maximum and the CSMS's count.
    assert check(1, absolute(), limits=StationLimits(max_profiles=1)) == []
    assert check(1, absolute(), limits=StationLimits(max_profiles=1), installed_count=1) == [
        (
            "profile",
            "would exceed the station's MaxChargingProfilesInstalled (1): "
            "1 already installed; clear one first",
        )
    ]


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("Current,Power", frozenset({"A", "W"})),
        ("Power", frozenset({"W"})),
        (" current , ", frozenset({"A"})),
        ("W", frozenset({"W"})),
        ("", None),
        ("Volts", None),
        (None, None),
    ],
)
def test_allowed_units_from_configuration(
    configured: str | None, expected: frozenset[str] | None
) -> None:
    assert StationLimits.from_configuration(allowed_units=configured).allowed_units == expected


def test_numbers_from_configuration() -> None:
    limits = StationLimits.from_configuration(
        max_stack_level="8", max_periods=24, max_profiles=" 10 ", number_of_connectors="2"
    )
    assert limits == StationLimits(
        max_stack_level=8, max_periods=24, max_profiles=10, number_of_connectors=2
    )
    unreadable = StationLimits.from_configuration(
        max_stack_level="many", max_periods="-1", max_profiles=None, number_of_connectors=""
    )
    assert unreadable == StationLimits()
