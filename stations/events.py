"""Live events for operators (``ws://HOST:8000/ws/events``), delivered through the
channel layer so a client on any server process sees events from every process.

Publishing never waits: the event is handed to a task, off the request's path. With an
in-memory channel layer (one process) an event nobody in this process listens to is not
built at all: with thousands of stations, connects and status notifications are many.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.utils import timezone

logger = logging.getLogger(__name__)

GROUP = "csms.events"
EVENT_TYPE = "csms.event"

_sending: set[asyncio.Task] = set()


def publish(kind: str, station_id: str | None = None, **data: Any) -> None:
    """Broadcast one event, e.g. ``publish("profile.accepted", "CP-1", profile_id=7)``."""
    if not has_listeners():
        return
    event = {
        "event": kind,
        "station_id": station_id,
        "timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
        **data,
    }
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # no event loop (a management command): nobody is listening here
    task = loop.create_task(_send(event))
    _sending.add(task)
    task.add_done_callback(_sending.discard)


def has_listeners() -> bool:
    """Whether an event could reach anyone. Only a process-local layer knows; with a
    shared layer (Redis) a client of another process may be listening."""
    layer = get_channel_layer()
    if layer is None:
        return False
    has_members = getattr(layer, "has_members", None)
    if has_members is not None:  # stations.channel_layer.LocalChannelLayer
        return has_members(GROUP)
    if isinstance(layer, InMemoryChannelLayer):
        return bool(layer.groups.get(GROUP))
    return True


async def _send(event: dict[str, Any]) -> None:
    try:
        await get_channel_layer().group_send(GROUP, {"type": EVENT_TYPE, "event": event})
    except Exception:
        logger.exception("Could not publish event %s", event.get("event"))
