"""Bulk operations over many stations, and the live event stream."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
import websockets
from asgiref.sync import sync_to_async

from profiles.models import ChargingProfileRecord, ClearRequest
from stations.models import Station
from tests.conftest import disconnect_events_may_be_lost, wait_until
from tests.support.station import connected_station, unique_id

pytestmark = pytest.mark.e2e

SHED = {
    "chargingProfileId": 900,
    "stackLevel": 5,
    "chargingProfilePurpose": "ChargePointMaxProfile",
    "chargingProfileKind": "Relative",
    "chargingSchedule": {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3000}],
    },
}


@contextlib.asynccontextmanager
async def fleet(csms, count: int, **options):
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(connected_station(csms.ws_url, **options))
            for _ in range(count)
        ]


async def test_bulk_send_to_listed_stations_reports_each(csms, api):
    async with fleet(csms, 3) as stations:
        stations[1].status["SetChargingProfile"] = "Rejected"
        missing = unique_id("GONE")
        ids = [s.id for s in stations] + [missing]
        body = (
            await api.post(
                "/charging_profiles/bulk",
                json={"target": {"station_ids": ids}, "connector_id": 1, "profile": SHED},
            )
        ).json()
        assert (body["total"], body["succeeded"], body["failed"]) == (4, 2, 2)
        by_id = {r["station_id"]: r for r in body["results"]}
        assert by_id[stations[0].id]["status"] == "success"
        assert by_id[stations[0].id]["connector_id"] == 0
        assert by_id[stations[1].id]["status"] == "rejected"
        assert by_id[missing] == {
            "station_id": missing,
            "status": "error",
            "error": f"Station {missing} not found or not connected",
            "connector_id": 1,
            "profile_id": 900,
            "message": "Failed to send charging profile",
            "ocpp_status": None,
        }
        for station in stations:
            assert station.received[0][1]["connector_id"] == 0
        outcomes = await sync_to_async(list)(
            ChargingProfileRecord.objects.order_by("station__station_id").values_list(
                "station__station_id", "outcome")
        )
        assert sorted(outcomes) == sorted(
            [(stations[0].id, "success"), (stations[1].id, "rejected"),
             (stations[2].id, "success")]
        )


async def test_emergency_load_shedding_is_one_request_to_all(csms, api):
    async with fleet(csms, 4) as stations:
        body = (
            await api.post(
                "/charging_profiles/bulk",
                json={"target": {"all": True}, "connector_id": 0, "profile": SHED},
            )
        ).json()
        assert body["total"] == 4
        assert body["succeeded"] == 4
        assert {r["station_id"] for r in body["results"]} == {s.id for s in stations}


async def test_bulk_by_vendor_and_smart_charging_refusals(csms, api):
    async with fleet(csms, 2) as normal, fleet(csms, 1, feature_profiles="Core") as plain:

        async def configured() -> bool:
            return await Station.objects.filter(configuration_at__isnull=False).acount() == 3

        await wait_until(configured)
        await Station.objects.filter(station_id=normal[0].id).aupdate(vendor="Other")
        body = (
            await api.post(
                "/charging_profiles/bulk",
                json={"target": {"vendor": "Tests"}, "connector_id": 1, "profile": SHED},
            )
        ).json()
        results = {r["station_id"]: r for r in body["results"]}
        assert set(results) == {normal[1].id, plain[0].id}
        assert results[normal[1].id]["status"] == "success"
        assert results[plain[0].id]["status"] == "error"
        assert "does not support SmartCharging" in results[plain[0].id]["error"]
        assert plain[0].received == []
        assert normal[0].received == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"connector_id": 1, "profile": SHED}, "target: This field is required."),
        ({"target": {}, "connector_id": 1, "profile": SHED}, "give exactly one of"),
        ({"target": {"all": True, "vendor": "X"}, "connector_id": 1, "profile": SHED},
         "give exactly one of"),
        ({"target": {"all": True}, "connector_id": 1, "profile": {"chargingProfileId": 1}},
         "profile: 'stackLevel' is a required property"),
    ],
)
async def test_bad_bulk_request_is_400(csms, api, body, named):
    response = await api.post("/charging_profiles/bulk", json=body)
    assert response.status_code == 400
    assert named in response.json()["detail"]


async def test_bulk_clear(csms, api):
    async with fleet(csms, 2) as stations:
        stations[0].status["ClearChargingProfile"] = "Unknown"
        body = (
            await api.delete(
                "/charging_profiles/bulk",
                params={"station_ids": ",".join(s.id for s in stations), "stack_level": 5},
            )
        ).json()
        assert body["filters"] == {"profile_id": None, "connector_id": None, "purpose": None,
                                   "stack_level": 5}
        statuses = {r["station_id"]: r["status"] for r in body["results"]}
        assert statuses == {stations[0].id: "unknown", stations[1].id: "success"}
        for station in stations:
            assert station.received == [("ClearChargingProfile", {"stack_level": 5})]
        assert await ClearRequest.objects.acount() == 2
    response = await api.delete("/charging_profiles/bulk", params={"stack_level": 5})
    assert response.status_code == 400


async def test_events_stream_station_and_profile_events(csms, api, operator_key):
    station_id = unique_id("EV")
    async with websockets.connect(
        f"ws://127.0.0.1:{csms.port}/ws/events?station_id={station_id}",
        additional_headers={"Authorization": f"Bearer {operator_key}"},
    ) as events:
        async with connected_station(csms.ws_url, station_id) as station:
            station.status["SetChargingProfile"] = "Rejected"
            await api.post(f"/stations/{station_id}/charging_profile",
                           json={"connector_id": 1, "profile": SHED})
            await api.delete(f"/stations/{station_id}/charging_profile")
        received = []
        with contextlib.suppress(TimeoutError):
            while not any(e["event"] == "station.disconnected" for e in received):
                received.append(json.loads(await asyncio.wait_for(events.recv(), 5)))
    kinds = [e["event"] for e in received]
    assert kinds[0] == "station.connected"
    for kind in ["profile.sent", "profile.rejected", "profile.cleared"]:
        assert kind in kinds
    if not disconnect_events_may_be_lost():
        assert "station.disconnected" in kinds
    assert all(e["station_id"] == station_id for e in received)
    rejected = next(e for e in received if e["event"] == "profile.rejected")
    assert rejected["ocpp_status"] == "Rejected"
    assert rejected["profile_id"] == 900


async def test_events_filter_by_kind(csms, api, operator_key):
    async with websockets.connect(
        f"ws://127.0.0.1:{csms.port}/ws/events?events=profile.accepted",
        subprotocols=["csms.events", f"csms.key.{operator_key}"],  # as a browser sends it
    ) as events, connected_station(csms.ws_url) as station:
        await api.post(f"/stations/{station.id}/charging_profile",
                       json={"connector_id": 1, "profile": SHED})
        event = json.loads(await asyncio.wait_for(events.recv(), 5))
        assert event["event"] == "profile.accepted"
        assert event["station_id"] == station.id
        assert event["connector_id"] == 0


async def test_events_need_a_key(csms):
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(f"ws://127.0.0.1:{csms.port}/ws/events")
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(f"ws://127.0.0.1:{csms.port}/ws/events",
                                 subprotocols=["csms.events", "csms.key.csms_00_bad"])
