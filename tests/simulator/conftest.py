"""A bare OCPP 1.6J central system on 127.0.0.1 for driving the simulator over real sockets.

It answers what a charge point sends (BootNotification, Heartbeat, StatusNotification,
Authorize, Start/StopTransaction, MeterValues), records every request, and lets a
test send CALLs to a connected station. No Django, no database.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from simulator.config import StationConfig
from simulator.station import Station

logger = logging.getLogger(__name__)


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def plain(value: Any) -> Any:
    """Decimals (how ocpp parses schedule numbers) to floats, recursively."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return value


async def eventually(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    """Poll a condition on a station that has no event for it; fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if predicate():
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


@dataclass
class Received:
    action: str
    payload: dict[str, Any]
    at: float  # event loop time


class CentralSystemChargePoint(ChargePoint):
    """The CSMS side of one station's connection."""

    def __init__(self, station_id: str, ws: ServerConnection, csms: BareCentralSystem) -> None:
        super().__init__(station_id, ws, response_timeout=10)
        self.csms = csms

    def _record(self, action: str, payload: dict[str, Any]) -> None:
        self.csms.record(self.id, action, payload)

    @on(Action.boot_notification)
    def on_boot(self, **payload: Any) -> call_result.BootNotification:
        self._record("BootNotification", payload)
        return call_result.BootNotification(
            current_time=now_iso(), interval=self.csms.heartbeat_interval, status="Accepted"
        )

    @on(Action.heartbeat)
    def on_heartbeat(self, **payload: Any) -> call_result.Heartbeat:
        self._record("Heartbeat", payload)
        return call_result.Heartbeat(current_time=now_iso())

    @on(Action.status_notification)
    def on_status(self, **payload: Any) -> call_result.StatusNotification:
        self._record("StatusNotification", payload)
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, **payload: Any) -> call_result.Authorize:
        self._record("Authorize", payload)
        return call_result.Authorize(id_tag_info={"status": "Accepted"})

    @on(Action.start_transaction)
    def on_start(self, **payload: Any) -> call_result.StartTransaction:
        tx_id = next(self.csms.transaction_ids)
        self._record("StartTransaction", {**payload, "transaction_id": tx_id})
        return call_result.StartTransaction(
            transaction_id=tx_id, id_tag_info={"status": "Accepted"}
        )

    @on(Action.stop_transaction)
    def on_stop(self, **payload: Any) -> call_result.StopTransaction:
        self._record("StopTransaction", payload)
        return call_result.StopTransaction(id_tag_info={"status": "Accepted"})

    @on(Action.meter_values)
    def on_meter_values(self, **payload: Any) -> call_result.MeterValues:
        self._record("MeterValues", payload)
        return call_result.MeterValues()


class BareCentralSystem:
    """Server plus a per-station record of everything received (kept across reconnects)."""

    def __init__(self) -> None:
        self.heartbeat_interval = 10
        self.port = 0
        self.connections: dict[str, CentralSystemChargePoint] = {}
        self.received: dict[str, list[Received]] = defaultdict(list)
        self.headers: dict[str, dict[str, str]] = {}
        self.transaction_ids = itertools.count(1)
        self._server: Server | None = None
        self._changed = asyncio.Event()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def start(self) -> None:
        """Listen (on the port used before, if any, so a restart looks like a CSMS reboot)."""
        self._server = await serve(
            self._handler, "127.0.0.1", self.port,
            subprotocols=["ocpp1.6"], compression=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.connections.clear()

    async def _handler(self, ws: ServerConnection) -> None:
        station_id = ws.request.path.rstrip("/").rsplit("/", 1)[-1]
        self.headers[station_id] = dict(ws.request.headers.raw_items())
        cp = CentralSystemChargePoint(station_id, ws, self)
        self.connections[station_id] = cp
        self._notify()
        try:
            await cp.start()
        except ConnectionClosed:
            pass
        finally:
            if self.connections.get(station_id) is cp:
                del self.connections[station_id]

    def record(self, station_id: str, action: str, payload: dict[str, Any]) -> None:
        loop_time = asyncio.get_running_loop().time()
        self.received[station_id].append(Received(action, plain(payload), loop_time))
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def messages(self, station_id: str, action: str, since: int = 0) -> list[dict[str, Any]]:
        return [r.payload for r in self.received[station_id][since:] if r.action == action]

    def mark(self, station_id: str) -> int:
        """An index to pass as ``since`` to look only at what arrives from now on."""
        return len(self.received[station_id])

    async def wait_for(
        self,
        station_id: str,
        action: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda p: True,
        *,
        since: int = 0,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """The first matching request received at index >= since (waiting for it)."""
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                for r in self.received[station_id][since:]:
                    if r.action == action and predicate(r.payload):
                        return r.payload
                await changed.wait()

    async def station(self, station_id: str, timeout: float = 5.0) -> CentralSystemChargePoint:
        """The connection of a station, once it has booted on it."""
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                cp = self.connections.get(station_id)
                if cp is not None and self.messages(station_id, "BootNotification"):
                    return cp
                await changed.wait()

    async def call(self, station_id: str, payload: Any) -> Any:
        cp = await self.station(station_id)
        return await cp.call(payload, suppress=False)


@pytest.fixture
async def bare_csms() -> AsyncIterator[BareCentralSystem]:
    server = BareCentralSystem()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def station_factory(
    bare_csms: BareCentralSystem,
) -> AsyncIterator[Callable[..., Station]]:
    """Build stations pointed at the bare CSMS (0.2 s samples); all stopped at teardown."""
    created: list[Station] = []

    def factory(station_id: str = "PY-SIM-0001", **overrides: Any) -> Station:
        overrides.setdefault("sample_interval", 0.2)
        station = Station(StationConfig(station_id=station_id, url=bare_csms.url, **overrides))
        created.append(station)
        return station

    try:
        yield factory
    finally:
        await asyncio.gather(*(s.stop() for s in created))
