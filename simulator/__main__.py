"""Command line: ``python -m simulator --url ws://127.0.0.1:9000 --count 2 --prefix PY-SIM-``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import signal
from collections.abc import Mapping, Sequence
from typing import Any

import ocpp.messages

from .config import DEFAULT_FEATURE_PROFILES, SMART_CHARGING, SessionPlan, StationConfig
from .fleet import make_configs, run_stations

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Simulated OCPP 1.6J charge points for any Central System.",
    )
    p.add_argument("--url", required=True,
                   help="CSMS WebSocket base URL; the station id is appended as the last path part")
    p.add_argument("--count", type=int, default=1, help="number of stations (default 1)")
    p.add_argument("--prefix", default="PY-SIM-", help="station id prefix (default PY-SIM-)")
    p.add_argument("--connectors", type=int, default=1, help="connectors per station")
    p.add_argument("--max-power-w", type=float, default=22080.0, help="rated power per connector")
    p.add_argument("--phases", type=int, choices=(1, 2, 3), default=3)
    p.add_argument("--sample-interval", type=float, default=1.0,
                   help="seconds between meter samples (MeterValueSampleInterval)")
    p.add_argument("--no-smart-charging", action="store_true",
                   help="leave SmartCharging out of SupportedFeatureProfiles")
    p.add_argument("--password", default=None,
                   help="HTTP Basic auth password (user = station id)")
    p.add_argument("--auto-session", action="store_true",
                   help="plug an EV into connector 1 a few seconds after start")
    p.add_argument("--answer-delay", type=float, default=0.0, metavar="SECONDS",
                   help="answer SetChargingProfile only after this long (a slow charger)")
    p.add_argument("--slow-share", type=float, default=1.0, metavar="FRACTION",
                   help="share of the stations that are slow (with --answer-delay)")
    p.add_argument("--first", type=int, default=1, help="number of the first station id")
    p.add_argument("--log-level", default="INFO",
                   choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return p


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.count < 1 or args.connectors < 1 or args.sample_interval <= 0:
        parser.error("--count and --connectors must be >= 1, --sample-interval > 0")
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The ocpp package logs every frame at INFO; that is DEBUG detail for a fleet.
    logging.getLogger("ocpp").setLevel(
        logging.DEBUG if args.log_level == "DEBUG" else logging.WARNING
    )
    # Standalone, validate frames in the event loop instead of the default thread pool:
    # the payloads are small and the process then stays single-threaded.
    ocpp.messages.ASYNC_VALIDATION = False

    asyncio.run(_run(configs_from_args(vars(args))))


def configs_from_args(args: Mapping[str, Any]) -> list[StationConfig]:
    """Station configs from parsed options (``vars()`` of this parser's namespace)."""
    features = DEFAULT_FEATURE_PROFILES
    if args["no_smart_charging"]:
        features = ",".join(f for f in features.split(",") if f != SMART_CHARGING)
    configs = make_configs(
        args["url"],
        args["count"],
        args["prefix"],
        args.get("first", 1),
        connectors=args["connectors"],
        max_power_w=args["max_power_w"],
        phases=args["phases"],
        sample_interval=args["sample_interval"],
        feature_profiles=features,
        password=args["password"],
    )
    if args["auto_session"]:
        for cfg in configs:
            cfg.sessions.append(SessionPlan(
                connector_id=1,
                plug_in_after_s=3.0 + random.uniform(0.0, 2.0),
                energy_wh=20_000.0,
                ev_max_w=min(11_000.0, args["max_power_w"]),
            ))
    slow = round(args.get("slow_share", 1.0) * len(configs))
    for cfg in configs[:slow]:
        cfg.answer_delay_s = args.get("answer_delay", 0.0) or 0.0
    return configs


async def _run(configs: list[StationConfig]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    logger.info("starting %d station(s) against %s", len(configs), configs[0].url)
    await run_stations(configs, stop)


if __name__ == "__main__":
    main()
