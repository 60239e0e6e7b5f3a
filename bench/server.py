"""The CSMS under test: its database (SQLite in a fresh directory, or a fresh PostgreSQL
database with a dedicated Redis database) and ``manage.py serve`` processes."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .procs import Child, free_port

ROOT = Path(__file__).resolve().parents[1]
PG_BASE = "postgresql://postgres@127.0.0.1:5432"
# A server log line's level, after the time LOG_TIMESTAMPS puts first.
_LEVEL = re.compile(r"(?:\S+ \S+ )?(ERROR|CRITICAL|WARNING):")
# Variables of the caller's environment that would change what is measured.
_DROPPED = ("DATABASE_URL", "REDIS_URL", "CSMS_VAR_DIR", "CSMS_API_AUTH", "DEBUG")


class Backend:
    """Where the servers keep their state; ``env`` is what every server process gets."""

    def __init__(self, run_dir: Path, *, postgres_redis: bool, redis_db: int,
                 heartbeat_interval: int, call_timeout: float = 30.0) -> None:
        self.postgres_redis = postgres_redis
        self.var_dir = run_dir / "var"
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.db_name = f"csms_bench_{secrets.token_hex(4)}" if postgres_redis else ""
        self.redis_db = redis_db
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
        env.update({
            "CSMS_ENV": "production",  # the production settings, as deployed
            "SECRET_KEY": secrets.token_urlsafe(48),
            "CSMS_VAR_DIR": str(self.var_dir),
            "CSMS_STATION_AUTH": "auto",
            "CSMS_THROTTLE_KEY_RATE": "1000000/min",
            "OCPP_HEARTBEAT_INTERVAL": str(heartbeat_interval),
            "OCPP_CALL_TIMEOUT": str(call_timeout),
            "LOG_LEVEL": "WARNING",
            "LOG_TIMESTAMPS": "true",  # to line the server's warnings up with the phases
            "CSMS_PAUSE_WARN_SECONDS": "0.1",  # name every pause that shows in a p99
            "PYTHONUNBUFFERED": "1",
        })
        if postgres_redis:
            env["DATABASE_URL"] = f"{PG_BASE}/{self.db_name}"
            env["REDIS_URL"] = f"redis://127.0.0.1:6379/{redis_db}"
        self.env = env

    @property
    def description(self) -> str:
        if self.postgres_redis:
            return f"PostgreSQL (fresh database) + Redis db {self.redis_db}"
        return "embedded: SQLite + in-memory channel layer"

    def create(self) -> None:
        if self.postgres_redis:
            import psycopg
            import redis

            with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.db_name}"')
            redis.Redis(host="127.0.0.1", port=6379, db=self.redis_db).flushdb()
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT,
                       env=self.env, check=True, timeout=300)

    def drop(self) -> None:
        if not self.postgres_redis:
            return
        import psycopg
        import redis

        with contextlib.suppress(Exception), psycopg.connect(
                f"{PG_BASE}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        with contextlib.suppress(Exception):
            redis.Redis(host="127.0.0.1", port=6379, db=self.redis_db).flushdb()

    def create_api_key(self) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", "create_api_key", f"bench-{secrets.token_hex(4)}",
             "--role", "operator", "--quiet"],
            cwd=ROOT, env=self.env, check=True, capture_output=True, text=True, timeout=120,
        )
        return result.stdout.strip()

    def _query(self, sql: str) -> list[tuple]:
        if self.postgres_redis:
            import psycopg

            with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as conn:
                return conn.execute(sql).fetchall()
        path = self.var_dir / "csms.sqlite3"
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def booted_ids(self, prefix: str) -> set[str]:
        """Stations connected now that have booted (BootNotification accepted)."""
        rows = self._query(
            "SELECT station_id FROM stations_station WHERE connected "
            f"AND last_boot_at IS NOT NULL AND station_id LIKE '{prefix}%'"
        )
        return {r[0] for r in rows}

    def connected_count(self, prefix: str) -> int:
        rows = self._query(
            f"SELECT count(*) FROM stations_station WHERE connected AND station_id LIKE '{prefix}%'"
        )
        return int(rows[0][0])


class Server:
    """``manage.py serve`` on loopback ports: the README's production server command."""

    def __init__(self, backend: Backend, server: str, run_dir: Path, name: str) -> None:
        self.backend = backend
        self.server = server
        self.name = name
        self.http_port = free_port()
        self.ocpp_port = free_port()
        self.run_dir = run_dir
        self.child: Child | None = None

    @property
    def argv(self) -> list[str]:
        return [sys.executable, "manage.py", "serve", "--server", self.server,
                "--host", "127.0.0.1", "--http-port", str(self.http_port),
                "--ocpp-port", str(self.ocpp_port)]

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}"

    @property
    def pid(self) -> int:
        assert self.child is not None
        return self.child.pid

    def start(self, timeout: float = 60.0) -> None:
        self.child = Child(self.name, self.argv, cwd=ROOT, env=self.backend.env,
                           log_path=self.run_dir / f"{self.name}.log")
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.http_url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if not self.child.alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start:\n{self.child.log_text()[-3000:]}")
            time.sleep(0.2)

    def alive(self) -> bool:
        return self.child is not None and self.child.alive()

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()

    def log_problems(self) -> dict[str, object]:
        """Tracebacks and ERROR lines the server wrote (it logs at WARNING and above)."""
        text = self.child.log_text() if self.child else ""
        levels = [(_LEVEL.match(ln), ln) for ln in text.splitlines()]
        errors = [ln for m, ln in levels if m and m.group(1) in ("ERROR", "CRITICAL")]
        return {
            "tracebacks": text.count("Traceback (most recent call last)"),
            "error_lines": len(errors),
            "warning_lines": sum(1 for m, _ in levels if m and m.group(1) == "WARNING"),
            "first_errors": errors[:5],
            "exit_code": None if self.child is None else self.child.process.poll(),
        }
