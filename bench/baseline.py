"""The bare protocol: a central system of the ``ocpp`` package over ``websockets`` and
nothing else (no Django, no database, no HTTP). The benchmark calls its charge points
directly, which is the least any central system must do to reach a station."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from datetime import UTC, datetime
from typing import Any

import ocpp.messages
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.server import ServerConnection, serve

ocpp.messages.ASYNC_VALIDATION = False  # as the product does: validate in the event loop


def _now() -> str:
    return datetime.now(UTC).isoformat()


class BareChargePoint(ChargePoint):
    """Accepts what a charge point sends; the CSMS side of OCPP 1.6J in its barest form."""

    interval = 300
    tx_ids = itertools.count(1)
    booted: set[str] = set()

    @on(Action.boot_notification)
    def on_boot(self, **_: Any) -> call_result.BootNotification:
        self.booted.add(self.id)
        return call_result.BootNotification(current_time=_now(), interval=self.interval,
                                            status="Accepted")

    @on(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=_now())

    @on(Action.status_notification)
    def on_status(self, **_: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def on_meter_values(self, **_: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @on(Action.authorize)
    def on_authorize(self, **_: Any) -> call_result.Authorize:
        return call_result.Authorize(id_tag_info={"status": "Accepted"})

    @on(Action.start_transaction)
    def on_start(self, **_: Any) -> call_result.StartTransaction:
        return call_result.StartTransaction(transaction_id=next(self.tx_ids),
                                            id_tag_info={"status": "Accepted"})

    @on(Action.stop_transaction)
    def on_stop(self, **_: Any) -> call_result.StopTransaction:
        return call_result.StopTransaction()


class BareCentralSystem:
    """``websockets.serve`` on a loopback port; charge points by id while connected."""

    def __init__(self, port: int, heartbeat_interval: int) -> None:
        self.port = port
        self.heartbeat_interval = heartbeat_interval
        self.stations: dict[str, BareChargePoint] = {}
        self.booted: set[str] = set()
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        BareChargePoint.interval = self.heartbeat_interval
        BareChargePoint.booted = self.booted
        self._server = await serve(self._handle, "127.0.0.1", self.port,
                                   subprotocols=["ocpp1.6"], compression=None,
                                   ping_interval=60, ping_timeout=30, backlog=4096)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await asyncio.wait_for(self._server.wait_closed(), 30)

    async def _handle(self, ws: ServerConnection) -> None:
        station_id = ws.request.path.rstrip("/").rsplit("/", 1)[-1]
        cp = BareChargePoint(station_id, ws)
        self.stations[station_id] = cp
        try:
            with contextlib.suppress(Exception):  # a closed connection ends the charge point
                await cp.start()
        finally:
            if self.stations.get(station_id) is cp:
                del self.stations[station_id]
                self.booted.discard(station_id)

    async def set_charging_profile(self, station_id: str, connector_id: int,
                                   profile: dict[str, Any]) -> str:
        result = await self.stations[station_id].call(
            call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=profile))
        return result.status
