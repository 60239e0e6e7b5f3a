"""Scenario profiles (``POST /stations/{id}/test_profiles``), validation before sending,
and the CSMS's record of what each station has installed
(``GET /stations/{id}/charging_profiles``, ``POST .../charging_profiles/resync``), driven
against a real OCPP charge point over a real WebSocket whose answers the tests script."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from ocpp.charge_point import snake_to_camel_case
from ocpp.exceptions import InternalError
from ocpp.v16 import call

from profiles.models import ChargingProfileRecord
from profiles.scheduling import parse_datetime
from stations.models import Station
from tests.conftest import wait_until
from tests.support.station import ScriptedStation, connected_station, unique_id

pytestmark = pytest.mark.e2e

UNKNOWN_SCENARIO = (
    "Unknown scenario 'invalid_scenario'. Valid: peak_shaving, time_of_use, energy_cap"
)
ACCEPTED_MESSAGE = "Test profile generated and sent with status: Accepted"
TIME_OF_USE = {
    "scenario": "time_of_use",
    "connector_id": 1,
    "off_peak_w": 11000,
    "peak_w": 7000,
    "peak_start_hour": 9,
    "peak_end_hour": 17,
}


# --- helpers -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def ready_station(csms, **options: Any) -> AsyncIterator[ScriptedStation]:
    """A booted ScriptedStation whose configuration (limits, 2 connectors) the CSMS has
    stored: the station's ``configured`` event fires before the CSMS saves the answer."""
    async with connected_station(csms.ws_url, unique_id("SCN"), **options) as station:

        async def configured() -> bool:
            return await Station.objects.filter(
                station_id=station.id, configuration_at__isnull=False
            ).aexists()

        await wait_until(configured)
        yield station


def sent_profiles(station: ScriptedStation) -> list[tuple[int, dict[str, Any]]]:
    """(connectorId, csChargingProfiles in camelCase) of every SetChargingProfile received."""
    return [
        (payload["connector_id"], snake_to_camel_case(payload["cs_charging_profiles"]))
        for action, payload in station.received
        if action == "SetChargingProfile"
    ]


async def scenario(api: httpx.AsyncClient, station_id: str, **body: Any) -> httpx.Response:
    return await api.post(f"/stations/{station_id}/test_profiles", json=body)


async def ok_scenario(api: httpx.AsyncClient, station_id: str, **body: Any) -> dict[str, Any]:
    response = await scenario(api, station_id, **body)
    assert response.status_code == 200, response.text
    return response.json()


async def send_profile(
    api: httpx.AsyncClient, station_id: str, connector_id: int, profile: dict[str, Any]
) -> dict[str, Any]:
    response = await api.post(
        f"/stations/{station_id}/charging_profile",
        json={"connector_id": connector_id, "profile": profile},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def clear(api: httpx.AsyncClient, station_id: str, **filters: Any) -> dict[str, Any]:
    response = await api.delete(f"/stations/{station_id}/charging_profile", params=filters)
    assert response.status_code == 200, response.text
    return response.json()


async def installed_listing(api: httpx.AsyncClient, station_id: str) -> dict[str, Any]:
    response = await api.get(f"/stations/{station_id}/charging_profiles")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["station_id"] == station_id
    return body


async def installed_rows(api: httpx.AsyncClient, station_id: str) -> list[tuple]:
    """(connector, id, purpose, stack level, transaction, expired, scenario), sorted."""
    body = await installed_listing(api, station_id)
    rows = [
        (c["connector_id"], p["charging_profile_id"], p["purpose"], p["stack_level"],
         p["transaction_id"], p["expired"], p["scenario"])
        for c in body["connectors"]
        for p in c["profiles"]
    ]
    return sorted(rows)


async def installed_profile(api: httpx.AsyncClient, station_id: str, pid: int) -> dict[str, Any]:
    body = await installed_listing(api, station_id)
    [found] = [p for c in body["connectors"] for p in c["profiles"]
               if p["charging_profile_id"] == pid]
    return found


async def history_count(station_id: str) -> int:
    return await ChargingProfileRecord.objects.filter(station__station_id=station_id).acount()


async def start_transaction(station: ScriptedStation, connector_id: int = 1) -> int:
    result = await station.call(
        call.StartTransaction(
            connector_id=connector_id,
            id_tag="T",
            meter_start=0,
            timestamp=datetime.now(UTC).isoformat(),
        )
    )
    assert isinstance(result.transaction_id, int)
    return result.transaction_id


async def stop_transaction(station: ScriptedStation, transaction_id: int) -> None:
    await station.call(
        call.StopTransaction(
            meter_stop=1000,
            timestamp=datetime.now(UTC).isoformat(),
            transaction_id=transaction_id,
        )
    )


def tx_default(pid: int, watts: float, *, stack: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "chargingProfileId": pid,
        "stackLevel": stack,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": watts}],
        },
        **extra,
    }


