"""The installed-profile record kept by OCPP 1.6's replacement rules, for one station and
for a bulk send (one DELETE per slot and one INSERT for all stations)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from profiles.installed import Accepted, record_accepted
from profiles.models import InstalledChargingProfile
from stations.models import Station

pytestmark = pytest.mark.django_db


def _profile(profile_id: int, stack_level: int = 1, purpose: str = "TxDefaultProfile",
             limit: int = 16) -> dict:
    return {
        "chargingProfileId": profile_id, "stackLevel": stack_level,
        "chargingProfilePurpose": purpose, "chargingProfileKind": "Relative",
        "chargingSchedule": {"chargingRateUnit": "A",
                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]},
    }


def _installed(station: Station) -> list[tuple[int, int, int]]:
    rows = InstalledChargingProfile.objects.filter(station=station).order_by(
        "charging_profile_id")
    return [(r.charging_profile_id, r.connector_id, r.profile["chargingSchedule"][
        "chargingSchedulePeriod"][0]["limit"]) for r in rows]


@pytest.fixture
def stations() -> list[Station]:
    return [Station.objects.create(station_id=f"REC-{i}") for i in range(3)]


def test_a_bulk_send_replaces_by_id_and_by_slot_on_each_station(stations):
    a, b, c = stations
    record_accepted([Accepted(a.pk, 1, _profile(10, stack_level=1))])  # same id as below
    record_accepted([Accepted(b.pk, 1, _profile(11, stack_level=2))])  # same slot
    record_accepted([Accepted(c.pk, 1, _profile(12, stack_level=3))])  # another slot
    record_accepted([Accepted(c.pk, 2, _profile(13, stack_level=2))])  # other connector

    record_accepted([Accepted(s.pk, 1, _profile(10, stack_level=2, limit=32))
                     for s in stations])

    assert _installed(a) == [(10, 1, 32)]
    assert _installed(b) == [(10, 1, 32)]
    assert _installed(c) == [(10, 1, 32), (12, 1, 16), (13, 2, 16)]


def test_a_bulk_send_costs_the_same_statements_for_one_station_or_many(stations):
    record_accepted([Accepted(stations[0].pk, 1, _profile(20))])
    with CaptureQueriesContext(connection) as one:
        record_accepted([Accepted(stations[0].pk, 1, _profile(20, limit=8))])
    with CaptureQueriesContext(connection) as many:
        record_accepted([Accepted(s.pk, 1, _profile(20, limit=8)) for s in stations])
    assert len(many.captured_queries) == len(one.captured_queries)
    assert [_installed(s) for s in stations] == [[(20, 1, 8)]] * 3


def test_profiles_for_one_station_replace_each_other_in_order(stations):
    station = stations[0]
    record_accepted([
        Accepted(station.pk, 1, _profile(30, stack_level=1, limit=6)),
        Accepted(station.pk, 1, _profile(31, stack_level=1, limit=7)),  # takes 30's slot
        Accepted(station.pk, 1, _profile(32, stack_level=2, limit=8)),
    ])
    assert _installed(station) == [(31, 1, 7), (32, 1, 8)]


def test_the_record_links_the_history_row_and_scenario(stations):
    station = stations[0]
    record_accepted([Accepted(station.pk, 0, {**_profile(40, purpose="ChargePointMaxProfile"),
                                              "validTo": "2030-01-01T00:00:00Z"},
                              scenario="peak_shaving")])
    row = InstalledChargingProfile.objects.get(station=station)
    assert (row.connector_id, row.purpose, row.scenario) == (0, "ChargePointMaxProfile",
                                                             "peak_shaving")
    assert row.valid_to.year == 2030
