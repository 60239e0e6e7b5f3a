"""The WebSocket end of an OCPP 1.6J connection: one consumer per connected station.

The consumer owns the connection and a :class:`~stations.central_system.CentralSystem`
that speaks OCPP over it. Frames from the station go through an asyncio queue to a
reader task (so the consumer itself never blocks on a handler); calls from the CSMS
arrive directly from the gateway (same process) or as ``ocpp.call`` events on the
channel layer (another process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from ocpp.exceptions import OCPPError

from stations import auth, db, events, loop_monitor, message_log, presence, registry, services
from stations.central_system import CentralSystem
from stations.gateway import (
    REPLY_EVENT,
    CallTimeout,
    ConnectionLost,
    GatewayError,
    StationCallError,
)
from stations.lean_dispatch import LeanDispatchMixin
from stations.node import NODE_ID

logger = logging.getLogger(__name__)

SUBPROTOCOL = "ocpp1.6"
SUPERSEDED_EVENT = "ocpp.superseded"


_IS_CALL = re.compile(r"\s*\[\s*2\s*,")


def _too_big(text: str, limit: int) -> bool:
    """Whether ``text`` is more than ``limit`` bytes in UTF-8 (encoded only when unsure)."""
    if len(text) > limit:
        return True
    return len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit


class _Connection:
    """What ``ocpp``'s ChargePoint expects of a connection, on top of the consumer."""

    def __init__(self, consumer: OcppConsumer) -> None:
        self._consumer = consumer
        self.inbox: asyncio.Queue[str] = asyncio.Queue()

    async def recv(self) -> str:
        return await self.inbox.get()

    async def send(self, message: str) -> None:
        message_log.record(self._consumer.station_id, message_log.Source.OCPP_OUT, message)
        await self._consumer.send(text_data=message)