def cp_max(pid: int, watts: float, *, stack: int = 0) -> dict[str, Any]:
    return {
        "chargingProfileId": pid,
        "stackLevel": stack,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": watts}],
            "startSchedule": "2026-01-01T00:00:00+00:00",
        },
    }


def tx_profile(pid: int, watts: float, transaction_id: int) -> dict[str, Any]:
    profile = tx_default(pid, watts)
    profile["chargingProfilePurpose"] = "TxProfile"
    profile["transactionId"] = transaction_id
    return profile


def utc_midnights(before: datetime, after: datetime) -> set[str]:
    """Today's UTC midnight as the generator writes it (two if the test spans midnight)."""
    return {
        moment.replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
        for moment in (before, after)
    }


# --- 1. each scenario as sent --------------------------------------------------------------


async def test_peak_shaving_is_a_charge_point_max_profile_on_connector_zero(csms, api):
    async with ready_station(csms) as station:
        before = datetime.now(UTC).replace(microsecond=0)
        body = await ok_scenario(api, station.id, scenario="peak_shaving", connector_id=1,
                                 max_power_w=11000)
        after = datetime.now(UTC)
        profile = body["profile"]
        start = parse_datetime(profile["chargingSchedule"]["startSchedule"])
        assert before <= start <= after
        assert profile == {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "ChargePointMaxProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}],
                "startSchedule": start.isoformat(),
            },
        }
        assert body == {
            "status": "success",
            "station_id": station.id,
            "scenario": "peak_shaving",
            "profile": profile,
            "connector_id": 0,
            "send_status": "Accepted",
            "message": ACCEPTED_MESSAGE,
            "error": None,
        }
        # What went over the wire is exactly the profile the answer shows, on connector 0.
        assert sent_profiles(station) == [(0, profile)]


async def test_time_of_use_is_a_daily_tx_default_profile_in_utc(csms, api):
    async with ready_station(csms) as station:
        before = datetime.now(UTC)
        body = await ok_scenario(api, station.id, **TIME_OF_USE)
        after = datetime.now(UTC)
        profile = body["profile"]
        assert profile["chargingSchedule"]["startSchedule"] in utc_midnights(before, after)
        assert profile == {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Recurring",
            "recurrencyKind": "Daily",
            # UTC has no offset change: no validTo.
            "chargingSchedule": {
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 11000},
                    {"startPeriod": 9 * 3600, "limit": 7000},
                    {"startPeriod": 17 * 3600, "limit": 11000},
                ],
                "startSchedule": profile["chargingSchedule"]["startSchedule"],
            },
        }
        assert (body["status"], body["scenario"], body["connector_id"], body["send_status"],
                body["message"], body["error"]) == (
            "success", "time_of_use", 1, "Accepted", ACCEPTED_MESSAGE, None)
        assert sent_profiles(station) == [(1, profile)]


async def test_time_of_use_hours_are_local_to_the_station(csms, api):
    async with ready_station(csms) as station:
        await Station.objects.filter(station_id=station.id).aupdate(time_zone="Europe/Berlin")
        body = await ok_scenario(api, station.id, **TIME_OF_USE)
        [(connector_id, profile)] = sent_profiles(station)
        assert connector_id == 1
        assert profile == body["profile"]
        berlin = ZoneInfo("Europe/Berlin")
        start = parse_datetime(profile["chargingSchedule"]["startSchedule"])
        local = {
            p["limit"]: (start + timedelta(seconds=p["startPeriod"])).astimezone(berlin)
            for p in profile["chargingSchedule"]["chargingSchedulePeriod"][1:]
        }
        assert (local[7000].hour, local[7000].minute, local[7000].second) == (9, 0, 0)
        assert (local[11000].hour, local[11000].minute) == (17, 0)
        assert [p["startPeriod"] for p in profile["chargingSchedule"]["chargingSchedulePeriod"]
                ] == [0, 9 * 3600, 17 * 3600]
        # The schedule starts at local midnight, which is not UTC midnight in Berlin.
        assert start.astimezone(berlin).hour == 0
        assert start.astimezone(UTC).hour in (22, 23)
        # Berlin changes its offset: the profile ends at the next change instead of
        # running an hour off after it.
        valid_to = parse_datetime(profile["validTo"])
        assert valid_to > datetime.now(UTC)
        assert (valid_to - timedelta(seconds=1)).astimezone(berlin).utcoffset() != (
            valid_to.astimezone(berlin).utcoffset())


