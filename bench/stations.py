"""Simulated stations at scale: simulator processes (``python -m bench.simproc``, the
simulator's own command line with a chosen connection ramp), each a slice of a fleet.

A fleet is split into kinds: plain stations (heartbeats and status notifications), a
share with an EV plugged in (transactions and meter values every ``meter_interval``),
and optionally a share of slow stations (SetChargingProfile answered after
``slow_delay`` seconds). Each kind is spread over processes of at most ``per_process``
stations; plain stations over at least two.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from simulator.fleet import station_ids

from .procs import Child
from .server import ROOT

PLAIN, METER, SLOW = "plain", "meter", "slow"


@dataclass
class Slice:
    kind: str
    prefix: str
    first: int
    count: int
    url: str = ""

    @property
    def ids(self) -> list[str]:
        return station_ids(self.count, self.prefix, self.first)


@dataclass
class FleetPlan:
    """Which station ids run where, with what behaviour."""

    prefix: str
    slices: list[Slice] = field(default_factory=list)

    def ids(self, *kinds: str) -> list[str]:
        return [sid for s in self.slices if not kinds or s.kind in kinds for sid in s.ids]

    @property
    def total(self) -> int:
        return sum(s.count for s in self.slices)


def plan_fleet(total: int, prefix: str, urls: list[str], *, meter_share: float,
               slow_share: float, per_process: int) -> FleetPlan:
    """Split ``total`` stations into slices; the slices go round-robin over ``urls``."""
    slow = round(total * slow_share)
    meter = round(total * meter_share)
    plain = total - slow - meter
    plan = FleetPlan(prefix)
    counts = [(PLAIN, plain, max(2, len(urls))), (METER, meter, len(urls)),
              (SLOW, slow, len(urls))]
    index = 0
    for kind, count, min_parts in counts:
        if count <= 0:
            continue
        parts = min(count, max(min_parts, math.ceil(count / per_process)))
        first = 1
        for part in range(parts):
            size = count // parts + (1 if part < count % parts else 0)
            plan.slices.append(Slice(kind, f"{prefix}{kind[0].upper()}-", first, size,
                                     urls[index % len(urls)]))
            index += 1
            first += size
    return plan


class SimulatorProcesses:
    """One ``python -m simulator`` per slice."""

    def __init__(self, plan: FleetPlan, run_dir: Path, env: dict[str, str], *,
                 sample_interval: float, meter_interval: float, slow_delay: float,
                 name: str, connect_rate: float = 0.0) -> None:
        self.plan = plan
        self.children: list[Child] = []
        self.run_dir = run_dir
        self.env = env
        self.sample_interval = sample_interval
        self.meter_interval = meter_interval
        self.slow_delay = slow_delay
        self.name = name
        self.connect_rate = connect_rate

    def argv(self, s: Slice) -> list[str]:
        argv = [sys.executable, "-m", "bench.simproc", "--url", s.url, "--count", str(s.count),
                "--prefix", s.prefix, "--first", str(s.first), "--log-level", "WARNING"]
        if self.connect_rate > 0:
            # Every process ramps over the same time, together: the fleet at that rate.
            ramp = self.plan.total / self.connect_rate
            argv += ["--ramp-seconds", f"{ramp:.2f}"]
        if s.kind == METER:
            argv += ["--auto-session", "--sample-interval", str(self.meter_interval)]
        else:
            argv += ["--sample-interval", str(self.sample_interval)]
        if s.kind == SLOW:
            argv += ["--answer-delay", str(self.slow_delay), "--slow-share", "1"]
        return argv

    def start(self) -> None:
        for i in range(len(self.plan.slices)):
            self.start_one(i)

    def start_one(self, i: int) -> None:
        s = self.plan.slices[i]
        self.children.append(Child(
            f"{self.name}-{i}", self.argv(s), cwd=ROOT, env=self.env,
            log_path=self.run_dir / f"{self.name}-{i}-{s.kind}.log",
        ))

    @property
    def pids(self) -> list[int]:
        return [c.pid for c in self.children]

    def alive(self) -> int:
        return sum(1 for c in self.children if c.alive())

    def stop(self) -> None:
        for child in self.children:
            child.stop(timeout=15)

    def log_counts(self) -> dict[str, int]:
        """What the stations logged: failed connection attempts and dropped connections."""
        failed = dropped = errors = 0
        for child in self.children:
            for line in child.log_text().splitlines():
                if "connection to " in line and " failed" in line:
                    failed += 1
                elif ": disconnected (close code" in line:
                    dropped += 1
                elif " ERROR " in line or line.startswith("Traceback"):
                    errors += 1
        return {"connect_failures": failed, "disconnects": dropped, "error_lines": errors}
