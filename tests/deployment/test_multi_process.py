"""Two real server processes sharing one PostgreSQL database and one Redis: a station
held by either is driven through either, a station that moves is held once, and when a
process dies its stations are released, reconnect to the other, and its pending calls
end as interrupted."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import psycopg
import pytest
import redis
import websockets

from simulator.config import StationConfig
from simulator.station import Station as SimulatedStation
from tests.conftest import wait_until
from tests.support.servers import FailoverProxy, ServerProcess, auth_headers, create_key, migrate
from tests.support.station import connected_station, unique_id

pytestmark = pytest.mark.e2e

PG = "postgresql://postgres@127.0.0.1:5432"
REDIS_DB = 7
PROFILE = {
    "chargingProfileId": 11,
    "stackLevel": 1,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Relative",
    "chargingSchedule": {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
    },
}


@pytest.fixture
def shared_backends():
    """A fresh PostgreSQL database and an empty Redis database for the two processes."""
    name = f"csms_mp_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()
    env = {
        "DATABASE_URL": f"{PG}/{name}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "CSMS_NODE_HEARTBEAT_INTERVAL": "1",
        "CSMS_NODE_EXPIRY": "4",
        "OCPP_CALL_TIMEOUT": "20",
    }
    migrate(env)
    env["TEST_API_KEY"] = create_key(env)
    yield env
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def two_servers(shared_backends):
    servers = [ServerProcess(shared_backends), ServerProcess(shared_backends)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


async def station_row(api: httpx.AsyncClient, station_id: str) -> dict:
    return (await api.get(f"/stations/{station_id}")).json()


async def drive(api: httpx.AsyncClient, station_id: str) -> list[str]:
    """Every contract operation once; the statuses they report."""
    sent = await api.post(f"/stations/{station_id}/charging_profile",
                          json={"connector_id": 1, "profile": PROFILE})
    schedule = await api.get(f"/stations/{station_id}/composite_schedule",
                             params={"connector_id": 1, "duration": 600})
    cleared = await api.delete(f"/stations/{station_id}/charging_profile",
                               params={"profile_id": 11})
    return [r.json()["status"] for r in (sent, schedule, cleared)]


async def test_two_processes_one_system(two_servers, shared_backends):
    a, b = two_servers
    async with httpx.AsyncClient(base_url=a.http_url, timeout=30, headers=auth_headers(
            shared_backends["TEST_API_KEY"])) as api_a, \
            httpx.AsyncClient(base_url=b.http_url, timeout=30, headers=auth_headers(
            shared_backends["TEST_API_KEY"])) as api_b:

        # A station held by A is driven through B and through A, and an operator
        # listening to B's event stream sees it all.
        key = shared_backends["TEST_API_KEY"]
        async with websockets.connect(f"ws://127.0.0.1:{b.http_port}/ws/events",
                                      additional_headers=auth_headers(key),
                                      ) as events, connected_station(a.ocpp_url) as station:

            async def listed_by_b() -> bool:
                return (await station_row(api_b, station.id)).get("connected") is True

            await wait_until(listed_by_b)
            node_a = (await station_row(api_a, station.id))["node"]
            assert (await station_row(api_b, station.id))["node"] == node_a
            assert await drive(api_b, station.id) == ["success", "success", "success"]
            assert await drive(api_a, station.id) == ["success", "success", "success"]
            assert [action for action, _ in station.received] == [
                "SetChargingProfile", "GetCompositeSchedule", "ClearChargingProfile"] * 2
            all_b = {s["station_id"]: s for s in (await api_b.get("/stations")).json()}
            assert all_b[station.id]["connected"] is True
            seen: list[str] = []
            while "profile.cleared" not in seen:
                event = json.loads(await asyncio.wait_for(events.recv(), 10))
                if event["station_id"] == station.id:
                    seen.append(event["event"])
            # station.connected was published by process A, the rest by B (the REST call).
            assert seen[0] == "station.connected"
            assert {"profile.sent", "profile.accepted", "schedule.received"} <= set(seen)

        # A station that moves from A to B ends up held by B alone.
        moving = unique_id("MOVE")
        async with connected_station(a.ocpp_url, moving) as first, \
                connected_station(b.ocpp_url, moving) as second:
            await asyncio.wait_for(first._connection.wait_closed(), 10)
            row = await station_row(api_a, moving)
            assert row["connected"] is True
            assert row["node"] != node_a
            assert await drive(api_a, moving) == ["success", "success", "success"]
            assert len(second.received) == 3
            assert len(first.received) == 0


async def test_a_dead_process_is_released_and_its_stations_move(two_servers, shared_backends):
    a, b = two_servers
    proxy = FailoverProxy([a.ocpp_port, b.ocpp_port])
    await proxy.start()
    roaming = SimulatedStation(StationConfig(
        station_id=unique_id("ROAM"), url=proxy.url, sample_interval=0.5,
        reconnect_min_s=0.2, reconnect_max_s=1.0,
    ))
    await roaming.start()
    try:
        async with httpx.AsyncClient(base_url=a.http_url, timeout=30, headers=auth_headers(
            shared_backends["TEST_API_KEY"])) as api_a, \
                httpx.AsyncClient(base_url=b.http_url, timeout=30, headers=auth_headers(
            shared_backends["TEST_API_KEY"])) as api_b, \
                connected_station(a.ocpp_url) as slow:

            async def roaming_on(api, expect_connected=True) -> bool:
                row = await station_row(api, roaming.station_id)
                return row.get("connected") is expect_connected

            await wait_until(lambda: roaming_on(api_b), timeout=10)
            node_a = (await station_row(api_b, roaming.station_id))["node"]

            # A call made by A is in flight when A dies.
            slow.delay["SetChargingProfile"] = 60
            in_flight = asyncio.create_task(api_a.post(
                f"/stations/{slow.id}/charging_profile",
                json={"connector_id": 1, "profile": PROFILE}))

            def pending_rows() -> list[tuple]:
                with psycopg.connect(shared_backends["DATABASE_URL"]) as conn:
                    return conn.execute(
                        "SELECT outcome, error, node FROM profiles_chargingprofilerecord"
                    ).fetchall()

            async def call_pending() -> bool:
                return bool(await asyncio.to_thread(pending_rows))

            await wait_until(call_pending, timeout=10)
            assert (await asyncio.to_thread(pending_rows))[0][:1] == ("pending",)
            a.kill()
            with pytest.raises(httpx.TransportError):
                await in_flight

            # B notices A is gone: its stations are shown disconnected...
            async def slow_released() -> bool:
                return (await station_row(api_b, slow.id))["connected"] is False

            await wait_until(slow_released, timeout=15)
            # ...its pending call ends as interrupted, not pending forever...
            async def interrupted() -> bool:
                rows = await asyncio.to_thread(pending_rows)
                return rows[0][0] == "error"

            await wait_until(interrupted, timeout=15)
            _, error, node = (await asyncio.to_thread(pending_rows))[0]
            assert error.startswith("interrupted")
            assert node == node_a

            # ...and the station behind the shared address reconnects to B.
            async def roaming_on_b() -> bool:
                row = await station_row(api_b, roaming.station_id)
                return row["connected"] is True and row["node"] != node_a

            await wait_until(roaming_on_b, timeout=20)
            assert await drive(api_b, roaming.station_id) == ["success", "success", "success"]
    finally:
        await roaming.stop()
        await proxy.stop()