async def test_energy_cap_is_a_tx_profile_for_the_running_transaction(csms, api):
    async with ready_station(csms) as station:
        transaction_id = await start_transaction(station, 1)
        body = await ok_scenario(
            api, station.id, scenario="energy_cap", connector_id=1,
            transaction_id=transaction_id, max_energy_wh=40000, duration_seconds=14400,
            power_limit_w=11000,
        )
        # 40000 Wh at 11000 W: 13090.9 s, rounded down so the cap is never exceeded.
        expected = {
            "chargingProfileId": 1,
            "transactionId": transaction_id,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {
                "duration": 14400,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 11000},
                    {"startPeriod": 13090, "limit": 0},
                ],
            },
        }
        assert body == {
            "status": "success",
            "station_id": station.id,
            "scenario": "energy_cap",
            "profile": expected,
            "connector_id": 1,
            "send_status": "Accepted",
            "message": ACCEPTED_MESSAGE,
            "error": None,
        }
        assert sent_profiles(station) == [(1, expected)]
        assert 11000 * 13090 / 3600 <= 40000 < 11000 * 13091 / 3600


async def test_a_station_refusing_the_scenario_is_reported(csms, api):
    async with ready_station(csms) as station:
        station.status["SetChargingProfile"] = "Rejected"
        body = await ok_scenario(api, station.id, scenario="peak_shaving", max_power_w=7000)
        assert (body["status"], body["send_status"], body["error"]) == (
            "rejected", "Rejected", None)
        assert body["message"] == "Test profile generated and sent with status: Rejected"
        assert len(sent_profiles(station)) == 1
        assert await installed_rows(api, station.id) == []


# --- 2. refused requests -------------------------------------------------------------------


async def test_contract_400_texts_and_nothing_sent(csms, api):
    async with ready_station(csms) as station:
        response = await scenario(api, station.id, scenario="invalid_scenario", connector_id=1)
        assert response.status_code == 400
        # The contract's text, in the shape every 400 has (api/errors.py).
        assert response.json() == {"detail": UNKNOWN_SCENARIO,
                                   "errors": [{"field": "", "message": UNKNOWN_SCENARIO}]}

        response = await scenario(api, station.id, scenario="peak_shaving", connector_id=1)
        assert response.status_code == 400
        missing = "max_power_w is required for peak_shaving"
        assert response.json() == {"detail": missing,
                                   "errors": [{"field": "", "message": missing}]}

        assert station.received == []
        assert await history_count(station.id) == 0
        # A refused request allocates no chargingProfileId.
        body = await ok_scenario(api, station.id, scenario="peak_shaving", max_power_w=7000)
        assert body["profile"]["chargingProfileId"] == 1


async def test_energy_cap_for_a_transaction_not_running_there_is_refused(csms, api):
    async with ready_station(csms) as station:
        cap = {"scenario": "energy_cap", "max_energy_wh": 30000, "duration_seconds": 7200,
               "power_limit_w": 11000}

        async def refused(transaction_id: int, connector_id: int) -> None:
            response = await scenario(api, station.id, connector_id=connector_id,
                                      transaction_id=transaction_id, **cap)
            assert response.status_code == 400, response.text
            detail = (f"Transaction {transaction_id} is not active on connector "
                      f"{connector_id} of {station.id}")
            assert response.json() == {"detail": detail,
                                       "errors": [{"field": "", "message": detail}]}

        await refused(987_654, 1)  # never seen
        ended = await start_transaction(station, 1)
        await stop_transaction(station, ended)
        await refused(ended, 1)  # ended
        running = await start_transaction(station, 1)
        await refused(running, 2)  # running, on another connector
        assert sent_profiles(station) == []
        assert await history_count(station.id) == 0

        body = await ok_scenario(api, station.id, connector_id=1, transaction_id=running, **cap)
        assert body["status"] == "success"
        assert body["profile"]["transactionId"] == running


