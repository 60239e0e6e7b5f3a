"""The README's server command, as a separate process with its own database: Daphne
(the default) and uvicorn each serve HTTP on one port and OCPP on another; the demo's
key is created once and works, and nothing works without a key."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.support.servers import ROOT, ServerProcess, auth_headers, migrate
from tests.support.station import connected_station

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["daphne", "uvicorn"])
def served(request, tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "CSMS_VAR_DIR": str(tmp_path)}
    migrate(env)
    server = ServerProcess(env, server=request.param)
    server.start()
    yield server
    server.stop()


def demo_key(server: ServerProcess) -> tuple[str, str]:
    result = subprocess.run([sys.executable, "manage.py", "demo_api_key"], cwd=ROOT,
                            env=server.env, check=True, capture_output=True, text=True)
    return result.stdout, (ROOT / server.env["CSMS_VAR_DIR"] / "demo-api-key").read_text().strip()


async def test_station_on_ocpp_port_is_driven_through_http_port(served):
    printed, key = demo_key(served)
    assert key in printed
    assert f'curl -H "Authorization: Bearer {key}"' in printed
    _, same_key = demo_key(served)
    assert same_key == key, "the demo key is created once, not on every start"

    async with connected_station(served.ocpp_url) as station, httpx.AsyncClient(
        base_url=served.http_url, headers=auth_headers(key)
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
        anonymous = await httpx.AsyncClient().get(f"{served.http_url}/stations")
        assert anonymous.status_code == 401
        # The docs page and its assets come from this server, not the internet.
        docs = await api.get("/docs")
        assert docs.status_code == 200
        bundle = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
        assert bundle in docs.text
        asset = await api.get(bundle)
        assert asset.status_code == 200
        assert len(asset.content) > 100_000


@pytest.mark.parametrize("proxies", ["0", "1"])
def test_x_forwarded_for_is_believed_only_behind_a_proxy(tmp_path, proxies):
    """uvicorn itself would take X-Forwarded-For from a peer on 127.0.0.1 as the client's
    address; the served product does so only with CSMS_NUM_PROXIES set."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "CSMS_VAR_DIR": str(tmp_path),
           "CSMS_THROTTLE_ANON_RATE": "3/min", "CSMS_NUM_PROXIES": proxies}
    migrate(env)
    server = ServerProcess(env, server="uvicorn")
    server.start()
    try:
        codes = [httpx.get(f"{server.http_url}/api/schema/",
                           headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
                 for n in range(6)]
    finally:
        server.stop()
    if proxies == "0":
        assert 429 in codes, codes  # one budget: the real peer's
    else:
        assert 429 not in codes, codes  # each forwarded address has its own budget


def test_serve_sets_the_garbage_collector_thresholds(settings):
    import gc

    from stations.management.commands.serve import _freeze_startup_objects

    before = gc.get_threshold()
    settings.CSMS_GC_THRESHOLDS = (12345, 20, 30)
    try:
        _freeze_startup_objects()
        assert gc.get_threshold() == (12345, 20, 30)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
