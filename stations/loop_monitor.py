"""How late this process's event loop runs its tasks: the time a sleep overshoots.
A loaded loop delays every station's frames and every request; /health reports it."""

from __future__ import annotations

import asyncio
import time
from collections import deque

INTERVAL = 0.25  # seconds between probes
WINDOW = 240  # probes kept (one minute)

_lags: deque[float] = deque(maxlen=WINDOW)
_tasks: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}


def ensure_running() -> None:
    loop = asyncio.get_running_loop()
    task = _tasks.get(loop)
    if task is None or task.done():
        _tasks[loop] = loop.create_task(_probe(), name="event-loop-lag")


async def _probe() -> None:
    while True:
        started = time.perf_counter()
        await asyncio.sleep(INTERVAL)
        _lags.append(max(0.0, time.perf_counter() - started - INTERVAL))


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
