"""A job that holds a database thread too long is named in the log with where it is, once;
every caller behind it waits, so the operator needs to know which job it was."""

from __future__ import annotations

import asyncio
import logging
import threading

from stations import db, loop_monitor


def _hold(release: threading.Event) -> str:
    release.wait(5)
    return "done"


async def test_a_long_database_job_is_logged_once_with_its_stack(caplog, settings):
    settings.CSMS_PAUSE_WARN_SECONDS = 0.2
    release = threading.Event()
    caplog.set_level(logging.WARNING)
    loop_monitor.ensure_running()
    job = asyncio.ensure_future(db.run(_hold, release))
    behind = asyncio.ensure_future(db.run(lambda: "behind"))
    await asyncio.sleep(1.0)  # several probes while the job holds the thread
    release.set()
    assert await job == "done"
    assert await behind == "behind"
    warnings = [r.getMessage() for r in caplog.records if "database job" in r.getMessage()]
    assert len(warnings) == 2, warnings  # while it runs, with its stack; when it ends
    assert "(_hold) has held its thread" in warnings[0]
    assert "release.wait(5)" in warnings[0]  # the line the job was at
    assert "(_hold) took" in warnings[1]
    assert all(fn is not _hold for _, fn, _ in db.running())  # others may run meanwhile


async def test_short_jobs_are_not_logged(caplog):
    caplog.set_level(logging.WARNING)
    loop_monitor.ensure_running()
    for _ in range(20):
        await db.run(lambda: None)
    await asyncio.sleep(loop_monitor.INTERVAL * 2)
    assert not [r for r in caplog.records if "database job" in r.getMessage()]
