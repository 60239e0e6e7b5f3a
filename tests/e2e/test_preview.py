"""Schedule previews (``GET``/``POST /stations/{id}/schedule_preview``): the composite
schedule the CSMS computes from its own record, with nothing sent, and how it compares
with what stations report (``matches_preview`` of ``GET composite_schedule``), against a
scripted OCPP charge point and against the simulator hosted by the server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from profiles.models import ChargingProfileRecord, CompositeScheduleRecord
from profiles.scheduling import parse_datetime
from stations import simulation
from stations.models import Station
from tests.conftest import wait_until
from tests.support.station import ScriptedStation, connected_station, unique_id

pytestmark = pytest.mark.e2e

RATED_W = 22_080.0  # Station.connector_max_power_w's default, and the simulator's
StartHosted = Callable[..., Awaitable[str]]


# --- helpers -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def ready_station(csms, **options: Any) -> AsyncIterator[ScriptedStation]:
    """A booted ScriptedStation whose configuration the CSMS has stored."""
    async with connected_station(csms.ws_url, unique_id("PRV"), **options) as station:

        async def configured() -> bool:
            return await Station.objects.filter(
                station_id=station.id, configuration_at__isnull=False
            ).aexists()

        await wait_until(configured)
        yield station


def profile(
    pid: int,
    purpose: str,
    periods: list[tuple[int, float]],
    *,
    stack: int = 0,
    start: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Relative unless ``start`` is given (then Absolute from it)."""
    schedule: dict[str, Any] = {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": w} for s, w in periods],
    }
    if start is not None:
        schedule["startSchedule"] = start.isoformat()
    return {
        "chargingProfileId": pid,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute" if start is not None else "Relative",
        "chargingSchedule": schedule,
        **extra,
    }


