"""Simulated stations hosted by the server (``/simulator/stations``) driven through the
contract's REST API: the server and its own simulated charge points talk over real
WebSockets, and what the stations enforce is checked against what the CSMS reports."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from profiles.scheduling import (
    ActiveTransaction,
    ChargingProfile,
    InstalledProfile,
    composite_schedule,
    parse_datetime,
)
from stations import simulation
from stations.models import Station
from tests.conftest import wait_until
from tests.support.station import unique_id

pytestmark = pytest.mark.e2e

SAMPLE_S = 0.2
MAX_POWER_W = 22_080.0  # the simulator's default rated power per connector
StartHosted = Callable[..., Awaitable[str]]


def profile(
    pid: int,
    purpose: str,
    periods: list[tuple[int, float]] | list[dict[str, Any]],
    *,
    stack: int = 0,
    kind: str = "Absolute",
    unit: str = "W",
    start: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [
            p if isinstance(p, dict) else {"startPeriod": p[0], "limit": p[1]} for p in periods
        ],
    }
    if start is not None:
        schedule["startSchedule"] = start.isoformat()
    if "duration" in extra:
        schedule["duration"] = extra.pop("duration")
    return {
        "chargingProfileId": pid,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": schedule,
        **extra,
    }


def cp_max(pid: int, watts: float, stack: int = 0) -> dict[str, Any]:
    return profile(pid, "ChargePointMaxProfile", [(0, watts)], stack=stack)


def tx_default(pid: int, watts: float, stack: int = 0) -> dict[str, Any]:
    return profile(pid, "TxDefaultProfile", [(0, watts)], stack=stack)


async def station_row(api: httpx.AsyncClient, station_id: str) -> dict[str, Any]:
    response = await api.get(f"/stations/{station_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def listed(api: httpx.AsyncClient, station_id: str) -> dict[str, Any] | None:
    response = await api.get("/stations")
    assert response.status_code == 200
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return next((row for row in rows if row["station_id"] == station_id), None)


async def hosted_view(api: httpx.AsyncClient, station_id: str) -> dict[str, Any]:
    response = await api.get(f"/simulator/stations/{station_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def send(api: httpx.AsyncClient, station_id: str, connector_id: int, body: dict) -> dict:
    response = await api.post(
        f"/stations/{station_id}/charging_profile",
        json={"connector_id": connector_id, "profile": body},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def clear(api: httpx.AsyncClient, station_id: str, **filters: Any) -> dict:
    response = await api.delete(f"/stations/{station_id}/charging_profile", params=filters)
    assert response.status_code == 200, response.text
    return response.json()


async def simulator_lines(api: httpx.AsyncClient, station_id: str) -> list[str]:
    response = await api.get(f"/stations/{station_id}/logs", params={"limit": 5000})
    assert response.status_code == 200, response.text
    return [row["message"] for row in response.json() if row["source"] == "simulator"]


def connector(row: dict[str, Any], connector_id: int) -> dict[str, Any] | None:
    return next((c for c in row["connectors"] if c["connector_id"] == connector_id), None)


def installed_ids(station_id: str) -> list[int]:
    """Profile ids the hosted station holds (a read of its state; it lives in the server's
    event loop, and reading a property from here is safe)."""
    station = simulation.get(station_id)
    assert station is not None
    return sorted(i.profile.charging_profile_id for i in station.installed_profiles)


@pytest.fixture
async def start_hosted(csms, api, settings) -> AsyncIterator[StartHosted]:
    """Start a station through ``POST /simulator/stations`` and wait until the CSMS has
    its boot and configuration; every station started is stopped at teardown."""
    settings.SIMULATOR_CSMS_URL = csms.ws_url
    started: list[str] = []

    async def start(**body: Any) -> str:
        station_id = unique_id("SIM")
        body = {"station_ids": [station_id], "sample_interval": SAMPLE_S, **body}
        response = await api.post("/simulator/stations", json=body)
        assert response.status_code == 201, response.text
        assert response.json() == {"station_ids": [station_id], "url": csms.ws_url}
        started.append(station_id)

        async def ready() -> bool:
            row = await listed(api, station_id)
            hosted = simulation.get(station_id)
            return (
                row is not None
                and row["connected"] is True
                and row["supports_smart_charging"] is not None
                and hosted is not None
                and hosted.registered
            )

        await wait_until(ready, timeout=10, interval=0.05)
        return station_id

    yield start
    for station_id in started:
        response = await api.delete(f"/simulator/stations/{station_id}")
        if response.status_code not in (204, 404):  # never leave one running for the next test
            stopping = asyncio.run_coroutine_threadsafe(simulation.stop(station_id), csms.loop)
            await asyncio.wrap_future(stopping)


# --- 1. start, list, drive -----------------------------------------------------------------


async def test_started_station_is_listed_connected_and_can_be_driven(csms, api, start_hosted):
    station_id = await start_hosted()

    row = await listed(api, station_id)
    assert row is not None
    assert row["connected"] is True
    assert row["supports_smart_charging"] is True
    assert "SmartCharging" in row["feature_profiles"]
    assert (row["vendor"], row["model"], row["serial_number"]) == (
        "PySim", "SimCharger-22", f"SN-{station_id}"
    )
    assert row["charge_profile_max_stack_level"] == 8
    assert row["charging_schedule_max_periods"] == 24

    simulated = (await api.get("/simulator/stations")).json()
    [entry] = [s for s in simulated if s["station_id"] == station_id]
    assert entry == {
        "station_id": station_id,
        "url": f"{csms.ws_url}/{station_id}",
        "connected": True,
        "registered": True,
        "smart_charging": True,
        "installed_profiles": 0,
        "connectors": [{
            "connector_id": 1,
            "status": "Available",
            "power_w": 0.0,
            "limit_w": MAX_POWER_W,
            "energy_wh": 0.0,
            "transaction_id": None,
        }],
    }

    # The same id cannot be started twice in this process.
    again = await api.post("/simulator/stations", json={"station_ids": [station_id]})
    assert again.status_code == 400
    assert again.json()["errors"] == [{
        "field": "station_ids", "message": f"Simulated station {station_id} already running"
    }]

    body = await send(api, station_id, 1, tx_default(40, 11_000))
    assert body == {
        "status": "success",
        "station_id": station_id,
        "connector_id": 1,
        "profile_id": 40,
        "message": "Charging profile 40 sent successfully",
        "error": None,
        "ocpp_status": "Accepted",
    }
    assert installed_ids(station_id) == [40]
    view = await hosted_view(api, station_id)
    assert view["installed_profiles"] == 1
    # No EV plugged in, but the limit the station now applies is the profile's.
    assert view["connectors"][0]["limit_w"] == 11_000.0


async def test_count_and_prefix_start_numbered_stations(csms, api, start_hosted):
    # (start_hosted points SIMULATOR_CSMS_URL at the live server; not called here.)
    prefix = f"{unique_id('FLT')}-"
    response = await api.post(
        "/simulator/stations",
        json={"count": 2, "prefix": prefix, "first": 7, "sample_interval": SAMPLE_S},
    )
    assert response.status_code == 201, response.text
    ids = [f"{prefix}0007", f"{prefix}0008"]
    assert response.json()["station_ids"] == ids
    try:
        async def all_connected() -> bool:
            rows = [await listed(api, i) for i in ids]
            return all(r is not None and r["connected"] is True for r in rows)

        await wait_until(all_connected, timeout=10, interval=0.05)
        simulated = {s["station_id"] for s in (await api.get("/simulator/stations")).json()}
        assert set(ids) <= simulated
    finally:
        for station_id in ids:
            assert (await api.delete(f"/simulator/stations/{station_id}")).status_code == 204


# --- 2. enforcement ------------------------------------------------------------------------


async def test_charge_point_max_profile_is_enforced_and_reported(csms, api, start_hosted):
    station_id = await start_hosted()
    plugged = await api.post(
        f"/simulator/stations/{station_id}/ev",
        json={"connector_id": 1, "energy_wh": 1_000_000, "ev_max_w": 11_000},
    )
    assert plugged.status_code == 200, plugged.text
    transaction_id = plugged.json()["transaction_id"]
    assert isinstance(transaction_id, int)
    assert plugged.json() == {
        "station_id": station_id, "connector_id": 1, "transaction_id": transaction_id
    }

    occupied = await api.post(f"/simulator/stations/{station_id}/ev", json={"connector_id": 1})
    assert occupied.status_code == 400
    assert f"connector 1 of {station_id} is occupied" in occupied.text

    async def reported_power() -> float | None:
        found = connector(await station_row(api, station_id), 1)
        return None if found is None else found["power_w"]

    async def charging_at_ev_max() -> bool:
        return await reported_power() == 11_000.0

    await wait_until(charging_at_ev_max, timeout=5, interval=0.05)

    loop = asyncio.get_running_loop()
    sent_at = loop.time()
    body = await send(api, station_id, 1, cp_max(70, 7_000))
    assert (body["status"], body["connector_id"], body["ocpp_status"]) == ("success", 0, "Accepted")

    async def capped() -> bool:
        power = await reported_power()
        return power is not None and power <= 7_000

    await wait_until(capped, timeout=5, interval=0.02)
    took = loop.time() - sent_at
    # The station applies the limit at once and reports it with its next sample; the
    # allowance covers a few sample intervals of scheduling and database latency.
    assert took <= 5 * SAMPLE_S, f"power reported capped only after {took:.2f}s"
    assert await reported_power() == 7_000.0

    hosted = simulation.get(station_id)
    assert hosted is not None
    assert hosted.limit_w[1] == 7_000.0
    assert hosted.power_w[1] == 7_000.0

    # The contract's enforcement line, from the station itself: 7000 W for 0.2 s.
    expected = f"OCPP limit: 7000W → {7000 * SAMPLE_S / 3600:.2f}Wh (sample_interval=0.2s)"
    assert expected == "OCPP limit: 7000W → 0.39Wh (sample_interval=0.2s)"
    pattern = re.compile(r"OCPP limit: 7000W → \d+\.\d{2}Wh \(sample_interval=0\.2s\)")

    async def logged() -> bool:
        return any(pattern.fullmatch(line) for line in await simulator_lines(api, station_id))

    await wait_until(logged, timeout=5, interval=0.05)
    assert expected in await simulator_lines(api, station_id)

    # Lifting the cap lets the EV draw its own maximum again.
    assert (await clear(api, station_id, profile_id=70))["status"] == "success"
    await wait_until(charging_at_ev_max, timeout=5, interval=0.05)


# --- 3. composite schedule -----------------------------------------------------------------


async def test_composite_schedule_equals_the_engines_computation(csms, api, start_hosted):
    station_id = await start_hosted()
    plugged = await api.post(
        f"/simulator/stations/{station_id}/ev",
        json={"connector_id": 1, "energy_wh": 1_000_000, "ev_max_w": 11_000},
    )
    assert plugged.status_code == 200, plugged.text
    transaction_id = plugged.json()["transaction_id"]

    # Absolute schedules that began an hour ago, and a Relative one that counts from the
    # transaction's start: nothing depends on the second the question is asked in.
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    sent = [
        (0, profile(81, "ChargePointMaxProfile", [(0, 20_000), (6_600, 11_000)], start=past,
                    validFrom=(past - timedelta(days=1)).isoformat())),
        (1, profile(82, "TxDefaultProfile",
                    [{"startPeriod": 0, "limit": 24},
                     {"startPeriod": 6_000, "limit": 10, "numberPhases": 1}],
                    stack=1, unit="A", start=past)),
        (1, profile(83, "TxProfile", [(0, 9_000), (600, 12_000)], kind="Relative",
                    duration=1_200, transactionId=transaction_id)),
    ]
    for connector_id, body in sent:
        assert (await send(api, station_id, connector_id, body))["status"] == "success"
    assert installed_ids(station_id) == [81, 82, 83]

    hosted = simulation.get(station_id)
    assert hosted is not None
    transactions = hosted.transactions
    assert transactions[1].transaction_id == transaction_id
    installed = [
        InstalledProfile(0 if p["chargingProfilePurpose"] == "ChargePointMaxProfile" else c,
                         ChargingProfile.from_ocpp(p))
        for c, p in sent
    ]

    for connector_id, unit in [(1, "W"), (1, "A"), (0, "W")]:
        response = await api.get(
            f"/stations/{station_id}/composite_schedule",
            params={"connector_id": connector_id, "duration": 3600, "charging_rate_unit": unit},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "success", body
        start = parse_datetime(body["schedule_start"])
        assert start is not None
        expected = composite_schedule(
            installed,
            connector_id,
            start,
            3600,
            unit,
            transactions={1: ActiveTransaction(transaction_id, transactions[1].started_at)},
            connector_max_w=MAX_POWER_W,
        ).to_ocpp()
        schedule = body["schedule"]
        assert (schedule["chargingRateUnit"], schedule["duration"]) == (unit, 3600)
        assert schedule["chargingSchedulePeriod"] == expected["chargingSchedulePeriod"], (
            connector_id, unit
        )
        if (connector_id, unit) == (1, "W"):
            # And by hand: TxProfile 9 kW then 12 kW for 20 min, then TxDefault 24 A x 3
            # phases, then 10 A on one phase; the 20 kW/11 kW cap never bites.
            got = [(p["limit"], p.get("numberPhases")) for p in schedule["chargingSchedulePeriod"]]
            assert got == [(9000.0, None), (12000.0, None), (16560.0, None), (2300.0, 1)]


# --- 4. rejections -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "known_limit", "csms_problem", "station_reason"),
    [
        pytest.param(
            # A transaction the CSMS has never seen: only the station can tell.
            profile(90, "TxProfile", [(0, 7_000)], kind="Relative", transactionId=987_654),
            None,
            None,
            "TxProfile needs an active transaction on connector 1",
            id="tx-profile-without-transaction",
        ),
        pytest.param(
            tx_default(91, 7_000, stack=9),
            "charge_profile_max_stack_level",
            ("profile.stackLevel", "ChargeProfileMaxStackLevel (got 9)"),
            "stackLevel 9 outside 0..8 (ChargeProfileMaxStackLevel)",
            id="stack-level-above-max",
        ),
        pytest.param(
            profile(92, "TxDefaultProfile", [(i * 60, 7_000 + i) for i in range(25)]),
            "charging_schedule_max_periods",
            ("profile.chargingSchedule.chargingSchedulePeriod",
             "ChargingScheduleMaxPeriods (got 25)"),
            "25 periods exceed ChargingScheduleMaxPeriods 24",
            id="too-many-periods",
        ),
    ],
)
async def test_station_rejection_comes_back_as_rejected(
    csms, api, start_hosted, body, known_limit, csms_problem, station_reason
):
    station_id = await start_hosted()
    pid = body["chargingProfileId"]
    url = f"/stations/{station_id}/charging_profile"
    if known_limit is not None:
        # The CSMS read the station's limit from GetConfiguration and refuses up front.
        row = await Station.objects.aget(station_id=station_id)
        assert getattr(row, known_limit) in (8, 24)
        response = await api.post(url, json={"connector_id": 1, "profile": body})
        assert response.status_code == 400, response.text
        field, wording = csms_problem
        [error] = response.json()["errors"]
        assert error["field"] == field
        assert wording in error["message"]
        assert not any("SetChargingProfile" in line
                       for line in await simulator_lines(api, station_id))
        # A CSMS that does not know the limit (no GetConfiguration answer) sends it: the
        # station itself must refuse it.
        await Station.objects.filter(station_id=station_id).aupdate(**{known_limit: None})

    answer = await send(api, station_id, 1, body)
    assert answer == {
        "status": "rejected",
        "station_id": station_id,
        "connector_id": 1,
        "profile_id": pid,
        "message": f"Charging profile {pid} was rejected by the station (Rejected)",
        "error": None,
        "ocpp_status": "Rejected",
    }
    assert installed_ids(station_id) == []
    assert (await hosted_view(api, station_id))["installed_profiles"] == 0

    async def explained() -> bool:
        return any(line.startswith("SetChargingProfile:") and line.endswith(station_reason)
                   for line in await simulator_lines(api, station_id))

    await wait_until(explained, timeout=5, interval=0.05)


async def test_station_without_smart_charging_is_refused_with_400(csms, api, start_hosted):
    station_id = await start_hosted(smart_charging=False)
    row = await station_row(api, station_id)
    assert row["connected"] is True
    assert row["supports_smart_charging"] is False
    assert "SmartCharging" not in row["feature_profiles"]
    assert (await hosted_view(api, station_id))["smart_charging"] is False

    response = await api.post(
        f"/stations/{station_id}/charging_profile",
        json={"connector_id": 1, "profile": tx_default(93, 7_000)},
    )
    assert response.status_code == 400
    detail = (f"Station {station_id} does not support SmartCharging "
              "(CentralSystemChargePoint required)")
    assert response.json() == {"detail": detail, "errors": [{"field": "", "message": detail}]}
    assert installed_ids(station_id) == []


# --- 5. clear filters ----------------------------------------------------------------------


async def test_clear_filters_remove_only_matching_profiles(csms, api, start_hosted):
    station_id = await start_hosted()
    for connector_id, body in [
        (1, tx_default(11, 16_000, stack=1)),
        (1, tx_default(12, 15_000, stack=2)),
        (0, cp_max(13, 20_000, stack=1)),
        (0, tx_default(14, 14_000, stack=1)),
        (0, cp_max(15, 21_000, stack=2)),
    ]:
        assert (await send(api, station_id, connector_id, body))["status"] == "success"
    assert installed_ids(station_id) == [11, 12, 13, 14, 15]

    async def count() -> int:
        return (await hosted_view(api, station_id))["installed_profiles"]

    # By id: removed once; the same request again matches nothing.
    first = await clear(api, station_id, profile_id=11)
    assert first["status"] == "success"
    assert first["ocpp_status"] == "Accepted"
    assert first["message"] == "Charging profiles cleared successfully"
    assert first["filters"] == {
        "profile_id": 11, "connector_id": None, "purpose": None, "stack_level": None
    }
    assert installed_ids(station_id) == [12, 13, 14, 15]
    again = await clear(api, station_id, profile_id=11)
    assert again["status"] == "unknown"
    assert again["ocpp_status"] == "Unknown"
    assert again["message"] == "No charging profiles matched the filters"
    assert await count() == 4

    # Purpose and stack level together: only the TxDefaultProfile at stack 2.
    body = await clear(api, station_id, purpose="TxDefaultProfile", stack_level=2)
    assert body["status"] == "success"
    assert installed_ids(station_id) == [13, 14, 15]

    # Nothing is both a ChargePointMaxProfile and at stack level 3.
    body = await clear(api, station_id, purpose="ChargePointMaxProfile", stack_level=3)
    assert body["status"] == "unknown"
    assert await count() == 3

    # Stack level alone: every purpose at that level (13 and 14), not 15.
    body = await clear(api, station_id, stack_level=1)
    assert body["status"] == "success"
    assert installed_ids(station_id) == [15]

    # Purpose alone.
    assert (await clear(api, station_id, purpose="TxDefaultProfile"))["status"] == "unknown"
    assert (await clear(api, station_id, purpose="ChargePointMaxProfile"))["status"] == "success"
    assert await count() == 0
    assert (await clear(api, station_id))["status"] == "unknown"


# --- 6. stop -------------------------------------------------------------------------------


async def test_deleting_a_simulated_station_disconnects_it(csms, api, start_hosted):
    station_id = await start_hosted()
    response = await api.delete(f"/simulator/stations/{station_id}")
    assert response.status_code == 204
    assert response.content == b""
    assert simulation.get(station_id) is None

    async def disconnected() -> bool:
        row = await listed(api, station_id)
        return row is not None and row["connected"] is False

    await wait_until(disconnected, timeout=5, interval=0.05)
    assert (await api.get(f"/simulator/stations/{station_id}")).status_code == 404
    hosted = (await api.get("/simulator/stations")).json()
    assert station_id not in [s["station_id"] for s in hosted]
    again = await api.delete(f"/simulator/stations/{station_id}")
    assert again.status_code == 404
    assert again.json() == {"detail": f"Simulated station {station_id} not found"}
    # And the CSMS no longer drives it.
    response = await api.post(
        f"/stations/{station_id}/charging_profile",
        json={"connector_id": 1, "profile": tx_default(60, 7_000)},
    )
    assert response.status_code == 404
