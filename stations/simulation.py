"""Simulated stations hosted inside this server process (``/simulator/stations``).

They are real OCPP 1.6J clients (the :mod:`simulator` package) connecting to this
server's own OCPP endpoint; their log lines join the CSMS's per-station log with the
source ``simulator``. Each process hosts its own: the list shows this process's.
"""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings

from simulator.config import StationConfig
from simulator.fleet import Fleet
from simulator.station import Station as SimulatedStation
from stations import message_log

logger = logging.getLogger(__name__)

_fleet: Fleet | None = None


def _forward_log(station_id: str, timestamp: datetime, level: str, message: str) -> None:
    message_log.record(
        station_id, message_log.Source.SIMULATOR, message, level=level, timestamp=timestamp
    )


def fleet() -> Fleet:
    global _fleet
    if _fleet is None:
        _fleet = Fleet(on_log=_forward_log)
    return _fleet


def csms_url() -> str:
    """Where hosted stations connect: this server's own OCPP endpoint."""
    return settings.SIMULATOR_CSMS_URL


def url_refusal(url: str) -> str | None:
    """Why hosted stations may not connect to ``url``, or None if they may.

    The server itself opens these connections: a caller choosing any URL could make it
    connect anywhere (an internal service, another network). Allowed: ws:// or wss://
    on this CSMS's own host (SIMULATOR_CSMS_URL) or SIMULATOR_ALLOWED_HOSTS (loopback by
    default; "*" allows every host).
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "url is not a valid URL"
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        return "url must be a ws:// or wss:// URL with a host"
    allowed = set(settings.SIMULATOR_ALLOWED_HOSTS)
    own = urlsplit(settings.SIMULATOR_CSMS_URL).hostname
    if own:
        allowed.add(own.lower())
    if "*" in allowed or parts.hostname.lower() in allowed:
        return None
    logger.warning("Simulated stations refused: url %r names a host not allowed", url[:200])
    return (f"url must name this CSMS or an allowed host ({', '.join(sorted(allowed))}; "
            f"setting SIMULATOR_ALLOWED_HOSTS), not {parts.hostname}")


class AlreadySimulated(ValueError):
    pass


async def start(configs: list[StationConfig]) -> list[SimulatedStation]:
    """Start one simulated station per config; refuse ids that already run here."""
    hosted = fleet()
    taken = [c.station_id for c in configs if hosted.get(c.station_id) is not None]
    if taken:
        raise AlreadySimulated(f"Simulated station {', '.join(taken)} already running")
    started = []
    for config in configs:
        station = hosted.add(config)
        await station.start()
        started.append(station)
    logger.info("Started %s simulated station(s) against %s", len(started), configs[0].url
                if configs else "-")
    return started


def stations() -> list[SimulatedStation]:
    return list(fleet())


def get(station_id: str) -> SimulatedStation | None:
    return fleet().get(station_id)


async def stop(station_id: str) -> bool:
    hosted = fleet()
    if hosted.get(station_id) is None:
        return False
    await hosted.remove(station_id)
    logger.info("Stopped simulated station %s", station_id)
    return True


async def stop_all() -> None:
    await fleet().stop()
    fleet().stations.clear()