async def send(api: httpx.AsyncClient, station_id: str, connector_id: int,
               body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(
        f"/stations/{station_id}/charging_profile",
        json={"connector_id": connector_id, "profile": body},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "success", answer
    return answer


async def preview(api: httpx.AsyncClient, station_id: str, **params: Any) -> dict[str, Any]:
    response = await api.get(f"/stations/{station_id}/schedule_preview", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def candidate(api: httpx.AsyncClient, station_id: str, **body: Any) -> dict[str, Any]:
    response = await api.post(f"/stations/{station_id}/schedule_preview", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def composite(api: httpx.AsyncClient, station_id: str, **params: Any) -> dict[str, Any]:
    response = await api.get(f"/stations/{station_id}/composite_schedule", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success", body
    return body


def periods(schedule: dict[str, Any]) -> list[tuple]:
    return [(p["startPeriod"], p["limit"], p.get("numberPhases"))
            for p in schedule["chargingSchedulePeriod"]]


async def installed_ids(api: httpx.AsyncClient, station_id: str) -> list[int]:
    body = (await api.get(f"/stations/{station_id}/charging_profiles")).json()
    return sorted(p["charging_profile_id"] for c in body["connectors"] for p in c["profiles"])


# --- 1. GET schedule_preview ---------------------------------------------------------------


async def test_preview_of_a_simple_cap_gives_the_energy_and_the_time(csms, api):
    async with ready_station(csms) as station:
        sid = station.id
        ev = {"connector_id": 1, "duration": 3600, "ev_max_power_w": 11000, "energy_wh": 3500}

        # Nothing installed: the connector's rated maximum, not from any profile.
        before = datetime.now(UTC).replace(microsecond=0)
        body = await preview(api, sid, **ev)
        start = parse_datetime(body["schedule_start"])
        assert before <= start <= datetime.now(UTC)
        assert body == {
            "station_id": sid,
            "connector_id": 1,
            "schedule_start": body["schedule_start"],
            "schedule": {"duration": 3600, "chargingRateUnit": "W",
                         "chargingSchedulePeriod": [{"startPeriod": 0, "limit": RATED_W}]},
            "periods_from_profiles": [False],
            "energy_wh": 11000.0,  # the EV's own 11 kW for an hour
            "seconds_to_energy": 1146,  # 3500 Wh at 11 kW: 1145.45 s, rounded up
        }

        await send(api, sid, 1, profile(40, "TxDefaultProfile", [(0, 7000)]))
        body = await preview(api, sid, **ev)
        assert body["schedule"] == {"duration": 3600, "chargingRateUnit": "W",
                                    "chargingSchedulePeriod": [{"startPeriod": 0,
                                                                "limit": 7000.0}]}
        assert body["periods_from_profiles"] == [True]
        assert body["energy_wh"] == 7000.0  # 7 kW cap x 1 h
        assert body["seconds_to_energy"] == 1800  # 3500 Wh at 7 kW

        # An EV slower than the cap gets its own power; energy beyond the window: null.
        slow = await preview(api, sid, connector_id=1, duration=3600, ev_max_power_w=5000,
                             energy_wh=20000)
        assert (slow["energy_wh"], slow["seconds_to_energy"]) == (5000.0, None)
        # No EV power asked: no energy figures.
        plain = await preview(api, sid, connector_id=1, duration=600)
        assert (plain["energy_wh"], plain["seconds_to_energy"]) == (None, None)
        assert plain["schedule"]["duration"] == 600

        # The same cap in A: 7000 W / (230 V x 3) = 10.14 A, rounded down to 10.1.
        amps = await preview(api, sid, connector_id=1, duration=3600, charging_rate_unit="A")
        assert periods(amps["schedule"]) == [(0, 10.1, 3)]
        assert amps["schedule"]["chargingRateUnit"] == "A"
        # Connector 2 has no profile; connector 0 is both connectors together.
        other = await preview(api, sid, connector_id=2, duration=3600)
        assert (periods(other["schedule"]), other["periods_from_profiles"]) == (
            [(0, RATED_W, None)], [False])
        whole = await preview(api, sid, connector_id=0, duration=3600)
        assert periods(whole["schedule"]) == [(0, 7000.0 + RATED_W, None)]

        # A preview asks the station nothing and records nothing.
        assert [a for a, _ in station.received] == ["SetChargingProfile"]
        assert await CompositeScheduleRecord.objects.filter(
            station__station_id=sid).acount() == 0


async def test_preview_follows_stack_levels_and_the_charge_point_cap(csms, api):
    async with ready_station(csms) as station:
        sid = station.id
        await send(api, sid, 1, profile(1, "TxDefaultProfile", [(0, 16000), (1800, 9000)]))
        short = profile(2, "TxDefaultProfile", [(0, 18000)], stack=1)
        short["chargingSchedule"]["duration"] = 600
        await send(api, sid, 1, short)
        await send(api, sid, 0, profile(3, "ChargePointMaxProfile", [(0, 12000)],
                                        start=datetime(2026, 1, 1, tzinfo=UTC)))
        body = await preview(api, sid, connector_id=1, duration=3600, ev_max_power_w=22000)
        # Stack 1 decides for its 600 s (18 kW, capped to 12 kW by the station cap), then
        # stack 0: 16 kW capped to 12 kW, then 9 kW from 1800 s.
        assert periods(body["schedule"]) == [(0, 12000.0, None), (1800, 9000.0, None)]
        assert body["energy_wh"] == 12000 * 0.5 + 9000 * 0.5


async def test_preview_of_an_unknown_station_is_404(csms, api):
    missing = unique_id("NOPE")
    for response in [
        await api.get(f"/stations/{missing}/schedule_preview",
                      params={"connector_id": 1, "duration": 60}),
        await api.post(f"/stations/{missing}/schedule_preview",
                       json={"connector_id": 1, "profile": profile(1, "TxDefaultProfile",
                                                                   [(0, 1000)])}),
    ]:
        assert response.status_code == 404
        assert response.json() == {"detail": f"Station {missing} not found"}


# --- 2. POST schedule_preview: a candidate -------------------------------------------------


async def test_candidate_preview_shows_before_and_after_and_sends_nothing(csms, api):
    async with ready_station(csms) as station:
        sid = station.id
        await send(api, sid, 1, profile(500, "TxDefaultProfile", [(0, 7000)]))
        station.received.clear()
        common = {"connector_id": 1, "duration": 3600, "ev_max_power_w": 11000,
                  "energy_wh": 3500}

        # Same purpose, connector and stack level: it would replace profile 500.
        body = await candidate(api, sid, **common,
                               profile=profile(501, "TxDefaultProfile", [(0, 5000)]))
        assert (body["station_id"], body["connector_id"], body["valid"], body["problems"]) == (
            sid, 1, True, [])
        before, after = body["before"], body["after"]
        assert (periods(before["schedule"]), before["energy_wh"],
                before["seconds_to_energy"]) == ([(0, 7000.0, None)], 7000.0, 1800)
        assert (periods(after["schedule"]), after["energy_wh"],
                after["seconds_to_energy"]) == ([(0, 5000.0, None)], 5000.0, 2520)
        assert before["schedule_start"] == after["schedule_start"]

        # A higher stack level decides even with a higher limit; the EV is the bound.
        body = await candidate(api, sid, **common,
                               profile=profile(502, "TxDefaultProfile", [(0, 16000)], stack=1))
        assert periods(body["after"]["schedule"]) == [(0, 16000.0, None)]
        assert body["after"]["energy_wh"] == 11000.0

        # A station cap goes on connector 0 whatever connector the request names.
        body = await candidate(api, sid, **common, profile=profile(
            503, "ChargePointMaxProfile", [(0, 4000)], start=datetime(2026, 1, 1, tzinfo=UTC)))
        assert periods(body["after"]["schedule"]) == [(0, 4000.0, None)]

        # Nothing was sent, recorded or installed by any of it.
        assert station.received == []
        assert await ChargingProfileRecord.objects.filter(
            station__station_id=sid).acount() == 1
        assert await installed_ids(api, sid) == [500]
        assert periods((await preview(api, sid, connector_id=1, duration=3600))["schedule"]) == [
            (0, 7000.0, None)]


async def test_candidate_preview_lists_every_problem_with_its_path(csms, api):
    async with ready_station(csms) as station:
        bad = profile(9, "TxDefaultProfile", [(0, 7000), (3600, 5000), (1800, 4000)], stack=9,
                      start=datetime(2026, 1, 1, tzinfo=UTC))
        body = await candidate(api, station.id, connector_id=3, duration=3600,
                               ev_max_power_w=11000, profile=bad)
        assert body["valid"] is False
        assert body["after"] is None
        assert sorted((p["field"], p["message"]) for p in body["problems"]) == sorted([
            ("connector_id", "must be at most 2, the station's number of connectors (got 3)"),
            ("profile.stackLevel",
             "must be at most 8, the station's ChargeProfileMaxStackLevel (got 9)"),
            ("profile.chargingSchedule.chargingSchedulePeriod[2].startPeriod",
             "must be greater than the previous period's (3600)"),
        ])
        # "before" still shows what the connector has now.
        assert periods(body["before"]["schedule"]) == [(0, RATED_W, None)]
        assert body["before"]["energy_wh"] == 11000.0
        assert station.received == []
        assert await ChargingProfileRecord.objects.filter(
            station__station_id=station.id).acount() == 0


# --- 3. matches_preview against a scripted station -----------------------------------------


async def test_matches_preview_says_whether_the_station_agrees(csms, api):
    """The scripted station always reports 11000 W from second 0, at a fixed
    scheduleStart (2026-01-08T10:00:00Z): the CSMS computes its preview for that moment."""
    async with ready_station(csms) as station:
        sid = station.id
        # The CSMS expects the rated 22080 W: the station's 11000 W disagrees.
        body = await composite(api, sid, connector_id=1, duration=3600)
        assert periods(body["schedule"]) == [(0, 11000.0, None)]
        assert body["matches_preview"] is False

        # Valid from before the station's scheduleStart (otherwise: from receipt, now).
        await send(api, sid, 1, profile(8, "TxDefaultProfile", [(0, 11000)],
                                        validFrom="2026-01-01T00:00:00+00:00"))
        body = await composite(api, sid, connector_id=1, duration=3600)
        assert body["matches_preview"] is True

        rows = [r async for r in CompositeScheduleRecord.objects.filter(
            station__station_id=sid).order_by("id")]
        assert [r.matches_preview for r in rows] == [False, True]
        assert [periods(r.preview) for r in rows] == [[(0, RATED_W, None)],
                                                      [(0, 11000.0, None)]]


# --- 4. preview against the simulator ------------------------------------------------------


@pytest.fixture
async def start_hosted(csms, api, settings) -> AsyncIterator[StartHosted]:
    """Start simulated stations through ``POST /simulator/stations``; stopped at teardown."""
    settings.SIMULATOR_CSMS_URL = csms.ws_url
    started: list[str] = []

    async def start(**body: Any) -> str:
        station_id = unique_id("PSIM")
        response = await api.post("/simulator/stations", json={
            "station_ids": [station_id], "sample_interval": 0.5, **body})
        assert response.status_code == 201, response.text
        started.append(station_id)

        async def ready() -> bool:
            hosted = simulation.get(station_id)
            return (
                hosted is not None
                and hosted.registered
                and await Station.objects.filter(
                    station_id=station_id, connected=True, configuration_at__isnull=False
                ).aexists()
            )

        await wait_until(ready, timeout=10)
        return station_id

    yield start
    for station_id in started:
        await api.delete(f"/simulator/stations/{station_id}")


async def test_preview_agrees_with_the_simulated_station(csms, api, start_hosted):
    sid = await start_hosted()
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    # Breakpoints that do not depend on the second of the question: a station cap that
    # began an hour ago, and a Relative default counting from the question (no EV).
    await send(api, sid, 0, profile(1, "ChargePointMaxProfile", [(0, 13000)], start=past))
    await send(api, sid, 1, profile(2, "TxDefaultProfile", [(0, 16000), (1200, 11000)]))
    await send(api, sid, 0, profile(3, "TxDefaultProfile", [(0, 6000)], stack=0))

    expected = {
        # Connector 1: its own default (16 kW capped to 13 kW, then 11 kW) replaces the
        # station-wide 6 kW default.
        (1, "W"): [(0, 13000.0, None), (1200, 11000.0, None)],
        # One connector: the station total is that connector's.
        (0, "W"): [(0, 13000.0, None), (1200, 11000.0, None)],
        # In A at 230 V x 3 phases, rounded down: 18.84 -> 18.8, 15.94 -> 15.9.
        (1, "A"): [(0, 18.8, 3), (1200, 15.9, 3)],
    }
    for (connector_id, unit), want in expected.items():
        query = {"connector_id": connector_id, "duration": 3600, "charging_rate_unit": unit}
        reported = await composite(api, sid, **query)
        assert reported["matches_preview"] is True, (connector_id, unit, reported)
        assert periods(reported["schedule"]) == want, (connector_id, unit)
        computed = await preview(api, sid, **query)
        assert periods(computed["schedule"]) == want, (connector_id, unit)
        assert computed["schedule"] == reported["schedule"]


async def test_preview_agrees_with_the_simulator_on_the_scenarios(csms, api, start_hosted):
    sid = await start_hosted()
    plugged = await api.post(f"/simulator/stations/{sid}/ev",
                             json={"connector_id": 1, "energy_wh": 1_000_000,
                                   "ev_max_w": 11_000})
    assert plugged.status_code == 200, plugged.text
    transaction_id = plugged.json()["transaction_id"]

    scenarios = [
        {"scenario": "peak_shaving", "connector_id": 1, "max_power_w": 20000},
        {"scenario": "time_of_use", "connector_id": 1, "off_peak_w": 11000, "peak_w": 7000,
         "peak_start_hour": 9, "peak_end_hour": 17},
        {"scenario": "energy_cap", "connector_id": 1, "transaction_id": transaction_id,
         "max_energy_wh": 40000, "duration_seconds": 14400, "power_limit_w": 11000},
    ]
    for body in scenarios:
        response = await api.post(f"/stations/{sid}/test_profiles", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["send_status"] == "Accepted", response.json()
    hosted = simulation.get(sid)
    assert hosted is not None
    assert sorted(i.profile.charging_profile_id for i in hosted.installed_profiles) == [1, 2, 3]
    assert await installed_ids(api, sid) == [1, 2, 3]

    # A whole day, so every time_of_use change and the energy cap's switch to 0 W fall
    # inside: the station's own schedule and the CSMS's computation must agree.
    for connector_id in (1, 0):
        reported = await composite(api, sid, connector_id=connector_id, duration=86400)
        assert reported["matches_preview"] is True, reported
        limits = [p["limit"] for p in reported["schedule"]["chargingSchedulePeriod"]]
        # The energy cap's 11 kW under the 20 kW station cap, from the transaction's start;
        # the schedule starts on the whole second before it, which may still be off-peak or
        # peak time-of-use for that fraction of a second.
        assert 11000.0 in limits[:2]
        assert 0.0 in limits  # the energy cap reached
    row = await CompositeScheduleRecord.objects.filter(
        station__station_id=sid, connector_id=1).aget()
    assert row.matches_preview is True
    assert row.preview == row.schedule
