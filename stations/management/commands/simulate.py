"""Run simulated charge points against a CSMS (this one or any other), in one process.

    python manage.py simulate --count 100 --url ws://localhost:9000 --prefix PY-SIM-

Their log lines are written to this project's station log (``GET /stations/{id}/logs``)
when the database is this CSMS's; ``--no-db-log`` leaves them on the console only.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from django.core.management.base import BaseCommand, CommandParser

from simulator.__main__ import build_parser, configs_from_args
from simulator.fleet import run_stations
from stations import message_log


class Command(BaseCommand):
    help = "Run N simulated OCPP 1.6J stations (see python -m simulator --help)."

    def add_arguments(self, parser: CommandParser) -> None:
        for action in build_parser()._actions:
            if action.dest == "help":
                continue
            kwargs = {k: getattr(action, k) for k in ("dest", "default", "help")}
            if action.choices:
                kwargs["choices"] = action.choices
            if action.nargs == 0:
                kwargs["action"] = "store_true"
            else:
                kwargs["type"] = action.type
                kwargs["required"] = action.required
            parser.add_argument(*action.option_strings, **kwargs)
        parser.add_argument("--no-db-log", action="store_true",
                            help="do not write the stations' log lines to the database")

    def handle(self, *args, **options) -> None:
        logging.getLogger("simulator").setLevel(options["log_level"])
        configs = configs_from_args(options)
        hook = None if options["no_db_log"] else _db_log
        asyncio.run(_run(configs, hook))


def _db_log(station_id, timestamp, level, message) -> None:
    message_log.record(
        station_id, message_log.Source.SIMULATOR, message, level=level, timestamp=timestamp
    )


async def _run(configs, hook) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_stations(configs, stop, on_log=hook)
    finally:
        await message_log.flush()
