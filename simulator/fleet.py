"""Many simulated stations in one process: build configs, start, look up, stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any

from .config import StationConfig
from .station import LogHook, Station

logger = logging.getLogger(__name__)


def station_ids(count: int, prefix: str = "PY-SIM-", first: int = 1) -> list[str]:
    """PY-SIM-0001, PY-SIM-0002, ... (zero-padded to four digits, wider if needed)."""
    return [f"{prefix}{n:04d}" for n in range(first, first + count)]


def make_configs(
    url: str, count: int, prefix: str = "PY-SIM-", first: int = 1, **overrides: Any
) -> list[StationConfig]:
    """One StationConfig per id; ``overrides`` are StationConfig fields shared by all."""
    return [StationConfig(station_id=sid, url=url, **overrides)
            for sid in station_ids(count, prefix, first)]


class Fleet:
    """Stations by id, started and stopped together; a host process keeps one of these."""

    def __init__(
        self, configs: Iterable[StationConfig] = (), *, on_log: LogHook | None = None
    ) -> None:
        self.on_log = on_log
        self.stations: dict[str, Station] = {}
        for cfg in configs:
            self.add(cfg)

    def add(self, config: StationConfig) -> Station:
        if config.station_id in self.stations:
            raise ValueError(f"station {config.station_id} already exists")
        station = Station(config, on_log=self.on_log)
        self.stations[config.station_id] = station
        return station

    def get(self, station_id: str) -> Station | None:
        return self.stations.get(station_id)

    def __iter__(self) -> Iterator[Station]:
        return iter(self.stations.values())

    def __len__(self) -> int:
        return len(self.stations)

    async def start(self, ramp_s: float = 0.0) -> None:
        """Start every station; ``ramp_s`` spreads first connections so a CSMS is not stormed."""
        stations = list(self.stations.values())
        step = ramp_s / len(stations) if stations and ramp_s > 0 else 0.0
        for index, station in enumerate(stations):
            await station.start(delay=index * step)
        logger.info("fleet: %d station(s) started", len(stations))

    async def stop(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.stations.values()))
        logger.info("fleet: %d station(s) stopped", len(self.stations))

    async def remove(self, station_id: str) -> None:
        station = self.stations.pop(station_id, None)
        if station is not None:
            await station.stop()

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def run_stations(
    configs: list[StationConfig],
    stop: asyncio.Event | None = None,
    *,
    on_log: LogHook | None = None,
    ramp_s: float | None = None,
) -> None:
    """Run the stations until ``stop`` is set (forever without one), then stop them all.

    By default first connections are spread over up to 5 s (2 ms per station).
    """
    fleet = Fleet(configs, on_log=on_log)
    stop = stop or asyncio.Event()
    if ramp_s is None:
        ramp_s = min(5.0, 0.002 * len(configs))
    await fleet.start(ramp_s=ramp_s)
    try:
        await stop.wait()
    finally:
        await fleet.stop()
