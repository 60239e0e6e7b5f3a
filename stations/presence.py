"""Whether a station is connected right now, whichever process holds it."""

from __future__ import annotations

from django.conf import settings

from stations import registry
from stations.models import Station


def shares_channel_layer() -> bool:
    """True when other server processes can hold stations (the Redis channel layer).

    With the in-memory layer this process is the whole system: a station row marked
    connected by an earlier run of the server is stale, and only the local registry
    tells the truth.
    """
    return bool(settings.REDIS_URL)


def is_connected(station: Station) -> bool:
    if registry.get(station.station_id) is not None:
        return True
    return shares_channel_layer() and station.connected


async def find_connected(station_id: str) -> Station | None:
    """The station, if it is known and connected now."""
    station = await Station.objects.filter(station_id=station_id).afirst()
    if station is None or not is_connected(station):
        return None
    return station
