"""Load loops and their statistics: closed loops at a fixed concurrency, an open loop at
a fixed rate, percentiles. A call is an async function of its index that returns None
on success or a short error text."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .procs import own_cpu_seconds

Call = Callable[[int], Awaitable[str | None]]


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class Recorder:
    latencies: list[float] = field(default_factory=list)  # seconds, successful calls
    # (start, latency) of every successful call, seconds from begin(): where in time
    # the slow ones fell (next to what else happened then).
    timeline: list[tuple[float, float]] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    started: float = 0.0
    ended: float = 0.0
    cpu_started: float = 0.0
    cpu_ended: float = 0.0

    def begin(self) -> None:
        self.started = time.perf_counter()
        self.cpu_started = own_cpu_seconds()

    def end(self) -> None:
        self.ended = time.perf_counter()
        self.cpu_ended = own_cpu_seconds()

    def record(self, seconds: float, error: str | None, started: float | None = None) -> None:
        if error is None:
            self.latencies.append(seconds)
            if started is not None:
                self.timeline.append((started - self.started, seconds))
        else:
            self.errors[error[:120]] += 1

    def summary(self, **extra: object) -> dict[str, object]:
        values = sorted(self.latencies)
        wall = max(self.ended - self.started, 1e-9)
        n_err = sum(self.errors.values())

        def ms(v: float | None) -> float | None:
            return None if v is None else round(v * 1000, 2)

        return {
            **extra,
            "calls": len(values) + n_err,
            "ok": len(values),
            "errors": n_err,
            "error_kinds": dict(self.errors.most_common(5)),
            "p50_ms": ms(percentile(values, 50)),
            "p95_ms": ms(percentile(values, 95)),
            "p99_ms": ms(percentile(values, 99)),
            "max_ms": ms(values[-1] if values else None),
            "mean_ms": ms(sum(values) / len(values) if values else None),
            "rps": round((len(values) + n_err) / wall, 1),
            "wall_s": round(wall, 2),
            "bench_cpu_pct": round(100 * (self.cpu_ended - self.cpu_started) / wall, 1),
            "slowest": [{"at_s": round(at, 3), "ms": round(v * 1000, 1)}
                        for at, v in sorted(self.timeline, key=lambda c: -c[1])[:20]],
        }


async def _timed(fn: Call, index: int, rec: Recorder, timeout: float,
                 started: float | None = None) -> None:
    """One call, recorded with its latency from ``started`` (default: now)."""
    t0 = time.perf_counter() if started is None else started
    try:
        async with asyncio.timeout(timeout):
            error = await fn(index)
    except TimeoutError:
        error = f"no answer in {timeout:.0f}s"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    rec.record(time.perf_counter() - t0, error, t0)


async def closed_loop(fn: Call, *, calls: int, concurrency: int, max_seconds: float,
                      timeout: float = 60.0) -> dict[str, object]:
    """``calls`` calls by ``concurrency`` workers, each starting its next call when its
    last one ended; no new call after ``max_seconds``."""
    rec = Recorder()
    counter = iter(range(calls))
    deadline = time.monotonic() + max_seconds

    async def worker() -> None:
        for index in counter:
            if time.monotonic() > deadline:
                return
            await _timed(fn, index, rec, timeout)

    rec.begin()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    rec.end()
    return rec.summary(concurrency=concurrency, cut_short=len(rec.latencies)
                       + sum(rec.errors.values()) < calls)


async def open_loop(fn: Call, *, rate: float, seconds: float, max_in_flight: int = 1000,
                    timeout: float = 60.0) -> dict[str, object]:
    """Calls started on a fixed schedule (``rate`` per second for ``seconds``), whatever
    the answers do; latency counts from the scheduled start, so a stalled server cannot
    hide its backlog (no coordinated omission). Calls beyond ``max_in_flight`` at once
    are counted as errors, not sent."""
    rec = Recorder()
    total = int(rate * seconds)
    in_flight: set[asyncio.Task] = set()
    rec.begin()
    start = time.perf_counter()

    for index in range(total):
        due = start + index / rate
        pause = due - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        if len(in_flight) >= max_in_flight:
            rec.record(0.0, "not sent: too many calls in flight")
            continue
        task = asyncio.create_task(_timed(fn, index, rec, timeout, started=due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(set(in_flight), timeout=timeout + 5)
    rec.end()
    summary = rec.summary(target_rps=rate)
    summary["achieved_rps"] = round(summary["calls"] / seconds, 1)  # type: ignore[operator]
    return summary
