"""The background task behind a batched write: every few seconds it writes what was
queued since the last time, on the event loop of the process (tests start several
loops, one after another). The station log and ``last_seen`` use it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


class PeriodicFlush:
    """Runs ``flush`` every ``interval()`` seconds once :meth:`start` was called from the
    event loop; a failed flush is logged (``failure``, on ``logger``) and the next one
    tries again. ``lock`` serializes flushes with any made directly (a reader's)."""

    def __init__(self, name: str, flush: Callable[[], Awaitable[None]],
                 interval: Callable[[], float], *, logger: logging.Logger,
                 failure: str) -> None:
        self.name = name
        self.lock: asyncio.Lock | None = None
        self._flush = flush
        self._interval = interval
        self._logger = logger
        self._failure = failure
        self._task: asyncio.Task | None = None

    def start(self) -> bool:
        """Make sure the task runs on the running loop. False when no loop runs
        (synchronous code: a command, a test), where the caller writes at once."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self.lock = asyncio.Lock()
            self._task = loop.create_task(self._run(), name=self.name)
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval())
            try:
                await self._flush()
            except Exception:
                self._logger.exception(self._failure)
