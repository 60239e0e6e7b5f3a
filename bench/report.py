"""Results as JSON and as ``BENCHMARKS.md``: one section per configuration (server, mode,
station count), each the latest run of it with its full JSON, a summary table over all
of them, and a history of the headline figures of the runs they replaced."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

TARGET_STATIONS = 10_000
TARGET_SOAK_S = 600
JSON_BLOCK = re.compile(r"<!-- bench-json -->\n```json\n(.*?)\n```", re.DOTALL)
HISTORY = re.compile(r"<!-- bench-history: (.*?) -->")
# Hand-written text (the analysis of the figures) that a new run keeps as it is.
KEPT_TEXT = re.compile(r"<!-- analysis -->\n.*?<!-- /analysis -->\n", re.DOTALL)


def _get(data: Any, *path: Any) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def _ratio(a: Any, b: Any) -> float | None:
    if isinstance(a, int | float) and isinstance(b, int | float) and b:
        return round(a / b, 2)
    return None


def config_key(res: dict[str, Any]) -> str:
    o = res["options"]
    quick = ", quick" if o.get("quick") else ""
    phases = o.get("phases")
    if phases is not None and set(phases) != {"bare", "latency", "bulk", "isolation", "paced"}:
        quick += f", phases: {','.join(phases) or 'none'}"  # a partial run: its own section
    return f"{o['server']}, {_mode(o)}, {o['stations']} stations{quick}"


def _mode(o: dict[str, Any]) -> str:
    return "PostgreSQL + Redis, 2 processes" if o.get("postgres_redis") else "embedded, 1 process"


def headline(res: dict[str, Any]) -> dict[str, Any]:
    lat = res.get("latency") or {}
    p1 = _get(lat, "set", "product", "1", "p50_ms")
    b1 = _get(lat, "set", "bare", "1", "p50_ms")
    p20 = _get(lat, "set", "product", "20", "rps")
    b20 = _get(lat, "set", "bare", "20", "rps")
    return {
        "set_p50_c1_product_ms": p1, "set_p50_c1_bare_ms": b1,
        "p50_ratio_c1": _ratio(p1, b1),
        "set_rps_c20_product": p20, "set_rps_c20_bare": b20,
        "rps_ratio_c20": _ratio(p20, b20),
        "boot_seconds": _get(res, "boot", "seconds"),
        "booted": _get(res, "boot", "booted"),
        "rss_per_station_kb": _get(res, "memory", "per_station_kb"),
        "dropped": _get(res, "soak", "dropped"),
        "soak_seconds": _get(res, "soak", "seconds"),
        "bulk_median_s": _get(res, "bulk", "median_seconds"),
        "bulk_stations": _get(res, "bulk", "stations"),
        "isolation_p99_ms": _get(res, "isolation", "healthy", "p99_ms"),
        "paced_p99_ms": _get(res, "paced", "p99_ms"),
        "paced_rps": _get(res, "paced", "achieved_rps"),
    }


def targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets for a 2-core machine, each with what was measured."""
    h = headline(res)
    o = res["options"]
    out: list[dict[str, Any]] = []

    def add(target: str, value: str, met: bool | None, note: str = "") -> None:
        out.append({"target": target, "measured": value, "met": met, "note": note})

    r1 = h["p50_ratio_c1"]
    add("SetChargingProfile p50 at concurrency 1 ≤ 2× the bare baseline's",
        f"{_fmt(h['set_p50_c1_product_ms'], ' ms', 2)} vs {_fmt(h['set_p50_c1_bare_ms'], ' ms', 2)}"
        f" = {_fmt(r1, '×', 2)}", None if r1 is None else r1 <= 2.0)
    r20 = h["rps_ratio_c20"]
    add("SetChargingProfile throughput at concurrency 20 ≥ ½ the baseline's",
        f"{_fmt(h['set_rps_c20_product'], '/s')} vs {_fmt(h['set_rps_c20_bare'], '/s')}"
        f" = {_fmt(r20, '×', 2)}", None if r20 is None else r20 >= 0.5)
    booted, dropped, soak = h["booted"], h["dropped"], h["soak_seconds"]
    full = (booted or 0) >= TARGET_STATIONS and (soak or 0) >= TARGET_SOAK_S - 1
    single = not o.get("postgres_redis")
    met: bool | None
    if dropped is None or booted is None:
        met = None
    elif dropped > 0 or booted < o["stations"]:
        met = False
    else:
        met = True if full and single else None
    add("10,000 stations held by one server process with heartbeats, none dropped over 10 min",
        f"{_fmt(booted)} of {_fmt(o['stations'])} booted, {_fmt(dropped)} dropped over "
        f"{_fmt(soak, ' s', 0)}", met,
        "" if full and single else "not the full configuration (10,000 stations, 600 s, "
        "one process): shown, not judged unless a station dropped")
    kb = h["rss_per_station_kb"]
    add("≤ 50 KB of server RSS per connected station", _fmt(kb, " kB", 1),
        None if kb is None else kb <= 50, "" if (booted or 0) >= 1000 else
        "few stations: the per-station figure is dominated by noise")
    bulk_n, bulk_s = h["bulk_stations"], h["bulk_median_s"]
    runs = _get(res, "bulk", "runs") or []
    all_ok = bool(runs) and all(r.get("succeeded") == bulk_n for r in runs)
    bulk_met: bool | None = None
    if bulk_s is not None:
        bulk_met = bulk_s < 5.0 and all_ok if bulk_n == 1000 else (False if not all_ok else None)
    add("Bulk: one profile to 1,000 stations < 5 s",
        f"{_fmt(bulk_s, ' s', 2)} (median) for {_fmt(bulk_n)} stations"
        + ("" if all_ok else ", not all succeeded"), bulk_met,
        "" if bulk_n == 1000 else "fewer than 1,000 stations")
    iso = h["isolation_p99_ms"]
    add("Isolation: healthy stations' p99 < 100 ms while 10 % take 10 s to answer",
        _fmt(iso, " ms", 1), None if iso is None else iso < 100.0)
    pp, pr = h["paced_p99_ms"], h["paced_rps"]
    paced_errors = _get(res, "paced", "errors")
    add("Two processes on PostgreSQL + Redis: p99 < 100 ms at 100 requests/s",
        f"p99 {_fmt(pp, ' ms', 1)} at {_fmt(pr, '/s')}"
        + (f", {paced_errors} errors" if paced_errors else ""),
        (pp is not None and pp < 100.0 and not paced_errors
         and (pr or 0) >= 0.95 * 100) if o.get("postgres_redis") and o["paced_rate"] >= 100
        else None,
        "" if o.get("postgres_redis") else "measured in this mode too; judged in the "
        "PostgreSQL + Redis mode")
    return out


