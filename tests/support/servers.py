"""Server processes for deployment tests: ``manage.py serve`` started as a separate
process, and a loopback TCP proxy that puts several of them behind one address."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def migrate(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT,
                   env={**os.environ, **env}, check=True)


def create_key(env: dict[str, str], role: str = "operator") -> str:
    """An API key in the database ``env`` points at, made the way an operator would."""
    name = f"tests-{role}-{os.urandom(4).hex()}"
    result = subprocess.run(
        [sys.executable, "manage.py", "create_api_key", name, "--role", role, "--quiet"],
        cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True, text=True,
    )
    return result.stdout.strip()


def auth_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class ServerProcess:
    """``manage.py serve`` on two loopback ports, with the environment given."""

    def __init__(self, env: dict[str, str], server: str = "uvicorn") -> None:
        self.env = {**os.environ, **env}
        self.server = server
        self.http_port = free_port()
        self.ocpp_port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}"

    def start(self, timeout: float = 20) -> None:
        # The log goes to a file: a pipe nobody reads fills up and then blocks the server.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open while it runs
            prefix="csms-serve-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--host", "127.0.0.1",
             "--http-port", str(self.http_port), "--ocpp-port", str(self.ocpp_port),
             "--server", self.server],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{self.http_url}/docs", timeout=1)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.kill()
                    raise RuntimeError(self.output()) from None
                time.sleep(0.1)

    def kill(self) -> None:
        """Die at once, as a crashed process does: no cleanup of any kind."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        with contextlib.suppress(Exception):
            return Path(self.log.name).read_text(errors="replace")
        return ""


class FailoverProxy:
    """One loopback address in front of several servers: each new connection goes to the
    first backend that accepts it, as a load balancer with health checks would do."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.port = free_port()
        self._server: asyncio.base_events.Server | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for port in self.backends:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        else:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer),
                             return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
