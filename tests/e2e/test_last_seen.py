"""Heartbeats mark stations seen in batches (stations/last_seen.py)."""

import pytest

from stations import last_seen
from stations.models import Station

pytestmark = pytest.mark.django_db(transaction=True)


def _last_seen(station_id: str):
    return Station.objects.get(station_id=station_id).last_seen


async def test_stations_seen_are_written_together_on_flush():
    from asgiref.sync import sync_to_async

    for station_id in ("LS-1", "LS-2", "LS-3"):
        await sync_to_async(Station.objects.create)(station_id=station_id)
    last_seen.seen("LS-1")
    last_seen.seen("LS-2")
    last_seen.seen("LS-1")
    assert await sync_to_async(_last_seen)("LS-1") is None  # not yet: batched
    await last_seen.flush()
    assert await sync_to_async(_last_seen)("LS-1") is not None
    assert await sync_to_async(_last_seen)("LS-2") is not None
    assert await sync_to_async(_last_seen)("LS-3") is None


def test_without_an_event_loop_it_is_written_at_once():
    Station.objects.create(station_id="LS-SYNC")
    last_seen.seen("LS-SYNC")
    assert _last_seen("LS-SYNC") is not None
