"""The per-station log (OCPP frames in and out, CSMS and simulator notes), written in
batches by a background task so that no frame waits for a database write.

Lines reach the database within ``OCPP_LOG_FLUSH_INTERVAL`` seconds; readers of the log
call :func:`flush` first so that they see everything this process has recorded.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from stations import db
from stations.batching import PeriodicFlush
from stations.models import StationLog

logger = logging.getLogger(__name__)

Source = StationLog.Source
_Entry = tuple[str, datetime, str, str, str]  # station_id, timestamp, source, level, message

_pending: list[_Entry] = []


def record(
    station_id: str,
    source: str,
    message: str,
    *,
    level: str = "INFO",
    timestamp: datetime | None = None,
) -> None:
    """Queue one log line; cheap enough to call for every frame."""
    _pending.append((station_id, timestamp or timezone.now(), source, level, message))
    if not _periodic.start():
        # Called from synchronous code (a management command, a test): write at once.
        _write(_take())


async def flush() -> None:
    """Write every queued line now."""
    if not _pending:
        return
    async with _periodic.lock or asyncio.Lock():
        entries = _take()
        if entries:
            try:
                await db.run(_write, entries)
            except Exception:
                _pending[:0] = entries
                raise


def _take() -> list[_Entry]:
    entries = _pending[:]
    del _pending[: len(entries)]
    return entries


def _write(entries: list[_Entry]) -> None:
    if not entries:
        return
    rows = [_to_row(e) for e in entries]
    try:
        StationLog.objects.bulk_create(rows, batch_size=500)
    except DatabaseError:
        # One bad line must not block all the others forever: write them one by one and
        # drop only what the database refuses.
        for row in rows:
            try:
                with transaction.atomic():
                    row.save()
            except DatabaseError:
                logger.warning("Dropped a log line of %s the database refused", row.station_id)


_periodic = PeriodicFlush(
    "station-log-flusher", flush, lambda: settings.OCPP_LOG_FLUSH_INTERVAL, logger=logger,
    failure="Could not write station log lines; they are kept for the next try",
)


def _to_row(entry: _Entry) -> StationLog:
    station_id, timestamp, source, level, message = entry
    # A station may send anything: no character may break the insert (PostgreSQL refuses
    # NUL in text).
    row = StationLog(
        station_id=station_id, timestamp=timestamp, source=source, level=level,
        message=message.replace("\x00", "\ufffd"),
    )
    if source in (Source.OCPP_IN, Source.OCPP_OUT):
        # Parsed here, in the writer thread, not on the frame's way through.
        try:
            frame = json.loads(message)
            if isinstance(frame, list) and frame and frame[0] in (2, 3, 4):
                row.message_type = frame[0]
                row.unique_id = str(frame[1])[:64].replace("\x00", "")
                if row.message_type == 2:
                    row.action = str(frame[2])[:50].replace("\x00", "")
        except (ValueError, TypeError, IndexError, KeyError, RecursionError):
            pass
    return row
