"""Validation of a profile for one station: the pure rules of profiles.validation, fed
with what the CSMS knows of that station (its advertised limits, what it has installed,
its open transactions)."""

from __future__ import annotations

from typing import Any

from profiles.models import ChargingProfilePurpose, InstalledChargingProfile
from profiles.services import target_connector
from profiles.validation import ProblemList, StationLimits, validate_profile
from stations import db
from stations.models import Station, Transaction


def station_limits(station: Station) -> StationLimits:
    return StationLimits.from_configuration(
        max_stack_level=station.charge_profile_max_stack_level,
        max_periods=station.charging_schedule_max_periods,
        allowed_units=station.charging_schedule_allowed_charging_rate_unit,
        max_profiles=station.max_charging_profiles_installed,
        number_of_connectors=station.number_of_connectors,
    )


def problems_for(station: Station, connector_id: int, profile: Any) -> ProblemList:
    """Every reason not to send ``profile`` to ``station`` on ``connector_id``.

    At most two queries: the installed record (to count what would remain) and, for a
    TxProfile only, the transaction it names.
    """
    installed_count = active_id = None
    extra: ProblemList = []
    if isinstance(profile, dict) and all(isinstance(profile.get(k), int) for k in (
            "chargingProfileId", "stackLevel")):
        sent_on = target_connector(profile, connector_id)
        rows = InstalledChargingProfile.objects.filter(station=station).values_list(
            "charging_profile_id", "connector_id", "purpose", "stack_level")
        slot = (sent_on, profile.get("chargingProfilePurpose"), profile["stackLevel"])
        installed_count = sum(
            1 for pid, *where in rows
            if pid != profile["chargingProfileId"] and tuple(where) != slot
        )
        if profile.get("chargingProfilePurpose") == ChargingProfilePurpose.TX and connector_id:
            active = Transaction.objects.filter(
                station=station, connector_id=connector_id, stopped_at__isnull=True
            ).values_list("pk", flat=True).first()
            active_id = active
            extra = _transaction_problems(station, connector_id, profile, active_id)
    problems = validate_profile(
        connector_id,
        profile,
        limits=station_limits(station),
        installed_count=installed_count,
        active_transaction_id=active_id,
    )
    return problems + [p for p in extra if p not in problems]


def _transaction_problems(
    station: Station, connector_id: int, profile: dict, active_id: int | None
) -> ProblemList:
    """A TxProfile for a transaction the CSMS knows is not running on that connector."""
    tx_id = profile.get("transactionId")
    if profile.get("chargingProfilePurpose") != ChargingProfilePurpose.TX or not isinstance(
        tx_id, int
    ) or active_id is not None:
        return []
    known = Transaction.objects.filter(station=station, pk=tx_id).first()
    if known is None:
        return []  # not a transaction the CSMS has seen: the station decides
    if known.stopped_at is not None:
        why = "has ended"
    elif known.connector_id != connector_id:
        why = f"runs on connector {known.connector_id}"
    else:
        return []
    return [("profile.transactionId", f"transaction {tx_id} {why}, not active on connector "
             f"{connector_id}")]


async def aproblems_for(station: Station, connector_id: int, profile: Any) -> ProblemList:
    return await db.run(problems_for, station, connector_id, profile)