def _met(value: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "–"}[value]


def _latency_rows(res: dict[str, Any]) -> list[str]:
    rows = ["| operation | central system | concurrency | calls | errors | p50 ms | p95 ms "
            "| p99 ms | max ms | req/s | server CPU % | simulators CPU % | bench CPU % |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    names = {"set": "SetChargingProfile", "get": "GetCompositeSchedule",
             "clear": "ClearChargingProfile"}
    for op, sides in (res.get("latency") or {}).items():
        for side, levels in sides.items():
            for c, r in levels.items():
                if not r:
                    rows.append(f"| {names[op]} | {side} | {c} | failed | | | | | | | | | |")
                    continue
                cpu = r.get("cpu") or {}
                sims = (cpu.get("simulators_cpu_pct") or 0) + (
                    cpu.get("bare_simulators_cpu_pct") or 0)
                label = "REST → station → REST" if side == "product" else "bare ocpp"
                rows.append(
                    f"| {names[op]} | {label} | {c} | {r['calls']} | {r['errors']} "
                    f"| {_fmt(r['p50_ms'], '', 2)} | {_fmt(r['p95_ms'], '', 2)} "
                    f"| {_fmt(r['p99_ms'], '', 2)} | {_fmt(r['max_ms'], '', 2)} "
                    f"| {_fmt(r['rps'])} | {_fmt(cpu.get('server_cpu_pct'))} "
                    f"| {_fmt(round(sims, 1))} | {_fmt(cpu.get('bench_cpu_pct'))} |")
    return rows


def _stats_line(r: dict[str, Any] | None) -> str:
    if not r:
        return "–"
    return (f"{r['calls']} calls, {r['errors']} errors, p50 {_fmt(r['p50_ms'], ' ms', 2)}, "
            f"p95 {_fmt(r['p95_ms'], ' ms', 2)}, p99 {_fmt(r['p99_ms'], ' ms', 2)}, "
            f"max {_fmt(r['max_ms'], ' ms', 2)}, {_fmt(r['rps'], '/s')}")


