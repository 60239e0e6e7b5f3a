"""Unit tests for the OCPP 1.6 smart-charging arithmetic (profiles.scheduling).

Each test names the rule it pins down (DESIGN.md, "OCPP 1.6 smart charging rules").
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from profiles.scheduling import (
    DEFAULT_PHASES,
    VOLTAGE,
    ActiveTransaction,
    ChargingProfile,
    ChargingSchedule,
    CompositePeriod,
    CompositeSchedule,
    InstalledProfile,
    SchedulePeriod,
    composite_schedule,
    energy_wh,
    limit_at,
    round_limit,
    time_to_energy,
    to_amps,
    to_watts,
)

T0 = datetime(2025, 3, 10, 0, 0, tzinfo=UTC)  # a Monday, midnight UTC
HOUR = 3600
DAY = 86400


def profile(
    periods,
    *,
    pid: int = 1,
    stack: int = 0,
    purpose: str = "TxDefaultProfile",
    kind: str = "Absolute",
    unit: str = "W",
    duration: int | None = None,
    start_schedule: datetime | None = T0,
    recurrency: str | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    transaction_id: int | None = None,
) -> ChargingProfile:
    """A profile from [(start_period, limit[, phases]), ...]."""
    return ChargingProfile(
        charging_profile_id=pid,
        stack_level=stack,
        purpose=purpose,
        kind=kind,
        schedule=ChargingSchedule(
            charging_rate_unit=unit,
            periods=tuple(SchedulePeriod(*p) for p in periods),
            duration=duration,
            start_schedule=start_schedule,
        ),
        recurrency_kind=recurrency,
        valid_from=valid_from,
        valid_to=valid_to,
        transaction_id=transaction_id,
    )


def on(connector: int, prof: ChargingProfile, installed_at: datetime | None = None):
    return InstalledProfile(connector_id=connector, profile=prof, installed_at=installed_at)


def periods_of(schedule: CompositeSchedule) -> list[tuple[int, float]]:
    return [(p.start_period, p.limit) for p in schedule.periods]


def full(schedule: CompositeSchedule) -> list[tuple[int, float, int | None, bool]]:
    return [(p.start_period, p.limit, p.number_phases, p.from_profile) for p in schedule.periods]


# --------------------------------------------------------------------------- units


class TestUnits:
    def test_amps_to_watts_uses_230v_and_phases(self):
        assert to_watts(16, "A") == 16 * 230 * 3 == 11040
        assert to_watts(16, "A", 1) == 3680
        assert to_watts(32, "A", 2) == 14720
        assert to_watts(11000, "W", 1) == 11000

    def test_watts_to_amps_inverse(self):
        assert to_amps(11040, "W") == pytest.approx(16.0)
        assert to_amps(3680, "W", 1) == pytest.approx(16.0)
        assert to_amps(16, "A", 1) == 16.0
        assert VOLTAGE == 230.0
        assert DEFAULT_PHASES == 3

    def test_unknown_unit_is_refused(self):
        with pytest.raises(ValueError, match="'W' or 'A'"):
            to_watts(10, "kW")
        with pytest.raises(ValueError, match="'W' or 'A'"):
            composite_schedule([], 1, T0, 60, "kW")

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (21.4, 21.4),  # float noise must not drop a step
            (14766 / 690, 21.4),  # 21.4 A -> W -> A
            (2.3, 2.3),
            (0.3, 0.3),
            (8.69, 8.6),  # more decimals: round down, never up
            (8.6999, 8.6),
            (11000 / 690, 15.9),  # 15.94 A
            (22080.0, 22080.0),
            (0.0, 0.0),
        ],
    )
    def test_round_limit_rounds_down_to_one_decimal(self, value, expected):
        assert round_limit(value) == expected


# --------------------------------------------------------------------------- JSON


class TestOcppJson:
    PAYLOAD = {
        "chargingProfileId": 7,
        "transactionId": 42,
        "stackLevel": 2,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "validFrom": "2025-03-10T00:00:00Z",
        "validTo": "2025-03-11T12:30:00+00:00",
        "chargingSchedule": {
            "duration": 7200,
            "startSchedule": "2025-03-10T06:00:00Z",
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 16},
                {"startPeriod": 1800, "limit": 8.5, "numberPhases": 1},
            ],
            "minChargingRate": 6.0,
        },
    }

    def test_from_ocpp_reads_every_field(self):
        p = ChargingProfile.from_ocpp(self.PAYLOAD)
        assert p.charging_profile_id == 7
        assert p.transaction_id == 42
        assert p.stack_level == 2
        assert p.purpose == "TxProfile"
        assert p.kind == "Absolute"
        assert p.valid_from == T0
        assert p.valid_to == datetime(2025, 3, 11, 12, 30, tzinfo=UTC)
        assert p.schedule.start_schedule == T0 + timedelta(hours=6)
        assert p.schedule.duration == 7200
        assert p.schedule.min_charging_rate == 6.0
        assert p.schedule.periods == (
            SchedulePeriod(0, 16.0, None),
            SchedulePeriod(1800, 8.5, 1),
        )

    def test_round_trip_uses_z_and_omits_none(self):
        p = ChargingProfile.from_ocpp(self.PAYLOAD)
        out = p.to_ocpp()
        assert out["validFrom"] == "2025-03-10T00:00:00Z"
        assert out["validTo"] == "2025-03-11T12:30:00Z"
        assert out["chargingSchedule"]["chargingSchedulePeriod"][0] == {
            "startPeriod": 0,
            "limit": 16.0,
        }
        assert "recurrencyKind" not in out
        assert ChargingProfile.from_ocpp(out) == p

    def test_accepts_whole_set_charging_profile_payload(self):
        p = ChargingProfile.from_ocpp({"connectorId": 1, "csChargingProfiles": self.PAYLOAD})
        assert p.charging_profile_id == 7

    def test_minimal_profile_omits_optional_fields(self):
        p = profile([(0, 11000)], start_schedule=None)
        assert p.to_ocpp() == {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}],
            },
        }

    def test_bad_values_are_refused_with_a_reason(self):
        with pytest.raises(ValueError, match="chargingProfilePurpose"):
            ChargingProfile.from_ocpp({**self.PAYLOAD, "chargingProfilePurpose": "Foo"})
        with pytest.raises(ValueError, match="stackLevel"):
            ChargingProfile.from_ocpp({k: v for k, v in self.PAYLOAD.items() if k != "stackLevel"})

    def test_list_periods_become_a_tuple(self):
        sched = ChargingSchedule("W", [SchedulePeriod(0, 1.0)])  # type: ignore[arg-type]
        assert sched.periods == (SchedulePeriod(0, 1.0),)
        assert hash(sched) == hash(ChargingSchedule("W", (SchedulePeriod(0, 1.0),)))

    def test_composite_to_ocpp_has_no_start_schedule(self):
        cs = CompositeSchedule(
            connector_id=1,
            schedule_start=T0,
            duration=600,
            charging_rate_unit="A",
            periods=(CompositePeriod(0, 16.0, 3), CompositePeriod(300, 32.0, None, False)),
        )
        assert cs.to_ocpp() == {
            "duration": 600,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 16.0, "numberPhases": 3},
                {"startPeriod": 300, "limit": 32.0},
            ],
        }


# --------------------------------------------------------------------------- purposes


class TestPurposes:
    def test_no_profile_reports_rated_max_not_from_profile(self):
        cs = composite_schedule([], 1, T0, HOUR)
        assert full(cs) == [(0, 22080.0, None, False)]
        cs = composite_schedule([], 2, T0, HOUR, connector_max_w={1: 7360.0, 2: 11040.0})
        assert full(cs) == [(0, 11040.0, None, False)]

    def test_charge_point_max_caps_a_connector(self):
        cp = profile([(0, 9000)], purpose="ChargePointMaxProfile")
        tx_default = profile([(0, 11000)], pid=2)
        cs = composite_schedule([on(0, cp), on(0, tx_default)], 1, T0, HOUR)
        assert full(cs) == [(0, 9000.0, None, True)]

    def test_charge_point_max_above_tx_default_does_not_raise_it(self):
        cp = profile([(0, 30000)], purpose="ChargePointMaxProfile")
        tx_default = profile([(0, 11000)], pid=2)
        cs = composite_schedule([on(0, cp), on(0, tx_default)], 1, T0, HOUR)
        assert periods_of(cs) == [(0, 11000.0)]

    def test_charge_point_max_alone_is_a_profile_limit(self):
        cp = profile([(0, 9000)], purpose="ChargePointMaxProfile", duration=HOUR)
        cs = composite_schedule([on(0, cp)], 1, T0, 2 * HOUR)
        assert full(cs) == [(0, 9000.0, None, True), (HOUR, 22080.0, None, False)]

    def test_charge_point_max_counts_only_on_connector_0(self):
        cp = profile([(0, 9000)], purpose="ChargePointMaxProfile")
        cs = composite_schedule([on(1, cp)], 1, T0, HOUR)
        assert full(cs) == [(0, 22080.0, None, False)]

    def test_tx_default_on_connector_0_applies_to_every_connector(self):
        d = profile([(0, 7000)])
        for conn in (1, 2, 3):
            cs = composite_schedule([on(0, d)], conn, T0, HOUR, number_of_connectors=3)
            assert full(cs) == [(0, 7000.0, None, True)]

    def test_connector_tx_default_replaces_station_ones_whatever_the_levels(self):
        station = profile([(0, 5000)], pid=1, stack=5)
        own = profile([(0, 11000)], pid=2, stack=0)  # lower level, higher limit: still wins
        installed = [on(0, station), on(1, own)]
        assert periods_of(composite_schedule(installed, 1, T0, HOUR)) == [(0, 11000.0)]
        # connector 2 keeps the station-wide default
        assert periods_of(composite_schedule(installed, 2, T0, HOUR)) == [(0, 5000.0)]

    def test_station_tx_default_fills_the_gaps_of_a_connector_one(self):
        station = profile([(0, 5000)], pid=1)
        own = profile([(0, 11000)], pid=2, start_schedule=T0 + timedelta(hours=1), duration=HOUR)
        cs = composite_schedule([on(0, station), on(1, own)], 1, T0, 3 * HOUR)
        assert periods_of(cs) == [(0, 5000.0), (HOUR, 11000.0), (2 * HOUR, 5000.0)]

    def test_tx_profile_ignored_without_a_transaction(self):
        d = profile([(0, 7000)])
        tx = profile([(0, 3000)], pid=2, purpose="TxProfile", transaction_id=42)
        cs = composite_schedule([on(0, d), on(1, tx)], 1, T0, HOUR)
        assert periods_of(cs) == [(0, 7000.0)]

    def test_tx_profile_applies_with_matching_transaction(self):
        d = profile([(0, 7000)], stack=9)
        tx = profile([(0, 16000)], pid=2, purpose="TxProfile", transaction_id=42)
        txs = {1: ActiveTransaction(42, T0)}
        cs = composite_schedule([on(0, d), on(1, tx)], 1, T0, HOUR, transactions=txs)
        # replaces the TxDefault layer even though its level is lower and its limit higher
        assert full(cs) == [(0, 16000.0, None, True)]

    def test_tx_profile_ignored_for_another_transaction_or_connector(self):
        d = profile([(0, 7000)])
        tx = profile([(0, 3000)], pid=2, purpose="TxProfile", transaction_id=42)
        other_tx = {1: ActiveTransaction(43, T0)}
        cs = composite_schedule([on(0, d), on(1, tx)], 1, T0, HOUR, transactions=other_tx)
        assert periods_of(cs) == [(0, 7000.0)]
        on_2 = {2: ActiveTransaction(42, T0)}
        cs = composite_schedule([on(0, d), on(1, tx)], 1, T0, HOUR, transactions=on_2)
        assert periods_of(cs) == [(0, 7000.0)]

    def test_tx_profile_without_transaction_id_follows_the_active_one(self):
        tx = profile([(0, 3000)], purpose="TxProfile")
        txs = {1: ActiveTransaction(99, T0)}
        cs = composite_schedule([on(1, tx)], 1, T0, HOUR, transactions=txs)
        assert periods_of(cs) == [(0, 3000.0)]

    def test_tx_profile_gap_falls_back_to_tx_default(self):
        d = profile([(0, 7000)])
        tx = profile([(0, 3000)], pid=2, purpose="TxProfile", duration=HOUR)
        txs = {1: ActiveTransaction(1, T0)}
        cs = composite_schedule([on(0, d), on(1, tx)], 1, T0, 2 * HOUR, transactions=txs)
        assert periods_of(cs) == [(0, 3000.0), (HOUR, 7000.0)]

    def test_tx_profile_still_capped_by_charge_point_max(self):
        cp = profile([(0, 10000)], purpose="ChargePointMaxProfile")
        tx = profile([(0, 16000)], pid=2, purpose="TxProfile")
        txs = {1: ActiveTransaction(1, T0)}
        cs = composite_schedule([on(0, cp), on(1, tx)], 1, T0, HOUR, transactions=txs)
        assert periods_of(cs) == [(0, 10000.0)]


# --------------------------------------------------------------------------- stacking


class TestStacking:
    def test_higher_stack_level_wins_even_with_higher_limit(self):
        low = profile([(0, 5000)], pid=1, stack=0)
        high = profile([(0, 20000)], pid=2, stack=1)
        cs = composite_schedule([on(0, low), on(0, high)], 1, T0, HOUR)
        assert periods_of(cs) == [(0, 20000.0)]

    def test_lower_level_decides_after_higher_duration_ends(self):
        low = profile([(0, 5000)], pid=1, stack=0)
        high = profile([(0, 20000)], pid=2, stack=1, duration=1800)
        cs = composite_schedule([on(0, low), on(0, high)], 1, T0, HOUR)
        assert periods_of(cs) == [(0, 20000.0), (1800, 5000.0)]

    def test_lower_level_decides_before_higher_starts(self):
        low = profile([(0, 5000)], pid=1, stack=0)
        high = profile([(0, 2000)], pid=2, stack=3, start_schedule=T0 + timedelta(minutes=20))
        cs = composite_schedule([on(0, low), on(0, high)], 1, T0, HOUR)
        assert periods_of(cs) == [(0, 5000.0), (1200, 2000.0)]

    def test_three_levels_fall_through_in_turn(self):
        p0 = profile([(0, 1000)], pid=1, stack=0)
        p1 = profile([(0, 2000)], pid=2, stack=1, duration=2 * HOUR)
        p2 = profile([(0, 3000)], pid=3, stack=2, duration=HOUR)
        cs = composite_schedule([on(0, p0), on(0, p1), on(0, p2)], 1, T0, 3 * HOUR)
        assert periods_of(cs) == [(0, 3000.0), (HOUR, 2000.0), (2 * HOUR, 1000.0)]

    def test_stack_levels_compare_within_purpose_only(self):
        cp = profile([(0, 8000)], pid=1, stack=0, purpose="ChargePointMaxProfile")
        d = profile([(0, 20000)], pid=2, stack=5)
        cs = composite_schedule([on(0, cp), on(0, d)], 1, T0, HOUR)
        assert periods_of(cs) == [(0, 8000.0)]

    def test_equal_stack_levels_take_the_lower_limit(self):
        a = profile([(0, 9000)], pid=1, stack=1)
        b = profile([(0, 6000)], pid=2, stack=1)
        cs = composite_schedule([on(0, a), on(0, b)], 1, T0, HOUR)
        assert periods_of(cs) == [(0, 6000.0)]


# --------------------------------------------------------------------------- validity


class TestValidity:
    def test_valid_from_and_valid_to_bound_a_profile(self):
        low = profile([(0, 5000)], pid=1)
        high = profile(
            [(0, 2000)],
            pid=2,
            stack=1,
            valid_from=T0 + timedelta(minutes=10),
            valid_to=T0 + timedelta(minutes=40),
        )
        cs = composite_schedule([on(0, low), on(0, high)], 1, T0, HOUR)
        assert periods_of(cs) == [(0, 5000.0), (600, 2000.0), (2400, 5000.0)]

    def test_no_valid_from_means_valid_from_receipt(self):
        p = profile([(0, 2000)], start_schedule=T0 - timedelta(days=1))
        cs = composite_schedule([on(0, p, installed_at=T0 + timedelta(minutes=5))], 1, T0, HOUR)
        assert full(cs) == [(0, 22080.0, None, False), (300, 2000.0, None, True)]

    def test_no_valid_from_and_no_receipt_time_means_always(self):
        p = profile([(0, 2000)], start_schedule=T0 - timedelta(days=1))
        assert periods_of(composite_schedule([on(0, p)], 1, T0, HOUR)) == [(0, 2000.0)]

    def test_expired_profile_does_not_count(self):
        p = profile([(0, 2000)], valid_to=T0 - timedelta(seconds=1))
        assert full(composite_schedule([on(0, p)], 1, T0, HOUR)) == [(0, 22080.0, None, False)]


# --------------------------------------------------------------------------- kinds


class TestKinds:
    def test_absolute_counts_from_start_schedule(self):
        p = profile([(0, 5000), (600, 7000)], start_schedule=T0 + timedelta(minutes=5))
        cs = composite_schedule([on(0, p)], 1, T0, HOUR)
        assert full(cs) == [
            (0, 22080.0, None, False),
            (300, 5000.0, None, True),
            (900, 7000.0, None, True),
        ]

    def test_absolute_started_in_the_past_is_picked_up_mid_way(self):
        p = profile([(0, 5000), (7200, 7000)], start_schedule=T0 - timedelta(hours=1))
        cs = composite_schedule([on(0, p)], 1, T0, 2 * HOUR)
        assert periods_of(cs) == [(0, 5000.0), (HOUR, 7000.0)]

    def test_absolute_without_start_schedule_counts_from_receipt_else_from_start(self):
        p = profile([(0, 5000), (600, 7000)], start_schedule=None)
        received = on(0, p, installed_at=T0 - timedelta(minutes=5))
        assert periods_of(composite_schedule([received], 1, T0, HOUR)) == [(0, 5000), (300, 7000)]
        assert periods_of(composite_schedule([on(0, p)], 1, T0, HOUR)) == [(0, 5000), (600, 7000)]

    def test_without_duration_last_period_runs_on(self):
        p = profile([(0, 5000), (600, 7000)])
        assert periods_of(composite_schedule([on(0, p)], 1, T0, 7 * DAY)) == [
            (0, 5000.0),
            (600, 7000.0),
        ]

    def test_duration_bounds_the_schedule(self):
        p = profile([(0, 5000), (600, 7000)], duration=900)
        cs = composite_schedule([on(0, p)], 1, T0, HOUR)
        assert full(cs) == [
            (0, 5000.0, None, True),
            (600, 7000.0, None, True),
            (900, 22080.0, None, False),
        ]

    def test_recurring_daily_repeats_from_start_schedule(self):
        start = T0 + timedelta(hours=8)
        p = profile(
            [(0, 5000), (1800, 7000)],
            kind="Recurring",
            recurrency="Daily",
            start_schedule=start - timedelta(days=3),  # anchored days ago
            duration=HOUR,
        )
        d = profile([(0, 11000)], pid=9, stack=-1)  # lower level fills the gaps
        cs = composite_schedule([on(0, p), on(0, d)], 1, T0, 2 * DAY)
        assert periods_of(cs) == [
            (0, 11000.0),
            (8 * HOUR, 5000.0),
            (8 * HOUR + 1800, 7000.0),
            (9 * HOUR, 11000.0),
            (DAY + 8 * HOUR, 5000.0),
            (DAY + 8 * HOUR + 1800, 7000.0),
            (DAY + 9 * HOUR, 11000.0),
        ]

    def test_recurring_not_before_its_start_schedule(self):
        p = profile(
            [(0, 5000)],
            kind="Recurring",
            recurrency="Daily",
            start_schedule=T0 + timedelta(days=1),
            duration=HOUR,
        )
        cs = composite_schedule([on(0, p)], 1, T0, 2 * DAY)
        assert periods_of(cs) == [(0, 22080.0), (DAY, 5000.0), (DAY + HOUR, 22080.0)]

    def test_recurring_without_duration_runs_the_whole_recurrence(self):
        p = profile(
            [(0, 5000), (12 * HOUR, 7000)],
            kind="Recurring",
            recurrency="Daily",
            start_schedule=T0 - timedelta(days=1),
        )
        cs = composite_schedule([on(0, p)], 1, T0, 2 * DAY)
        assert periods_of(cs) == [
            (0, 5000.0),
            (12 * HOUR, 7000.0),
            (DAY, 5000.0),
            (DAY + 12 * HOUR, 7000.0),
        ]

    def test_recurring_periods_beyond_one_recurrence_are_not_executed(self):
        p = profile(
            [(0, 5000), (DAY + HOUR, 1000)],
            kind="Recurring",
            recurrency="Daily",
            start_schedule=T0,
            duration=2 * DAY,
        )
        cs = composite_schedule([on(0, p)], 1, T0, 2 * DAY)
        assert periods_of(cs) == [(0, 5000.0)]

    def test_recurring_weekly(self):
        p = profile(
            [(0, 5000)],
            kind="Recurring",
            recurrency="Weekly",
            start_schedule=T0 - timedelta(weeks=2) + timedelta(days=2),
            duration=DAY,
        )
        cs = composite_schedule([on(0, p)], 1, T0, 14 * DAY)
        assert periods_of(cs) == [
            (0, 22080.0),
            (2 * DAY, 5000.0),
            (3 * DAY, 22080.0),
            (9 * DAY, 5000.0),
            (10 * DAY, 22080.0),
        ]

    def test_relative_counts_from_transaction_start(self):
        p = profile([(0, 5000), (HOUR, 7000)], kind="Relative", start_schedule=None)
        txs = {1: ActiveTransaction(1, T0 - timedelta(minutes=30))}
        cs = composite_schedule([on(0, p)], 1, T0, 2 * HOUR, transactions=txs)
        assert periods_of(cs) == [(0, 5000.0), (1800, 7000.0)]

    def test_relative_tx_profile_counts_from_transaction_start(self):
        p = profile(
            [(0, 5000), (HOUR, 7000)],
            kind="Relative",
            start_schedule=None,
            purpose="TxProfile",
            transaction_id=5,
            duration=2 * HOUR,
        )
        txs = {1: ActiveTransaction(5, T0 - timedelta(minutes=30))}
        cs = composite_schedule([on(1, p)], 1, T0, 3 * HOUR, transactions=txs)
        assert full(cs) == [
            (0, 5000.0, None, True),
            (1800, 7000.0, None, True),
            (5400, 22080.0, None, False),
        ]

    def test_relative_without_transaction_counts_from_the_moment_asked(self):
        p = profile([(0, 5000), (HOUR, 7000)], kind="Relative", start_schedule=None)
        asked = T0 + timedelta(hours=5)
        cs = composite_schedule([on(0, p)], 1, asked, 2 * HOUR)
        assert periods_of(cs) == [(0, 5000.0), (HOUR, 7000.0)]


# --------------------------------------------------------------------------- connector 0


class TestStationTotal:
    def test_connector_0_sums_connectors_capped_by_charge_point_max(self):
        d = profile([(0, 11000)])
        cp = profile(
            [(0, 15000), (HOUR, 40000)], pid=2, purpose="ChargePointMaxProfile", duration=2 * HOUR
        )
        cs = composite_schedule([on(0, d), on(0, cp)], 0, T0, 3 * HOUR, number_of_connectors=2)
        assert full(cs) == [
            (0, 15000.0, None, True),  # 22000 > cap 15000
            (HOUR, 22000.0, None, True),  # 2 x 11000 under cap 40000; cap gone: same sum
        ]
        cs = composite_schedule([on(0, d), on(0, cp)], 0, T0, 3 * HOUR, "A", number_of_connectors=2)
        assert full(cs) == [(0, 21.7, 3, True), (HOUR, 31.8, 3, True)]  # 21.74 A, 31.88 A

    def test_connector_0_uses_rated_max_where_no_profile(self):
        own = profile([(0, 7000)])
        cs = composite_schedule(
            [on(1, own)],
            0,
            T0,
            HOUR,
            number_of_connectors=2,
            connector_max_w={1: 11000.0, 2: 7360.0},
        )
        assert full(cs) == [(0, 14360.0, None, True)]
        cs = composite_schedule([], 0, T0, HOUR, number_of_connectors=2, connector_max_w=11000.0)
        assert full(cs) == [(0, 22000.0, None, False)]

    def test_connector_0_counts_each_connectors_own_layer(self):
        station = profile([(0, 4000)], pid=1)
        own = profile([(0, 6000)], pid=2)
        tx = profile([(0, 1000)], pid=3, purpose="TxProfile")
        txs = {3: ActiveTransaction(1, T0)}
        cs = composite_schedule(
            [on(0, station), on(2, own), on(3, tx)],
            0,
            T0,
            HOUR,
            transactions=txs,
            number_of_connectors=3,
        )
        assert periods_of(cs) == [(0, 4000.0 + 6000.0 + 1000.0)]


# --------------------------------------------------------------------------- output


class TestOutput:
    def test_watts_to_amps_output_rounds_down(self):
        d = profile([(0, 11000)])
        cs = composite_schedule([on(0, d)], 1, T0, HOUR, "A")
        assert full(cs) == [(0, 15.9, 3, True)]  # 15.94 A

    def test_amps_profile_reported_in_watts(self):
        d = profile([(0, 16)], unit="A")
        assert periods_of(composite_schedule([on(0, d)], 1, T0, HOUR, "W")) == [(0, 11040.0)]

    def test_single_phase_amps_compared_in_watts(self):
        cp = profile([(0, 32, 1)], unit="A", purpose="ChargePointMaxProfile")  # 7360 W
        d = profile([(0, 16)], pid=2, unit="A")  # 11040 W on 3 phases
        cs = composite_schedule([on(0, cp), on(0, d)], 1, T0, HOUR, "A")
        assert full(cs) == [(0, 32.0, 1, True)]
        cs = composite_schedule([on(0, cp), on(0, d)], 1, T0, HOUR, "W")
        assert full(cs) == [(0, 7360.0, 1, True)]

    def test_default_number_phases_parameter_used_for_conversion(self):
        d = profile([(0, 16)], unit="A")
        cs = composite_schedule([on(0, d)], 1, T0, HOUR, "W", number_phases=1)
        assert periods_of(cs) == [(0, 3680.0)]

    def test_rated_max_reported_in_amps(self):
        cs = composite_schedule([], 1, T0, HOUR, "A")
        assert full(cs) == [(0, 32.0, 3, False)]

    def test_adjacent_equal_limits_are_merged(self):
        p = profile([(0, 5000), (600, 5000), (1200, 6000)], duration=1800)
        q = profile([(0, 5000)], pid=2, stack=-1)
        cs = composite_schedule([on(0, p), on(0, q)], 1, T0, HOUR)
        assert full(cs) == [
            (0, 5000.0, None, True),
            (1200, 6000.0, None, True),
            (1800, 5000.0, None, True),
        ]

    def test_rated_max_not_merged_with_an_equal_profile_limit(self):
        p = profile([(0, 22080)], duration=600)
        cs = composite_schedule([on(0, p)], 1, T0, HOUR)
        assert full(cs) == [(0, 22080.0, None, True), (600, 22080.0, None, False)]

    def test_periods_clipped_to_duration(self):
        p = profile([(0, 5000), (600, 7000), (1200, 9000)])
        cs = composite_schedule([on(0, p)], 1, T0, 900)
        assert cs.duration == 900
        assert periods_of(cs) == [(0, 5000.0), (600, 7000.0)]

    def test_sub_second_change_takes_the_lower_limit_for_that_second(self):
        p = profile([(0, 5000), (600, 7000), (1200, 3000)])
        asked = T0 + timedelta(microseconds=400_000)  # changes fall at 599.6 s and 1199.6 s
        cs = composite_schedule([on(0, p)], 1, asked, HOUR)
        # rise is reported late (600), fall early (1199): never above the real limit
        assert periods_of(cs) == [(0, 5000.0), (600, 7000.0), (1199, 3000.0)]

    def test_non_positive_duration_is_refused(self):
        with pytest.raises(ValueError, match="duration"):
            composite_schedule([], 1, T0, 0)

    def test_naive_start_is_taken_as_utc(self):
        p = profile([(0, 5000), (600, 7000)])
        cs = composite_schedule([on(0, p)], 1, T0.replace(tzinfo=None), HOUR)
        assert cs.schedule_start == T0
        assert periods_of(cs) == [(0, 5000.0), (600, 7000.0)]

    def test_week_of_recurring_profiles_is_fast(self):
        installed = [
            on(
                0,
                profile(
                    [(0, 20000), (8 * HOUR, 12000), (18 * HOUR, 20000)],
                    pid=1,
                    purpose="ChargePointMaxProfile",
                    kind="Recurring",
                    recurrency="Daily",
                ),
            ),
            on(
                0,
                profile(
                    [(0, 11000), (6 * HOUR, 7000), (22 * HOUR, 11000)],
                    pid=2,
                    kind="Recurring",
                    recurrency="Daily",
                    duration=23 * HOUR,
                ),
            ),
            on(
                0,
                profile(
                    [(0, 5000), (HOUR, 9000)],
                    pid=3,
                    stack=1,
                    kind="Recurring",
                    recurrency="Weekly",
                    duration=5 * HOUR,
                ),
            ),
            on(
                1,
                profile(
                    [(0, 3000)],
                    pid=4,
                    stack=0,
                    kind="Recurring",
                    recurrency="Daily",
                    start_schedule=T0 + timedelta(hours=2),
                    duration=HOUR,
                ),
            ),
        ]
        composite_schedule(installed, 1, T0, 7 * DAY)  # warm up
        best = min(_timed(lambda: composite_schedule(installed, 1, T0, 7 * DAY)) for _ in range(5))
        assert best < 0.05
        best0 = min(
            _timed(lambda: composite_schedule(installed, 0, T0, 7 * DAY, number_of_connectors=4))
            for _ in range(5)
        )
        assert best0 < 0.05


def _timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


# --------------------------------------------------------------------------- limit_at


class TestLimitAt:
    def test_limit_at_follows_the_schedule(self):
        cp = profile(
            [(0, 9000)], purpose="ChargePointMaxProfile", start_schedule=T0 + timedelta(hours=1)
        )
        d = profile([(0, 11000), (2 * HOUR, 6000)], pid=2)
        installed = [on(0, cp), on(0, d)]
        assert limit_at(installed, 1, T0 + timedelta(minutes=30)) == 11000.0
        assert limit_at(installed, 1, T0 + timedelta(hours=1)) == 9000.0
        assert limit_at(installed, 1, T0 + timedelta(hours=1, seconds=-1)) == 11000.0
        assert limit_at(installed, 1, T0 + timedelta(hours=3)) == 6000.0
        assert limit_at(installed, 1, T0 + timedelta(hours=3), "A") == 8.6  # 8.69 A

    def test_limit_at_without_profiles_is_rated_max(self):
        assert limit_at([], 1, T0, connector_max_w=7360.0) == 7360.0
        assert limit_at([], 0, T0, connector_max_w=7360.0, number_of_connectors=2) == 14720.0

    def test_limit_at_with_transaction(self):
        tx = profile(
            [(0, 3000), (HOUR, 4000)],
            purpose="TxProfile",
            kind="Relative",
            start_schedule=None,
            transaction_id=8,
        )
        txs = {1: ActiveTransaction(8, T0)}
        at = T0 + timedelta(hours=2)
        assert limit_at([on(1, tx)], 1, at, transactions=txs) == 4000.0
        assert limit_at([on(1, tx)], 1, at) == 22080.0

    def test_limit_at_agrees_with_composite(self):
        d = profile([(0, 11000), (600, 6000), (1500, 8000)], duration=2000)
        cs = composite_schedule([on(0, d)], 1, T0, HOUR)
        for second in range(0, HOUR, 50):
            moment = T0 + timedelta(seconds=second)
            assert cs.period_at(moment).limit == limit_at([on(0, d)], 1, moment)


# --------------------------------------------------------------------------- energy


def _schedule(periods, duration, unit="W") -> CompositeSchedule:
    return CompositeSchedule(
        connector_id=1,
        schedule_start=T0,
        duration=duration,
        charging_rate_unit=unit,
        periods=tuple(CompositePeriod(*p) for p in periods),
    )


class TestEnergy:
    def test_energy_integrates_min_of_ev_and_limit(self):
        cs = _schedule([(0, 11000.0), (HOUR, 3000.0)], 2 * HOUR)
        assert energy_wh(cs, 7000.0) == pytest.approx(7000.0 + 3000.0)
        assert energy_wh(cs, 50000.0) == pytest.approx(11000.0 + 3000.0)

    def test_energy_over_a_window(self):
        cs = _schedule([(0, 11000.0), (HOUR, 3000.0)], 2 * HOUR)
        assert energy_wh(
            cs, 50000.0, T0 + timedelta(minutes=30), T0 + timedelta(minutes=90)
        ) == pytest.approx(5500.0 + 1500.0)
        # clipped to the schedule's window
        assert energy_wh(
            cs, 50000.0, T0 - timedelta(hours=5), T0 + timedelta(hours=9)
        ) == pytest.approx(14000.0)
        assert energy_wh(cs, 50000.0, T0 + timedelta(hours=1), T0) == 0.0

    def test_energy_converts_amps(self):
        cs = _schedule([(0, 16.0, 3), (HOUR, 16.0, 1)], 2 * HOUR, unit="A")
        assert energy_wh(cs, 50000.0) == pytest.approx(11040.0 + 3680.0)

    def test_energy_from_a_real_composite(self):
        d = profile([(0, 16)], unit="A", duration=HOUR)
        cs = composite_schedule([on(0, d)], 1, T0, 2 * HOUR, "A")
        assert energy_wh(cs, 100000.0) == pytest.approx(11040.0 + 22080.0)

    def test_time_to_energy(self):
        cs = _schedule([(0, 11000.0), (HOUR, 3000.0)], 2 * HOUR)
        assert time_to_energy(cs, 50000.0, 5500.0) == 1800
        assert time_to_energy(cs, 50000.0, 11000.0) == HOUR
        assert time_to_energy(cs, 50000.0, 12500.0) == HOUR + 1800
        assert time_to_energy(cs, 7000.0, 7000.0) == HOUR
        assert time_to_energy(cs, 50000.0, 14000.0) == 2 * HOUR
        assert time_to_energy(cs, 50000.0, 14000.1) is None
        assert time_to_energy(cs, 50000.0, 0.0) == 0

    def test_time_to_energy_rounds_up_and_skips_zero_periods(self):
        cs = _schedule([(0, 0.0), (600, 3600.0)], HOUR)  # 1 Wh per second after 600 s
        assert time_to_energy(cs, 50000.0, 10.5) == 611
        assert energy_wh(cs, 50000.0, end=T0 + timedelta(seconds=611)) >= 10.5
