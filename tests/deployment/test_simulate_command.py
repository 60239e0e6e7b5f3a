"""`manage.py simulate`: N simulated stations in their own process, against the CSMS,
their log lines in the CSMS's station log."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import httpx
import pytest

from tests.support.servers import ROOT, ServerProcess, auth_headers, create_key, migrate

pytestmark = pytest.mark.e2e


async def test_simulate_command_runs_stations_that_log_to_the_csms(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "CSMS_VAR_DIR": str(tmp_path)}
    migrate(env)
    key = create_key(env)
    server = ServerProcess(env)
    server.start()
    fleet = subprocess.Popen(  # noqa: ASYNC220 - started once, before the loop has work
        [sys.executable, "manage.py", "simulate", "--count", "3", "--url", server.ocpp_url,
         "--prefix", "CMD-", "--log-level", "WARNING"],
        cwd=ROOT, env=server.env, stdout=(tmp_path / "fleet.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=server.http_url,
                                     headers=auth_headers(key)) as api:
            ids = ["CMD-0001", "CMD-0002", "CMD-0003"]

            async def all_booted() -> bool:
                rows = {s["station_id"]: s for s in (await api.get("/stations")).json()}
                return all(rows.get(i, {}).get("connected") and rows[i]["vendor"] == "PySim"
                           for i in ids)

            for _ in range(100):
                if await all_booted():
                    break
                await asyncio.sleep(0.1)
            assert await all_booted()

            async def simulator_lines() -> list[dict]:
                lines = (await api.get("/stations/CMD-0002/logs")).json()
                return [line for line in lines if line["source"] == "simulator"]

            for _ in range(50):
                if await simulator_lines():
                    break
                await asyncio.sleep(0.1)
            messages = [line["message"] for line in await simulator_lines()]
            assert any("BootNotification accepted" in m for m in messages), messages
    finally:
        fleet.send_signal(signal.SIGTERM)
        fleet.wait(timeout=15)
        server.stop()
    assert fleet.returncode == 0, (tmp_path / "fleet.log").read_text()