def section(res: dict[str, Any]) -> str:
    o = res["options"]
    m = res.get("machine", {})
    boot = res.get("boot") or {}
    mem = res.get("memory") or {}
    soak = res.get("soak") or {}
    lines = [f"## {config_key(res)}", ""]
    if res.get("note"):
        lines += [f"> Note: {res['note']}", ""]
    lines += [
        f"- Command: `{o.get('command') or 'python -m bench'}`",
        f"- Date: {res.get('date')}; commit `{res.get('commit')}`; run took "
        f"{_fmt(res.get('wall_seconds'), ' s', 0)}",
        f"- Machine: {m.get('cpu_model')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB, "
        f"Linux {m.get('kernel')}, Python {res.get('python')}; load average at start / end "
        f"{res.get('loadavg_start')} / {res.get('loadavg_end')} (other work on the machine "
        "shows here)",
        f"- Server: `python {(res.get('servers') or [{}])[0].get('argv', 'manage.py serve')}`"
        f" × {len(res.get('servers') or [])} ({o['server']}, {res.get('backend')}); "
        "CSMS_ENV=production, CSMS_STATION_AUTH=auto, CSMS_THROTTLE_KEY_RATE=1000000/min, "
        f"OCPP_HEARTBEAT_INTERVAL={o['heartbeat_interval']}, "
        f"OCPP_CALL_TIMEOUT={o.get('call_timeout', 30.0)}, LOG_LEVEL=WARNING",
        f"- Stations: {o['stations']} simulated (the project's simulator, "
        "`python -m bench.simproc`) in "
        f"{boot.get('simulator_processes', '–')} processes: {boot.get('fleet')}, "
        + (f"connecting at {o.get('connect_rate')} per second; " if o.get("connect_rate")
           else "all at once (each process ramps 2 ms per station); ") +
        f"meter values every {o['meter_interval']} s on the `meter` share (an EV plugged in), "
        f"`slow` ones answer SetChargingProfile after {o['slow_delay']} s; the bare "
        f"central system (`bench/baseline.py`, in the bench process) has "
        f"{_get(res, 'boot_bare', 'booted')} stations of the same kind in "
        f"{_get(res, 'boot_bare', 'simulator_processes')} processes",
        f"- Load generator: aiohttp in one process; {o['calls']} calls per operation and "
        "concurrency, each to a different station, round-robin over the server processes",
        "",
        "### Targets", "",
        "| target | measured | met | note |", "|---|---|---|---|",
    ]
    lines += [f"| {t['target']} | {t['measured']} | {_met(t['met'])} | {t['note']} |"
              for t in res.get("targets", [])]
    lines += [
        "", "### Boot, memory, soak", "",
        "| figure | value |", "|---|---|",
        f"| stations booted / expected | {_fmt(boot.get('booted'))} / "
        f"{_fmt(boot.get('expected'))} |",
        f"| time until all booted | {_fmt(boot.get('seconds'), ' s', 2)} "
        f"(50 %: {_get(boot, 'seconds_to', '50%')} s, 90 %: {_get(boot, 'seconds_to', '90%')} s)"
        f" – {_fmt(boot.get('boots_per_s'), '/s')}"
        + (f" (stations offered {o['connect_rate']} connections/s: the boot cannot be faster "
           f"than {o['stations'] / o['connect_rate']:.0f} s)" if o.get("connect_rate") else "")
        + " |",
        f"| connect failures (logged by the stations) | {_fmt(boot.get('connect_failures'))} |",
        f"| server RSS before / after boot / at end (kB) | {mem.get('rss_before_kb')} / "
        f"{mem.get('rss_after_boot_kb')} / {mem.get('rss_end_kb')} |",
        f"| server RSS per connected station | {_fmt(mem.get('per_station_kb'), ' kB', 2)} "
        f"after boot, {_fmt(mem.get('per_station_kb_end'), ' kB', 2)} at the end |",
        f"| CPU during boot (% of one core) | {_get(boot, 'cpu')} |",
        f"| soak (from all booted to the end, load phases included) | "
        f"{_fmt(soak.get('seconds'), ' s', 0)}, heartbeat every "
        f"{soak.get('heartbeat_interval_s')} s |",
        f"| stations held (min over /health polls) / connected at end | "
        f"{_fmt(soak.get('held_min'))} / {_fmt(soak.get('connected_at_end'))} |",
        f"| dropped during the soak | {_fmt(soak.get('dropped'))} (disconnects logged by "
        f"stations: {_fmt(soak.get('disconnects_logged'))}) |",
        "", "### REST → station → REST round trips, and the bare protocol", "",
    ]
    lines += _latency_rows(res)
    h = headline(res)
    lines += ["", f"Headline: SetChargingProfile p50 at concurrency 1 is "
              f"{_fmt(h['p50_ratio_c1'], '×', 2)} the bare protocol's; throughput at "
              f"concurrency 20 is {_fmt(h['rps_ratio_c20'], '×', 2)} the bare protocol's.", ""]
    bulk = res.get("bulk") or {}
    lines += ["### Bulk", "", f"One profile to {bulk.get('stations')} stations with "
              "`POST /charging_profiles/bulk`:", ""]
    lines += [f"- {r['seconds']} s: HTTP {r['http_status']}, {r.get('succeeded')} succeeded, "
              f"{r.get('failed')} failed {r.get('error_kinds') or r.get('error') or ''}"
              for r in bulk.get("runs", [])]
    iso = res.get("isolation") or {}
    lines += ["", "### Isolation", "",
              f"{iso.get('slow_calls_in_flight')} SetChargingProfile calls kept in flight to "
              f"{iso.get('slow_stations')} slow stations (answer after "
              f"{iso.get('slow_delay_s')} s; their starts spread over "
              f"{iso.get('slow_ramp_s')} s, so that as many wait at every moment) while "
              f"healthy stations are called at {o.get('isolation_rate')} per second (open "
              "loop, latency from the scheduled start):", "",
              f"- healthy: {_stats_line(iso.get('healthy'))}",
              f"- slow: {_stats_line(iso.get('slow'))}"]
    slowest = ((iso.get("healthy") or {}).get("slowest") or [])[:5]
    if slowest:
        lines.append("- the healthy calls' five slowest (ms, at seconds into the phase): "
                     + ", ".join(f"{c['ms']} at {c['at_s']}" for c in slowest))
    lines.append("")
    paced = res.get("paced") or {}
    lines += ["### Paced load", "",
              f"SetChargingProfile started at {o['paced_rate']} per second for "
              f"{o['paced_seconds']} s (open loop, latency from the scheduled start), "
              f"cross-process share {paced.get('cross_process_share')}:", "",
              f"- {_stats_line(paced)}", ""]
    lines += ["### Event-loop lag (GET /health every 2 s)", "",
              "| phase | samples | mean ms | max sampled ms | max reported ms |",
              "|---|---:|---:|---:|---:|"]
    for name, lag in (res.get("event_loop_lag") or {}).items():
        lines.append(f"| {name} | {lag.get('samples')} | {_fmt(lag.get('mean_ms'), '', 2)} "
                     f"| {_fmt(lag.get('max_sampled_ms'), '', 2)} "
                     f"| {_fmt(lag.get('max_reported_ms'), '', 2)} |")
    for op, sides in (res.get("latency") or {}).items():
        for side, levels in sides.items():
            if side != "product":
                continue
            for c, r in levels.items():
                lag = (r or {}).get("event_loop_lag") or {}
                if lag.get("samples"):
                    lines.append(f"| {op} c={c} | {lag['samples']} | "
                                 f"{_fmt(lag.get('mean_ms'), '', 2)} | "
                                 f"{_fmt(lag.get('max_sampled_ms'), '', 2)} | "
                                 f"{_fmt(lag.get('max_reported_ms'), '', 2)} |")
    problems = res.get("problems") or {}
    lines += ["", "### Problems seen", "",
              f"- phase errors: {res.get('phase_errors') or 'none'}",
              f"- server processes alive at the end: {problems.get('servers_alive_at_end')}",
              f"- server logs: {problems.get('servers')}",
              f"- simulator logs: {problems.get('simulators')}; bare: "
              f"{problems.get('bare_simulators')}", ""]
    lines += ["<details><summary>All figures (JSON)</summary>", "", "<!-- bench-json -->",
              "```json", json.dumps(res, indent=1, sort_keys=True, default=str), "```", "",
              "</details>", ""]
    return "\n".join(lines)