async def test_scenario_whose_profile_breaks_a_station_limit_is_400_with_the_path(csms, api):
    async with ready_station(csms) as station:
        response = await scenario(api, station.id, **{**TIME_OF_USE, "connector_id": 3})
        assert response.status_code == 400, response.text
        assert response.json()["errors"] == [{
            "field": "connector_id",
            "message": "must be at most 2, the station's number of connectors (got 3)",
        }]
        assert station.received == []
        assert await history_count(station.id) == 0


# --- 3. chargingProfileId allocation -------------------------------------------------------


async def test_profile_ids_increase_per_station_and_are_never_reused(csms, api):
    async with ready_station(csms) as one, ready_station(csms) as two:
        ids = []
        ids.append((await ok_scenario(api, one.id, scenario="peak_shaving",
                                      max_power_w=11000))["profile"]["chargingProfileId"])
        ids.append((await ok_scenario(api, one.id, **TIME_OF_USE))["profile"]["chargingProfileId"])
        assert ids == [1, 2]

        # Everything cleared: the ids are still not handed out again.
        assert (await clear(api, one.id))["status"] == "success"
        assert await installed_rows(api, one.id) == []
        ids.append((await ok_scenario(api, one.id, scenario="peak_shaving",
                                      max_power_w=9000))["profile"]["chargingProfileId"])
        assert ids == [1, 2, 3]

        # Another station counts on its own.
        first_two = await ok_scenario(api, two.id, scenario="peak_shaving", max_power_w=5000)
        assert first_two["profile"]["chargingProfileId"] == 1

        # A profile the user numbered 500: the next scenario id is above it.
        assert (await send_profile(api, one.id, 1, tx_default(500, 16000, stack=5)))[
            "status"] == "success"
        after_user = await ok_scenario(api, one.id, scenario="peak_shaving", max_power_w=8000)
        assert after_user["profile"]["chargingProfileId"] == 501
        assert [p["chargingProfileId"] for _, p in sent_profiles(one)] == [1, 2, 3, 500, 501]


async def test_concurrent_scenarios_get_distinct_ids(csms, api):
    async with ready_station(csms) as station:
        bodies = [
            {"scenario": "peak_shaving", "max_power_w": 20000},
            {"scenario": "peak_shaving", "max_power_w": 18000},
            {**TIME_OF_USE, "connector_id": 1},
            {**TIME_OF_USE, "connector_id": 1, "peak_w": 6000},
            {**TIME_OF_USE, "connector_id": 2},
            {**TIME_OF_USE, "connector_id": 2, "peak_w": 5000},
        ]
        answers = await asyncio.gather(*(ok_scenario(api, station.id, **b) for b in bodies))
        assert [a["send_status"] for a in answers] == ["Accepted"] * 6
        ids = sorted(a["profile"]["chargingProfileId"] for a in answers)
        assert ids == [1, 2, 3, 4, 5, 6]
        assert sorted(p["chargingProfileId"] for _, p in sent_profiles(station)) == ids
        # Each scenario ran twice in the same slot: one profile per slot remains.
        rows = await installed_rows(api, station.id)
        assert [(r[0], r[2], r[3], r[6]) for r in rows] == [
            (0, "ChargePointMaxProfile", 0, "peak_shaving"),
            (1, "TxDefaultProfile", 0, "time_of_use"),
            (2, "TxDefaultProfile", 0, "time_of_use"),
        ]


# --- 4. stack levels and replacement --------------------------------------------------------


async def test_running_a_scenario_again_replaces_its_own_profile_and_says_so(csms, api):
    async with ready_station(csms) as station:
        first = await ok_scenario(api, station.id, scenario="peak_shaving", max_power_w=11000)
        assert first["message"] == ACCEPTED_MESSAGE
        second = await ok_scenario(api, station.id, scenario="peak_shaving", max_power_w=7000)
        assert second["profile"]["chargingProfileId"] == 2
        assert second["profile"]["stackLevel"] == 0
        assert second["message"] == (
            f"{ACCEPTED_MESSAGE}; replaces profile 1 (peak_shaving) at stack level 0"
        )
        assert await installed_rows(api, station.id) == [
            (0, 2, "ChargePointMaxProfile", 0, None, False, "peak_shaving"),
        ]


