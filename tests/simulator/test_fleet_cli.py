"""Several stations in one process, and the standalone command line (no Django)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.config import SessionPlan, StationConfig
from simulator.fleet import Fleet, make_configs, run_stations, station_ids

from .conftest import BareCentralSystem, eventually

PROJECT = Path(__file__).resolve().parents[2]


def test_station_ids_and_configs() -> None:
    assert station_ids(3, "PY-SIM-") == ["PY-SIM-0001", "PY-SIM-0002", "PY-SIM-0003"]
    configs = make_configs("ws://127.0.0.1:9000/", 2, connectors=2, sample_interval=0.5)
    assert [c.endpoint for c in configs] == [
        "ws://127.0.0.1:9000/PY-SIM-0001", "ws://127.0.0.1:9000/PY-SIM-0002",
    ]
    assert {(c.connectors, c.sample_interval) for c in configs} == {(2, 0.5)}
    assert StationConfig("X", "ws://h").allowed_unit_codes == {"A", "W"}
    assert StationConfig("X", "ws://h", allowed_units="Power").allowed_unit_codes == {"W"}
    with pytest.raises(ValueError, match="connector"):
        StationConfig("X", "ws://h", connectors=0)


@pytest.mark.e2e
async def test_run_stations_with_planned_sessions(bare_csms: BareCentralSystem) -> None:
    configs = make_configs(bare_csms.url, 3, sample_interval=0.2)
    configs[1].sessions.append(SessionPlan(1, plug_in_after_s=0.1, energy_wh=3, ev_max_w=22080))
    stop = asyncio.Event()
    lines: list[tuple[str, str]] = []
    runner = asyncio.create_task(
        run_stations(configs, stop, on_log=lambda sid, _at, _lvl, msg: lines.append((sid, msg)))
    )
    try:
        for cfg in configs:
            await bare_csms.station(cfg.station_id)
        stop_tx = await bare_csms.wait_for("PY-SIM-0002", "StopTransaction", timeout=5)
        assert stop_tx["meter_stop"] == 3
        assert bare_csms.messages("PY-SIM-0001", "StartTransaction") == []
        assert {sid for sid, _ in lines} == {c.station_id for c in configs}
    finally:
        stop.set()
        await asyncio.wait_for(runner, 5)
    await eventually(lambda: not bare_csms.connections)


@pytest.mark.e2e
async def test_fleet_lookup_and_stop(bare_csms: BareCentralSystem) -> None:
    async with Fleet(make_configs(bare_csms.url, 2, prefix="T-")) as fleet:
        assert len(fleet) == 2
        station = fleet.get("T-0002")
        assert station is not None
        await station.wait_registered(5)
        assert fleet.get("T-0003") is None
        with pytest.raises(ValueError, match="already exists"):
            fleet.add(StationConfig("T-0001", bare_csms.url))
    assert not any(s.running for s in fleet)


def test_simulator_imports_no_django() -> None:
    code = (
        "import sys, simulator.__main__, simulator.fleet; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'django'); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, env=env, capture_output=True, text=True,
        timeout=30, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.e2e
async def test_cli_runs_stations_until_sigint(bare_csms: BareCentralSystem) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator", "--url", bare_csms.url, "--count", "2",
        "--prefix", "CLI-", "--connectors", "2", "--sample-interval", "0.2",
        "--log-level", "WARNING",
        cwd=PROJECT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        for sid in ("CLI-0001", "CLI-0002"):
            await bare_csms.station(sid, timeout=10)
        boot = bare_csms.messages("CLI-0002", "BootNotification")[0]
        assert boot["charge_point_vendor"] == "PySim"
        await bare_csms.wait_for(
            "CLI-0001", "StatusNotification", lambda m: m["connector_id"] == 2
        )
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