def _summary(records: list[dict[str, Any]]) -> list[str]:
    rows = ["| configuration | date | commit | booted | boot s | kB/station | dropped "
            "| set p50 c=1 ms (product / bare) | ratio | set req/s c=20 (product / bare) "
            "| ratio | bulk s | isolation p99 ms | paced p99 ms |",
            "|---|---|---|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---:|"]
    for res in records:
        h = headline(res)
        rows.append(
            f"| {config_key(res)} | {res.get('date', '')[:10]} | `{res.get('commit')}` "
            f"| {_fmt(h['booted'])} | {_fmt(h['boot_seconds'])} "
            f"| {_fmt(h['rss_per_station_kb'])} | {_fmt(h['dropped'])} "
            f"| {_fmt(h['set_p50_c1_product_ms'], '', 2)} / {_fmt(h['set_p50_c1_bare_ms'], '', 2)}"
            f" | {_fmt(h['p50_ratio_c1'], '×', 2)} | {_fmt(h['set_rps_c20_product'])} / "
            f"{_fmt(h['set_rps_c20_bare'])} | {_fmt(h['rps_ratio_c20'], '×', 2)} "
            f"| {_fmt(h['bulk_median_s'], '', 2)} | {_fmt(h['isolation_p99_ms'])} "
            f"| {_fmt(h['paced_p99_ms'])} |")
    return rows


