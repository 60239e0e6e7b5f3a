"""A real OCPP 1.6J charge point (the ``ocpp`` package over ``websockets``) whose answers
a test decides: Accepted, Rejected, NotSupported, Unknown, a CALLERROR, silence, a slow
answer or a dropped connection."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import websockets
from ocpp.exceptions import OCPPError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action


def unique_id(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class ScriptedStation(ChargePoint):
    """Answers smart charging CALLs as the test scripted it, and remembers them."""

    def __init__(
        self,
        station_id: str,
        connection: Any,
        *,
        feature_profiles: str | None = "Core,SmartCharging",
        number_of_connectors: int = 2,
    ) -> None:
        super().__init__(station_id, connection)
        self.feature_profiles = feature_profiles
        self.number_of_connectors = number_of_connectors
        self.received: list[tuple[str, dict]] = []
        self.status: dict[str, str] = {
            "SetChargingProfile": "Accepted",
            "ClearChargingProfile": "Accepted",
            "GetCompositeSchedule": "Accepted",
        }
        self.delay: dict[str, float] = {}
        self.errors: dict[str, OCPPError] = {}
        self.drop_connection_on: set[str] = set()
        self.configured = asyncio.Event()

    async def _script(self, action: str, payload: dict) -> str:
        self.received.append((action, payload))
        status = self.status[action]  # decided on receipt, even if answered late
        if action in self.drop_connection_on:
            await self._connection.close()
            await asyncio.sleep(3600)
        if action in self.delay:
            await asyncio.sleep(self.delay[action])
        if action in self.errors:
            raise self.errors[action]
        return status

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict):
        status = await self._script(
            "SetChargingProfile",
            {"connector_id": connector_id, "cs_charging_profiles": cs_charging_profiles},
        )
        return call_result.SetChargingProfile(status=status)

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(self, **filters: Any):
        status = await self._script("ClearChargingProfile", filters)
        return call_result.ClearChargingProfile(status=status)

    @on(Action.get_composite_schedule)
    async def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None
    ):
        status = await self._script(
            "GetCompositeSchedule",
            {"connector_id": connector_id, "duration": duration, "unit": charging_rate_unit},
        )
        if status != "Accepted":
            return call_result.GetCompositeSchedule(status=status)
        return call_result.GetCompositeSchedule(
            status=status,
            connector_id=connector_id,
            schedule_start="2026-01-08T10:00:00Z",
            charging_schedule={
                "duration": duration,
                "chargingRateUnit": charging_rate_unit or "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
            },
        )

    @on(Action.get_configuration)
    async def on_get_configuration(self, key: list[str] | None = None):
        values = {
            "NumberOfConnectors": str(self.number_of_connectors),
            "ChargeProfileMaxStackLevel": "8",
            "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
            "ChargingScheduleMaxPeriods": "24",
            "MaxChargingProfilesInstalled": "16",
        }
        if self.feature_profiles is not None:
            values["SupportedFeatureProfiles"] = self.feature_profiles
        asked = key or list(values)
        try:
            return call_result.GetConfiguration(
                configuration_key=[
                    {"key": k, "readonly": True, "value": values[k]} for k in asked if k in values
                ],
                unknown_key=[k for k in asked if k not in values],
            )
        finally:
            self.configured.set()


@contextlib.asynccontextmanager
async def connected_station(
    base_url: str,
    station_id: str | None = None,
    *,
    boot: bool = True,
    **options: Any,
) -> AsyncIterator[ScriptedStation]:
    """Connect, boot and wait until the CSMS has read the station's configuration."""
    station_id = station_id or unique_id()
    ws = await websockets.connect(
        f"{base_url}/{station_id}", subprotocols=["ocpp1.6"], compression=None
    )
    station = ScriptedStation(station_id, ws, **options)
    task = asyncio.create_task(station.start())
    try:
        if boot:
            await station.call(
                call.BootNotification(charge_point_model="Scripted", charge_point_vendor="Tests")
            )
            await asyncio.wait_for(station.configured.wait(), 5)
        yield station
    finally:
        task.cancel()
        await ws.close()
