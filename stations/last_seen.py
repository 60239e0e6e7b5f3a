"""When each station was last heard from (its heartbeats), written in batches.

One UPDATE per heartbeat was 170 writes a second on the single SQLite thread at 10,000
stations with a 60 s heartbeat, queued in front of the REST API's own writes. Stations
seen since the last write are now marked in one statement per 500 every
``OCPP_LAST_SEEN_FLUSH_INTERVAL`` seconds, with the time of that write: ``last_seen`` is
late by at most that interval.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone

from stations import db
from stations.batching import PeriodicFlush
from stations.models import Station

logger = logging.getLogger(__name__)

CHUNK = 500
_seen: set[str] = set()


def seen(station_id: str) -> None:
    """Note that the station was heard from; cheap enough for every heartbeat."""
    _seen.add(station_id)
    if not _periodic.start():
        _write(_take())  # synchronous code (a command, a test): at once


def _take() -> list[str]:
    ids = sorted(_seen)
    _seen.clear()
    return ids


def _write(station_ids: list[str]) -> None:
    now = timezone.now()
    for start in range(0, len(station_ids), CHUNK):
        Station.objects.filter(station_id__in=station_ids[start:start + CHUNK]).update(
            last_seen=now)


async def flush() -> None:
    """Write what was seen so far now."""
    ids = _take()
    if not ids:
        return
    try:
        await db.run(_write, ids)
    except Exception:
        _seen.update(ids)  # kept for the next try
        raise


_periodic = PeriodicFlush(
    "last-seen-flusher", flush, lambda: settings.OCPP_LAST_SEEN_FLUSH_INTERVAL,
    logger=logger, failure="Could not record when stations were last seen; trying again",
)