def read_records(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The runs and the history kept in an existing BENCHMARKS.md."""
    if not path.exists():
        return [], []
    text = path.read_text()
    records = []
    for block in JSON_BLOCK.findall(text):
        try:
            records.append(json.loads(block))
        except ValueError:
            continue
    history: list[dict[str, Any]] = []
    match = HISTORY.search(text)
    if match:
        try:
            history = json.loads(match.group(1))
        except ValueError:
            history = []
    return records, history


def write_markdown(path: Path, res: dict[str, Any]) -> None:
    records, history = read_records(path)
    key = config_key(res)
    kept = []
    for old in records:
        if config_key(old) == key:
            history.append({"configuration": key, "date": old.get("date"),
                            "commit": old.get("commit"), **headline(old)})
        else:
            kept.append(old)
    kept.append(res)
    match = KEPT_TEXT.search(path.read_text()) if path.exists() else None
    render(path, kept, history, analysis=match.group(0) if match else "")


def render(path: Path, kept: list[dict[str, Any]], history: list[dict[str, Any]],
           analysis: str = "") -> None:
    """Write BENCHMARKS.md from runs (one per configuration), the history and the
    hand-written analysis (between ``<!-- analysis -->`` and ``<!-- /analysis -->``)."""
    kept = list(kept)
    kept.sort(key=lambda r: (r["options"].get("quick", False),
                             r["options"].get("postgres_redis", False),
                             r["options"]["server"], -r["options"]["stations"]))
    lines = [
        "# Benchmarks", "",
        "Written by `python -m bench` (the `bench/` package; see the README). Each section "
        "below is the latest run of one configuration (server, mode, station count) on the "
        "machine it names; a new run of the same configuration replaces it and moves its "
        "headline figures to the history at the end. Targets are those of the issue for a "
        "2-core machine.", "",
        "## Summary", "",
    ]
    lines += _summary(kept)
    lines.append("")
    if analysis:
        lines.append(analysis)
    for rec in kept:
        lines.append(section(rec))
    lines += ["## History", ""]
    if history:
        lines += ["| configuration | date | commit | set p50 ratio c=1 | req/s ratio c=20 "
                  "| booted | dropped | kB/station | bulk s | isolation p99 ms |",
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {h['configuration']} | {str(h.get('date'))[:16]} | `{h.get('commit')}` "
                  f"| {_fmt(h.get('p50_ratio_c1'), '×', 2)} "
                  f"| {_fmt(h.get('rps_ratio_c20'), '×', 2)} | {_fmt(h.get('booted'))} "
                  f"| {_fmt(h.get('dropped'))} | {_fmt(h.get('rss_per_station_kb'))} "
                  f"| {_fmt(h.get('bulk_median_s'), '', 2)} | {_fmt(h.get('isolation_p99_ms'))} |"
                  for h in history]
    else:
        lines.append("No earlier runs.")
    lines += ["", f"<!-- bench-history: {json.dumps(history, default=str)} -->", ""]
    path.write_text("\n".join(lines))


def write_json(path: Path, res: dict[str, Any]) -> None:
    path.write_text(json.dumps(res, indent=2, sort_keys=True, default=str) + "\n")
