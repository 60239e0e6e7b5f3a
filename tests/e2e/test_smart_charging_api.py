"""The contract's REST operations against a real station over a real WebSocket: every
answer a station can give, every failure, and the history each one leaves."""

from __future__ import annotations

import asyncio
import copy
import logging

import pytest
from asgiref.sync import sync_to_async
from ocpp.exceptions import InternalError

from profiles.models import ChargingProfileRecord, ClearRequest, CompositeScheduleRecord
from stations.models import Station
from tests.conftest import wait_until
from tests.support.station import connected_station, unique_id

pytestmark = pytest.mark.e2e

TX_DEFAULT = {
    "chargingProfileId": 7,
    "stackLevel": 1,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}, {"startPeriod": 3600,
                                                                       "limit": 21.4}],
        "startSchedule": "2026-01-08T10:00:00+00:00",
    },
}

# The contract's own first example.
CONTRACT_EXAMPLE = {
    "connector_id": 1,
    "profile": {
        "chargingProfileId": 100,
        "stackLevel": 0,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000}],
            "startSchedule": "2026-01-08T10:00:00+00:00",
        },
    },
}


async def records(model, station_id: str) -> list:
    return await sync_to_async(list)(
        model.objects.filter(station__station_id=station_id).order_by("id")
    )


# --- SetChargingProfile -----------------------------------------------------------------


async def test_accepted_profile_is_sent_as_given_and_recorded(csms, api):
    async with connected_station(csms.ws_url) as station:
        response = await api.post(
            f"/stations/{station.id}/charging_profile",
            json={"connector_id": 1, "profile": TX_DEFAULT},
        )
        assert response.status_code == 200
        assert response.json() == {
            "status": "success",
            "station_id": station.id,
            "connector_id": 1,
            "profile_id": 7,
            "message": "Charging profile 7 sent successfully",
            "error": None,
            "ocpp_status": "Accepted",
        }
        [(action, payload)] = station.received
        assert action == "SetChargingProfile"
        assert payload["connector_id"] == 1
        periods = payload["cs_charging_profiles"]["charging_schedule"]["charging_schedule_period"]
        assert [float(p["limit"]) for p in periods] == [16.0, 21.4]
        [row] = await records(ChargingProfileRecord, station.id)
        assert row.outcome == "success"
        assert row.ocpp_status == "Accepted"
        assert row.profile == TX_DEFAULT
        assert (row.connector_id, row.requested_connector_id) == (1, 1)
        assert (row.charging_profile_id, row.purpose, row.stack_level, row.kind) == (
            7, "TxDefaultProfile", 1, "Absolute"
        )
        assert row.charging_rate_unit == "A"
        assert row.answered_at >= row.requested_at


async def test_contract_example_charge_point_max_goes_to_connector_zero(csms, api):
    async with connected_station(csms.ws_url) as station:
        body = (
            await api.post(f"/stations/{station.id}/charging_profile", json=CONTRACT_EXAMPLE)
        ).json()
        assert body["status"] == "success"
        assert body["connector_id"] == 0
        assert "sent on connector 0 instead of 1" in body["message"]
        assert station.received[0][1]["connector_id"] == 0
        [row] = await records(ChargingProfileRecord, station.id)
        assert (row.connector_id, row.requested_connector_id) == (0, 1)


@pytest.mark.parametrize("answer", ["Rejected", "NotSupported"])
async def test_refused_profile_is_reported_as_rejected(csms, api, answer):
    async with connected_station(csms.ws_url) as station:
        station.status["SetChargingProfile"] = answer
        body = (
            await api.post(f"/stations/{station.id}/charging_profile",
                           json={"connector_id": 1, "profile": TX_DEFAULT})
        ).json()
        assert body["status"] == "rejected"
        assert body["ocpp_status"] == answer
        assert body["message"] == f"Charging profile 7 was rejected by the station ({answer})"
        [row] = await records(ChargingProfileRecord, station.id)
        assert (row.outcome, row.ocpp_status) == ("rejected", answer)


