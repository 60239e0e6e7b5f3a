"""A simulated station outlives a restart of ``manage.py serve``: it reconnects on its
own, keeps the profiles it had installed, and the new server process can drive it."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.config import StationConfig
from simulator.station import Station
from tests.conftest import wait_until
from tests.support.station import unique_id

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServeProcess:
    """``manage.py serve --server uvicorn`` on fixed loopback ports, restartable."""

    def __init__(self, tmp_path: Path) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "CSMS_VAR_DIR": str(tmp_path),
        }
        self.http_port, self.ocpp_port = free_port(), free_port()
        self.log = tmp_path / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=self.env, check=True
        )
        # The REST API wants a key; the database (and so the key) outlives the restart.
        self.api_key = subprocess.run(
            [sys.executable, "manage.py", "create_api_key", "reconnect-test", "--role",
             "operator", "--quiet"],
            cwd=ROOT, env=self.env, check=True, capture_output=True, text=True,
        ).stdout.strip()

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}"

    def start(self) -> None:
        # Output goes to a file: an unread pipe would stall the server once it is full.
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--http-port",
                 str(self.http_port), "--ocpp-port", str(self.ocpp_port), "--server", "uvicorn"],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{self.http_url}/stations", timeout=1)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.process.kill()
                    self.process.wait(timeout=5)
                    raise RuntimeError(self.log.read_text(errors="replace")) from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None


@pytest.fixture
def served(tmp_path) -> Iterator[ServeProcess]:
    server = ServeProcess(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


CP_MAX = {
    "chargingProfileId": 100,
    "stackLevel": 0,
    "chargingProfilePurpose": "ChargePointMaxProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 9000}],
    },
}
TX_DEFAULT = {
    "chargingProfileId": 101,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6000}],
    },
}


async def station_row(api: httpx.AsyncClient, station_id: str) -> dict[str, Any] | None:
    response = await api.get("/stations")
    assert response.status_code == 200, response.text
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return next((row for row in rows if row["station_id"] == station_id), None)


async def connector1_limit(api: httpx.AsyncClient, station_id: str) -> float:
    response = await api.get(
        f"/stations/{station_id}/composite_schedule",
        params={"connector_id": 1, "duration": 60, "charging_rate_unit": "W"},
    )
    body = response.json()
    assert body["status"] == "success", body
    [period] = body["schedule"]["chargingSchedulePeriod"]
    return period["limit"]


async def test_station_reconnects_after_server_restart_and_keeps_its_profile(served):
    station_id = unique_id("RESTART")
    station = Station(
        StationConfig(station_id=station_id, url=served.ocpp_url, sample_interval=0.2)
    )
    await station.start()
    try:
        async with httpx.AsyncClient(
            base_url=served.http_url, timeout=30,
            headers={"Authorization": f"Bearer {served.api_key}"},
        ) as api:
            await station.wait_registered(10)

            async def connected_and_configured() -> bool:
                row = await station_row(api, station_id)
                return (row is not None and row["connected"] is True
                        and row["supports_smart_charging"] is True)

            await wait_until(connected_and_configured, timeout=10, interval=0.1)
            before = await station_row(api, station_id)
            assert before is not None
            body = (await api.post(f"/stations/{station_id}/charging_profile",
                                   json={"connector_id": 0, "profile": CP_MAX})).json()
            assert (body["status"], body["ocpp_status"]) == ("success", "Accepted")
            assert [i.profile.charging_profile_id for i in station.installed_profiles] == [100]
            assert station.boot_count == 1

            await asyncio.to_thread(served.stop)

            async def lost() -> bool:
                return not station.connected

            await wait_until(lost, timeout=5)

            # Started off the event loop, so the station keeps trying meanwhile.
            await asyncio.to_thread(served.start)
            loop = asyncio.get_running_loop()
            restarted_at = loop.time()

            async def back() -> bool:
                row = await station_row(api, station_id)
                return (
                    station.boot_count == 2
                    and station.registered
                    and row is not None
                    and row["connected"] is True
                    and row["connected_at"] != before["connected_at"]
                )

            await wait_until(back, timeout=15, interval=0.1)
            assert loop.time() - restarted_at < 15

            # The station kept its profile across the restart, and the new process sees it.
            assert [i.profile.charging_profile_id for i in station.installed_profiles] == [100]
            assert await connector1_limit(api, station_id) == 9000.0

            # And it can be driven again.
            body = (await api.post(f"/stations/{station_id}/charging_profile",
                                   json={"connector_id": 1, "profile": TX_DEFAULT})).json()
            assert (body["status"], body["ocpp_status"]) == ("success", "Accepted")
            assert sorted(i.profile.charging_profile_id
                          for i in station.installed_profiles) == [100, 101]
            assert await connector1_limit(api, station_id) == 6000.0
            cleared = (await api.delete(f"/stations/{station_id}/charging_profile",
                                        params={"profile_id": 100})).json()
            assert cleared["status"] == "success"
            assert [i.profile.charging_profile_id for i in station.installed_profiles] == [101]
    finally:
        await station.stop()
