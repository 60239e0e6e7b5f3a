"""The operators' live event stream: JSON events, optionally filtered by
``?station_id=A,B`` and ``?events=profile.accepted,station.status``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from stations.events import GROUP


def _csv(query: dict[str, list[str]], name: str) -> frozenset[str]:
    return frozenset(v for value in query.get(name, []) for v in value.split(",") if v)


class EventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.station_filter = _csv(query, "station_id")
        self.event_filter = _csv(query, "events")
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

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