async def test_timeout_reports_error_and_late_answer_is_not_taken_for_the_next(
    csms, api, settings
):
    settings.OCPP_CALL_TIMEOUT = 0.5
    async with connected_station(csms.ws_url) as station:
        station.status["SetChargingProfile"] = "Rejected"
        station.delay["SetChargingProfile"] = 1.5
        url = f"/stations/{station.id}/charging_profile"
        first = (await api.post(url, json={"connector_id": 1, "profile": TX_DEFAULT})).json()
        assert first["status"] == "error"
        assert first["error"] == "Connection timeout"
        assert first["message"] == "Failed to send charging profile"

        # The station answers the first CALL ("Rejected") late; the second call must get
        # its own answer ("Accepted"), not that one.
        settings.OCPP_CALL_TIMEOUT = 5
        station.status["SetChargingProfile"] = "Accepted"
        del station.delay["SetChargingProfile"]
        second = (await api.post(url, json={"connector_id": 1, "profile": TX_DEFAULT})).json()
        assert second["status"] == "success", second
        rows = await records(ChargingProfileRecord, station.id)
        assert [(r.outcome, r.error) for r in rows] == [
            ("error", "Connection timeout"),
            ("success", ""),
        ]


async def test_callerror_is_reported_with_its_code(csms, api):
    async with connected_station(csms.ws_url) as station:
        station.errors["SetChargingProfile"] = InternalError(description="profile store full")
        body = (
            await api.post(f"/stations/{station.id}/charging_profile",
                           json={"connector_id": 1, "profile": TX_DEFAULT})
        ).json()
        assert body["status"] == "error"
        assert body["error"] == "CALLERROR InternalError: profile store full"
        [row] = await records(ChargingProfileRecord, station.id)
        assert row.outcome == "error"
        assert "InternalError" in row.error


async def test_station_disconnecting_mid_call_ends_the_call_at_once(csms, api, settings):
    settings.OCPP_CALL_TIMEOUT = 20
    async with connected_station(csms.ws_url) as station:
        station.drop_connection_on.add("SetChargingProfile")
        loop = asyncio.get_running_loop()
        started = loop.time()
        body = (
            await api.post(f"/stations/{station.id}/charging_profile",
                           json={"connector_id": 1, "profile": TX_DEFAULT})
        ).json()
        assert loop.time() - started < 5
        assert body["status"] == "error"
        assert body["error"] == "Connection lost"
        [row] = await records(ChargingProfileRecord, station.id)
        assert (row.outcome, row.error) == ("error", "Connection lost")


async def test_unknown_or_disconnected_station_is_404(csms, api):
    missing = unique_id("NOPE")
    response = await api.post(f"/stations/{missing}/charging_profile", json=CONTRACT_EXAMPLE)
    assert response.status_code == 404
    assert response.json() == {"detail": f"Station {missing} not found or not connected"}

    async with connected_station(csms.ws_url) as station:
        pass

    async def gone() -> bool:
        return (await api.get(f"/stations/{station.id}")).json()["connected"] is False

    await wait_until(gone)
    for method, path in [
        ("POST", "charging_profile"),
        ("DELETE", "charging_profile"),
        ("GET", "composite_schedule?connector_id=1&duration=60"),
    ]:
        response = await api.request(
            method, f"/stations/{station.id}/{path}",
            json=CONTRACT_EXAMPLE if method == "POST" else None,
        )
        assert response.status_code == 404
        assert response.json()["detail"] == f"Station {station.id} not found or not connected"
    assert await ChargingProfileRecord.objects.acount() == 0


async def test_station_without_smart_charging_is_400_and_nothing_is_sent(csms, api):
    async with connected_station(csms.ws_url, feature_profiles="Core,RemoteTrigger") as station:

        async def known() -> bool:
            row = await Station.objects.aget(station_id=station.id)
            return row.supported_feature_profiles is not None

        await wait_until(known)
        detail = (f"Station {station.id} does not support SmartCharging "
                  "(CentralSystemChargePoint required)")
        # The contract's text, in the shape every 400 has (api/errors.py).
        expected = {"detail": detail, "errors": [{"field": "", "message": detail}]}
        for method, path in [
            ("POST", "charging_profile"),
            ("DELETE", "charging_profile"),
            ("GET", "composite_schedule?connector_id=1&duration=60"),
        ]:
            response = await api.request(
                method, f"/stations/{station.id}/{path}",
                json=CONTRACT_EXAMPLE if method == "POST" else None,
            )
            assert response.status_code == 400
            assert response.json() == expected
        assert station.received == []
        assert await ChargingProfileRecord.objects.acount() == 0


