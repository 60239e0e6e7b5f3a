"""Station-side profile rules (install, reject, replace, clear, drop), without sockets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from profiles.scheduling import ActiveTransaction
from simulator.ev import Connector, EvSession, limit_line
from simulator.smart_charging import ProfileStore
from simulator.station import backoff_delay

NOW = datetime(2026, 1, 8, 10, 0, tzinfo=UTC)
TX = {1: ActiveTransaction(transaction_id=42, started_at=NOW)}


def profile(
    pid: int,
    purpose: str = "TxDefaultProfile",
    stack: int = 0,
    *,
    unit: str = "W",
    periods: list[tuple[int, float]] | None = None,
    tx: int | None = None,
    kind: str = "Absolute",
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "chargingProfileId": pid,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": {
            "chargingRateUnit": unit,
            "chargingSchedulePeriod": [
                {"startPeriod": s, "limit": lim} for s, lim in (periods or [(0, 11000.0)])
            ],
        },
    }
    if tx is not None:
        out["transactionId"] = tx
    return out


@pytest.fixture
def store() -> ProfileStore:
    return ProfileStore(
        connectors=2, max_stack_level=8, max_periods=3, allowed_units={"A", "W"}, max_profiles=4
    )


def ids(store: ProfileStore) -> list[tuple[int, int]]:
    return sorted((i.connector_id, i.profile.charging_profile_id) for i in store.installed)


def test_accepts_and_records_installation_time(store: ProfileStore) -> None:
    d = store.set(0, profile(1, "ChargePointMaxProfile"), transactions={}, now=NOW)
    assert (d.status, d.replaced) == ("Accepted", ())
    [item] = store.installed
    assert (item.connector_id, item.installed_at, item.profile.stack_level) == (0, NOW, 0)


@pytest.mark.parametrize(
    ("connector", "payload", "why"),
    [
        (1, profile(1, "ChargePointMaxProfile"), "only allowed on connector 0"),
        (0, profile(1, "TxProfile"), "not allowed on connector 0"),
        (2, profile(1, "TxProfile"), "needs an active transaction"),
        (1, profile(1, "TxProfile", tx=7), "does not match"),
        (1, profile(1, stack=9), "ChargeProfileMaxStackLevel"),
        (1, profile(1, stack=-1), "ChargeProfileMaxStackLevel"),
        (1, profile(1, periods=[(0, 1), (10, 2), (20, 3), (30, 4)]), "ChargingScheduleMaxPeriods"),
        (3, profile(1), "unknown connector 3"),
        (-1, profile(1), "unknown connector -1"),
        (1, profile(1, periods=[(5, 1000)]), "startPeriod"),
        (1, profile(1, periods=[(0, 1000), (0, 2000)]), "startPeriod"),
        (1, profile(1, kind="Recurring"), "recurrencyKind"),
        (1, {"chargingProfileId": 1}, "malformed"),
    ],
)
def test_rejections(store: ProfileStore, connector: int, payload: dict, why: str) -> None:
    d = store.set(connector, payload, transactions=TX, now=NOW)
    assert d.status == "Rejected"
    assert why in d.reason
    assert store.installed == []


def test_rejects_unit_not_allowed() -> None:
    power_only = ProfileStore(connectors=1, allowed_units={"W"})
    d = power_only.set(1, profile(1, unit="A", periods=[(0, 16)]), transactions={}, now=NOW)
    assert (d.status, "chargingRateUnit A" in d.reason) == ("Rejected", True)
    assert power_only.set(1, profile(2), transactions={}, now=NOW).status == "Accepted"


def test_tx_profile_accepted_with_matching_or_no_transaction_id(store: ProfileStore) -> None:
    assert store.set(1, profile(1, "TxProfile", tx=42), transactions=TX, now=NOW).accepted
    assert store.set(1, profile(2, "TxProfile", 1), transactions=TX, now=NOW).accepted
    assert ids(store) == [(1, 1), (1, 2)]


def test_not_supported_without_smart_charging() -> None:
    off = ProfileStore(connectors=1, supported=False)
    assert off.set(0, profile(1, "ChargePointMaxProfile"), transactions={}, now=NOW).status == (
        "NotSupported"
    )
    assert off.clear() == []


def test_same_id_replaces_on_any_connector(store: ProfileStore) -> None:
    store.set(1, profile(5, stack=1), transactions={}, now=NOW)
    d = store.set(2, profile(5, stack=3, periods=[(0, 7000)]), transactions={}, now=NOW)
    assert d.replaced == (5,)
    assert ids(store) == [(2, 5)]
    assert store.installed[0].profile.schedule.periods[0].limit == 7000


def test_same_stack_and_purpose_on_same_connector_replaces(store: ProfileStore) -> None:
    store.set(1, profile(1, stack=2), transactions={}, now=NOW)
    store.set(2, profile(2, stack=2), transactions={}, now=NOW)  # other connector: kept
    store.set(1, profile(3, stack=1), transactions={}, now=NOW)  # other stack: kept
    store.set(0, profile(4, "ChargePointMaxProfile", 2), transactions={}, now=NOW)  # other purpose
    d = store.set(1, profile(9, stack=2), transactions={}, now=NOW)
    assert d.replaced == (1,)
    assert ids(store) == [(0, 4), (1, 3), (1, 9), (2, 2)]


def test_max_profiles_installed(store: ProfileStore) -> None:
    for pid in range(1, 5):
        assert store.set(1, profile(pid, stack=pid), transactions={}, now=NOW).accepted
    full = store.set(1, profile(10, stack=0), transactions={}, now=NOW)
    assert (full.status, "MaxChargingProfilesInstalled" in full.reason) == ("Rejected", True)
    # Replacing one that is already there does not grow the store: still accepted.
    assert store.set(1, profile(11, stack=4), transactions={}, now=NOW).replaced == (4,)
    assert len(store) == 4


@pytest.fixture
def filled(store: ProfileStore) -> ProfileStore:
    store.set(0, profile(1, "ChargePointMaxProfile", 0), transactions=TX, now=NOW)
    store.set(0, profile(2, "TxDefaultProfile", 0), transactions=TX, now=NOW)
    store.set(1, profile(3, "TxDefaultProfile", 1), transactions=TX, now=NOW)
    store.set(1, profile(4, "TxProfile", 1), transactions=TX, now=NOW)
    return store


def test_clear_by_id_ignores_other_fields(filled: ProfileStore) -> None:
    removed = filled.clear(profile_id=3, connector_id=0, purpose="TxProfile", stack_level=7)
    assert [r.profile.charging_profile_id for r in removed] == [3]
    assert ids(filled) == [(0, 1), (0, 2), (1, 4)]


@pytest.mark.parametrize(
    ("fields", "left"),
    [
        ({"connector_id": 0}, [(1, 3), (1, 4)]),
        ({"purpose": "TxDefaultProfile"}, [(0, 1), (1, 4)]),
        ({"stack_level": 1}, [(0, 1), (0, 2)]),
        ({"connector_id": 1, "stack_level": 1, "purpose": "TxProfile"}, [(0, 1), (0, 2), (1, 3)]),
        ({}, []),
    ],
)
def test_clear_matches_all_given_fields(
    filled: ProfileStore, fields: dict, left: list[tuple[int, int]]
) -> None:
    assert filled.clear(**fields)
    assert ids(filled) == left


def test_clear_unknown_when_nothing_matches(filled: ProfileStore) -> None:
    assert filled.clear(profile_id=99) == []
    assert filled.clear(connector_id=2) == []
    assert filled.clear(purpose="ChargePointMaxProfile", stack_level=5) == []
    assert len(filled) == 4


def test_tx_profile_dropped_when_transaction_ends(filled: ProfileStore) -> None:
    dropped = filled.drop_transaction(1, 42)
    assert [d.profile.charging_profile_id for d in dropped] == [4]
    assert ids(filled) == [(0, 1), (0, 2), (1, 3)]
    assert filled.drop_transaction(1, 42) == []


def test_limit_line_matches_contract() -> None:
    assert limit_line(11000, 1.0) == "OCPP limit: 11000W → 3.06Wh (sample_interval=1.0s)"
    assert limit_line(7245.5, 0.2) == "OCPP limit: 7245.5W → 0.40Wh (sample_interval=0.2s)"
    assert limit_line(0.0, 1) == "OCPP limit: 0W → 0.00Wh (sample_interval=1.0s)"


def test_energy_integration_is_exact_and_capped() -> None:
    c = Connector(1, 22080.0, 3)
    c.session = EvSession(energy_wh=5.0, ev_max_w=11000.0, id_tag="T")
    c.transaction = TX[1]
    c.settle(100.0)
    c.power_w = 11000.0
    assert c.settle(100.5) == pytest.approx(11000 * 0.5 / 3600)
    c.power_w = 3600.0
    assert c.settle(101.5) == pytest.approx(1.0)
    assert c.meter_wh == pytest.approx(11000 * 0.5 / 3600 + 1.0)
    c.settle(1000.0)  # far longer than needed: the EV stops at what it asked for
    assert c.meter_wh == pytest.approx(5.0)
    assert c.session.full
    assert c.demand_w == 0.0


def test_backoff_doubles_with_jitter_up_to_30s() -> None:
    for attempt, base in [(0, 0.5), (1, 1.0), (3, 4.0), (5, 16.0)]:
        for _ in range(20):
            assert 0.8 * base <= backoff_delay(attempt) <= 1.2 * base
    assert all(24.0 <= backoff_delay(n) <= 30.0 for n in (6, 10, 100))
