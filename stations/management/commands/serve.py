"""Run the CSMS: HTTP (REST API, admin, docs, and OCPP on /ocpp/<id>) on one port and
OCPP on /<id> on another, in one process.

    python manage.py serve --http-port 8000 --ocpp-port 9000
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from csms_project.proxies import uvicorn_proxy_options

logger = logging.getLogger(__name__)

# How long a station's opening handshake may take, from its TCP connection to the
# server's answer. Daphne's default (5 s) refuses stations whenever the event loop is
# busy for a few seconds, e.g. while thousands reconnect after a restart; they retry,
# and the retries make the storm worse.
HANDSHAKE_TIMEOUT = 30.0


def _freeze_startup_objects() -> None:
    """Move what the imports created (Django, the OCPP schemas, the app: ~130,000 objects)
    out of the garbage collector's sight: they live as long as the process, and every
    full collection would otherwise walk them again, stopping the event loop each time."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*settings.CSMS_GC_THRESHOLDS)


class Command(BaseCommand):
    help = "Serve the REST API and the OCPP endpoint (Daphne or uvicorn)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("CSMS_HOST", "0.0.0.0"))
        parser.add_argument(
            "--http-port", type=int, default=int(os.environ.get("CSMS_HTTP_PORT", 8000))
        )
        parser.add_argument(
            "--ocpp-port", type=int, default=int(os.environ.get("CSMS_OCPP_PORT", 9000)),
            help="0 to serve OCPP only on the HTTP port (/ocpp/<station_id>)",
        )
        parser.add_argument(
            "--server", choices=["daphne", "uvicorn"],
            # uvicorn by default: faster on every figure of BENCHMARKS.md, and it can refuse
            # a station's handshake with 401 (Daphne only with 403).
            default=os.environ.get("CSMS_SERVER", "uvicorn"),
        )
        parser.add_argument(
            "--backlog", type=int, default=int(os.environ.get("CSMS_BACKLOG", 8192)),
            help="connections the kernel queues before the server accepts them (capped "
            "by net.core.somaxconn); thousands of chargers reconnect at once after a "
            "restart (uvicorn's default is 2,048, Daphne's 50)",
        )
        parser.add_argument(
            "--simulate", type=int, default=int(os.environ.get("CSMS_SIMULATE", 0)),
            metavar="N", help="also run N simulated stations (PY-SIM-0001...) in this process",
        )

    def handle(self, *args, host: str, http_port: int, ocpp_port: int, server: str,
               simulate: int, backlog: int, **options) -> None:
        ports = [http_port] + ([ocpp_port] if ocpp_port else [])
        if "SIMULATOR_CSMS_URL" not in os.environ:
            # Hosted simulated stations connect to this very server.
            settings.SIMULATOR_CSMS_URL = (
                f"ws://127.0.0.1:{ocpp_port}" if ocpp_port else f"ws://127.0.0.1:{http_port}/ocpp"
            )
        self.simulate = simulate
        self.backlog = backlog
        ocpp_urls = f"ws://{host}:{http_port}/ocpp/<station_id>"
        if ocpp_port:
            ocpp_urls = f"ws://{host}:{ocpp_port}/<station_id> and " + ocpp_urls
        self.stdout.write(
            f"SmartCharging CSMS ({server}): REST API and docs on http://{host}:{http_port}/docs; "
            f"OCPP 1.6J on {ocpp_urls}"
        )
        from csms_project.asgi import application  # noqa: F401 - imported before the freeze

        _freeze_startup_objects()
        if server == "uvicorn":
            self._serve_uvicorn(host, ports)
        else:
            self._serve_daphne(host, ports)

    def _serve_daphne(self, host: str, ports: list[int]) -> None:
        from daphne.server import Server

        from csms_project.asgi import application

        Server(
            application,
            ready_callable=lambda: asyncio.ensure_future(self._start_simulated()),
            endpoints=[f"tcp:port={port}:interface={host}:backlog={self.backlog}"
                       for port in ports],
            # Chargers stay connected for months: never close a WebSocket for its age.
            websocket_timeout=-1,
            websocket_handshake_timeout=HANDSHAKE_TIMEOUT,
            websocket_connect_timeout=HANDSHAKE_TIMEOUT,  # for the app to accept or refuse
            ping_interval=settings.WEBSOCKET_PING_INTERVAL,
            ping_timeout=settings.WEBSOCKET_PING_TIMEOUT,
            verbosity=0,
            websocket_max_message_size=settings.OCPP_MAX_FRAME_BYTES,
        ).run()

    def _serve_uvicorn(self, host: str, ports: list[int]) -> None:
        import uvicorn

        from csms_project.asgi import application

        sockets = []
        for port in ports:
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # Accepted connections inherit this: without it, a response written in two
            # parts waits ~40 ms for the client's delayed ACK (Nagle's algorithm).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((host, port))
            sockets.append(sock)
        config = uvicorn.Config(
            application,
            lifespan="off",
            log_level="warning",
            backlog=self.backlog,
            ws="websockets-sansio",
            ws_per_message_deflate=False,  # costs memory per connection; chargers rarely use it
            ws_max_size=settings.OCPP_MAX_FRAME_BYTES,
            ws_ping_interval=settings.WEBSOCKET_PING_INTERVAL,
            ws_ping_timeout=settings.WEBSOCKET_PING_TIMEOUT,
            **uvicorn_proxy_options(),  # X-Forwarded-For believed only behind CSMS_NUM_PROXIES
        )
        asyncio.run(self._run_uvicorn(uvicorn.Server(config), sockets))

    async def _run_uvicorn(self, server, sockets: list[socket.socket]) -> None:
        serving = asyncio.create_task(server.serve(sockets=sockets))
        while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.05)
        await self._start_simulated()
        await serving

    async def _start_simulated(self) -> None:
        if not self.simulate:
            return
        from simulator.fleet import make_configs
        from stations import simulation

        configs = make_configs(simulation.csms_url(), self.simulate, "PY-SIM-")
        await simulation.start(configs)
        self.stdout.write(
            f"Simulated stations: {', '.join(c.station_id for c in configs)} "
            f"(logs: GET /stations/<station_id>/logs)"
        )
