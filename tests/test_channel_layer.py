"""The embedded mode's channel layer (``stations.channel_layer.LocalChannelLayer``) keeps
the promises of channels' in-memory layer: messages in order to their channel, one
receiver per message, groups, per-channel capacity, expiry of messages and of group
memberships, flush. And events still reach an operator's ``/ws/events`` client."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import websockets
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer

from stations import events
from stations.channel_layer import LocalChannelLayer
from tests.conftest import disconnect_events_may_be_lost
from tests.support.station import connected_station, unique_id


async def receive(layer: LocalChannelLayer, channel: str, timeout: float = 1.0) -> dict:
    return await asyncio.wait_for(layer.receive(channel), timeout)


async def nothing_on(layer: LocalChannelLayer, channel: str) -> bool:
    try:
        await asyncio.wait_for(layer.receive(channel), 0.05)
    except TimeoutError:
        return True
    return False


def test_embedded_mode_uses_it_and_redis_mode_does_not():
    from channels_redis.core import RedisChannelLayer
    from django.conf import settings

    expected = RedisChannelLayer if settings.REDIS_URL else LocalChannelLayer
    assert type(get_channel_layer()) is expected


async def test_send_then_receive_in_order_and_isolated():
    layer = LocalChannelLayer()
    channel = await layer.new_channel()
    assert channel.startswith("specific.")
    assert "!" in channel
    message = {"type": "test.message", "items": [1]}
    await layer.send(channel, message)
    await layer.send(channel, {"type": "test.message", "n": 2})
    message["items"].append(2)  # the sender's later changes do not travel
    assert await receive(layer, channel) == {"type": "test.message", "items": [1]}
    assert await receive(layer, channel) == {"type": "test.message", "n": 2}
    assert await nothing_on(layer, channel)
    assert layer.channels == {}  # nothing kept for an idle channel


async def test_receive_waits_for_a_later_send():
    layer = LocalChannelLayer()
    waiting = asyncio.create_task(layer.receive("worker"))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    await layer.send("worker", {"type": "hello"})
    assert await asyncio.wait_for(waiting, 1) == {"type": "hello"}


async def test_each_message_goes_to_one_of_several_receivers():
    layer = LocalChannelLayer()
    receivers = [asyncio.create_task(layer.receive("shared")) for _ in range(3)]
    await asyncio.sleep(0.01)
    for n in range(3):
        await layer.send("shared", {"type": "job", "n": n})
    results = await asyncio.wait_for(asyncio.gather(*receivers), 1)
    assert sorted(r["n"] for r in results) == [0, 1, 2]


async def test_a_cancelled_receiver_loses_no_message():
    layer = LocalChannelLayer()
    first = asyncio.create_task(layer.receive("c"))
    second = asyncio.create_task(layer.receive("c"))
    await asyncio.sleep(0.01)
    await layer.send("c", {"type": "only"})  # wakes the first receiver...
    first.cancel()  # ...which is cancelled before it takes the message
    assert await asyncio.wait_for(second, 1) == {"type": "only"}
    assert first.cancelled()
    # A receiver cancelled while idle leaves nothing behind.
    idle = asyncio.create_task(layer.receive("idle"))
    await asyncio.sleep(0.01)
    idle.cancel()
    await asyncio.sleep(0)
    assert "idle" not in layer.channels


async def test_capacity_per_channel_raises_channel_full():
    layer = LocalChannelLayer(capacity=2, channel_capacity={"small*": 1})
    await layer.send("a", {"type": "m"})
    await layer.send("a", {"type": "m"})
    with pytest.raises(ChannelFull):
        await layer.send("a", {"type": "m"})
    await layer.send("small.one", {"type": "m"})
    with pytest.raises(ChannelFull):
        await layer.send("small.one", {"type": "m"})
    await receive(layer, "a")
    await layer.send("a", {"type": "m"})  # room again


async def test_group_send_reaches_members_and_skips_full_ones():
    layer = LocalChannelLayer(capacity=1)
    for channel in ("x", "y", "z"):
        await layer.group_add("g", channel)
    await layer.group_discard("g", "z")
    assert layer.has_members("g")
    assert not layer.has_members("other")
    await layer.send("y", {"type": "filler"})  # y is full
    await layer.group_send("g", {"type": "fan.out"})  # no ChannelFull for the caller
    assert await receive(layer, "x") == {"type": "fan.out"}
    assert await receive(layer, "y") == {"type": "filler"}
    assert await nothing_on(layer, "y")
    assert await nothing_on(layer, "z")
    await layer.group_discard("g", "x")
    await layer.group_discard("g", "y")
    assert not layer.has_members("g")


async def test_expired_messages_are_dropped_and_their_channel_leaves_its_groups():
    layer = LocalChannelLayer(expiry=0.05, sweep_interval=0.0)
    await layer.group_add("g", "dead")
    await layer.group_add("g", "alive")
    await layer.send("dead", {"type": "old"})
    await asyncio.sleep(0.1)
    await layer.send("alive", {"type": "new"})  # triggers a sweep
    assert layer.groups["g"].keys() == {"alive"}
    assert "dead" not in layer.channels
    assert await receive(layer, "alive") == {"type": "new"}
    # Read directly, an expired message is not returned either (no sweep needed).
    layer = LocalChannelLayer(expiry=0.05, sweep_interval=3600)
    await layer.send("c", {"type": "old"})
    await asyncio.sleep(0.1)
    assert await nothing_on(layer, "c")


async def test_sweeps_run_at_most_once_per_interval():
    layer = LocalChannelLayer(sweep_interval=3600)
    sweeps = 0
    original = layer._clean_expired

    def counting() -> None:
        nonlocal sweeps
        sweeps += 1
        original()

    layer._clean_expired = counting  # type: ignore[method-assign]
    for n in range(100):
        await layer.send(f"c{n}", {"type": "m"})
        await layer.group_send("g", {"type": "m"})
        await receive(layer, f"c{n}")
    assert sweeps == 1


async def test_group_membership_expires():
    layer = LocalChannelLayer(group_expiry=10, sweep_interval=0.0)
    await layer.group_add("g", "old")
    await layer.group_add("g", "new")
    layer.groups["g"]["old"] = time.time() - 60
    await layer.group_send("g", {"type": "m"})
    assert await receive(layer, "new") == {"type": "m"}
    assert await nothing_on(layer, "old")


async def test_flush_drops_messages_and_groups_but_waiting_receivers_stay():
    layer = LocalChannelLayer()
    await layer.send("full", {"type": "m"})
    await layer.group_add("g", "full")
    waiting = asyncio.create_task(layer.receive("waiting"))
    await asyncio.sleep(0.01)
    await layer.flush()
    assert layer.groups == {}
    assert not layer.has_members("g")
    assert await nothing_on(layer, "full")
    await layer.send("waiting", {"type": "after"})
    assert await asyncio.wait_for(waiting, 1) == {"type": "after"}


async def test_idle_receivers_are_not_scanned():
    """The reason for this layer: waiting receivers (one per connected station) are not
    looked at by other channels' operations, so their number does not slow those down."""
    layer = LocalChannelLayer(sweep_interval=0.0)  # a sweep on every operation
    idle = [asyncio.create_task(layer.receive(f"idle.{n}")) for n in range(1000)]
    await asyncio.sleep(0.01)
    assert len(layer.channels) == 1000
    assert all(e.messages is None and len(e.waiters) == 1 for e in layer.channels.values())
    await layer.send("busy", {"type": "m"})
    assert layer._backlogged == {"busy"}  # what a sweep looks at
    await layer.receive("busy")
    assert layer._backlogged == set()
    for task in idle:
        task.cancel()
    await asyncio.gather(*idle, return_exceptions=True)
    assert layer.channels == {}


