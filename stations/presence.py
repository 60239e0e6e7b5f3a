"""Whether a station is connected right now, whichever process holds it.

Each server process is a :class:`~stations.models.Node` that renews its heartbeat every
``CSMS_NODE_HEARTBEAT_INTERVAL`` seconds. A station counts as connected when this
process holds it, or when the database says so and the node holding it is alive. A
node whose heartbeat is older than ``CSMS_NODE_EXPIRY`` is dead: any live process marks
its stations disconnected and sends :data:`nodes_reaped` so that other apps can end
what that node left unfinished (pending calls become ``interrupted``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.dispatch import Signal
from django.utils import timezone

from stations import db, registry
from stations.models import Node, Station
from stations.node import NODE_ID

logger = logging.getLogger(__name__)

#: Sent after dead nodes were released, with ``live_nodes`` (a set of node ids) and
#: ``expired_before`` (a datetime): work of any other node started before it is orphaned.
nodes_reaped = Signal()

_live_cache: tuple[float, frozenset[str]] = (0.0, frozenset())
_heartbeats: dict[asyncio.AbstractEventLoop, tuple[asyncio.Task, asyncio.Future]] = {}


def live_node_ids() -> frozenset[str]:
    """Nodes whose heartbeat has not expired (cached for a second)."""
    global _live_cache
    now = time.monotonic()
    if now < _live_cache[0]:
        return _live_cache[1]
    horizon = timezone.now() - timedelta(seconds=settings.CSMS_NODE_EXPIRY)
    ids = frozenset(
        Node.objects.filter(last_heartbeat__gte=horizon).values_list("node_id", flat=True)
    ) | {NODE_ID}
    _live_cache = (now + 1.0, ids)
    return ids


def is_connected(station: Station) -> bool:
    """Held by this process, or by another live one. Synchronous: a database thread."""
    if registry.get(station.station_id) is not None:
        return True
    return station.connected and station.node != NODE_ID and station.node in live_node_ids()


def connected_station(station_id: str) -> Station | None:
    """The station, if it is known and connected now. Synchronous: a database thread."""
    station = Station.objects.filter(station_id=station_id).first()
    if station is None or not is_connected(station):
        return None
    return station


async def find_connected(station_id: str) -> Station | None:
    """``connected_station`` from async code."""
    await ensure_heartbeat()
    return await db.run(connected_station, station_id)


# --- this node's heartbeat and the release of dead nodes -------------------------------


async def ensure_heartbeat() -> None:
    """Start this process's heartbeat if it is not running. The first beat is awaited,
    so this node is alive in the database before it holds any station."""
    loop = asyncio.get_running_loop()
    running = _heartbeats.get(loop)
    if running is None or running[0].done():
        first_beat = loop.create_future()
        task = loop.create_task(_beat_forever(first_beat), name="node-heartbeat")
        running = _heartbeats[loop] = (task, first_beat)
    await asyncio.shield(running[1])


async def _beat_forever(first_beat: asyncio.Future) -> None:
    while True:
        try:
            await db.run(beat)
        except Exception:
            logger.exception("Node heartbeat failed; trying again")
        if not first_beat.done():
            first_beat.set_result(None)
        await asyncio.sleep(settings.CSMS_NODE_HEARTBEAT_INTERVAL)


def beat() -> None:
    """Renew this node's heartbeat and release the nodes that stopped beating."""
    close_old_connections()
    now = timezone.now()
    Node.objects.update_or_create(node_id=NODE_ID, defaults={"last_heartbeat": now})
    release_dead_nodes(now)


def _release_stale_own(now) -> int:
    """Stations this node once marked but does not hold (it restarted with the same id,
    or a disconnect was lost): only the registry knows the truth about our own. Compared
    in Python, not in SQL: one parameter per held station would break SQLite's limit."""
    held = set(registry.connected_ids())
    settled = Station.objects.filter(connected=True, node=NODE_ID).exclude(
        connected_at__gte=now - timedelta(seconds=5))
    stale = [pk for pk, station_id in settled.values_list("pk", "station_id")
             if station_id not in held]
    released = 0
    for start in range(0, len(stale), 500):
        released += settled.filter(pk__in=stale[start:start + 500]).update(
            connected=False, channel_name="", disconnected_at=now)
    return released


def release_dead_nodes(now=None) -> int:
    """Mark the stations of dead nodes disconnected; return how many were released."""
    global _live_cache
    now = now or timezone.now()
    horizon = now - timedelta(seconds=settings.CSMS_NODE_EXPIRY)
    dead = list(Node.objects.filter(last_heartbeat__lt=horizon).values_list("node_id", flat=True))
    live = set(Node.objects.filter(last_heartbeat__gte=horizon).values_list("node_id", flat=True))
    live.add(NODE_ID)
    released = (
        Station.objects.filter(connected=True)
        .exclude(node__in=live)
        .update(connected=False, channel_name="", disconnected_at=now)
    )
    stale_own = _release_stale_own(now)
    if dead:
        Node.objects.filter(node_id__in=dead).delete()
    if released:
        logger.warning("Released %s stations of stopped nodes %s", released, dead or "(gone)")
    if stale_own:
        logger.warning("Released %s stations this process had marked connected but does "
                       "not hold", stale_own)
    nodes_reaped.send(sender=Node, live_nodes=frozenset(live), expired_before=horizon)
    _live_cache = (0.0, frozenset())
    return released + stale_own
