"""Send a CALL to a connected station from anywhere in the CSMS and get its answer.

A station held by this process is called directly. One held by another process is
reached through the Channels channel layer: the request goes to the station's
consumer by its channel name, the answer comes back on this process's reply channel.
Either way the caller gets the CALLRESULT payload or one of the typed errors below,
within its deadline.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers, get_channel_layer
from django.conf import settings

from stations import registry

logger = logging.getLogger(__name__)

CALL_EVENT = "ocpp.call"
REPLY_EVENT = "ocpp.reply"
# Extra wait for a remote answer beyond the call's deadline: the remote consumer
# enforces the deadline itself and replies with a timeout; this only covers a reply
# that was lost with its process.
REMOTE_GRACE = 2.0


class GatewayError(Exception):
    """A call that did not get an answer; ``reason`` is what the API reports."""

    kind = "error"
    reason = "Call failed"

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or self.reason)
        if reason:
            self.reason = reason

    def to_event(self) -> dict[str, Any]:
        return {"kind": self.kind, "reason": self.reason}


class StationNotConnected(GatewayError):
    kind = "not_connected"
    reason = "Station not connected"


class CallTimeout(GatewayError):
    kind = "timeout"
    reason = "Connection timeout"


class ConnectionLost(GatewayError):
    kind = "connection_lost"
    reason = "Connection lost"


class StationCallError(GatewayError):
    """The station answered with a CALLERROR (or an answer that breaks the schema)."""

    kind = "call_error"

    def __init__(self, code: str, description: str = "", details: Any = None) -> None:
        self.code = code
        self.description = description
        self.details = details
        super().__init__(f"CALLERROR {code}: {description}".rstrip(": "))

    def to_event(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "code": self.code,
            "description": self.description,
            "details": self.details if isinstance(self.details, dict) else {},
        }


_ERRORS = {cls.kind: cls for cls in (StationNotConnected, CallTimeout, ConnectionLost)}


def error_from_event(error: dict[str, Any]) -> GatewayError:
    """Rebuild the typed error a remote consumer sent back."""
    if error.get("kind") == StationCallError.kind:
        return StationCallError(error.get("code", "GenericError"), error.get("description", ""),
                                error.get("details"))
    return _ERRORS.get(error.get("kind"), GatewayError)(error.get("reason"))


async def call(
    station_id: str,
    action: str,
    payload: dict[str, Any],
    *,
    timeout: float | None = None,
    channel_name: str | None = None,
) -> dict[str, Any]:
    """Send ``action`` with a camelCase ``payload`` to ``station_id``; return the answer.

    ``channel_name`` is where the station's connection listens (``Station.channel_name``);
    it is only needed when another process holds the station.
    """
    deadline = settings.OCPP_CALL_TIMEOUT if timeout is None else timeout
    consumer = registry.get(station_id)
    if consumer is not None:
        return await consumer.request(action, payload, deadline)
    if not channel_name:
        raise StationNotConnected()
    return await _call_remote(channel_name, action, payload, deadline)


async def _call_remote(
    channel_name: str, action: str, payload: dict[str, Any], deadline: float
) -> dict[str, Any]:
    listener = await _listener()
    call_id = uuid.uuid4().hex
    answer = asyncio.get_running_loop().create_future()
    listener.pending[call_id] = answer
    try:
        await listener.layer.send(
            channel_name,
            {
                "type": CALL_EVENT,
                "call_id": call_id,
                "reply_to": listener.channel,
                "action": action,
                "payload": payload,
                "timeout": deadline,
            },
        )
        reply = await asyncio.wait_for(answer, deadline + REMOTE_GRACE)
    except TimeoutError:
        raise CallTimeout() from None
    finally:
        listener.pending.pop(call_id, None)
    if "error" in reply:
        raise error_from_event(reply["error"])
    return reply["result"]


class _ReplyListener:
    """This process's reply channel and the calls waiting on it."""

    def __init__(self, layer: Any, channel: str) -> None:
        self.layer = layer
        self.channel = channel
        self.pending: dict[str, asyncio.Future] = {}
        self.task = asyncio.get_running_loop().create_task(self._run(), name="gateway-replies")

    async def _run(self) -> None:
        while True:
            try:
                reply = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except TimeoutError:
                continue  # an idle Redis connection's read timed out: listen again
            except Exception:
                logger.exception("Gateway reply channel failed; listening again")
                await asyncio.sleep(0.5)
                continue
            future = self.pending.pop(reply.get("call_id"), None)
            if future is not None and not future.done():
                future.set_result(reply)


def _reply_layer() -> Any:
    """The layer replies come back on. With Redis, an instance of its own: channels_redis
    serves all of a layer instance's channels from one receive loop, and a consumer's
    cancelled receive (an event-stream client leaving, say) could stall the replies."""
    layer = get_channel_layer()
    if type(layer).__module__.startswith("channels_redis"):
        return channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    return layer  # in memory: channels exist only inside the one instance


_listeners: dict[asyncio.AbstractEventLoop, _ReplyListener] = {}
_listener_lock: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}


async def _listener() -> _ReplyListener:
    loop = asyncio.get_running_loop()
    listener = _listeners.get(loop)
    if listener is not None and not listener.task.done():
        return listener
    async with _listener_lock.setdefault(loop, asyncio.Lock()):
        listener = _listeners.get(loop)
        if listener is None or listener.task.done():
            layer = _reply_layer()
            channel = await layer.new_channel("ocpp-replies.")
            listener = _listeners[loop] = _ReplyListener(layer, channel)
    return listener