def _profile(**changes) -> dict:
    profile = copy.deepcopy(TX_DEFAULT)
    for path, value in changes.items():
        target = profile
        *parents, leaf = path.split("__")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is ...:
            del target[leaf]
        else:
            target[leaf] = value
    return profile


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"profile": TX_DEFAULT}, ["connector_id: This field is required."]),
        ({"connector_id": "one", "profile": TX_DEFAULT}, ["connector_id:"]),
        ({"connector_id": -1, "profile": TX_DEFAULT}, ["connector_id:"]),
        ({"connector_id": 1}, ["profile: This field is required."]),
        ({"connector_id": 1, "profile": [1, 2]}, ["profile: must be a JSON object"]),
        (
            {"connector_id": 1, "profile": _profile(chargingSchedule=...)},
            ["profile: 'chargingSchedule' is a required property"],
        ),
        (
            {"connector_id": 1, "profile": _profile(chargingProfilePurpose="Whatever")},
            ["profile.chargingProfilePurpose: 'Whatever' is not one of"],
        ),
        (
            {"connector_id": 1,
             "profile": _profile(chargingSchedule__chargingSchedulePeriod__1__limit=8.69)},
            ["profile.chargingSchedule.chargingSchedulePeriod[1].limit:"],
        ),
        (
            {"connector_id": 1,
             "profile": _profile(chargingSchedule__chargingRateUnit="kW", stackLevel="x")},
            ["profile.chargingSchedule.chargingRateUnit:", "profile.stackLevel:"],
        ),
    ],
)
async def test_bad_profile_request_is_400_naming_each_field(csms, api, body, named):
    async with connected_station(csms.ws_url) as station:
        response = await api.post(f"/stations/{station.id}/charging_profile", json=body)
        assert response.status_code == 400, response.text
        detail = response.json()["detail"]
        for text in named:
            assert text in detail
        assert station.received == []
    assert await ChargingProfileRecord.objects.acount() == 0


async def test_malformed_json_is_400(csms, api):
    async with connected_station(csms.ws_url) as station:
        response = await api.post(
            f"/stations/{station.id}/charging_profile",
            content=b'{"connector_id": 1, "profile": {',
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400
        assert "JSON parse error" in response.json()["detail"]
        assert station.received == []


# --- GetCompositeSchedule ------------------------------------------------------------------


async def test_composite_schedule_is_returned_and_recorded(csms, api):
    async with connected_station(csms.ws_url) as station:
        response = await api.get(
            f"/stations/{station.id}/composite_schedule",
            params={"connector_id": 1, "duration": 3600, "charging_rate_unit": "A"},
        )
        body = response.json()
        assert response.status_code == 200
        assert body["status"] == "success"
        assert body["message"] == "Composite schedule retrieved successfully"
        assert body["schedule"] == {
            "duration": 3600,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
        }
        assert body["schedule_start"] == "2026-01-08T10:00:00Z"
        assert station.received == [
            ("GetCompositeSchedule", {"connector_id": 1, "duration": 3600, "unit": "A"})
        ]
        [row] = await records(CompositeScheduleRecord, station.id)
        assert (row.outcome, row.duration, row.charging_rate_unit) == ("success", 3600, "A")
        assert row.schedule == body["schedule"]
        assert row.schedule_start.isoformat() == "2026-01-08T10:00:00+00:00"


async def test_composite_schedule_defaults_to_watts_and_reports_rejection(csms, api):
    async with connected_station(csms.ws_url) as station:
        station.status["GetCompositeSchedule"] = "Rejected"
        body = (
            await api.get(f"/stations/{station.id}/composite_schedule",
                          params={"connector_id": 5, "duration": 60})
        ).json()
        assert body["status"] == "rejected"
        assert body["schedule"] is None
        assert station.received[0][1]["unit"] == "W"
        [row] = await records(CompositeScheduleRecord, station.id)
        assert (row.outcome, row.ocpp_status) == ("rejected", "Rejected")


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"duration": 60}, "connector_id: This field is required."),
        ({"connector_id": 1}, "duration: This field is required."),
        ({"connector_id": 1, "duration": 0}, "duration: Ensure this value is greater than"),
        ({"connector_id": 1, "duration": -5}, "duration:"),
        ({"connector_id": "x", "duration": 60}, "connector_id: A valid integer is required."),
        ({"connector_id": 1, "duration": 60, "charging_rate_unit": "kW"}, "charging_rate_unit:"),
    ],
)
async def test_bad_composite_query_is_400(csms, api, params, named):
    async with connected_station(csms.ws_url) as station:
        response = await api.get(f"/stations/{station.id}/composite_schedule", params=params)
        assert response.status_code == 400
        assert named in response.json()["detail"]
        assert station.received == []


