"""The smart charging operations: send a profile, clear profiles, ask for the composite
schedule. Each one writes its history row before the CALL goes out, calls the station
through the gateway and completes the row with the answer or the failure.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from profiles.models import (
    ChargingProfilePurpose,
    ChargingProfileRecord,
    ClearRequest,
    CompositeScheduleRecord,
    OcppOperation,
    Outcome,
)
from stations import gateway
from stations.models import Station
from stations.node import NODE_ID

logger = logging.getLogger(__name__)

# A station's answer → the outcome the API reports.
_OUTCOMES = {
    "Accepted": Outcome.SUCCESS,
    "Rejected": Outcome.REJECTED,
    "NotSupported": Outcome.REJECTED,
    "Unknown": Outcome.UNKNOWN,
}


@dataclass
class OperationResult:
    """How one operation ended, as the API reports it."""

    status: str
    ocpp_status: str | None = None
    error: str | None = None
    answer: dict[str, Any] = field(default_factory=dict)


async def _call(
    record: OcppOperation, station: Station, action: str, payload: dict
) -> OperationResult:
    """Call the station and complete ``record`` with whatever happened."""
    try:
        answer = await gateway.call(
            station.station_id, action, payload, channel_name=station.channel_name
        )
    except asyncio.CancelledError:
        # The client went away mid-call: the row must not stay pending forever.
        record.outcome = Outcome.ERROR
        record.error = "Request cancelled before the station answered"
        record.answered_at = timezone.now()
        await record.asave()
        raise
    except gateway.GatewayError as error:
        result = OperationResult(status=Outcome.ERROR, error=error.reason)
    else:
        ocpp_status = answer.get("status")
        result = OperationResult(
            status=_OUTCOMES.get(ocpp_status, Outcome.ERROR), ocpp_status=ocpp_status, answer=answer
        )
    record.outcome = result.status
    record.ocpp_status = result.ocpp_status or ""
    record.error = result.error or ""
    record.answered_at = timezone.now()
    return result


def target_connector(profile: dict[str, Any], connector_id: int) -> int:
    """The connector a profile must be sent on: a ChargePointMaxProfile caps the whole
    station and OCPP 1.6 accepts it only on connector 0."""
    if profile.get("chargingProfilePurpose") == ChargingProfilePurpose.CHARGE_POINT_MAX:
        return 0
    return connector_id


@dataclass
class SendResult(OperationResult):
    connector_id: int = 0
    record: ChargingProfileRecord | None = None


async def send_charging_profile(
    station: Station, connector_id: int, profile: dict[str, Any], *, scenario: str = ""
) -> SendResult:
    """SetChargingProfile. ``profile`` must already be valid (see profiles.validation)."""
    station_id = station.station_id
    logger.info("API: Sending charging profile to %s, connector %s", station_id, connector_id)
    sent_on = target_connector(profile, connector_id)
    schedule = profile.get("chargingSchedule", {})
    record = await ChargingProfileRecord.objects.acreate(
        station=station,
        node=NODE_ID,
        connector_id=sent_on,
        requested_connector_id=connector_id,
        profile=profile,
        charging_profile_id=profile["chargingProfileId"],
        purpose=profile["chargingProfilePurpose"],
        stack_level=profile["stackLevel"],
        kind=profile["chargingProfileKind"],
        charging_rate_unit=schedule.get("chargingRateUnit", ""),
        transaction_id=profile.get("transactionId"),
        scenario=scenario,
    )
    result = await _call(
        record,
        station,
        "SetChargingProfile",
        {"connectorId": sent_on, "csChargingProfiles": profile},
    )
    await record.asave(update_fields=["outcome", "ocpp_status", "error", "answered_at"])
    profile_id = profile["chargingProfileId"]
    if result.status == Outcome.SUCCESS:
        logger.info("Profile %s accepted by %s", profile_id, station_id)
    elif result.status == Outcome.REJECTED:
        logger.info("Profile %s rejected by %s (%s)", profile_id, station_id, result.ocpp_status)
    else:
        logger.warning("Profile %s not sent to %s: %s", profile_id, station_id, result.error)
    return SendResult(**vars(result), connector_id=sent_on, record=record)


@dataclass
class ClearResult(OperationResult):
    record: ClearRequest | None = None


async def clear_charging_profiles(
    station: Station,
    *,
    profile_id: int | None = None,
    connector_id: int | None = None,
    purpose: str | None = None,
    stack_level: int | None = None,
) -> ClearResult:
    """ClearChargingProfile with the given filters (none: every profile)."""
    station_id = station.station_id
    logger.info("API: Clearing charging profiles from %s", station_id)
    record = await ClearRequest.objects.acreate(
        station=station,
        node=NODE_ID,
        profile_id=profile_id,
        connector_id=connector_id,
        purpose=purpose,
        stack_level=stack_level,
    )
    payload = {
        key: value
        for key, value in (
            ("id", profile_id),
            ("connectorId", connector_id),
            ("chargingProfilePurpose", purpose),
            ("stackLevel", stack_level),
        )
        if value is not None
    }
    result = await _call(record, station, "ClearChargingProfile", payload)
    await record.asave(update_fields=["outcome", "ocpp_status", "error", "answered_at"])
    if result.status == Outcome.SUCCESS:
        logger.info("Profiles cleared from %s", station_id)
    elif result.status == Outcome.UNKNOWN:
        logger.info("No profiles matched on %s", station_id)
    else:
        logger.warning("Clear on %s failed: %s", station_id, result.error or result.ocpp_status)
    return ClearResult(**vars(result), record=record)


@dataclass
class ScheduleResult(OperationResult):
    schedule: dict[str, Any] | None = None
    schedule_start: str | None = None
    record: CompositeScheduleRecord | None = None


async def get_composite_schedule(
    station: Station, connector_id: int, duration: int, charging_rate_unit: str = "W"
) -> ScheduleResult:
    """GetCompositeSchedule; the station's schedule is kept with the request."""
    station_id = station.station_id
    logger.info(
        "API: Requesting composite schedule from %s, connector %s", station_id, connector_id
    )
    record = await CompositeScheduleRecord.objects.acreate(
        station=station,
        node=NODE_ID,
        connector_id=connector_id,
        duration=duration,
        charging_rate_unit=charging_rate_unit,
    )
    result = await _call(
        record,
        station,
        "GetCompositeSchedule",
        {"connectorId": connector_id, "duration": duration, "chargingRateUnit": charging_rate_unit},
    )
    schedule = result.answer.get("chargingSchedule")
    schedule_start = result.answer.get("scheduleStart")
    record.schedule = schedule
    record.schedule_start = parse_datetime(schedule_start) if schedule_start else None
    await record.asave(
        update_fields=[
            "outcome", "ocpp_status", "error", "answered_at", "schedule", "schedule_start"
        ]
    )
    if result.status == Outcome.SUCCESS:
        logger.info("Composite schedule retrieved from %s", station_id)
    else:
        logger.warning(
            "Composite schedule of %s not retrieved: %s",
            station_id,
            result.error or result.ocpp_status,
        )
    return ScheduleResult(
        **vars(result), schedule=schedule, schedule_start=schedule_start, record=record
    )
