"""The README's server command, as a separate process with its own database: Daphne
(the default) and uvicorn each serve HTTP on one port and OCPP on another."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.station import connected_station

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["daphne", "uvicorn"])
def served(request, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CSMS_VAR_DIR": str(tmp_path),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    http_port, ocpp_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--http-port",
         str(http_port), "--ocpp-port", str(ocpp_port), "--server", request.param],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{http_port}/stations", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(process.communicate()[0]) from None
            time.sleep(0.1)
    yield http_port, ocpp_port
    process.terminate()
    process.wait(timeout=10)


async def test_station_on_ocpp_port_is_driven_through_http_port(served):
    http_port, ocpp_port = served
    async with connected_station(f"ws://127.0.0.1:{ocpp_port}") as station, httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{http_port}"
    ) as api:
        body = (
            await api.post(
                f"/stations/{station.id}/charging_profile",
                json={
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
                },
            )
        ).json()
        assert body["status"] == "success"
        assert body["connector_id"] == 0
        # The docs page and its assets come from this server, not the internet.
        docs = await api.get("/docs")
        assert docs.status_code == 200
        bundle = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
        assert bundle in docs.text
        asset = await api.get(bundle)
        assert asset.status_code == 200
        assert len(asset.content) > 100_000
