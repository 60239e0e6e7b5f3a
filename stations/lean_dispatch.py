"""A consumer dispatch without channels' per-message database housekeeping.

channels runs ``close_old_connections`` through ``sync_to_async`` before every
message a consumer handles: a thread hop per OCPP frame, per heartbeat of every
station. Consumers here never use the ORM on the event loop; their database work
goes through ``stations.db``, whose threads look after their own connections, so the
hop buys nothing.
"""

from __future__ import annotations

from typing import Any

from channels.consumer import get_handler_name


class LeanDispatchMixin:
    """Put first in a consumer's bases."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
