"""How late this process's event loop runs its tasks: the time a sleep overshoots.
A loaded loop delays every station's frames and every request; /health reports it.

Garbage collection is one cause worth naming: a full collection stops every thread for
a time that grows with the objects alive (each connected station holds a few hundred).
Collections that take longer than ``CSMS_PAUSE_WARN_SECONDS`` are logged.

The database threads (``stations.db``) are the other place where one slow job holds up
everything behind it while the loop itself runs on: a job that runs longer than
``CSMS_PAUSE_WARN_SECONDS`` too is logged with what it is doing at that moment.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
import traceback
from collections import deque

from django.conf import settings

from stations import db

logger = logging.getLogger(__name__)

INTERVAL = 0.25  # seconds between probes
WINDOW = 240  # probes kept (one minute)

_lags: deque[float] = deque(maxlen=WINDOW)
_tasks: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}
# Garbage collection: (generation, seconds, objects collected) of the slowest recent runs.
_gc_pauses: deque[tuple[int, float, int]] = deque(maxlen=WINDOW)
_gc_started = 0.0
_db_reported: dict[int, float] = {}  # database thread -> start of the job logged last


def ensure_running() -> None:
    loop = asyncio.get_running_loop()
    task = _tasks.get(loop)
    if task is None or task.done():
        _tasks[loop] = loop.create_task(_probe(), name="event-loop-lag")
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


async def _probe() -> None:
    while True:
        started = time.perf_counter()
        await asyncio.sleep(INTERVAL)
        _lags.append(max(0.0, time.perf_counter() - started - INTERVAL))
        _check_database()


def _check_database() -> None:
    now = time.perf_counter()
    for ident, fn, started in db.running():
        seconds = now - started
        if seconds < settings.CSMS_PAUSE_WARN_SECONDS or _db_reported.get(ident) == started:
            continue
        _db_reported[ident] = started
        frame = sys._current_frames().get(ident)
        where = "".join(traceback.format_stack(frame)[-8:]) if frame is not None else ""
        logger.warning("A database job (%s) has held its thread for %.2f s, %s more waiting; "
                       "it is at:\n%s", db.job_name(fn), seconds, db.queued(), where.rstrip())


def _on_gc(phase: str, info: dict) -> None:
    global _gc_started
    if phase == "start":
        _gc_started = time.perf_counter()
        return
    seconds = time.perf_counter() - _gc_started
    slow = seconds >= settings.CSMS_PAUSE_WARN_SECONDS
    if info["generation"] == 2 or slow:
        _gc_pauses.append((info["generation"], seconds, info["collected"]))
    if slow:
        logger.warning("Garbage collection (generation %s) stopped this process for %.2f s "
                       "(%s objects freed)", info["generation"], seconds, info["collected"])


def gc_pauses() -> list[tuple[int, float, int]]:
    """Recent full collections and any slow one: (generation, seconds, objects freed)."""
    return list(_gc_pauses)


def summary() -> dict[str, float | None]:
    """Lag in milliseconds: the latest probe, the mean and the worst of the last minute."""
    if not _lags:
        return {"last_ms": None, "mean_ms": None, "max_ms": None}
    values = list(_lags)
    return {
        "last_ms": round(values[-1] * 1000, 3),
        "mean_ms": round(sum(values) / len(values) * 1000, 3),
        "max_ms": round(max(values) * 1000, 3),
    }
