"""Fixtures shared by every test: the live CSMS and clients that talk to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest

from tests.support.live_server import LiveAsgiServer


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker) -> Iterator[LiveAsgiServer]:
    """The CSMS served on a free loopback port for the whole session."""
    with django_db_blocker.unblock():
        server = LiveAsgiServer()
        server.start()
        yield server
        server.stop()
        _close_server_connections()


def _close_server_connections() -> None:
    """The server's threads keep database connections; PostgreSQL will not drop the test
    database while they are open."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def csms(asgi_server: LiveAsgiServer, transactional_db) -> LiveAsgiServer:
    """The live CSMS, with a database whose writes its threads can see."""
    return asgi_server


@pytest.fixture
def operator_key(transactional_db) -> str:
    from api.models import ApiKey

    return ApiKey.generate("tests-operator", "operator")[1]


@pytest.fixture
async def api(csms: LiveAsgiServer, operator_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A REST client of the live CSMS, holding an operator key."""
    async with httpx.AsyncClient(
        base_url=csms.http_url, timeout=30, headers={"Authorization": f"Bearer {operator_key}"}
    ) as client:
        yield client


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], timeout: float = 5.0, interval: float = 0.02
) -> None:
    """Poll ``predicate`` until it holds; fail the test if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


def disconnect_events_may_be_lost() -> bool:
    """Whether the channel layer can lose an event sent while a consumer of the same
    process disconnects: channels_redis's RedisChannelLayer can
    (django/channels_redis#372; seen in about one full PostgreSQL + Redis run in three).
    A known defect of the Redis deployment, not yet fixed; the embedded layer never
    loses one, and the tests hold it to that."""
    from django.conf import settings

    return "channels_redis" in settings.CHANNEL_LAYERS["default"]["BACKEND"]
