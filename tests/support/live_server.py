"""The real ASGI application served over real sockets, in a thread of the test process.

Tests talk to it with real HTTP and WebSocket clients; because it shares the process,
they can also look at the database and change settings it reads.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import uvicorn


class LiveAsgiServer:
    """uvicorn serving ``csms_project.asgi:application`` on a free loopback port."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # As manage.py serve does: no Nagle delay on keep-alive connections.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server: uvicorn.Server | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """Base URL for stations, the ``/ocpp/<id>`` form."""
        return f"ws://127.0.0.1:{self.port}/ocpp"

    @property
    def ws_root_url(self) -> str:
        """Base URL for stations, the port-9000 ``/<id>`` form."""
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> None:
        from csms_project.asgi import application
        from csms_project.proxies import uvicorn_proxy_options

        config = uvicorn.Config(
            application,
            lifespan="off",
            log_level="warning",
            ws="websockets-sansio",
            ws_per_message_deflate=False,
            ws_ping_interval=None,
            # As the serve command should: X-Forwarded-For only behind CSMS_NUM_PROXIES.
            **uvicorn_proxy_options(),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="live-asgi-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        assert self.server is not None
        self.loop.run_until_complete(self.server.serve(sockets=[self.sock]))

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