async def test_events_are_not_built_when_nobody_listens(monkeypatch):
    layer = LocalChannelLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    calls = []
    original = layer.group_send

    async def group_send(group, message):
        calls.append(message["event"]["event"])
        await original(group, message)

    monkeypatch.setattr(layer, "group_send", group_send)
    events.publish("station.status", "CP-1", status="Available")
    await asyncio.sleep(0.01)
    assert calls == []
    await layer.group_add(events.GROUP, "listener")
    events.publish("station.status", "CP-1", status="Charging")
    await asyncio.sleep(0.01)
    assert calls == ["station.status"]
    message = await receive(layer, "listener")
    assert message["event"]["status"] == "Charging"


@pytest.mark.e2e
async def test_events_reach_an_event_client(csms, operator_key):
    station_id = unique_id("CL")
    async with websockets.connect(
        f"ws://127.0.0.1:{csms.port}/ws/events?station_id={station_id}",
        additional_headers={"Authorization": f"Bearer {operator_key}"},
    ) as client:
        async with connected_station(csms.ws_url, station_id):
            event = json.loads(await asyncio.wait_for(client.recv(), 5))
        assert event["event"] == "station.connected"
        assert event["station_id"] == station_id
        if disconnect_events_may_be_lost():
            return
        event = json.loads(await asyncio.wait_for(client.recv(), 5))
        assert event["event"] == "station.disconnected"
