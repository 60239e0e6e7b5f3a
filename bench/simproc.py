"""``python -m bench.simproc``: the simulator's command line (``python -m simulator``)
plus ``--ramp-seconds``, the time over which this process opens its stations'
connections, so that a fleet connects at a chosen rate instead of all at once."""

from __future__ import annotations

import asyncio
import logging
import signal

import ocpp.messages

from simulator.__main__ import build_parser, configs_from_args
from simulator.config import StationConfig
from simulator.fleet import run_stations


async def _run(configs: list[StationConfig], ramp_s: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_stations(configs, stop, ramp_s=ramp_s)


def main() -> None:
    parser = build_parser()
    parser.prog = "python -m bench.simproc"
    parser.add_argument("--ramp-seconds", type=float, default=None,
                        help="spread first connections over this long (default: the "
                        "simulator's, 2 ms per station up to 5 s)")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    ocpp.messages.ASYNC_VALIDATION = False  # as python -m simulator does
    asyncio.run(_run(configs_from_args(vars(args)), args.ramp_seconds))


if __name__ == "__main__":
    main()
