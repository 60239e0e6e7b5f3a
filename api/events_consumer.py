"""The operators' live event stream: JSON events, optionally filtered by
``?station_id=A,B`` and ``?events=profile.accepted,station.status``."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from api.authentication import lookup, secret_from
from stations import db
from stations.events import GROUP
from stations.lean_dispatch import LeanDispatchMixin

logger = logging.getLogger(__name__)


def _csv(query: dict[str, list[str]], name: str) -> frozenset[str]:
    return frozenset(v for value in query.get(name, []) for v in value.split(",") if v)


class EventsConsumer(LeanDispatchMixin, AsyncJsonWebsocketConsumer):
    """Authenticated like the REST API: an API key (any role) in ``Authorization: Bearer``,
    ``X-API-Key``, or, for browsers that cannot set headers, ``?api_key=``."""

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        if settings.CSMS_API_AUTH and not await self._authorized(query):
            logger.warning("Event stream refused: missing or invalid API key")
            await self.close()
            return
        self.station_filter = _csv(query, "station_id")
        self.event_filter = _csv(query, "events")
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def _authorized(self, query: dict[str, list[str]]) -> bool:
        headers = {k.decode("latin-1"): v.decode("latin-1")
                   for k, v in self.scope.get("headers", [])}
        secret = secret_from(headers) or (query.get("api_key") or [None])[0]
        return bool(secret) and await db.run(lookup, secret) is not None

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Clients only listen; anything they send is ignored."""

    async def csms_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if self.station_filter and event.get("station_id") not in self.station_filter:
            return
        if self.event_filter and event.get("event") not in self.event_filter:
            return
        await self.send_json(event)
