"""Which stations a bulk operation reaches: listed ids, every connected station, or
the connected stations of one vendor."""

from __future__ import annotations

from dataclasses import dataclass, field

from stations import db, presence
from stations.models import Station


@dataclass
class Targets:
    stations: list[Station] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)  # named but unknown or disconnected


def _resolve(station_ids: list[str] | None, vendor: str | None) -> Targets:
    if station_ids is not None:
        wanted = list(dict.fromkeys(station_ids))  # keep order, drop repeats
        known = {s.station_id: s for s in Station.objects.filter(station_id__in=wanted)}
        targets = Targets()
        for station_id in wanted:
            station = known.get(station_id)
            if station is not None and presence.is_connected(station):
                targets.stations.append(station)
            else:
                targets.unavailable.append(station_id)
        return targets
    candidates = Station.objects.filter(connected=True)
    if vendor is not None:
        candidates = candidates.filter(vendor=vendor)
    return Targets(stations=[s for s in candidates if presence.is_connected(s)])


async def resolve(station_ids: list[str] | None = None, vendor: str | None = None) -> Targets:
    """``station_ids`` if given, else the connected stations (of ``vendor`` if given)."""
    await presence.ensure_heartbeat()
    return await db.run(_resolve, station_ids, vendor)
