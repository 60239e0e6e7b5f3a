"""The benchmark's phases, in order, on one set of servers and stations:

boot (N stations from separate simulator processes) -> memory -> latency (product
REST round trips and the bare central system's calls, interleaved) -> bulk ->
isolation (slow stations) -> paced load -> the rest of the soak. The soak window starts
when every station has booted and spans every later phase: no station may drop while
the load runs either. Every phase is bounded in calls and in time; everything started
is stopped in ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import statistics
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from . import load, procs
from .baseline import BareCentralSystem
from .rest import Rest, profile
from .server import Backend, Server
from .stations import METER, PLAIN, SLOW, SimulatorProcesses, plan_fleet

PREFIX = "BENCH-"
BARE_PREFIX = "BARE-"
OPERATIONS = ("set", "get", "clear")
# The optional phases, in the order they run; boot, memory and the soak always run.
PHASES = ("bare", "latency", "bulk", "isolation", "paced")


@dataclass
class Options:
    stations: int = 10_000
    server: str = "uvicorn"  # the production default of manage.py serve
    postgres_redis: bool = False
    calls: int = 1000
    soak_seconds: float = 600.0
    quick: bool = False
    concurrency: list[int] = field(default_factory=lambda: [1, 20, 100])
    heartbeat_interval: int = 60
    meter_share: float = 0.1
    meter_interval: float = 30.0
    sample_interval: float = 3600.0
    slow_share: float = 0.1
    slow_delay: float = 10.0
    per_process: int = 2500
    bare_stations: int = 2000
    bulk_stations: int = 1000
    bulk_repeats: int = 3
    isolation_seconds: float = 30.0
    # The isolation phase keeps slow_concurrency calls waiting on slow stations (each
    # replaced when it ends: slow_concurrency / slow_delay calls a second) and calls
    # healthy stations in an open loop at isolation_rate. Together they stay inside what
    # one server sustains while it holds 10,000 stations (about 40 sends a second here),
    # so the healthy p99 shows what the waiting calls add, not the queue of a saturated
    # server: the concurrency 20 and 100 rows and the paced phase show that.
    isolation_rate: float = 20.0
    slow_concurrency: int = 100
    paced_rate: float = 100.0
    paced_seconds: float = 25.0
    phase_seconds: float = 180.0
    boot_timeout: float = 0.0  # 0: chosen from the station count
    redis_db: int = 12
    call_timeout: float = 30.0  # the server's OCPP_CALL_TIMEOUT
    # Stations per second the fleet opens connections at; 0: the simulator's own ramp
    # (2 ms per station in each process, all processes at once: a storm).
    connect_rate: float = 50.0
    keep: bool = False
    command: str = ""
    phases: list[str] = field(default_factory=lambda: list(PHASES))

    def __post_init__(self) -> None:
        if self.boot_timeout <= 0:
            rate = self.connect_rate or 200.0
            self.boot_timeout = max(120.0, 1.5 * self.stations / rate + 60)
        self.bare_stations = min(self.bare_stations, self.stations)

    @property
    def mode(self) -> str:
        return "postgres-redis" if self.postgres_redis else "embedded"

    @property
    def server_count(self) -> int:
        return 2 if self.postgres_redis else 1


def quick_options(**overrides: Any) -> Options:
    """The smoke configuration: every phase, small and short."""
    values: dict[str, Any] = {
        "stations": 200, "calls": 60, "soak_seconds": 20.0, "quick": True,
        "heartbeat_interval": 10, "meter_interval": 5.0, "bare_stations": 200,
        "bulk_repeats": 1, "isolation_seconds": 8.0, "isolation_rate": 10.0, "paced_rate": 50.0,
        "paced_seconds": 4.0, "phase_seconds": 20.0, "boot_timeout": 90.0,
        "slow_concurrency": 20, "connect_rate": 200.0, "slow_delay": 3.0,
        "call_timeout": 8.0,
    }
    values.update(overrides)
    return Options(**values)


class HealthMonitor:
    """Polls GET /health of every server: event-loop lag and stations held."""

    def __init__(self, rest: Rest, interval: float = 2.0) -> None:
        self.rest = rest
        self.interval = interval
        self.samples: list[dict[str, Any]] = []
        self.failures = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        while True:
            for index, base in enumerate(self.rest.bases):
                try:
                    data = await self.rest.health(base)
                    lag = data.get("event_loop_lag") or {}
                    self.samples.append({"t": time.monotonic(), "server": index,
                                         "last_ms": lag.get("last_ms"),
                                         "max_ms": lag.get("max_ms"),
                                         "held": data.get("stations_held")})
                except Exception:
                    self.failures += 1
            await asyncio.sleep(self.interval)

    def window(self, t0: float, t1: float) -> dict[str, Any]:
        rows = [s for s in self.samples if t0 <= s["t"] <= t1 and s["last_ms"] is not None]
        last = [s["last_ms"] for s in rows]
        if not last:
            return {"samples": 0}
        return {"samples": len(last), "mean_ms": round(statistics.fmean(last), 2),
                "max_sampled_ms": round(max(last), 2),
                "max_reported_ms": max((s["max_ms"] or 0.0) for s in rows)}

    def held(self, t0: float, t1: float, servers: int) -> list[int]:
        """Stations held in total, per complete poll round inside the window."""
        out = []
        rows = [s for s in self.samples if t0 <= s["t"] <= t1]
        for i in range(0, len(rows) - servers + 1, servers):
            group = rows[i:i + servers]
            if len({s["server"] for s in group}) == servers and all(
                    s["held"] is not None for s in group):
                out.append(sum(s["held"] for s in group))
        return out


class Bench:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.results: dict[str, Any] = {"options": asdict(opts), "phase_errors": []}
        self.run_dir = Path(tempfile.mkdtemp(prefix="csms-bench-"))
        self.backend = Backend(self.run_dir, postgres_redis=opts.postgres_redis,
                               redis_db=opts.redis_db,
                               heartbeat_interval=opts.heartbeat_interval,
                               call_timeout=opts.call_timeout)
        self.servers: list[Server] = []
        self.product: SimulatorProcesses | None = None
        self.bare_sims: SimulatorProcesses | None = None
        self.bare: BareCentralSystem | None = None
        self.monitor: HealthMonitor | None = None
        self.rest: Rest | None = None
        self.healthy: list[str] = []
        self.slow: list[str] = []
        self.bare_ids: list[str] = []
        self.home: dict[str, int] = {}
        self._cursor = 0  # next healthy station to call, so calls go to distinct stations
        self._bare_cursor = 0
        self._profile_id = 100

    # ---------------------------------------------------------------- helpers

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)

    def cpu(self) -> procs.CpuMeter:
        groups = {"server": [s.pid for s in self.servers]}
        if self.product is not None:
            groups["simulators"] = self.product.pids
        if self.bare_sims is not None:
            groups["bare_simulators"] = self.bare_sims.pids
        return procs.CpuMeter(groups).start()

    def rss(self) -> list[int | None]:
        return [procs.rss_kb(s.pid) for s in self.servers]

    def servers_alive(self) -> bool:
        return all(s.alive() for s in self.servers)

    async def phase(self, name: str, coro: Any) -> Any:
        """Run one phase; its failure is recorded and the benchmark goes on."""
        if not self.servers_alive():
            self.results["phase_errors"].append(f"{name}: skipped, a server process died")
            coro.close()
            return None
        self.log(f"phase {name}")
        t0 = time.monotonic()
        meter = self.cpu()
        try:
            result = await coro
        except Exception as exc:
            self.results["phase_errors"].append(f"{name}: {type(exc).__name__}: {exc}")
            self.log(f"phase {name} failed:\n{traceback.format_exc()}")
            return None
        t1 = time.monotonic()
        if isinstance(result, dict):
            result.setdefault("cpu", meter.stop())
            if self.monitor is not None:
                result.setdefault("event_loop_lag", self.monitor.window(t0, t1))
        return result

    def _next_stations(self, ids: list[str], cursor_attr: str, count: int) -> list[str]:
        start = getattr(self, cursor_attr)
        setattr(self, cursor_attr, (start + count) % max(len(ids), 1))
        return [ids[(start + i) % len(ids)] for i in range(count)]

    def _new_profile_id(self) -> int:
        self._profile_id += 1
        return self._profile_id

    # ---------------------------------------------------------------- phases

    async def boot(self) -> dict[str, Any]:
        opts = self.opts
        plan = plan_fleet(opts.stations, PREFIX, [s.ocpp_url for s in self.servers],
                          meter_share=opts.meter_share, slow_share=opts.slow_share,
                          per_process=opts.per_process)
        urls = [srv.ocpp_url for srv in self.servers]
        for s in plan.slices:
            self.home.update(dict.fromkeys(s.ids, urls.index(s.url)))
        self.product = SimulatorProcesses(
            plan, self.run_dir, self.backend.env, sample_interval=opts.sample_interval,
            meter_interval=opts.meter_interval, slow_delay=opts.slow_delay, name="sim",
            connect_rate=opts.connect_rate)
        meter = self.cpu()
        t0 = time.monotonic()
        self.product.start()
        meter.pids["simulators"] = self.product.pids
        marks: dict[str, float] = {}
        booted: set[str] = set()
        deadline = t0 + opts.boot_timeout
        while time.monotonic() < deadline:
            booted = await asyncio.to_thread(self.backend.booted_ids, PREFIX)
            elapsed = time.monotonic() - t0
            for share in (0.5, 0.9, 1.0):
                if len(booted) >= share * opts.stations and f"{share:.0%}" not in marks:
                    marks[f"{share:.0%}"] = round(elapsed, 2)
            if len(booted) >= opts.stations or not self.servers_alive():
                break
            await asyncio.sleep(0.5)
        seconds = time.monotonic() - t0
        self.healthy = sorted(sid for sid in booted
                              if sid.startswith((f"{PREFIX}P-", f"{PREFIX}M-")))
        random.Random(42).shuffle(self.healthy)
        self.slow = sorted(sid for sid in booted if sid.startswith(f"{PREFIX}S-"))
        result = {
            "expected": opts.stations,
            "booted": len(booted),
            "all_booted": len(booted) >= opts.stations,
            "seconds": round(seconds, 2),
            "seconds_to": marks,
            "boots_per_s": round(len(booted) / seconds, 1),
            "connect_rate": opts.connect_rate,
            "simulator_processes": len(plan.slices),
            "fleet": {kind: sum(s.count for s in plan.slices if s.kind == kind)
                      for kind in (PLAIN, METER, SLOW)},
            **self.product.log_counts(),
            "cpu": meter.stop(),
        }
        return result

    async def boot_bare(self) -> dict[str, Any]:
        opts = self.opts
        assert self.bare is not None
        plan = plan_fleet(opts.bare_stations, BARE_PREFIX, [self.bare.url],
                          meter_share=opts.meter_share, slow_share=0.0,
                          per_process=opts.per_process)
        self.bare_sims = SimulatorProcesses(
            plan, self.run_dir, self.backend.env, sample_interval=opts.sample_interval,
            meter_interval=opts.meter_interval, slow_delay=0.0, name="bare-sim",
            connect_rate=opts.connect_rate and max(opts.connect_rate, 200.0))
        t0 = time.monotonic()
        self.bare_sims.start()
        deadline = t0 + opts.boot_timeout
        while time.monotonic() < deadline:
            if len(self.bare.booted) >= opts.bare_stations:
                break
            await asyncio.sleep(0.5)
        seconds = time.monotonic() - t0
        self.bare_ids = sorted(self.bare.booted)
        random.Random(43).shuffle(self.bare_ids)
        return {"expected": opts.bare_stations, "booted": len(self.bare_ids),
                "seconds": round(seconds, 2), "simulator_processes": len(plan.slices),
                **self.bare_sims.log_counts()}

    def _product_call(self, op: str, stations: list[str], profile_id: int) -> load.Call:
        rest = self.rest
        assert rest is not None
        body = {"connector_id": 1, "profile": profile(profile_id)}

        async def call(index: int) -> str | None:
            sid, base = stations[index % len(stations)], rest.base(index)
            if op == "set":
                return await rest.set_profile(base, sid, body)
            if op == "get":
                return await rest.composite_schedule(base, sid)
            return await rest.clear_profile(base, sid, profile_id)

        return call

    def _bare_call(self, stations: list[str], profile_id: int) -> load.Call:
        bare = self.bare
        assert bare is not None
        payload = profile(profile_id)

        async def call(index: int) -> str | None:
            status = await bare.set_charging_profile(stations[index % len(stations)], 1,
                                                     payload)
            return None if status == "Accepted" else f"station answered {status}"

        return call

    def _cross_share(self, stations: list[str], calls: int) -> float | None:
        if len(self.servers) < 2:
            return None
        cross = sum(1 for i in range(calls)
                    if self.home.get(stations[i % len(stations)]) != i % len(self.servers))
        return round(cross / max(calls, 1), 3)

    async def latency_one(self, op: str, side: str, concurrency: int) -> dict[str, Any]:
        opts = self.opts
        calls = opts.calls
        if side == "product":
            stations = self._next_stations(self.healthy, "_cursor", calls)
            fn = self._product_call(op, stations, 100 + OPERATIONS.index(op))
        else:
            stations = self._next_stations(self.bare_ids, "_bare_cursor", calls)
            fn = self._bare_call(stations, 100)
        result = await load.closed_loop(fn, calls=calls, concurrency=concurrency,
                                        max_seconds=opts.phase_seconds,
                                        timeout=opts.call_timeout + 15)
        result["distinct_stations"] = len(set(stations))
        if side == "product":
            result["cross_process_share"] = self._cross_share(stations, calls)
        return result

    async def latency(self, out: dict[str, Any]) -> dict[str, Any]:
        """Fills ``out`` as it goes, so an interrupted run keeps what it measured."""
        out.update({op: {"product": {}} for op in OPERATIONS})
        out["set"]["bare"] = {}
        for c in self.opts.concurrency:
            for side in ("product", "bare"):
                if side == "bare" and not self.bare_ids:
                    continue
                r = await self.phase(f"set {side} c={c}", self.latency_one("set", side, c))
                out["set"][side][str(c)] = r
                self._print_stats(f"set {side} c={c}", r)
        for op in ("get", "clear"):
            for c in self.opts.concurrency:
                r = await self.phase(f"{op} product c={c}", self.latency_one(op, "product", c))
                out[op]["product"][str(c)] = r
                self._print_stats(f"{op} product c={c}", r)
        return out

    def _print_stats(self, name: str, r: dict[str, Any] | None) -> None:
        if r:
            self.log(f"  {name}: p50 {r['p50_ms']} p99 {r['p99_ms']} ms, {r['rps']}/s, "
                     f"errors {r['errors']} {r['error_kinds'] or ''}")

    async def bulk(self) -> dict[str, Any]:
        rest = self.rest
        assert rest is not None
        targets = self.healthy[: self.opts.bulk_stations]
        runs = []
        for i in range(self.opts.bulk_repeats):
            body = {"connector_id": 1, "profile": profile(200 + i)}
            t0 = time.perf_counter()
            try:
                status, data = await rest.bulk(rest.base(i), targets, body, timeout=120)
            except (TimeoutError, aiohttp.ClientError) as exc:
                status, data = 0, f"{type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - t0
            run: dict[str, Any] = {"seconds": round(seconds, 3), "http_status": status}
            if isinstance(data, dict):
                run.update(total=data.get("total"), succeeded=data.get("succeeded"),
                           failed=data.get("failed"))
                errors = [r.get("error") for r in data.get("results", []) if r.get("error")]
                run["error_kinds"] = dict(
                    sorted(((e[:100], errors.count(e)) for e in set(errors)),
                           key=lambda kv: -kv[1])[:5])
            else:
                run["error"] = data
            runs.append(run)
            self.log(f"  bulk {len(targets)}: {run}")
        # A run that got no answer is an error, not a time: it must not lower the median.
        times = [r["seconds"] for r in runs if r["http_status"] == 200]
        return {"stations": len(targets), "runs": runs,
                "median_seconds": round(statistics.median(times), 3) if times else None}

    async def isolation(self) -> dict[str, Any]:
        opts = self.opts
        rest = self.rest
        assert rest is not None
        if not self.slow:
            return {"skipped": "no slow stations"}
        slow_conc = min(len(self.slow), opts.slow_concurrency)
        # The slow calls start spread over one answer delay, so that slow_conc of them
        # wait at every moment and they end as they began, a few at a time. Started
        # together they would also end together: every slow_delay a burst of slow_conc
        # answers and as many new requests within a few hundred ms, which measures the
        # server's handling of a burst, not whether waiting calls hold others up.
        ramp = opts.slow_delay
        stop_at = time.monotonic() + ramp + opts.isolation_seconds
        slow_rec = load.Recorder()
        body = {"connector_id": 1, "profile": profile(300)}

        async def slow_worker(w: int) -> None:
            mine = self.slow[w::slow_conc]
            k = 0
            await asyncio.sleep(ramp * w / slow_conc)
            while time.monotonic() < stop_at:
                sid = mine[k % len(mine)]
                t0 = time.perf_counter()
                try:
                    async with asyncio.timeout(opts.call_timeout + 15):
                        error = await rest.set_profile(rest.base(w + k), sid, body)
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"
                slow_rec.record(time.perf_counter() - t0, error, t0)
                k += 1

        slow_rec.begin()
        slow_tasks = [asyncio.create_task(slow_worker(w)) for w in range(slow_conc)]
        await asyncio.sleep(ramp)  # every slow call in flight
        seconds = max(1.0, stop_at - time.monotonic())
        total = int(opts.isolation_rate * seconds)
        stations = self._next_stations(self.healthy, "_cursor", total)
        healthy = await load.open_loop(
            self._product_call("set", stations, 301), rate=opts.isolation_rate,
            seconds=seconds, timeout=opts.call_timeout + 15)
        await asyncio.wait(slow_tasks, timeout=opts.call_timeout + 25)
        slow_rec.end()
        for task in slow_tasks:
            task.cancel()
        return {"slow_stations": len(self.slow), "slow_delay_s": opts.slow_delay,
                "slow_calls_in_flight": slow_conc, "slow_ramp_s": ramp,
                "healthy": healthy,
                "slow": slow_rec.summary(concurrency=slow_conc),
                # the healthy calls' slowest ("slowest", seconds from the start of the
                # open loop) are to be compared with when slow calls ended
                "slow_ended_at_s": sorted(round(at + v - ramp, 2)
                                          for at, v in slow_rec.timeline)}

    async def paced(self) -> dict[str, Any]:
        opts = self.opts
        total = int(opts.paced_rate * opts.paced_seconds)
        stations = self._next_stations(self.healthy, "_cursor", total)
        result = await load.open_loop(self._product_call("set", stations, 400),
                                      rate=opts.paced_rate, seconds=opts.paced_seconds,
                                      timeout=opts.call_timeout + 15)
        result["cross_process_share"] = self._cross_share(stations, total)
        return result

    # ---------------------------------------------------------------- the run

    async def run(self) -> dict[str, Any]:
        opts = self.opts
        res = self.results
        res["run_dir"] = str(self.run_dir)
        self.log(f"run directory {self.run_dir}; backend: {self.backend.description}")
        await asyncio.to_thread(self.backend.create)
        key = await asyncio.to_thread(self.backend.create_api_key)
        for i in range(opts.server_count):
            server = Server(self.backend, opts.server, self.run_dir, f"server-{i}")
            await asyncio.to_thread(server.start)
            self.servers.append(server)
        res["servers"] = [{"name": s.name, "pid": s.pid, "http": s.http_url,
                           "ocpp": s.ocpp_url, "argv": " ".join(s.argv[1:])}
                          for s in self.servers]
        self.bare = BareCentralSystem(procs.free_port(), opts.heartbeat_interval)
        await self.bare.start()
        # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes
        # them: reusing one the server is closing fails the call on the client's side.
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=4.0)
        async with aiohttp.ClientSession(connector=connector) as session:
            self.rest = Rest(session, [s.http_url for s in self.servers], key)
            self.monitor = HealthMonitor(self.rest)
            self.monitor.start()
            try:
                await self._phases(res)
            finally:
                await self.monitor.stop()
        return res

    async def _phases(self, res: dict[str, Any]) -> None:
        opts = self.opts
        assert self.rest is not None
        assert self.monitor is not None
        await self.rest.warm_up()
        await asyncio.sleep(2.0)
        rss_before = self.rss()
        t_boot = time.monotonic()
        res["boot"] = await self.phase("boot", self.boot())
        t_booted = time.monotonic()
        res["event_loop_lag"] = {"boot": self.monitor.window(t_boot, t_booted)}
        await asyncio.sleep(3.0)  # let the post-boot GetConfiguration exchanges settle
        rss_boot = self.rss()
        booted = (res["boot"] or {}).get("booted", 0)
        res["memory"] = {"rss_before_kb": rss_before, "rss_after_boot_kb": rss_boot,
                         "stations": booted}
        if booted and None not in rss_before and None not in rss_boot:
            delta = sum(rss_boot) - sum(rss_before)  # type: ignore[arg-type]
            res["memory"]["per_station_kb"] = round(delta / booted, 2)
        soak_start = time.monotonic()
        if "bare" in opts.phases:
            res["boot_bare"] = await self.phase("boot bare", self.boot_bare())
        idle_t0 = time.monotonic()
        await asyncio.sleep(min(10.0, opts.soak_seconds / 4))
        res["event_loop_lag"]["idle"] = self.monitor.window(idle_t0, time.monotonic())
        if "latency" in opts.phases:
            res["latency"] = {}
            await self.latency(res["latency"])
        for name, method in (("bulk", self.bulk), ("isolation", self.isolation),
                             ("paced", self.paced)):
            if name in opts.phases:
                res[name] = await self.phase(name, method())
        remaining = soak_start + opts.soak_seconds - time.monotonic()
        if remaining > 0 and self.servers_alive():
            self.log(f"soak: {remaining:.0f}s more with no load")
            idle_t0 = time.monotonic()
            await asyncio.sleep(remaining)
            res["event_loop_lag"]["soak_idle"] = self.monitor.window(idle_t0, time.monotonic())
        soak_end = time.monotonic()
        connected_now = await asyncio.to_thread(self.backend.connected_count, PREFIX)
        held = self.monitor.held(soak_start, soak_end, len(self.servers))
        logs = self.product.log_counts() if self.product else {}
        boot_logs = res["boot"] or {}
        res["soak"] = {
            "seconds": round(soak_end - soak_start, 1),
            "expected": booted,
            "connected_at_end": connected_now,
            "held_min": min(held) if held else None,
            "held_samples": len(held),
            "disconnects_logged": logs.get("disconnects", 0)
            - boot_logs.get("disconnects", 0),
            "connect_failures_logged": logs.get("connect_failures", 0)
            - boot_logs.get("connect_failures", 0),
            "heartbeat_interval_s": opts.heartbeat_interval,
            "simulator_processes_alive": self.product.alive() if self.product else 0,
        }
        res["soak"]["dropped"] = max(0, booted - min(connected_now, res["soak"]["held_min"]
                                                     if held else connected_now))
        res["memory"]["rss_end_kb"] = self.rss()
        if booted and None not in res["memory"]["rss_end_kb"] and None not in rss_before:
            delta = sum(res["memory"]["rss_end_kb"]) - sum(rss_before)
            res["memory"]["per_station_kb_end"] = round(delta / booted, 2)
        res["event_loop_lag"]["whole_run"] = self.monitor.window(t_boot, soak_end)
        res["health_poll_failures"] = self.monitor.failures

    async def close(self) -> None:
        res = self.results
        res["problems"] = {
            "servers": [s.log_problems() for s in self.servers],
            "servers_alive_at_end": self.servers_alive(),
        }
        if self.product is not None:
            res["problems"]["simulators"] = self.product.log_counts()
        if self.bare_sims is not None:
            res["problems"]["bare_simulators"] = self.bare_sims.log_counts()
        for group in (self.product, self.bare_sims):
            if group is not None:
                await asyncio.to_thread(group.stop)
        if self.bare is not None:
            with contextlib.suppress(Exception):
                await self.bare.stop()
        for server in self.servers:
            await asyncio.to_thread(server.stop)
        await asyncio.to_thread(self.backend.drop)
        if self.opts.keep:
            self.log(f"kept {self.run_dir}")
        else:
            shutil.rmtree(self.run_dir, ignore_errors=True)


async def run(opts: Options, max_seconds: float) -> dict[str, Any]:
    bench = Bench(opts)
    try:
        async with asyncio.timeout(max_seconds):
            await bench.run()
    except TimeoutError:
        bench.results["phase_errors"].append(f"aborted: the run exceeded {max_seconds:.0f}s")
    except asyncio.CancelledError:
        bench.results["phase_errors"].append("aborted: interrupted")
    except Exception as exc:
        bench.results["phase_errors"].append(f"aborted: {type(exc).__name__}: {exc}")
        bench.log(traceback.format_exc())
    finally:
        await bench.close()
    return bench.results
