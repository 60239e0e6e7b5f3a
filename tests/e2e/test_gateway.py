"""The gateway: a slow station delays nobody else, and a station held elsewhere is
reached through the channel layer with the same answers and errors."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from stations import gateway, registry
from stations.models import Station
from tests.support.station import connected_station

pytestmark = pytest.mark.e2e

PROFILE = {
    "chargingProfileId": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Relative",
    "chargingSchedule": {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
    },
}


async def test_slow_station_never_delays_the_others(csms, api, settings):
    settings.OCPP_CALL_TIMEOUT = 30
    async with contextlib.AsyncExitStack() as stack:
        stations = [
            await stack.enter_async_context(connected_station(csms.ws_url)) for _ in range(50)
        ]
        slow = stations[0]
        slow.delay["SetChargingProfile"] = 10
        loop = asyncio.get_running_loop()

        async def send(station) -> tuple[str, float, dict]:
            started = loop.time()
            response = await api.post(
                f"/stations/{station.id}/charging_profile",
                json={"connector_id": 1, "profile": PROFILE},
            )
            return station.id, loop.time() - started, response.json()

        tasks = [asyncio.create_task(send(s)) for s in stations]
        fast_tasks = tasks[1:]
        done, _ = await asyncio.wait(fast_tasks, timeout=5)
        assert len(done) == 49, "calls to healthy stations waited for the slow one"
        results = [t.result() for t in fast_tasks]
        assert all(body["status"] == "success" for _, _, body in results)
        slowest = max(elapsed for _, elapsed, _ in results)
        assert slowest < 1.0, f"slowest healthy call took {slowest:.3f}s"
        assert not tasks[0].done(), "the slow station's call cannot have been answered yet"
        tasks[0].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tasks[0]


def in_server_loop(csms, coro):
    """Run ``coro`` on the server's event loop (where its channel layer lives)."""
    return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, csms.loop))


@contextlib.contextmanager
def held_by_another_process(station_id: str):
    """Make the gateway see the station as held elsewhere: only the channel layer and
    the channel name in the database lead to it, as with two server processes."""
    consumer = registry._local.pop(station_id)
    try:
        yield consumer
    finally:
        registry._local[station_id] = consumer


async def test_remote_station_is_reached_through_the_channel_layer(csms):
    async with connected_station(csms.ws_url) as station:
        row = await Station.objects.aget(station_id=station.id)
        assert row.channel_name
        with held_by_another_process(station.id):
            answer = await in_server_loop(
                csms,
                gateway.call(
                    station.id,
                    "SetChargingProfile",
                    {"connectorId": 1, "csChargingProfiles": PROFILE},
                    channel_name=row.channel_name,
                ),
            )
            assert answer == {"status": "Accepted"}
            station.status["SetChargingProfile"] = "Rejected"
            answer = await in_server_loop(
                csms,
                gateway.call(
                    station.id,
                    "SetChargingProfile",
                    {"connectorId": 1, "csChargingProfiles": PROFILE},
                    channel_name=row.channel_name,
                ),
            )
            assert answer == {"status": "Rejected"}
        assert [a for a, _ in station.received] == ["SetChargingProfile", "SetChargingProfile"]


async def test_remote_errors_come_back_typed(csms):
    async with connected_station(csms.ws_url) as station:
        row = await Station.objects.aget(station_id=station.id)
        station.delay["GetCompositeSchedule"] = 2
        with held_by_another_process(station.id):
            with pytest.raises(gateway.CallTimeout):
                await in_server_loop(
                    csms,
                    gateway.call(
                        station.id,
                        "GetCompositeSchedule",
                        {"connectorId": 1, "duration": 60},
                        timeout=0.3,
                        channel_name=row.channel_name,
                    ),
                )
            with pytest.raises(gateway.StationNotConnected):
                await in_server_loop(csms, gateway.call(station.id, "Heartbeat", {}))


async def test_remote_call_to_a_channel_nobody_reads_times_out(csms):
    with pytest.raises(gateway.CallTimeout):
        await in_server_loop(
            csms,
            gateway.call("GHOST", "ClearChargingProfile", {}, timeout=0.1,
                         channel_name="specific.nobody!here"),
        )
