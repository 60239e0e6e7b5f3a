"""Run the CSMS: HTTP (REST API, admin, docs, and OCPP on /ocpp/<id>) on one port and
OCPP on /<id> on another, in one process.

    python manage.py serve --http-port 8000 --ocpp-port 9000
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

logger = logging.getLogger(__name__)


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
            default=os.environ.get("CSMS_SERVER", "daphne"),
        )

    def handle(self, *args, host: str, http_port: int, ocpp_port: int, server: str,
               **options) -> None:
        ports = [http_port] + ([ocpp_port] if ocpp_port else [])
        ocpp_urls = f"ws://{host}:{http_port}/ocpp/<station_id>"
        if ocpp_port:
            ocpp_urls = f"ws://{host}:{ocpp_port}/<station_id> and " + ocpp_urls
        self.stdout.write(
            f"SmartCharging CSMS ({server}): REST API and docs on http://{host}:{http_port}/docs; "
            f"OCPP 1.6J on {ocpp_urls}"
        )
        if server == "uvicorn":
            self._serve_uvicorn(host, ports)
        else:
            self._serve_daphne(host, ports)

    def _serve_daphne(self, host: str, ports: list[int]) -> None:
        from daphne.server import Server

        from csms_project.asgi import application

        Server(
            application,
            endpoints=[f"tcp:port={port}:interface={host}" for port in ports],
            # Chargers stay connected for months: never close a WebSocket for its age.
            websocket_timeout=-1,
            ping_interval=settings.WEBSOCKET_PING_INTERVAL,
            ping_timeout=settings.WEBSOCKET_PING_TIMEOUT,
            verbosity=0,
        ).run()

    def _serve_uvicorn(self, host: str, ports: list[int]) -> None:
        import uvicorn

        from csms_project.asgi import application

        sockets = []
        for port in ports:
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sockets.append(sock)
        config = uvicorn.Config(
            application,
            lifespan="off",
            log_level="warning",
            ws="websockets-sansio",
            ws_per_message_deflate=False,  # costs memory per connection; chargers rarely use it
            ws_ping_interval=settings.WEBSOCKET_PING_INTERVAL,
            ws_ping_timeout=settings.WEBSOCKET_PING_TIMEOUT,
        )
        asyncio.run(uvicorn.Server(config).serve(sockets=sockets))