class OcppConsumer(LeanDispatchMixin, AsyncWebsocketConsumer):
    station_id: str
    central_system: CentralSystem | None = None

    async def connect(self) -> None:
        self.station_id = self.scope["url_route"]["kwargs"]["station_id"]
        self.central_system = None
        self._lost: asyncio.Future | None = None
        self._tasks: set[asyncio.Task] = set()
        if not auth.valid_station_id(self.station_id):
            await self._refuse(400, "station ids are 1 to 48 letters, digits or -_.:")
            return
        if SUBPROTOCOL not in self.scope.get("subprotocols", []):
            logger.warning("%s refused: it did not offer %s", self.station_id, SUBPROTOCOL)
            await self.close()  # 403, as OCPP-J servers answer a wrong subprotocol
            return
        verdict = await db.run(auth.authorize,
            self.station_id, self.scope.get("headers", [])
        )
        if not verdict.allowed:
            await self._refuse(401, verdict.reason)
            return
        self._tokens = float(settings.OCPP_STATION_CALL_BURST)
        self._tokens_at = time.monotonic()
        self._dropped = 0

        await presence.ensure_heartbeat()
        loop_monitor.ensure_running()
        self._lost = asyncio.get_running_loop().create_future()
        self._connection = _Connection(self)
        self.central_system = CentralSystem(self.station_id, self._connection)
        # Held in the registry before the database says so: presence.release_dead_nodes
        # trusts the registry about this process's own stations, and a station marked
        # connected but not yet registered (a busy event loop) would be released.
        previous = registry.register(self.station_id, self)
        try:
            superseded = await db.run(services.mark_connected,
                self.station_id, NODE_ID, self.channel_name
            )
        except BaseException:
            registry.unregister(self.station_id, self)
            if previous is not None:
                registry.register(self.station_id, previous)
            self.central_system = None
            raise
        await self.accept(subprotocol=SUBPROTOCOL)
        self._spawn(self._read_frames(), f"ocpp-reader-{self.station_id}")
        message_log.record(self.station_id, message_log.Source.CSMS, "Connected")
        events.publish("station.connected", self.station_id, node=NODE_ID)
        logger.info("%s connected", self.station_id)
        if previous is not None:
            logger.info("%s reconnected; closing its previous connection", self.station_id)
            await previous._close_quietly(4000)
        elif superseded:
            # It moved from another process (a network change): that one must let go.
            logger.info("%s moved here; closing its connection on another node", self.station_id)
            await self.channel_layer.send(superseded, {"type": SUPERSEDED_EVENT})

    async def _refuse(self, status: int, reason: str) -> None:
        """Refuse the handshake with an HTTP status where the server allows it (uvicorn),
        else with a plain refusal (403)."""
        # An invalid id is shown quoted: it may hold anything, a line break included.
        shown = (self.station_id if auth.valid_station_id(self.station_id)
                 else repr(self.station_id[:60]))
        logger.warning("%s refused at handshake (%s): %s", shown, status, reason)
        if "websocket.http.response" in self.scope.get("extensions", {}):
            headers = [(b"content-type", b"text/plain")]
            if status == 401:
                headers.append((b"www-authenticate", b'Basic realm="OCPP"'))
            await self.base_send({"type": "websocket.http.response.start", "status": status,
                                  "headers": headers})
            await self.base_send({"type": "websocket.http.response.body",
                                  "body": reason.encode()})
        else:
            await self.close()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.central_system is None:
            return
        if text_data is None:
            # OCPP-J frames are text; a binary frame is decoded if it can be.
            text_data = (bytes_data or b"").decode("utf-8", errors="replace")
        if _too_big(text_data, settings.OCPP_MAX_FRAME_BYTES):
            logger.warning("%s sent a %s-byte frame; disconnecting", self.station_id,
                           len(text_data))
            await self.close(code=1009)
            return
        if _IS_CALL.match(text_data) and not self._take_token():
            return
        message_log.record(self.station_id, message_log.Source.OCPP_IN, text_data)
        self._connection.inbox.put_nowait(text_data)

    def _take_token(self) -> bool:
        """Whether this station may send another CALL now (a token bucket). A station
        that keeps flooding is disconnected; others never notice."""
        now = time.monotonic()
        self._tokens = min(
            float(settings.OCPP_STATION_CALL_BURST),
            self._tokens + (now - self._tokens_at) * settings.OCPP_STATION_CALL_RATE,
        )
        self._tokens_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self._dropped = 0
            return True
        self._dropped += 1
        if self._dropped == 1:
            logger.warning("%s sends CALLs too fast; dropping them", self.station_id)
        if self._dropped == settings.OCPP_FLOOD_DISCONNECT_AFTER:
            logger.warning("%s kept flooding; disconnecting", self.station_id)
            self._spawn(self._close_quietly(1008), f"ocpp-flood-close-{self.station_id}")
        return False

    async def _close_quietly(self, code: int) -> None:
        """Close, even if the peer already went away (nothing left to tell it)."""
        with contextlib.suppress(Exception):
            await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        if self.central_system is None:
            return
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        for task in list(self._tasks):
            task.cancel()
        registry.unregister(self.station_id, self)
        # Only clears the database's record if no newer connection has taken it over.
        await db.run(services.mark_disconnected, self.station_id, self.channel_name)
        message_log.record(self.station_id, message_log.Source.CSMS, f"Disconnected ({code})")
        events.publish("station.disconnected", self.station_id, code=code)
        logger.info("%s disconnected (code %s)", self.station_id, code)

    async def _read_frames(self) -> None:
        assert self.central_system is not None
        while True:
            frame = await self._connection.inbox.get()
            try:
                await self.central_system.route_frame(frame)
            except OSError as error:
                # The answer could not be written: the station went away meanwhile (the
                # ASGI server's ClientDisconnected is an OSError). Its disconnect follows.
                logger.info("%s: gone before its answer was sent (%r)", self.station_id, error)
            except Exception:  # one frame must never stop the reading of the next
                logger.exception("%s: frame could not be handled", self.station_id)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- calls from the CSMS -------------------------------------------------------------

    async def request(self, action: str, payload: dict[str, Any], timeout: float) -> dict:
        """Send a CALL and wait for its answer, the deadline, or the end of the connection."""
        if self.central_system is None or self._lost is None or self._lost.done():
            raise ConnectionLost()
        call = asyncio.ensure_future(self.central_system.send_call(action, payload, timeout))
        try:
            done, _ = await asyncio.wait(
                {call, self._lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if not call.done():
                call.cancel()
        if call in done:
            try:
                return call.result()
            except OCPPError as error:
                raise StationCallError(error.code, error.description, error.details) from None
            except TimeoutError:
                raise CallTimeout() from None
        if self._lost.done():
            raise ConnectionLost()
        raise CallTimeout()

    async def ocpp_superseded(self, event: dict[str, Any]) -> None:
        """The station connected again through another process: this connection is stale."""
        logger.info("%s: connection superseded by one on another node", self.station_id)
        await self.close(code=4000)

    async def ocpp_call(self, event: dict[str, Any]) -> None:
        """A CALL from another process, through the channel layer."""
        self._spawn(self._answer_remote(event), f"ocpp-call-{event.get('call_id')}")

    async def _answer_remote(self, event: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"type": REPLY_EVENT, "call_id": event["call_id"]}
        try:
            reply["result"] = await self.request(
                event["action"], event["payload"], event["timeout"]
            )
        except GatewayError as error:
            reply["error"] = error.to_event()
        except asyncio.CancelledError:
            reply["error"] = ConnectionLost().to_event()
        await self.channel_layer.send(event["reply_to"], reply)