async def test_scenario_next_to_a_user_profile_takes_the_level_above(csms, api):
    async with ready_station(csms) as station:
        assert (await send_profile(api, station.id, 1, tx_default(40, 16000)))[
            "status"] == "success"
        body = await ok_scenario(api, station.id, **TIME_OF_USE)
        assert body["profile"]["stackLevel"] == 1
        assert body["message"] == ACCEPTED_MESSAGE  # replaces nothing
        [(_, sent)] = sent_profiles(station)[1:]
        assert sent["stackLevel"] == 1
        assert await installed_rows(api, station.id) == [
            (1, 40, "TxDefaultProfile", 0, None, False, ""),
            (1, 41, "TxDefaultProfile", 1, None, False, "time_of_use"),
        ]
        # A different purpose on the same connector is another stack: level 0 there.
        transaction_id = await start_transaction(station, 1)
        cap = await ok_scenario(
            api, station.id, scenario="energy_cap", connector_id=1,
            transaction_id=transaction_id, max_energy_wh=1000, duration_seconds=3600,
            power_limit_w=7400,
        )
        assert cap["profile"]["stackLevel"] == 0
        assert cap["message"] == ACCEPTED_MESSAGE


async def test_with_every_stack_level_taken_the_top_one_is_replaced_and_named(csms, api):
    async with ready_station(csms) as station:
        for level in range(9):  # ChargeProfileMaxStackLevel 8: levels 0..8
            body = await send_profile(api, station.id, 1,
                                      tx_default(100 + level, 10000 + level, stack=level))
            assert body["status"] == "success"
        body = await ok_scenario(api, station.id, **TIME_OF_USE)
        assert body["profile"]["stackLevel"] == 8
        assert body["message"] == f"{ACCEPTED_MESSAGE}; replaces profile 108 at stack level 8"
        rows = await installed_rows(api, station.id)
        assert [r[1] for r in rows] == [100, 101, 102, 103, 104, 105, 106, 107, 109]
        assert rows[-1] == (1, 109, "TxDefaultProfile", 8, None, False, "time_of_use")


# --- 5. history ----------------------------------------------------------------------------


async def test_history_rows_carry_the_scenario(csms, api):
    async with ready_station(csms) as station:
        await ok_scenario(api, station.id, scenario="peak_shaving", max_power_w=11000)
        await ok_scenario(api, station.id, **TIME_OF_USE)
        await send_profile(api, station.id, 2, tx_default(77, 7000))
        response = await api.get(f"/stations/{station.id}/profile_history")
        assert response.status_code == 200, response.text
        body = response.json()
        rows = body["results"] if isinstance(body, dict) else body
        got = sorted((r["charging_profile_id"], r["scenario"], r["connector_id"], r["outcome"],
                      r["ocpp_status"]) for r in rows)
        assert got == [
            (1, "peak_shaving", 0, "success", "Accepted"),
            (2, "time_of_use", 1, "success", "Accepted"),
            (77, None, 2, "success", "Accepted"),
        ]
        filtered = (await api.get(f"/stations/{station.id}/profile_history",
                                  params={"scenario": "time_of_use"})).json()
        filtered_rows = filtered["results"] if isinstance(filtered, dict) else filtered
        assert [r["charging_profile_id"] for r in filtered_rows] == [2]
        assert filtered_rows[0]["profile"]["chargingProfileKind"] == "Recurring"


# --- 6. validation before sending ----------------------------------------------------------


def _good() -> dict[str, Any]:
    return {
        "chargingProfileId": 60,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 11000},
                {"startPeriod": 3600, "limit": 7000},
                {"startPeriod": 7200, "limit": 9000},
            ],
            "startSchedule": "2026-01-08T10:00:00+00:00",
        },
    }


