"""The README's first-run experience: `scripts/demo`, then the contract's curl examples
against the two simulated stations it starts, and the limits showing in their logs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import httpx
import pytest

from tests.support.servers import ROOT, free_port

pytestmark = pytest.mark.e2e

CONTRACT_PROFILE = {
    "connector_id": 1,
    "profile": {
        "chargingProfileId": 100,
        "stackLevel": 0,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000}],
        },
    },
}


@pytest.fixture
def demo(tmp_path):
    http_port, ocpp_port = free_port(), free_port()
    env = {**os.environ, "CSMS_VAR_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}
    env.pop("REDIS_URL", None)
    log = (tmp_path / "demo.log").open("w")  # a file: an unread pipe would block the server
    process = subprocess.Popen(
        ["scripts/demo", "--host", "127.0.0.1", "--http-port", str(http_port),
         "--ocpp-port", str(ocpp_port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 120  # the first run may install requirements
    while True:
        try:
            httpx.get(f"{base}/health", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                os.killpg(process.pid, signal.SIGKILL)
                raise RuntimeError((tmp_path / "demo.log").read_text()) from None
            time.sleep(0.2)
    key = (tmp_path / "demo-api-key").read_text().strip()
    yield base, key
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    log.close()


async def test_contract_examples_work_right_after_the_demo_starts(demo):
    base, key = demo
    async with httpx.AsyncClient(base_url=base, timeout=30,
                                 headers={"Authorization": f"Bearer {key}"}) as api:

        async def both_connected() -> bool:
            stations = {s["station_id"]: s for s in (await api.get("/stations")).json()}
            return all(stations.get(sid, {}).get("supports_smart_charging") is True
                       and stations[sid]["connected"] for sid in ("PY-SIM-0001", "PY-SIM-0002"))

        for _ in range(150):
            if await both_connected():
                break
            await asyncio.sleep(0.1)
        assert await both_connected()

        sent = (await api.post("/stations/PY-SIM-0001/charging_profile",
                               json=CONTRACT_PROFILE)).json()
        assert sent["status"] == "success"
        schedule = (await api.get("/stations/PY-SIM-0001/composite_schedule", params={
            "connector_id": 1, "duration": 3600, "charging_rate_unit": "W"})).json()
        assert schedule["status"] == "success"
        assert schedule["schedule"]["chargingSchedulePeriod"][0]["limit"] == 22000.0
        for params in ({"profile_id": 100}, {"connector_id": 1}, {}):
            cleared = await api.delete("/stations/PY-SIM-0001/charging_profile", params=params)
            assert cleared.status_code == 200
            assert cleared.json()["status"] in ("success", "unknown")

        scenarios = [
            {"scenario": "peak_shaving", "connector_id": 1, "max_power_w": 11000},
            {"scenario": "time_of_use", "connector_id": 1, "off_peak_w": 11000,
             "peak_w": 7000, "peak_start_hour": 9, "peak_end_hour": 17},
        ]
        for body in scenarios:
            answer = (await api.post("/stations/PY-SIM-0001/test_profiles", json=body)).json()
            assert answer["send_status"] == "Accepted", answer
        plugged = (await api.post("/simulator/stations/PY-SIM-0001/ev",
                                  json={"connector_id": 1})).json()
        cap = (await api.post("/stations/PY-SIM-0001/test_profiles", json={
            "scenario": "energy_cap", "connector_id": 1,
            "transaction_id": plugged["transaction_id"], "max_energy_wh": 30000,
            "duration_seconds": 7200, "power_limit_w": 11000})).json()
        assert cap["send_status"] == "Accepted", cap
        unknown = await api.post("/stations/PY-SIM-0001/test_profiles",
                                 json={"scenario": "invalid_scenario"})
        assert unknown.status_code == 400

        # Emergency load shedding: every connected station to 3 kW, in one request.
        shed = (await api.post("/charging_profiles/bulk", json={
            "target": {"all": True}, "connector_id": 1,
            "profile": {**CONTRACT_PROFILE["profile"], "chargingProfileId": 900,
                        "stackLevel": 5, "chargingSchedule": {
                            "chargingRateUnit": "W",
                            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3000}]}},
        })).json()
        assert shed["succeeded"] == 2

        async def limit_logged() -> bool:
            lines = (await api.get("/stations/PY-SIM-0001/logs",
                                   params={"limit": 1000})).json()
            return any(line["source"] == "simulator"
                       and line["message"].startswith("OCPP limit: 3000W → ")
                       for line in lines)

        for _ in range(100):
            if await limit_logged():
                break
            await asyncio.sleep(0.1)
        assert await limit_logged()
