"""``python -m bench --stations 10000``: see ``bench/__init__.py`` and the README."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from . import procs, report
from .run import PHASES, Options, quick_options, run
from .server import ROOT


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the CSMS on this machine and write BENCHMARKS.md.")
    p.add_argument("--stations", type=int, help="simulated stations (default 10000; "
                   "--quick: 200)")
    p.add_argument("--server", choices=("daphne", "uvicorn"), default="uvicorn",
                   help="the ASGI server (default uvicorn, as manage.py serve)")
    p.add_argument("--postgres-redis", action="store_true",
                   help="two server processes on a fresh PostgreSQL database and Redis")
    p.add_argument("--calls", type=int, help="calls per operation and concurrency "
                   "(default 1000; --quick: 60)")
    p.add_argument("--soak-seconds", type=float,
                   help="how long every station must stay connected after booting "
                   "(default 600; --quick: 20); the load phases run inside it")
    p.add_argument("--bare-stations", type=int,
                   help="stations of the bare central system (default min(stations, 2000))")
    p.add_argument("--connect-rate", type=float,
                   help="stations per second the fleet connects at (default 50; --quick: "
                   "200); 0: all at once, as the simulator ramps by itself (a storm)")
    p.add_argument("--per-process", type=int,
                   help="stations per simulator process (default 2500)")
    p.add_argument("--phases", type=_phases, metavar="LIST",
                   help="comma-separated optional phases to run, of "
                   f"{','.join(PHASES)} (default: all); 'none' for boot, memory and the "
                   "soak only (a station-capacity run)")
    p.add_argument("--quick", action="store_true",
                   help="smoke configuration: 200 stations, every phase, about a minute")
    p.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md",
                   help="Markdown report to write or update (default BENCHMARKS.md)")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    p.add_argument("--redis-db", type=int, default=12,
                   help="Redis database number for --postgres-redis (flushed; default 12)")
    p.add_argument("--max-minutes", type=float,
                   help="abort the run after this long (default: soak + 40 minutes)")
    p.add_argument("--keep", action="store_true",
                   help="keep the run directory (server and simulator logs)")
    return p


def _phases(text: str) -> list[str]:
    names = [] if text.strip() == "none" else [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(PHASES))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown phase(s) {', '.join(unknown)}; choose from {', '.join(PHASES)} or none")
    return [p for p in PHASES if p in names]


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha or "unknown") + ("+changes" if dirty else "")


def options_from(args: argparse.Namespace, argv: list[str]) -> Options:
    overrides = {"server": args.server, "postgres_redis": args.postgres_redis,
                 "redis_db": args.redis_db, "keep": args.keep,
                 "command": "python -m bench " + shlex.join(argv)}
    for name in ("stations", "calls", "soak_seconds", "bare_stations", "per_process",
                 "connect_rate", "phases"):
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    if args.quick:
        if "stations" in overrides and "bare_stations" not in overrides:
            overrides["bare_stations"] = overrides["stations"]
        return quick_options(**overrides)
    return Options(**overrides)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    opts = options_from(args, argv)
    if opts.stations < 20 or opts.calls < 1:
        parser.error("--stations must be at least 20 and --calls at least 1")
    procs.raise_fd_limit()
    max_seconds = (args.max_minutes * 60 if args.max_minutes
                   else opts.soak_seconds + opts.boot_timeout + 40 * 60)
    started = time.monotonic()
    commit = _commit()  # the code the servers run: taken before they start
    loadavg_start = [round(x, 2) for x in os.getloadavg()]
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")

    async def main_task() -> dict:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        return await run(opts, max_seconds)

    results = asyncio.run(main_task())
    results.update({
        "date": date,
        "commit": commit,
        "machine": procs.machine(),
        "python": platform.python_version(),
        "backend": ("PostgreSQL + Redis" if opts.postgres_redis
                    else "SQLite + in-memory channel layer"),
        "wall_seconds": round(time.monotonic() - started, 1),
        "pid": os.getpid(),
        "loadavg_start": loadavg_start,
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    })
    results["headline"] = report.headline(results)
    results["targets"] = report.targets(results)
    if args.json:
        report.write_json(args.json, results)
    report.write_markdown(args.output, results)
    print(f"\nwrote {args.output}" + (f" and {args.json}" if args.json else ""))
    for t in results["targets"]:
        print(f"  {'met' if t['met'] else 'MISSED' if t['met'] is False else '-':6} "
              f"{t['target']}: {t['measured']}")
    if results["phase_errors"]:
        print("phase errors:", *results["phase_errors"], sep="\n  ")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