def _bad(change: str) -> tuple[int, dict[str, Any]]:
    profile = _good()
    connector_id = 1
    schedule = profile["chargingSchedule"]
    if change == "stack":
        profile["stackLevel"] = 9
    elif change == "periods":
        schedule["chargingSchedulePeriod"] = [
            {"startPeriod": i * 600, "limit": 7000} for i in range(25)
        ]
    elif change == "order":
        schedule["chargingSchedulePeriod"][2]["startPeriod"] = 1800
    elif change == "recurring":
        profile["chargingProfileKind"] = "Recurring"
    elif change == "validity":
        profile["validFrom"] = "2030-01-01T12:00:00+00:00"
        profile["validTo"] = "2030-01-01T12:00:00+00:00"
    elif change == "connector":
        connector_id = 3
    return connector_id, profile


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ("stack", "profile.stackLevel",
         "must be at most 8, the station's ChargeProfileMaxStackLevel (got 9)"),
        ("periods", "profile.chargingSchedule.chargingSchedulePeriod",
         "must have at most 24 periods, the station's ChargingScheduleMaxPeriods (got 25)"),
        ("order", "profile.chargingSchedule.chargingSchedulePeriod[2].startPeriod",
         "must be greater than the previous period's (3600)"),
        ("recurring", "profile.recurrencyKind", "is required for a Recurring profile"),
        ("validity", "profile.validTo", "must be after validFrom (2030-01-01T12:00:00+00:00)"),
        ("connector", "connector_id",
         "must be at most 2, the station's number of connectors (got 3)"),
    ],
)
async def test_a_bad_profile_is_refused_with_its_path_and_not_sent(
    csms, api, change, field, message
):
    async with ready_station(csms) as station:
        connector_id, profile = _bad(change)
        response = await api.post(f"/stations/{station.id}/charging_profile",
                                  json={"connector_id": connector_id, "profile": profile})
        assert response.status_code == 400, response.text
        assert response.json() == {
            "detail": f"{field}: {message}",
            "errors": [{"field": field, "message": message}],
        }
        assert station.received == []
        assert await history_count(station.id) == 0
        assert await installed_rows(api, station.id) == []


async def test_every_problem_of_a_profile_is_listed_at_once(csms, api):
    async with ready_station(csms) as station:
        profile = _good()
        profile["stackLevel"] = 9
        profile["chargingProfileKind"] = "Recurring"
        profile["validFrom"] = "2030-01-02T00:00:00+00:00"
        profile["validTo"] = "2030-01-01T00:00:00+00:00"
        profile["chargingSchedule"]["chargingSchedulePeriod"][2]["startPeriod"] = 3600
        response = await api.post(f"/stations/{station.id}/charging_profile",
                                  json={"connector_id": 3, "profile": profile})
        assert response.status_code == 400, response.text
        errors = {(e["field"], e["message"]) for e in response.json()["errors"]}
        assert errors == {
            ("connector_id", "must be at most 2, the station's number of connectors (got 3)"),
            ("profile.stackLevel",
             "must be at most 8, the station's ChargeProfileMaxStackLevel (got 9)"),
            ("profile.recurrencyKind", "is required for a Recurring profile"),
            ("profile.validTo", "must be after validFrom (2030-01-02T00:00:00+00:00)"),
            ("profile.chargingSchedule.chargingSchedulePeriod[2].startPeriod",
             "must be greater than the previous period's (3600)"),
        }
        assert station.received == []
        assert await history_count(station.id) == 0


async def test_the_limit_check_uses_what_this_station_reported(csms, api):
    """A station with one connector: connector 2 is refused there, not on a 2-connector one."""
    async with ready_station(csms, number_of_connectors=1) as station:
        response = await api.post(f"/stations/{station.id}/charging_profile",
                                  json={"connector_id": 2, "profile": _good()})
        assert response.status_code == 400
        assert response.json()["errors"] == [{
            "field": "connector_id",
            "message": "must be at most 1, the station's number of connectors (got 2)",
        }]
        assert station.received == []


# --- 7. the installed record ---------------------------------------------------------------


