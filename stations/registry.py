"""The stations whose WebSocket this process holds, by station id.

The gateway looks here first: a station held locally is called directly, without a
trip through the channel layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stations.consumer import OcppConsumer

_local: dict[str, OcppConsumer] = {}


def get(station_id: str) -> OcppConsumer | None:
    return _local.get(station_id)


def register(station_id: str, consumer: OcppConsumer) -> OcppConsumer | None:
    """Hold ``consumer`` for ``station_id``; return the connection it replaces, if any."""
    previous = _local.get(station_id)
    _local[station_id] = consumer
    return previous if previous is not consumer else None


def unregister(station_id: str, consumer: OcppConsumer) -> bool:
    """Forget ``consumer``, unless a newer connection of the same station replaced it."""
    if _local.get(station_id) is consumer:
        del _local[station_id]
        return True
    return False


def connected_ids() -> list[str]:
    return list(_local)
