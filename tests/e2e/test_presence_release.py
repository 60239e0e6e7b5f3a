"""presence.release_dead_nodes and this process's own stations: the registry (what this
process really holds) is the truth, whatever the database still says."""

from datetime import timedelta

import pytest
from django.utils import timezone

from stations import presence, registry
from stations.models import Station
from stations.node import NODE_ID

pytestmark = pytest.mark.django_db


@pytest.fixture
def held():
    """Registers station ids as held by this process for one test."""
    ids: list[str] = []
    holder = object()

    def hold(*station_ids: str) -> None:
        for station_id in station_ids:
            registry.register(station_id, holder)
            ids.append(station_id)

    yield hold
    for station_id in ids:
        registry.unregister(station_id, holder)


def _marked(station_id: str, seconds_ago: float) -> Station:
    return Station.objects.create(
        station_id=station_id, connected=True, node=NODE_ID, channel_name="c",
        connected_at=timezone.now() - timedelta(seconds=seconds_ago))


def _connected(station_id: str) -> bool:
    return Station.objects.get(station_id=station_id).connected


def test_a_station_marked_but_not_held_is_released(held):
    _marked("STALE-1", 60)
    _marked("HELD-1", 60)
    held("HELD-1")
    assert presence.release_dead_nodes() == 1
    assert not _connected("STALE-1")
    assert _connected("HELD-1")


def test_a_station_still_connecting_is_not_released():
    _marked("CONNECTING-1", 1)  # marked a moment ago, its consumer not registered yet
    assert presence.release_dead_nodes() == 0
    assert _connected("CONNECTING-1")


def test_more_held_stations_than_sqlite_allows_query_parameters(held):
    count = 33_000  # SQLite allows 32,766 parameters in one statement
    ids = [f"MANY-{n:05d}" for n in range(count)]
    earlier = timezone.now() - timedelta(minutes=1)
    Station.objects.bulk_create(
        [Station(station_id=i, connected=True, node=NODE_ID, connected_at=earlier)
         for i in ids], batch_size=2000)
    held(*ids[3:])
    assert presence.release_dead_nodes() == 3
    assert Station.objects.filter(connected=False).count() == 3
