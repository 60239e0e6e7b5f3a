"""Runs synchronous ORM code from async code, on a few dedicated threads.

SQLite lets one writer in at a time and makes the others poll for the lock with
growing sleeps (1, 2, 5 ... 100 ms), which turns fifty concurrent requests into
seconds of waiting. With SQLite every call therefore runs on one thread, in order,
without contention; with PostgreSQL on a small pool (``DB_THREADS``). The threads keep
their connections open between calls (opening one costs more than most queries),
replacing any that broke.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)

T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
# What each database thread runs now: thread id -> (the function, when it started). Read
# by stations.loop_monitor to name a job that holds a thread (and every caller) too long.
_running: dict[int, tuple[Callable[..., Any], float]] = {}


def executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        sqlite = connections["default"].vendor == "sqlite"
        _executor = ThreadPoolExecutor(
            max_workers=1 if sqlite else settings.DB_THREADS, thread_name_prefix="csms-db"
        )
    return _executor


def _call(fn: Callable[..., T], args: tuple, kwargs: dict) -> T:
    ident = threading.get_ident()
    _running[ident] = (fn, time.perf_counter())
    try:
        return fn(*args, **kwargs)
    except (InterfaceError, OperationalError):
        # The connection may be broken (a database restart): open a new one next time.
        for connection in connections.all(initialized_only=True):
            connection.close()
        raise
    finally:
        started = _running.pop(ident)[1]
        seconds = time.perf_counter() - started
        if seconds >= settings.CSMS_PAUSE_WARN_SECONDS:
            logger.warning("A database job (%s) took %.2f s; every job behind it waited",
                           job_name(fn), seconds)


def job_name(fn: Callable[..., Any]) -> str:
    """What the logs call a job: its function's name (through a ``functools.partial``)."""
    return getattr(getattr(fn, "func", fn), "__qualname__", repr(fn))


def running() -> list[tuple[int, Callable[..., Any], float]]:
    """The jobs on database threads now: (thread id, function, when it started, as
    ``time.perf_counter()``)."""
    return [(ident, fn, started) for ident, (fn, started) in list(_running.items())]


def queued() -> int:
    """Jobs waiting for a database thread."""
    return _executor._work_queue.qsize() if _executor is not None else 0


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``await run(Model.objects.get, pk=1)``: ``fn(*args, **kwargs)`` on a database thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor(), functools.partial(_call, fn, args, kwargs))
