"""profiles.scenarios: the contract's test scenarios as profile generators.

Exact profiles, every error text, the daylight-saving behaviour of time_of_use, the
energy-cap arithmetic, and (hypothesis) that whatever is generated validates and,
evaluated by the scheduling core, means what the scenario promised.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiles.scenarios import (
    SCENARIOS,
    GeneratedProfile,
    ScenarioError,
    build,
    required_fields,
)
from profiles.scheduling import (
    ChargingProfile,
    InstalledProfile,
    limit_at,
    parse_datetime,
    round_limit,
)
from profiles.validation import validate_profile

NOW = datetime(2026, 1, 8, 10, 30, 15, 250_000, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")

TOU = {"off_peak_w": 11000, "peak_w": 7000, "peak_start_hour": 9, "peak_end_hour": 17}
CAP = {
    "transaction_id": 1234,
    "max_energy_wh": 40000,
    "duration_seconds": 14400,
    "power_limit_w": 11000,
}
VALID_PARAMS = {"peak_shaving": {"max_power_w": 11000}, "time_of_use": TOU, "energy_cap": CAP}

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def make(scenario: str, params: dict[str, Any], **kwargs: Any) -> GeneratedProfile:
    kwargs.setdefault("profile_id", 1)
    kwargs.setdefault("stack_level", 0)
    kwargs.setdefault("now", NOW)
    return build(scenario, params, **kwargs)


def error(scenario: str, params: dict[str, Any], **kwargs: Any) -> str:
    with pytest.raises(ScenarioError) as caught:
        make(scenario, params, **kwargs)
    assert str(caught.value) == caught.value.detail
    return caught.value.detail


def local_start(profile: dict[str, Any], index: int, zone: ZoneInfo) -> datetime:
    """Where period ``index`` of the first recurrence begins, on the local clock."""
    schedule = profile["chargingSchedule"]
    start = parse_datetime(schedule["startSchedule"])
    assert start is not None
    offset = schedule["chargingSchedulePeriod"][index]["startPeriod"]
    return (start + timedelta(seconds=offset)).astimezone(zone)


# --------------------------------------------------------------------------- exact profiles


def test_peak_shaving_caps_the_station_on_connector_0_from_now() -> None:
    generated = make(
        "peak_shaving", {"connector_id": 1, "max_power_w": 11000}, profile_id=7, stack_level=2
    )
    assert generated == GeneratedProfile(
        scenario="peak_shaving",
        connector_id=0,
        profile={
            "chargingProfileId": 7,
            "stackLevel": 2,
            "chargingProfilePurpose": "ChargePointMaxProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}],
                "startSchedule": "2026-01-08T10:30:15+00:00",
            },
        },
    )


def test_time_of_use_in_utc_has_no_end() -> None:
    generated = make("time_of_use", {**TOU, "connector_id": 2}, profile_id=3)
    assert generated == GeneratedProfile(
        scenario="time_of_use",
        connector_id=2,
        profile={
            "chargingProfileId": 3,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Recurring",
            "recurrencyKind": "Daily",
            "chargingSchedule": {
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 11000},
                    {"startPeriod": 32400, "limit": 7000},
                    {"startPeriod": 61200, "limit": 11000},
                ],
                "startSchedule": "2026-01-08T00:00:00+00:00",
            },
        },
    )


def test_time_of_use_in_berlin_starts_at_local_midnight_and_ends_at_the_next_change() -> None:
    generated = make("time_of_use", TOU, time_zone="Europe/Berlin")
    assert generated.connector_id == 1
    assert generated.profile["validTo"] == "2026-03-29T01:00:00+00:00"
    assert generated.profile["chargingSchedule"]["startSchedule"] == "2026-01-07T23:00:00+00:00"
    assert generated.profile["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 11000},
        {"startPeriod": 32400, "limit": 7000},
        {"startPeriod": 61200, "limit": 11000},
    ]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 6, [{"startPeriod": 0, "limit": 7000}, {"startPeriod": 21600, "limit": 11000}]),
        (18, 24, [{"startPeriod": 0, "limit": 11000}, {"startPeriod": 64800, "limit": 7000}]),
        (0, 24, [{"startPeriod": 0, "limit": 7000}]),
    ],
)
def test_time_of_use_omits_empty_off_peak_periods(
    start: int, end: int, expected: list[dict[str, Any]]
) -> None:
    params = {**TOU, "peak_start_hour": start, "peak_end_hour": end}
    periods = make("time_of_use", params).profile["chargingSchedule"]["chargingSchedulePeriod"]
    assert periods == expected


def test_energy_cap_switches_to_zero_when_the_cap_is_reached() -> None:
    generated = make("energy_cap", {**CAP, "connector_id": 2}, profile_id=9, stack_level=1)
    assert generated == GeneratedProfile(
        scenario="energy_cap",
        connector_id=2,
        profile={
            "chargingProfileId": 9,
            "transactionId": 1234,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {
                "duration": 14400,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 11000},
                    {"startPeriod": 13090, "limit": 0},
                ],
            },
        },
    )
    # 40000 Wh / 11000 W = 13090.9 s: rounded down, the cap is never exceeded.
    assert 11000 * 13090 / 3600 <= 40000 < 11000 * 13091 / 3600


def test_energy_cap_not_reached_within_the_duration_is_one_period() -> None:
    params = {**CAP, "max_energy_wh": 30000, "duration_seconds": 7200}  # the contract's example
    schedule = make("energy_cap", params).profile["chargingSchedule"]
    assert schedule == {
        "duration": 7200,
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}],
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # Exactly one hour of 11 kW fits 11 kWh: the switch is at 3600 s.
        (
            {"max_energy_wh": 11000, "duration_seconds": 7200},
            [{"startPeriod": 0, "limit": 11000}, {"startPeriod": 3600, "limit": 0}],
        ),
        # Reached exactly at the end of the duration: nothing to switch off.
        ({"max_energy_wh": 22000, "duration_seconds": 7200}, [{"startPeriod": 0, "limit": 11000}]),
        # Less than one second of charging fits: 0 W throughout.
        ({"max_energy_wh": 0.001}, [{"startPeriod": 0, "limit": 0}]),
        # The limit is sent rounded down (7400.05 -> 7400), and the switch follows it:
        # 1000 Wh at 7400 W = 486.49 s.
        (
            {"max_energy_wh": 1000, "power_limit_w": 7400.05},
            [{"startPeriod": 0, "limit": 7400}, {"startPeriod": 486, "limit": 0}],
        ),
        # 7.4 W is 37/5 exactly as sent: 1 Wh lasts 486.486 s.
        (
            {"max_energy_wh": 1, "power_limit_w": 7.4},
            [{"startPeriod": 0, "limit": 7.4}, {"startPeriod": 486, "limit": 0}],
        ),
    ],
)
def test_energy_cap_arithmetic(params: dict[str, Any], expected: list[dict[str, Any]]) -> None:
    schedule = make("energy_cap", {**CAP, **params}).profile["chargingSchedule"]
    assert schedule["chargingSchedulePeriod"] == expected


@pytest.mark.parametrize(
    ("value", "sent"),
    [(11000, 11000), (11000.0, 11000), (7400.06, 7400), (11000.55, 11000.5), (0, 0), (0.09, 0)],
)
def test_limits_are_rounded_down_to_one_decimal(value: float, sent: float) -> None:
    profile = make("peak_shaving", {"max_power_w": value}).profile
    limit = profile["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"]
    assert limit == sent
    assert type(limit) is type(sent)


def test_whole_floats_are_accepted_for_whole_parameters() -> None:
    params = {**TOU, "peak_start_hour": 9.0, "peak_end_hour": 17.0, "connector_id": 1.0}
    generated = make("time_of_use", params)
    assert generated.connector_id == 1
    periods = generated.profile["chargingSchedule"]["chargingSchedulePeriod"]
    assert [p["startPeriod"] for p in periods] == [0, 32400, 61200]


def test_an_enormous_energy_cap_is_one_period() -> None:
    params = {**CAP, "max_energy_wh": 10**400}
    periods = make("energy_cap", params).profile["chargingSchedule"]["chargingSchedulePeriod"]
    assert periods == [{"startPeriod": 0, "limit": 11000}]


def test_a_naive_now_is_utc() -> None:
    naive = make("peak_shaving", {"max_power_w": 1}, now=NOW.replace(tzinfo=None))
    assert naive == make("peak_shaving", {"max_power_w": 1})


# --------------------------------------------------------------------------- errors


def test_required_fields_in_the_order_they_are_reported() -> None:
    assert SCENARIOS == ("peak_shaving", "time_of_use", "energy_cap")
    assert required_fields("peak_shaving") == ("max_power_w",)
    assert required_fields("time_of_use") == (
        "off_peak_w",
        "peak_w",
        "peak_start_hour",
        "peak_end_hour",
    )
    assert required_fields("energy_cap") == (
        "transaction_id",
        "max_energy_wh",
        "duration_seconds",
        "power_limit_w",
    )


@pytest.mark.parametrize("scenario", ["invalid_scenario", "", "Peak_Shaving"])
def test_an_unknown_scenario(scenario: str) -> None:
    expected = f"Unknown scenario '{scenario}'. Valid: peak_shaving, time_of_use, energy_cap"
    assert error(scenario, {"max_power_w": 1}) == expected
    with pytest.raises(ScenarioError) as caught:
        required_fields(scenario)
    assert caught.value.detail == expected


def test_the_contract_text_for_an_unknown_scenario() -> None:
    assert error("invalid_scenario", {}) == (
        "Unknown scenario 'invalid_scenario'. Valid: peak_shaving, time_of_use, energy_cap"
    )


@pytest.mark.parametrize(
    ("scenario", "missing"),
    [(s, f) for s in SCENARIOS for f in VALID_PARAMS[s]],
)
def test_each_missing_parameter(scenario: str, missing: str) -> None:
    params = {k: v for k, v in VALID_PARAMS[scenario].items() if k != missing}
    assert error(scenario, params) == f"{missing} is required for {scenario}"
    assert error(scenario, {**params, missing: None}) == f"{missing} is required for {scenario}"


@pytest.mark.parametrize(
    ("scenario", "first"),
    [
        ("peak_shaving", "max_power_w"),
        ("time_of_use", "off_peak_w"),
        ("energy_cap", "transaction_id"),
    ],
)
def test_the_first_missing_parameter_is_reported(scenario: str, first: str) -> None:
    assert error(scenario, {"connector_id": 1}) == f"{first} is required for {scenario}"
    assert error("time_of_use", {"peak_w": 1, "off_peak_w": 2}) == (
        "peak_start_hour is required for time_of_use"
    )


@pytest.mark.parametrize(
    ("scenario", "changes", "expected"),
    [
        ("peak_shaving", {"max_power_w": -1}, "max_power_w must be 0 or more (got -1)"),
        ("peak_shaving", {"max_power_w": "11000"}, "max_power_w must be a number (got '11000')"),
        ("peak_shaving", {"max_power_w": True}, "max_power_w must be a number (got True)"),
        (
            "peak_shaving",
            {"max_power_w": float("inf")},
            "max_power_w must be a finite number (got inf)",
        ),
        (
            "peak_shaving",
            {"max_power_w": 2e7},
            "max_power_w must be at most 10000000 (got 20000000.0)",
        ),
        ("time_of_use", {"peak_w": -5.5}, "peak_w must be 0 or more (got -5.5)"),
        ("time_of_use", {"off_peak_w": [1]}, "off_peak_w must be a number (got [1])"),
        (
            "time_of_use",
            {"peak_start_hour": 25},
            "peak_start_hour must be between 0 and 24 (got 25)",
        ),
        (
            "time_of_use",
            {"peak_start_hour": -1},
            "peak_start_hour must be between 0 and 24 (got -1)",
        ),
        (
            "time_of_use",
            {"peak_end_hour": 25},
            "peak_end_hour must be between 0 and 24 (got 25)",
        ),
        (
            "time_of_use",
            {"peak_start_hour": 9.5},
            "peak_start_hour must be a whole hour (got 9.5)",
        ),
        (
            "time_of_use",
            {"peak_end_hour": "17"},
            "peak_end_hour must be a whole hour (got '17')",
        ),
        (
            "time_of_use",
            {"peak_end_hour": False},
            "peak_end_hour must be a whole hour (got False)",
        ),
        (
            "time_of_use",
            {"peak_start_hour": 17, "peak_end_hour": 9},
            "peak_start_hour (17) must be before peak_end_hour (9)",
        ),
        (
            "time_of_use",
            {"peak_start_hour": 9, "peak_end_hour": 9},
            "peak_start_hour (9) must be before peak_end_hour (9)",
        ),
        ("time_of_use", {"connector_id": -1}, "connector_id must be 0 or more (got -1)"),
        ("time_of_use", {"connector_id": "one"}, "connector_id must be a whole number (got 'one')"),
        (
            "energy_cap",
            {"transaction_id": "1234"},
            "transaction_id must be a whole number (got '1234')",
        ),
        ("energy_cap", {"max_energy_wh": 0}, "max_energy_wh must be greater than 0 (got 0)"),
        (
            "energy_cap",
            {"max_energy_wh": -10.5},
            "max_energy_wh must be greater than 0 (got -10.5)",
        ),
        ("energy_cap", {"duration_seconds": 0}, "duration_seconds must be greater than 0 (got 0)"),
        (
            "energy_cap",
            {"duration_seconds": 1.5},
            "duration_seconds must be a whole number (got 1.5)",
        ),
        ("energy_cap", {"power_limit_w": 0}, "power_limit_w must be greater than 0 (got 0)"),
        ("energy_cap", {"power_limit_w": -1}, "power_limit_w must be greater than 0 (got -1)"),
        ("energy_cap", {"power_limit_w": 0.05}, "power_limit_w must be at least 0.1 (got 0.05)"),
        (
            "energy_cap",
            {"power_limit_w": 10_000_001},
            "power_limit_w must be at most 10000000 (got 10000001)",
        ),
        ("energy_cap", {"connector_id": 0}, "connector_id must be 1 or more (got 0)"),
    ],
)
def test_a_value_that_makes_no_profile(
    scenario: str, changes: dict[str, Any], expected: str
) -> None:
    assert error(scenario, {**VALID_PARAMS[scenario], **changes}) == expected


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../../etc/passwd"])
def test_an_unknown_time_zone(zone: str) -> None:
    assert error("time_of_use", TOU, time_zone=zone) == f"Unknown time zone '{zone}'"


# --------------------------------------------------------------------------- daylight saving


@pytest.mark.parametrize(
    ("now", "midnight", "valid_to"),
    [
        # Friday before the March change (CET, +01:00).
        ("2026-03-27T12:00:00+00:00", "2026-03-26T23:00:00+00:00", "2026-03-29T01:00:00+00:00"),
        # A week after it (CEST, +02:00).
        ("2026-04-05T12:00:00+00:00", "2026-04-04T22:00:00+00:00", "2026-10-25T01:00:00+00:00"),
        # The last second of the day before the change.
        ("2026-03-28T22:59:59+00:00", "2026-03-27T23:00:00+00:00", "2026-03-29T01:00:00+00:00"),
        # The days around the October change.
        ("2026-10-24T12:00:00+00:00", "2026-10-23T22:00:00+00:00", "2026-10-25T01:00:00+00:00"),
        ("2026-10-26T12:00:00+00:00", "2026-10-25T23:00:00+00:00", "2027-03-28T01:00:00+00:00"),
    ],
)
def test_time_of_use_peak_is_at_local_hours_on_both_sides_of_a_change(
    now: str, midnight: str, valid_to: str
) -> None:
    moment = parse_datetime(now)
    assert moment is not None
    profile = make("time_of_use", TOU, now=moment, time_zone="Europe/Berlin").profile
    assert profile["chargingSchedule"]["startSchedule"] == midnight
    assert profile["validTo"] == valid_to
    assert local_start(profile, 0, BERLIN).time().isoformat() == "00:00:00"
    assert local_start(profile, 1, BERLIN).time().isoformat() == "09:00:00"
    assert local_start(profile, 2, BERLIN).time().isoformat() == "17:00:00"


@pytest.mark.parametrize(
    ("now", "midnight", "peak", "peak_end"),
    [
        (
            "2026-03-29T12:00:00+00:00",
            "2026-03-28T22:00:00+00:00",
            "2026-03-29T09:00:00+02:00",
            "2026-03-29T17:00:00+02:00",
        ),
        (
            "2026-10-25T12:00:00+00:00",
            "2026-10-24T23:00:00+00:00",
            "2026-10-25T09:00:00+01:00",
            "2026-10-25T17:00:00+01:00",
        ),
    ],
)
def test_on_the_day_of_a_change_the_clock_now_in_force_decides(
    now: str, midnight: str, peak: str, peak_end: str
) -> None:
    """Generated on the day of a change, after it: the anchor is midnight as the clock now
    in force would have shown it (not the real midnight, under the old clock), so the
    peak hours are right today and on every later day until the next change."""
    moment = parse_datetime(now)
    assert moment is not None
    profile = make("time_of_use", TOU, now=moment, time_zone="Europe/Berlin").profile
    assert profile["chargingSchedule"]["startSchedule"] == midnight
    assert local_start(profile, 1, BERLIN).isoformat() == peak
    assert local_start(profile, 2, BERLIN).isoformat() == peak_end


def test_generated_on_the_day_of_a_change_before_it_ends_at_the_change() -> None:
    """At 01:30 CET on 29 March the winter clock decides; the profile ends at 03:00 CEST,
    before its first peak (which the winter clock would put at 10:00 CEST) is reached."""
    moment = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    profile = make("time_of_use", TOU, now=moment, time_zone="Europe/Berlin").profile
    assert profile["chargingSchedule"]["startSchedule"] == "2026-03-28T23:00:00+00:00"
    assert profile["validTo"] == "2026-03-29T01:00:00+00:00"
    valid_to = parse_datetime(profile["validTo"])
    assert valid_to is not None
    assert local_start(profile, 1, BERLIN) > valid_to


def test_the_profile_stops_at_the_change_instead_of_drifting() -> None:
    """Evaluated by the scheduling core: right until validTo, silent afterwards."""
    generated = make(
        "time_of_use", TOU, now=datetime(2026, 3, 27, 12, tzinfo=UTC), time_zone="Europe/Berlin"
    )
    installed = [InstalledProfile(1, ChargingProfile.from_ocpp(generated.profile))]
    rated = 22080.0

    def limit(local: str) -> float:
        at = datetime.fromisoformat(local)
        return limit_at(installed, 1, at, connector_max_w=rated)

    assert limit("2026-03-28T08:59:00+01:00") == 11000  # Saturday, CET
    assert limit("2026-03-28T09:00:00+01:00") == 7000
    assert limit("2026-03-28T16:59:59+01:00") == 7000
    assert limit("2026-03-28T17:00:00+01:00") == 11000
    assert limit("2026-03-29T01:59:59+01:00") == 11000  # the last second before the change
    # From 03:00 CEST on the profile is no longer valid (a drifting one would put the
    # peak at 10:00 CEST); the CSMS generates the next one.
    assert limit("2026-03-29T03:00:00+02:00") == rated
    assert limit("2026-03-29T09:30:00+02:00") == rated


# --------------------------------------------------------------------------- properties

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Sao_Paulo",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Asia/Kolkata",
    "Pacific/Chatham",
]
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2080, 12, 31), timezones=st.just(UTC)
)
powers = st.one_of(
    st.integers(0, 400_000),
    st.floats(0, 400_000, allow_nan=False),
    st.decimals(0, 400_000, places=1).map(float),
)
positive_powers = st.floats(0.1, 1_000_000, allow_nan=False) | st.integers(1, 1_000_000)


@st.composite
def tou_params(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(st.integers(0, 23))
    end = draw(st.integers(start + 1, 24))
    return {
        "off_peak_w": draw(powers),
        "peak_w": draw(powers),
        "peak_start_hour": start,
        "peak_end_hour": end,
        "connector_id": draw(st.integers(0, 4)),
    }


cap_params = st.fixed_dictionaries(
    {
        "transaction_id": st.integers(-(2**31), 2**31 - 1),
        "max_energy_wh": st.floats(1e-3, 1e7, allow_nan=False) | st.integers(1, 10**7),
        "duration_seconds": st.integers(1, 7 * 86400),
        "power_limit_w": positive_powers,
        "connector_id": st.integers(1, 4),
    }
)
scenario_params = st.one_of(
    st.tuples(st.just("peak_shaving"), st.fixed_dictionaries({"max_power_w": powers})),
    st.tuples(st.just("time_of_use"), tou_params()),
    st.tuples(st.just("energy_cap"), cap_params),
)


@PROPERTY
@given(
    choice=scenario_params,
    now=moments,
    zone=st.sampled_from(ZONES),
    profile_id=st.integers(0, 2**31 - 1),
    stack_level=st.integers(0, 8),
)
def test_every_generated_profile_validates(
    choice: tuple[str, dict[str, Any]], now: datetime, zone: str, profile_id: int, stack_level: int
) -> None:
    scenario, params = choice
    generated = build(
        scenario, params, profile_id=profile_id, stack_level=stack_level, now=now, time_zone=zone
    )
    assert generated.scenario == scenario
    assert generated.profile["chargingProfileId"] == profile_id
    assert generated.profile["stackLevel"] == stack_level
    active = params.get("transaction_id")
    problems = validate_profile(
        generated.connector_id, generated.profile, active_transaction_id=active, now=now
    )
    assert problems == []


@PROPERTY
@given(params=cap_params)
def test_the_energy_cap_is_never_exceeded_and_not_given_away(params: dict[str, Any]) -> None:
    schedule = build("energy_cap", params, profile_id=1, stack_level=0, now=NOW).profile[
        "chargingSchedule"
    ]
    periods = schedule["chargingSchedulePeriod"]
    duration = params["duration_seconds"]
    assert schedule["duration"] == duration
    cap = Fraction(repr(params["max_energy_wh"]))
    # The limit as the station reads it: power_limit_w rounded down to one decimal.
    sent = Fraction(repr(round_limit(params["power_limit_w"])))
    assert 0 < sent <= Fraction(repr(params["power_limit_w"])) + Fraction(1, 10**9)
    if periods == [{"startPeriod": 0, "limit": 0}]:
        charging = 0
    else:
        assert Fraction(repr(periods[0]["limit"])) == sent
        charging = periods[1]["startPeriod"] if len(periods) == 2 else duration
    assert sent * charging / 3600 <= cap
    if charging < duration:
        # One second more at the limit would pass the cap: the switch is as late as allowed.
        assert periods[-1] == {"startPeriod": charging, "limit": 0}
        assert sent * (charging + 1) / 3600 > cap


@PROPERTY
@given(
    params=tou_params(),
    now=moments,
    zone=st.sampled_from(ZONES),
    offsets=st.lists(st.integers(0, 200 * 86400), min_size=1, max_size=12),
)
def test_time_of_use_means_local_hours_until_valid_to(
    params: dict[str, Any], now: datetime, zone: str, offsets: list[int]
) -> None:
    """Evaluated by the scheduling core at moments up to 200 days on, the limit is peak_w
    exactly when the local hour is in [start, end), and nothing past validTo."""
    generated = build("time_of_use", params, profile_id=1, stack_level=0, now=now, time_zone=zone)
    profile = ChargingProfile.from_ocpp(generated.profile)
    installed = [InstalledProfile(generated.connector_id, profile)]
    connector = max(1, generated.connector_id)  # on 0 it applies to every connector
    tz = ZoneInfo(zone)
    rated = 999_999.9
    peak_limit = round_limit(params["peak_w"])
    off_limit = round_limit(params["off_peak_w"])
    for offset in offsets:
        at = now + timedelta(seconds=offset)
        got = limit_at(
            installed, connector, at, connector_max_w=rated, number_of_connectors=connector
        )
        if profile.valid_to is not None and at >= profile.valid_to:
            assert got == rated
            continue
        hour = at.astimezone(tz).hour
        in_peak = params["peak_start_hour"] <= hour < params["peak_end_hour"]
        assert got == (peak_limit if in_peak else off_limit), (at.astimezone(tz), generated)
