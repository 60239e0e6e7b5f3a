"""Fixtures of the security tests. The live server shares this process: its throttle
budgets (Django's caches) and its API key cache are cleared around every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.security.support import on_server_loop, purge_station_log


def _clear_caches() -> None:
    from django.conf import settings
    from django.core.cache import caches

    from api import authentication

    for alias in settings.CACHES:  # the throttles may have a cache of their own
        caches[alias].clear()
    authentication._cache.clear()


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    _clear_caches()
    yield
    _clear_caches()


@pytest.fixture
async def anon(csms) -> AsyncIterator[httpx.AsyncClient]:
    """A REST client without any key."""
    async with httpx.AsyncClient(base_url=csms.http_url, timeout=30) as client:
        yield client


@pytest.fixture
async def poisoned_log(csms) -> AsyncIterator[set[str]]:
    """Station ids whose queued log lines are dropped at teardown (see
    ``purge_station_log``); a test that sends a frame known to break the log adds to it."""
    station_ids: set[str] = set()
    yield station_ids
    if station_ids:
        await on_server_loop(csms, purge_station_log(station_ids))
