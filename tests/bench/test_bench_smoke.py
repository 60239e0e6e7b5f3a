"""The benchmark in its small configuration (``python -m bench --quick``: 200 stations,
a few hundred calls, the product and the bare baseline) runs end to end and writes its
JSON and its Markdown with every section. Timings are never asserted: this machine is
shared and a smoke test is not a benchmark."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PHASES = ("boot", "boot_bare", "memory", "soak", "latency", "bulk", "isolation", "paced",
          "event_loop_lag", "headline", "targets", "machine", "commit")
SECTIONS = (
    "# Benchmarks", "## Summary", "### Targets", "### Boot, memory, soak",
    "### REST → station → REST round trips, and the bare protocol", "### Bulk",
    "### Isolation", "### Paced load", "### Event-loop lag", "### Problems seen",
    "<!-- bench-json -->", "## History",
)


def run_bench(tmp_path: Path, *extra: str) -> tuple[dict, str, str]:
    output, results = tmp_path / "BENCHMARKS.md", tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output),
         "--json", str(results), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    return json.loads(results.read_text()), output.read_text(), proc.stdout


def check_results(data: dict, markdown: str, servers: int) -> None:
    for key in PHASES:
        assert data.get(key) is not None, key
    assert data["phase_errors"] == []
    assert len(data["servers"]) == servers
    assert data["boot"]["booted"] == data["boot"]["expected"] == 200
    assert data["boot_bare"]["booted"] == 200
    assert data["memory"]["per_station_kb"] is not None
    latency = data["latency"]
    assert set(latency["set"]) == {"product", "bare"}
    for op, sides in latency.items():
        for side, levels in sides.items():
            assert set(levels) == {"1", "20", "100"}, (op, side)
            for level, stats in levels.items():
                # Calls were made and counted; their outcome is a figure, not asserted.
                assert stats["calls"] > 0, (op, side, level)
                assert stats["ok"] + stats["errors"] == stats["calls"]
    assert data["bulk"]["runs"]
    assert data["isolation"]["healthy"]["calls"] > 0
    assert data["isolation"]["slow"]["calls"] > 0
    assert data["paced"]["calls"] > 0
    assert len(data["targets"]) == 7
    assert set(data["headline"]) >= {"p50_ratio_c1", "rps_ratio_c20", "bulk_median_s"}
    for section in SECTIONS:
        assert section in markdown, section
    assert data["options"]["command"] in markdown


def test_quick_benchmark_embedded(tmp_path):
    data, markdown, stdout = run_bench(tmp_path)
    check_results(data, markdown, servers=1)
    # The embedded product answers: the headline ratios exist (their values are not judged).
    assert data["headline"]["p50_ratio_c1"] is not None
    assert data["headline"]["rps_ratio_c20"] is not None
    assert "uvicorn, embedded, 1 process, 200 stations, quick" in markdown
    assert "wrote" in stdout
    # A second run of the same configuration replaces the section and keeps history.
    from bench import report

    report.write_markdown(tmp_path / "BENCHMARKS.md", data)
    records, history = report.read_records(tmp_path / "BENCHMARKS.md")
    assert len(records) == 1
    assert [h["configuration"] for h in history] == [report.config_key(data)]


def test_quick_benchmark_postgres_redis_two_processes(tmp_path):
    # A Redis database of its own: other runs on this machine may use the usual ones.
    redis_db = str(random.randint(8, 15))
    data, markdown, _ = run_bench(tmp_path, "--postgres-redis", "--server", "daphne",
                                  "--redis-db", redis_db)
    check_results(data, markdown, servers=2)
    assert 0 < data["latency"]["set"]["product"]["20"]["cross_process_share"] < 1
    assert "daphne, PostgreSQL + Redis, 2 processes, 200 stations, quick" in markdown

