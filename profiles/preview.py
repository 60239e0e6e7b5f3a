"""The composite schedule the CSMS expects a station to report, computed from its own
record with the shared engine (profiles.scheduling): nothing is sent to the station."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from profiles import installed, scheduling
from stations.models import Station


@dataclass
class PreviewInputs:
    installed: list[scheduling.InstalledProfile]
    transactions: dict[int, scheduling.ActiveTransaction]
    connector_max_w: float
    number_of_connectors: int
    extra: list[scheduling.InstalledProfile] = field(default_factory=list)


def inputs_for(station: Station) -> PreviewInputs:
    """What the engine needs to know about ``station`` (synchronous ORM)."""
    return PreviewInputs(
        installed=installed.engine_input(installed.installed(station)),
        transactions=installed.active_transactions(station),
        connector_max_w=station.connector_max_power_w,
        number_of_connectors=station.number_of_connectors or 1,
    )


def with_candidate(inputs: PreviewInputs, connector_id: int, profile: dict[str, Any],
                   at: datetime) -> PreviewInputs:
    """The inputs as they would be once ``profile`` is installed (replacement rules)."""
    candidate = scheduling.ChargingProfile.from_ocpp(profile)
    kept = [
        p for p in inputs.installed
        if p.profile.charging_profile_id != candidate.charging_profile_id
        and not (p.connector_id == connector_id and p.profile.purpose == candidate.purpose
                 and p.profile.stack_level == candidate.stack_level)
    ]
    kept.append(scheduling.InstalledProfile(connector_id, candidate, at))
    return PreviewInputs(kept, inputs.transactions, inputs.connector_max_w,
                         inputs.number_of_connectors)


def compute(inputs: PreviewInputs, connector_id: int, start: datetime, duration: int,
            unit: str = "W") -> scheduling.CompositeSchedule:
    return scheduling.composite_schedule(
        inputs.installed,
        connector_id,
        start,
        duration,
        unit,
        transactions=inputs.transactions,
        connector_max_w=inputs.connector_max_w,
        number_of_connectors=inputs.number_of_connectors,
    )


def agrees(reported: dict[str, Any] | None, ours: scheduling.CompositeSchedule) -> bool:
    """Whether a station's chargingSchedule says the same as the CSMS's computation:
    the same periods at the same seconds, limits within 0.1 (one rounding step)."""
    if not isinstance(reported, dict):
        return False
    theirs = reported.get("chargingSchedulePeriod") or []
    if len(theirs) != len(ours.periods):
        return False
    for period, mine in zip(theirs, ours.periods, strict=True):
        try:
            if int(period["startPeriod"]) != mine.start_period:
                return False
            if abs(float(period["limit"]) - mine.limit) > 0.1 + 1e-9:
                return False
        except (KeyError, TypeError, ValueError):
            return False
    return True