async def test_installed_record_follows_set_replace_reject_and_clear(csms, api):
    async with ready_station(csms) as station:
        sid = station.id
        assert await installed_rows(api, sid) == []

        # Set.
        assert (await send_profile(api, sid, 1, tx_default(10, 16000, stack=1)))[
            "status"] == "success"
        assert await installed_rows(api, sid) == [
            (1, 10, "TxDefaultProfile", 1, None, False, "")]
        listed = await installed_profile(api, sid, 10)
        assert listed["profile"] == tx_default(10, 16000, stack=1)
        assert (listed["valid_to"], listed["expired"]) == (None, False)

        # Same id, another connector and level: replaces it wherever it was.
        assert (await send_profile(api, sid, 2, tx_default(10, 15000, stack=2)))[
            "status"] == "success"
        assert await installed_rows(api, sid) == [
            (2, 10, "TxDefaultProfile", 2, None, False, "")]
        assert (await installed_profile(api, sid, 10))["profile"] == tx_default(
            10, 15000, stack=2)

        # Same stack level, purpose and connector, new id: replaces it too.
        assert (await send_profile(api, sid, 2, tx_default(11, 14000, stack=2)))[
            "status"] == "success"
        # Same level and purpose on another connector, and a ChargePointMaxProfile at
        # the same level: neither replaces anything.
        assert (await send_profile(api, sid, 1, tx_default(12, 13000, stack=2)))[
            "status"] == "success"
        assert (await send_profile(api, sid, 0, cp_max(13, 20000, stack=2)))[
            "status"] == "success"
        expected = [
            (0, 13, "ChargePointMaxProfile", 2, None, False, ""),
            (1, 12, "TxDefaultProfile", 2, None, False, ""),
            (2, 11, "TxDefaultProfile", 2, None, False, ""),
        ]
        assert await installed_rows(api, sid) == expected

        # Rejected: nothing changes, neither by slot nor by id.
        station.status["SetChargingProfile"] = "Rejected"
        for connector_id, body in [(2, tx_default(14, 1000, stack=2)),
                                   (1, tx_default(11, 1000, stack=5))]:
            answer = await send_profile(api, sid, connector_id, body)
            assert (answer["status"], answer["ocpp_status"]) == ("rejected", "Rejected")
        station.status["SetChargingProfile"] = "Accepted"
        assert await installed_rows(api, sid) == expected
        assert (await installed_profile(api, sid, 11))["profile"] == tx_default(
            11, 14000, stack=2)

        # A clear the station answers Unknown removes nothing.
        station.status["ClearChargingProfile"] = "Unknown"
        assert (await clear(api, sid))["status"] == "unknown"
        assert (await clear(api, sid, profile_id=11))["status"] == "unknown"
        assert await installed_rows(api, sid) == expected
        station.status["ClearChargingProfile"] = "Accepted"

        # Nor does a clear that fails (a CALLERROR).
        station.errors["ClearChargingProfile"] = InternalError(description="busy")
        failed = await clear(api, sid, profile_id=11)
        assert (failed["status"], failed["error"]) == ("error", "CALLERROR InternalError: busy")
        assert await installed_rows(api, sid) == expected
        del station.errors["ClearChargingProfile"]

        # Clear by id (Accepted): only that one.
        assert (await clear(api, sid, profile_id=11))["status"] == "success"
        assert await installed_rows(api, sid) == expected[:2]

        # With an id the other filters are ignored: profile 13 is a ChargePointMaxProfile
        # on connector 0, yet clearing id 13 "on connector 1 for TxDefaultProfile" removes it.
        assert (await clear(api, sid, profile_id=13, connector_id=1,
                            purpose="TxDefaultProfile"))["status"] == "success"
        assert await installed_rows(api, sid) == [expected[1]]

        # Without an id, every given filter must match.
        assert (await send_profile(api, sid, 2, tx_default(15, 9000, stack=3)))[
            "status"] == "success"
        assert (await clear(api, sid, connector_id=1, purpose="TxDefaultProfile",
                            stack_level=3))["status"] == "success"
        assert [r[1] for r in await installed_rows(api, sid)] == [12, 15]
        assert (await clear(api, sid, purpose="TxDefaultProfile", stack_level=2))[
            "status"] == "success"
        assert [r[1] for r in await installed_rows(api, sid)] == [15]
        assert [p for a, p in station.received if a == "ClearChargingProfile"] == [
            {},
            {"id": 11},
            {"id": 11},
            {"id": 11},
            {"id": 13, "connector_id": 1, "charging_profile_purpose": "TxDefaultProfile"},
            {"connector_id": 1, "charging_profile_purpose": "TxDefaultProfile", "stack_level": 3},
            {"charging_profile_purpose": "TxDefaultProfile", "stack_level": 2},
        ]


