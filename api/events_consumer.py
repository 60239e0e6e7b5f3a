"""The operators' live event stream: JSON events, optionally filtered by
``?station_id=A,B`` and ``?events=profile.accepted,station.status``.

The API key travels in a header: ``Authorization: Bearer``, ``X-API-Key``, or, for
browsers, which cannot set headers on a WebSocket but can name subprotocols,
``Sec-WebSocket-Protocol: csms.events, csms.key.<key>`` (``new WebSocket(url,
["csms.events", "csms.key." + key])``); the server selects ``csms.events``. A key in
the URL (``?api_key=``) is refused: URLs end up in access logs, proxies' included.
Failed attempts count per address like the REST API's (api/auth_failures.py).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from api import auth_failures
from api.authentication import lookup, secret_from
from stations import db
from stations.events import GROUP
from stations.lean_dispatch import LeanDispatchMixin

logger = logging.getLogger(__name__)

SUBPROTOCOL = "csms.events"
KEY_SUBPROTOCOL_PREFIX = "csms.key."


def _csv(query: dict[str, list[str]], name: str) -> frozenset[str]:
    return frozenset(v for value in query.get(name, []) for v in value.split(",") if v)


def key_from_subprotocols(offered: list[str]) -> str | None:
    """The API key a browser offered as the subprotocol ``csms.key.<key>``."""
    for name in offered:
        if name.startswith(KEY_SUBPROTOCOL_PREFIX):
            return name[len(KEY_SUBPROTOCOL_PREFIX):] or None
    return None


def chosen_subprotocol(offered: list[str]) -> str | None:
    """The subprotocol to answer with: a browser that offered some fails the connection
    unless one is selected. ``csms.events`` when offered, so the key is not echoed."""
    if SUBPROTOCOL in offered:
        return SUBPROTOCOL
    return next((name for name in offered if name.startswith(KEY_SUBPROTOCOL_PREFIX)), None)


class EventsConsumer(LeanDispatchMixin, AsyncJsonWebsocketConsumer):
    """Authenticated like the REST API: an API key of any role (see the module's doc)."""

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        offered = list(self.scope.get("subprotocols") or [])
        if settings.CSMS_API_AUTH:
            refusal = await self._refusal(query, offered)
            if refusal is not None:
                logger.warning("Event stream refused (%s): %s",
                               auth_failures.address_of_scope(self.scope), refusal)
                await self.close()  # 403
                return
        self.station_filter = _csv(query, "station_id")
        self.event_filter = _csv(query, "events")
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept(subprotocol=chosen_subprotocol(offered))

    async def _refusal(self, query: dict[str, list[str]], offered: list[str]) -> str | None:
        """Why the handshake is refused, or None if its key is valid."""
        address = auth_failures.address_of_scope(self.scope)
        wait = auth_failures.wait_seconds(address)
        if wait is not None:
            return f"too many failed authentications; retry in {wait} s"
        headers = {k.decode("latin-1"): v.decode("latin-1")
                   for k, v in self.scope.get("headers", [])}
        secret = secret_from(headers) or key_from_subprotocols(offered)
        if secret is None:
            auth_failures.record(address)
            if "api_key" in query:
                return ("?api_key is not accepted (URLs are logged): send the key in a "
                        f"header or as the subprotocol {KEY_SUBPROTOCOL_PREFIX}<key>")
            return "missing API key"
        if await db.run(lookup, secret) is None:
            auth_failures.record(address)
            return "invalid or revoked API key"
        return None

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
