"""Helpers of the security tests: API keys, HTTP Basic handshakes, raw OCPP peers, and
clean-up of state the live server keeps between tests."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import websockets
from asgiref.sync import sync_to_async
from ocpp.v16 import call

from tests.support.station import ScriptedStation

SUBPROTOCOLS = ["ocpp1.6"]

# OCPP-J 1.6, section 4.2.3: the only error codes a CALLERROR may carry.
OCPP16_ERROR_CODES = frozenset({
    "NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
    "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
    "TypeConstraintViolation", "GenericError",
})

VALID_PROFILE = {
    "chargingProfileId": 100,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}],
    },
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def new_key(name: str, role: str) -> str:
    """A fresh API key (its secret) with ``role``."""
    from api.models import ApiKey

    return (await sync_to_async(ApiKey.generate)(name, role))[1]


def basic(station_id: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def handshake_status(url: str, headers: dict[str, str] | None = None,
                           subprotocols: list[str] | None = None) -> int:
    """The HTTP status the server answers a WebSocket handshake with (101 if accepted)."""
    try:
        ws = await websockets.connect(
            url, subprotocols=SUBPROTOCOLS if subprotocols is None else subprotocols,
            additional_headers=headers or {}, open_timeout=5,
        )
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
    await ws.close()
    return 101


@contextlib.asynccontextmanager
async def authed_station(base_url: str, station_id: str, password: str | None = None, *,
                         boot: bool = True) -> AsyncIterator[ScriptedStation]:
    """``tests.support.station.connected_station`` with an HTTP Basic password."""
    ws = await websockets.connect(
        f"{base_url}/{station_id}", subprotocols=SUBPROTOCOLS, compression=None,
        additional_headers=basic(station_id, password) if password is not None else {},
    )
    station = ScriptedStation(station_id, ws)
    task = asyncio.create_task(station.start())
    try:
        if boot:
            answer = await station.call(
                call.BootNotification(charge_point_model="Sec", charge_point_vendor="Tests")
            )
            assert answer.status == "Accepted"
            await asyncio.wait_for(station.configured.wait(), 5)
        yield station
    finally:
        task.cancel()
        await ws.close()


class RawPeer:
    """A station's WebSocket that sends any text and files every answer by message id.

    CALLs the CSMS sends (GetConfiguration after a boot) are kept apart and answered
    with a CALLERROR, so they never block the server's call lock for long."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.answers: dict[Any, list[list]] = defaultdict(list)
        self.unparsed: list[str] = []
        self.server_calls: list[list] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, base_url: str, station_id: str,
                      headers: dict[str, str] | None = None) -> AsyncIterator[RawPeer]:
        ws = await websockets.connect(
            f"{base_url}/{station_id}", subprotocols=SUBPROTOCOLS, compression=None,
            additional_headers=headers or {}, max_size=None, max_queue=None,
        )
        peer = cls(ws)
        try:
            yield peer
        finally:
            peer._reader.cancel()
            await ws.close()

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for text in self.ws:
                try:
                    frame = json.loads(text)
                except ValueError:
                    self.unparsed.append(text)
                    continue
                if isinstance(frame, list) and frame and frame[0] == 2:
                    self.server_calls.append(frame)
                    await self.ws.send(json.dumps(
                        [4, frame[1], "NotSupported", "fuzzing peer", {}]))
                elif isinstance(frame, list) and len(frame) > 1:
                    key = frame[1] if isinstance(frame[1], str | int | float) else repr(frame[1])
                    self.answers[key].append(frame)
                else:
                    self.unparsed.append(text)

    @property
    def closed(self) -> bool:
        return self._reader.done()

    async def send(self, text: str | bytes) -> None:
        await self.ws.send(text)

    async def answer_to(self, unique_id: Any, timeout: float = 5.0) -> list:
        """The first answer filed under ``unique_id``, waiting up to ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.answers.get(unique_id):
            if loop.time() > deadline:
                raise AssertionError(f"no answer to {unique_id!r} within {timeout}s")
            if self._reader.done():
                raise AssertionError(f"connection closed ({self.ws.close_code}) before "
                                     f"the answer to {unique_id!r}")
            await asyncio.sleep(0.01)
        return self.answers[unique_id][0]

    async def heartbeat(self, unique_id: str, timeout: float = 5.0) -> list:
        await self.send(json.dumps([2, unique_id, "Heartbeat", {}]))
        return await self.answer_to(unique_id, timeout)


async def on_server_loop(csms: Any, coro: Any) -> Any:
    """Run ``coro`` on the live server's event loop (where its module state lives)."""
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, csms.loop))


async def purge_station_log(station_ids: set[str]) -> None:
    """Drop the queued log lines of ``station_ids`` (run on the server's loop). Some bad
    frames make every later write of the batched station log fail; without this, one
    such test would break the /logs of every test after it in the session."""
    from stations import message_log

    pending = getattr(message_log, "_pending", None)
    if pending is None:
        return
    lock = message_log._periodic.lock
    async with lock if lock is not None else contextlib.nullcontext():
        pending[:] = [e for e in pending if e[0] not in station_ids]


@contextlib.asynccontextmanager
async def log_purged_after(csms: Any, *station_ids: str) -> AsyncIterator[None]:
    """Purge the station log of ``station_ids`` when the block ends, before pytest
    reports the test: while the log is broken the server logs a traceback every flush,
    and Python 3.11 formatting tracebacks in two threads at once (the server's and
    pytest's) can crash pytest itself ('AST constructor recursion depth mismatch')."""
    try:
        yield
    finally:
        await on_server_loop(csms, purge_station_log(set(station_ids)))