async def test_tx_profile_ends_with_its_transaction(csms, api):
    async with ready_station(csms) as station:
        sid = station.id
        transaction_id = await start_transaction(station, 1)
        assert (await send_profile(api, sid, 1, tx_profile(20, 7000, transaction_id)))[
            "status"] == "success"
        assert (await send_profile(api, sid, 1, tx_default(21, 11000)))["status"] == "success"
        assert await installed_rows(api, sid) == [
            (1, 20, "TxProfile", 0, transaction_id, False, ""),
            (1, 21, "TxDefaultProfile", 0, None, False, ""),
        ]
        await stop_transaction(station, transaction_id)

        async def dropped() -> bool:
            return [r[1] for r in await installed_rows(api, sid)] == [21]

        await wait_until(dropped)


async def test_tx_profile_of_a_superseded_transaction_is_dropped(csms, api):
    async with ready_station(csms) as station:
        sid = station.id
        first = await start_transaction(station, 1)
        assert (await send_profile(api, sid, 1, tx_profile(22, 7000, first)))[
            "status"] == "success"
        # The station starts another transaction on the same connector without a
        # StopTransaction for the first (lost, or the station rebooted): the CSMS ends the
        # first one; the station has discarded its TxProfile.
        second = await start_transaction(station, 1)
        assert second != first
        assert await installed_rows(api, sid) == []


async def test_expired_profile_is_listed_expired_and_not_resynced(csms, api):
    async with ready_station(csms) as station:
        sid = station.id
        valid_to = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        short = tx_default(30, 9000, stack=1, validTo=valid_to.isoformat())
        assert (await send_profile(api, sid, 1, short))["status"] == "success"
        listed = await installed_profile(api, sid, 30)
        assert listed["expired"] is False
        assert parse_datetime(listed["valid_to"]) == valid_to

        async def expired() -> bool:
            return (await installed_profile(api, sid, 30))["expired"] is True

        await wait_until(expired, timeout=5, interval=0.2)
        assert datetime.now(UTC) >= valid_to
        assert await installed_rows(api, sid) == [
            (1, 30, "TxDefaultProfile", 1, None, True, "")]


async def test_resync_resends_what_is_installed_except_expired_and_tx_profiles(csms, api):
    async with ready_station(csms) as station:
        sid = station.id
        transaction_id = await start_transaction(station, 1)
        await ok_scenario(api, sid, scenario="peak_shaving", max_power_w=20000)  # id 1
        await ok_scenario(api, sid, **{**TIME_OF_USE, "connector_id": 2})  # id 2
        sent_before = {p["chargingProfileId"]: (c, p) for c, p in sent_profiles(station)}
        kept = tx_default(50, 12000, stack=3)
        valid_to = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        short = tx_default(51, 8000, stack=4, validTo=valid_to.isoformat())
        for connector_id, profile in [(1, kept), (1, short),
                                      (1, tx_profile(52, 7000, transaction_id))]:
            assert (await send_profile(api, sid, connector_id, profile))["status"] == "success"

        async def expired() -> bool:
            return (await installed_profile(api, sid, 51))["expired"] is True

        await wait_until(expired, timeout=5, interval=0.2)
        station.received.clear()

        response = await api.post(f"/stations/{sid}/charging_profiles/resync")
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["station_id"], body["total"], body["succeeded"]) == (sid, 3, 3)
        assert sorted((r["profile_id"], r["connector_id"], r["status"], r["ocpp_status"])
                      for r in body["results"]) == [
            (1, 0, "success", "Accepted"), (2, 2, "success", "Accepted"),
            (50, 1, "success", "Accepted"),
        ]
        resent = sorted(sent_profiles(station), key=lambda item: item[1]["chargingProfileId"])
        assert resent == [sent_before[1], sent_before[2], (1, kept)]
        # Resent scenario profiles keep their scenario in the record and the history.
        rows = await installed_rows(api, sid)
        assert [(r[1], r[6]) for r in rows if r[1] in (1, 2)] == [(1, "peak_shaving"),
                                                                 (2, "time_of_use")]
        assert await ChargingProfileRecord.objects.filter(
            station__station_id=sid, scenario="peak_shaving").acount() == 2


async def test_installed_record_of_an_unknown_station_is_404(csms, api):
    missing = unique_id("NOPE")
    response = await api.get(f"/stations/{missing}/charging_profiles")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Station {missing} not found"}

