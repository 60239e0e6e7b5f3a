"""Property tests for profiles.scheduling (hypothesis).

Besides the invariants of a composite schedule, one test compares the segment-based
implementation with a naive oracle written directly from the rules and evaluated
moment by moment.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiles.scheduling import (
    ActiveTransaction,
    ChargingProfile,
    ChargingSchedule,
    CompositeSchedule,
    InstalledProfile,
    SchedulePeriod,
    composite_schedule,
    energy_wh,
    round_limit,
    time_to_energy,
    to_amps,
    to_watts,
)

T0 = datetime(2025, 3, 10, tzinfo=UTC)
DAY = 86400
CONNECTORS = 2
RATED = {1: 22080.0, 2: 11040.0}

FAST = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOWER = settings(FAST, max_examples=120)


# --------------------------------------------------------------------------- strategies


def minutes(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Seconds on a one-minute grid, so every change falls on that grid."""
    return st.integers(lo, hi).map(lambda m: m * 60)


def moments(lo_min: int, hi_min: int) -> st.SearchStrategy[datetime]:
    return minutes(lo_min, hi_min).map(lambda s: T0 + timedelta(seconds=s))


def window(max_seconds: int) -> st.SearchStrategy[int]:
    """Window lengths: plain integers alone would mostly be tiny (hypothesis favours small)."""
    return (
        st.integers(1, max_seconds // 3600).map(lambda h: h * 3600)
        | st.integers(max_seconds // 2, max_seconds)
        | st.integers(1, max_seconds)
    )


def near_or_far(lo_min: int, hi_min: int) -> st.SearchStrategy[datetime]:
    """Mostly within a few hours of T0 (where the windows are), sometimes days away."""
    return moments(-120, 300) | moments(lo_min, hi_min)


@st.composite
def charging_profiles(draw, pid: int) -> InstalledProfile:
    purpose = draw(st.sampled_from(["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]))
    connector = {
        "ChargePointMaxProfile": st.just(0),
        "TxDefaultProfile": st.sampled_from([0, 0, 1, 2]),
        "TxProfile": st.sampled_from([1, 2]),
    }[purpose]
    kind = draw(st.sampled_from(["Absolute", "Recurring", "Relative"]))
    unit = draw(st.sampled_from(["W", "A"]))
    limits = (
        st.integers(0, 300).map(lambda x: x * 100.0)
        if unit == "W"
        else st.integers(0, 640).map(lambda x: x / 10)
    )
    starts = draw(st.lists(minutes(1, 240) | minutes(1, 3 * 1440), max_size=3, unique=True))
    periods = tuple(
        SchedulePeriod(s, draw(limits), draw(st.sampled_from([None, None, 1, 3])))
        for s in [0, *sorted(starts)]
    )
    start_schedule = (
        None if kind == "Relative" else draw(st.none() | near_or_far(-8 * 1440, 2 * 1440))
    )
    prof = ChargingProfile(
        charging_profile_id=pid,
        stack_level=draw(st.integers(0, 3)),
        purpose=purpose,
        kind=kind,
        schedule=ChargingSchedule(
            charging_rate_unit=unit,
            periods=periods,
            duration=draw(st.none() | minutes(1, 360) | minutes(1, 9 * 1440)),
            start_schedule=start_schedule,
        ),
        recurrency_kind=draw(st.sampled_from(["Daily", "Weekly"])) if kind == "Recurring" else None,
        valid_from=draw(st.none() | near_or_far(-2 * 1440, 2 * 1440)),
        valid_to=draw(st.none() | near_or_far(-1440, 4 * 1440)),
        transaction_id=draw(st.sampled_from([None, 1, 2])) if purpose == "TxProfile" else None,
    )
    installed_at = draw(st.none() | near_or_far(-2 * 1440, 1440))
    return InstalledProfile(draw(connector), prof, installed_at)


@st.composite
def situations(draw):
    """(installed profiles, active transactions) on a two-connector station."""
    count = draw(st.integers(0, 6))
    installed = [draw(charging_profiles(pid)) for pid in range(1, count + 1)]
    transactions = {}
    for conn in (1, 2):
        if draw(st.booleans()):
            transactions[conn] = ActiveTransaction(
                draw(st.sampled_from([1, 2])), draw(near_or_far(-2 * 1440, 1440))
            )
    return installed, transactions


def composite(installed, transactions, connector, start, duration, unit="W"):
    return composite_schedule(
        installed,
        connector,
        start,
        duration,
        unit,
        transactions=transactions,
        connector_max_w=RATED,
        number_of_connectors=CONNECTORS,
    )


# --------------------------------------------------------------------------- oracle


def oracle_profile_w(inst: InstalledProfile, t: datetime, asked: datetime, tx) -> float | None:
    """Naive reading of one profile at moment t (None where it has no period)."""
    p = inst.profile
    sched = p.schedule
    valid_from = p.valid_from or inst.installed_at
    if (valid_from is not None and t < valid_from) or (p.valid_to is not None and t >= p.valid_to):
        return None
    if p.kind == "Relative":
        origin = tx.started_at if tx is not None else asked
    else:
        origin = sched.start_schedule or inst.installed_at or asked
    if t < origin:
        return None
    elapsed = (t - origin).total_seconds()
    run = math.inf if sched.duration is None else sched.duration
    if p.kind == "Recurring":
        recurrence = DAY if p.recurrency_kind == "Daily" else 7 * DAY
        elapsed %= recurrence
        run = min(run, recurrence)
    if elapsed >= run:
        return None
    started = [per for per in sched.periods if per.start_period <= elapsed]
    if not started:
        return None
    per = max(started, key=lambda x: x.start_period)
    return to_watts(per.limit, sched.charging_rate_unit, per.number_phases)


def oracle_stack(items, t, asked, tx) -> float | None:
    found = [
        (i.profile.stack_level, w)
        for i in items
        if (w := oracle_profile_w(i, t, asked, tx)) is not None
    ]
    if not found:
        return None
    top = max(level for level, _ in found)
    return min(w for level, w in found if level == top)


def oracle_connector_w(installed, transactions, conn, t, asked) -> float | None:
    tx = transactions.get(conn)
    tx_profiles = [
        i
        for i in installed
        if i.profile.purpose == "TxProfile"
        and i.connector_id == conn
        and tx is not None
        and i.profile.transaction_id in (None, tx.transaction_id)
    ]
    own = [
        i for i in installed if i.profile.purpose == "TxDefaultProfile" and i.connector_id == conn
    ]
    station = [
        i for i in installed if i.profile.purpose == "TxDefaultProfile" and i.connector_id == 0
    ]
    for group in (tx_profiles, own, station):
        value = oracle_stack(group, t, asked, tx)
        if value is not None:
            return value
    return None


def oracle_w(installed, transactions, connector, t, asked) -> tuple[float, bool]:
    cps = [
        i for i in installed if i.profile.purpose == "ChargePointMaxProfile" and i.connector_id == 0
    ]
    cap = oracle_stack(cps, t, asked, None)
    if connector > 0:
        layer = oracle_connector_w(installed, transactions, connector, t, asked)
        values = [v for v in (layer, cap) if v is not None]
        return (min(values), True) if values else (RATED[connector], False)
    total, any_profile = 0.0, False
    for conn in range(1, CONNECTORS + 1):
        layer = oracle_connector_w(installed, transactions, conn, t, asked)
        total += RATED[conn] if layer is None else layer
        any_profile |= layer is not None
    if cap is not None and cap <= total:
        return cap, True
    return total, any_profile


# --------------------------------------------------------------------------- helpers


def in_watts(schedule: CompositeSchedule, second: int) -> float:
    period = schedule.period_at(schedule.schedule_start + timedelta(seconds=second))
    return to_watts(period.limit, schedule.charging_rate_unit, period.number_phases)


def probe_seconds(*schedules: CompositeSchedule) -> list[int]:
    """Every period start of the given schedules and the second before it."""
    points = {0}
    for sched in schedules:
        for p in sched.periods:
            points.update({p.start_period, max(0, p.start_period - 1)})
    return sorted(points)


# --------------------------------------------------------------------------- properties


@SLOWER
@given(
    situations(),
    st.sampled_from([0, 1, 2]),
    near_or_far(-1440, 2 * 1440),
    window(6 * 3600),
)
def test_matches_naive_oracle_at_every_minute(situation, connector, start, duration):
    installed, transactions = situation
    cs = composite(installed, transactions, connector, start, duration)
    for second in range(0, duration, 60):
        t = start + timedelta(seconds=second)
        expected_w, expected_from_profile = oracle_w(installed, transactions, connector, t, start)
        period = cs.period_at(t)
        assert period.limit == round_limit(expected_w), (second, cs.periods)
        assert period.from_profile == expected_from_profile, (second, cs.periods)


@SLOWER
@given(
    situations(),
    st.sampled_from([0, 1, 2]),
    moments(-1440, 2 * 1440),
    window(7 * DAY),
    st.sampled_from(["W", "A"]),
)
def test_never_exceeds_charge_point_max(situation, connector, start, duration, unit):
    installed, transactions = situation
    cs = composite(installed, transactions, connector, start, duration, unit)
    cp_only = [i for i in installed if i.profile.purpose == "ChargePointMaxProfile"]
    cap = composite(cp_only, {}, connector, start, duration, "W")
    for second in probe_seconds(cs, cap):
        cap_period = cap.period_at(start + timedelta(seconds=second))
        if cap_period.from_profile:
            # A limit rounded down in A may be a little below, never above (0.01 W noise).
            assert in_watts(cs, second) <= cap_period.limit + 0.01, (second, cs.periods)


@FAST
@given(
    situations(),
    st.sampled_from([0, 1, 2]),
    moments(-1440, 2 * 1440),
    st.integers(0, 999_999),
    window(7 * DAY),
    st.sampled_from(["W", "A"]),
)
def test_periods_are_well_formed(situation, connector, start, micros, duration, unit):
    installed, transactions = situation
    start += timedelta(microseconds=micros)
    cs = composite(installed, transactions, connector, start, duration, unit)
    starts = [p.start_period for p in cs.periods]
    assert starts[0] == 0
    assert all(a < b for a, b in itertools.pairwise(starts))
    assert all(0 <= s < duration for s in starts)
    assert all(isinstance(s, int) for s in starts)
    for before, after in itertools.pairwise(cs.periods):
        key = (before.limit, before.number_phases, before.from_profile)
        assert key != (after.limit, after.number_phases, after.from_profile)
    for p in cs.periods:
        assert p.limit >= 0
        assert round_limit(p.limit) == p.limit  # already a multiple of 0.1
        if unit == "A":
            assert p.number_phases in (1, 3)
    assert cs.duration == duration
    assert cs.charging_rate_unit == unit
    assert cs.schedule_start == start


@FAST
@given(
    situations(),
    st.sampled_from([0, 1, 2]),
    moments(-1440, 2 * 1440),
    st.integers(0, 999_999),
    window(4 * DAY),
    window(4 * DAY),
    st.sampled_from(["W", "A"]),
)
def test_shorter_duration_gives_a_prefix(situation, connector, start, micros, d1, d2, unit):
    installed, transactions = situation
    short, long_ = sorted((d1, d2))
    start += timedelta(microseconds=micros)
    a = composite(installed, transactions, connector, start, short, unit)
    b = composite(installed, transactions, connector, start, long_, unit)
    assert a.periods == tuple(p for p in b.periods if p.start_period < short)


@FAST
@given(st.integers(0, 10_000).map(lambda x: x / 10), st.sampled_from([1, 2, 3]))
def test_amps_watts_amps_round_trip(amps, phases):
    watts = to_watts(amps, "A", phases)
    back = round_limit(to_amps(watts, "W", phases))
    assert abs(back - amps) <= 0.1
    assert back == amps  # with the float-noise guard it is exact


@FAST
@given(st.floats(0, 1e6, allow_nan=False))
def test_round_limit_rounds_down_by_less_than_a_step(value):
    rounded = round_limit(value)
    assert rounded <= value + 1e-6 * max(1.0, value)
    assert value - rounded < 0.1 + 1e-9
    assert round_limit(rounded) == rounded


@FAST
@given(
    situations(),
    st.sampled_from([1, 2]),
    window(2 * DAY),
    st.floats(1000, 50000),
    st.floats(0, 1),
)
def test_energy_and_time_to_energy_agree(situation, connector, duration, ev_max_w, fraction):
    installed, transactions = situation
    cs = composite(installed, transactions, connector, T0, duration, "A")
    total = energy_wh(cs, ev_max_w)
    limits_w = [to_watts(p.limit, "A", p.number_phases) for p in cs.periods]
    assert total <= ev_max_w * duration / 3600 + 1e-6
    assert total <= max(limits_w) * duration / 3600 + 1e-6
    middle = T0 + timedelta(seconds=duration * fraction)
    assert energy_wh(cs, ev_max_w, end=middle) + energy_wh(
        cs, ev_max_w, start=middle
    ) == pytest.approx(total, abs=1e-6)

    target = total * fraction
    seconds = time_to_energy(cs, ev_max_w, target)
    assert seconds is not None
    assert 0 <= seconds <= duration
    assert energy_wh(cs, ev_max_w, end=T0 + timedelta(seconds=seconds)) >= target - 1e-6
    if seconds > 0:
        before = energy_wh(cs, ev_max_w, end=T0 + timedelta(seconds=seconds - 1))
        assert before < target + 1e-6
    assert time_to_energy(cs, ev_max_w, total + 1.0) is None


@FAST
@given(
    situations(),
    st.sampled_from([1, 2]),
    near_or_far(-1440, 2 * 1440),
    window(2 * DAY),
    st.integers(0, 300).map(lambda x: x * 100.0 + 50.0),
)
def test_profiles_for_another_transaction_or_connector_change_nothing(
    situation, connector, start, duration, limit
):
    installed, transactions = situation
    other = 2 if connector == 1 else 1
    active = transactions.get(connector)
    wrong_id = active.transaction_id + 10 if active is not None else 1

    def always(pid: int, purpose: str, transaction_id: int | None = None) -> ChargingProfile:
        # Top of its stack and in force over the whole window: it would decide if it counted.
        return ChargingProfile(
            charging_profile_id=pid,
            stack_level=99,
            purpose=purpose,
            kind="Absolute",
            schedule=ChargingSchedule("W", (SchedulePeriod(0, limit),)),
            transaction_id=transaction_id,
        )

    extra = [
        InstalledProfile(connector, always(101, "TxProfile", wrong_id)),
        InstalledProfile(other, always(102, "TxDefaultProfile")),
        InstalledProfile(other, always(103, "TxProfile")),
        InstalledProfile(connector, always(104, "ChargePointMaxProfile")),  # not on connector 0
    ]
    base = composite(installed, transactions, connector, start, duration)
    assert composite(installed + extra, transactions, connector, start, duration) == base