# --- ClearChargingProfile ------------------------------------------------------------------


async def test_clear_passes_filters_and_records_them(csms, api):
    async with connected_station(csms.ws_url) as station:
        body = (
            await api.delete(
                f"/stations/{station.id}/charging_profile",
                params={"connector_id": 1, "purpose": "TxDefaultProfile", "stack_level": 2},
            )
        ).json()
        assert body == {
            "status": "success",
            "station_id": station.id,
            "message": "Charging profiles cleared successfully",
            "filters": {"profile_id": None, "connector_id": 1, "purpose": "TxDefaultProfile",
                        "stack_level": 2},
            "error": None,
            "ocpp_status": "Accepted",
        }
        assert station.received == [
            ("ClearChargingProfile", {"connector_id": 1, "charging_profile_purpose":
                                      "TxDefaultProfile", "stack_level": 2})
        ]
        [row] = await records(ClearRequest, station.id)
        assert row.filters == body["filters"]
        assert row.outcome == "success"


async def test_clear_by_id_and_clear_all(csms, api):
    async with connected_station(csms.ws_url) as station:
        await api.delete(f"/stations/{station.id}/charging_profile", params={"profile_id": 100})
        await api.delete(f"/stations/{station.id}/charging_profile")
        assert station.received == [
            ("ClearChargingProfile", {"id": 100}),
            ("ClearChargingProfile", {}),
        ]


async def test_clear_that_matches_nothing_is_unknown(csms, api):
    async with connected_station(csms.ws_url) as station:
        station.status["ClearChargingProfile"] = "Unknown"
        body = (
            await api.delete(f"/stations/{station.id}/charging_profile", params={"profile_id": 9})
        ).json()
        assert body["status"] == "unknown"
        assert body["ocpp_status"] == "Unknown"
        [row] = await records(ClearRequest, station.id)
        assert row.outcome == "unknown"


async def test_bad_clear_filters_are_400(csms, api):
    async with connected_station(csms.ws_url) as station:
        response = await api.delete(
            f"/stations/{station.id}/charging_profile",
            params={"purpose": "Everything", "stack_level": -1},
        )
        assert response.status_code == 400
        detail = response.json()["detail"]
        assert "purpose:" in detail
        assert "stack_level:" in detail
        assert station.received == []


# --- Logging and the station list --------------------------------------------------------


async def test_contract_log_lines(csms, api, caplog):
    caplog.set_level(logging.INFO)
    async with connected_station(csms.ws_url) as station:
        sid = station.id
        await api.post(f"/stations/{sid}/charging_profile", json=CONTRACT_EXAMPLE)
        await api.get(f"/stations/{sid}/composite_schedule",
                      params={"connector_id": 1, "duration": 60})
        await api.delete(f"/stations/{sid}/charging_profile")
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    for line in [
        f"API: Sending charging profile to {sid}, connector 1",
        f"Profile 100 accepted by {sid}",
        f"API: Requesting composite schedule from {sid}, connector 1",
        f"Composite schedule retrieved from {sid}",
        f"API: Clearing charging profiles from {sid}",
        f"Profiles cleared from {sid}",
    ]:
        assert line in messages


async def test_station_list_and_detail(csms, api):
    async with connected_station(csms.ws_url) as one, connected_station(
        csms.ws_url, feature_profiles="Core"
    ) as two:

        async def configured() -> bool:
            return await Station.objects.filter(configuration_at__isnull=False).acount() == 2

        await wait_until(configured)
        stations = {s["station_id"]: s for s in (await api.get("/stations")).json()}
        assert stations[one.id]["connected"] is True
        assert stations[one.id]["supports_smart_charging"] is True
        assert stations[two.id]["supports_smart_charging"] is False
        assert stations[one.id]["connector_count"] == 2
        assert stations[one.id]["vendor"] == "Tests"
        assert stations[one.id]["last_seen"] is not None
        detail = (await api.get(f"/stations/{one.id}")).json()
        assert detail["model"] == "Scripted"
    missing = await api.get("/stations/NOPE-1")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Station NOPE-1 not found"}
