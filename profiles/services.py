"""The smart charging operations: send a profile, clear profiles, ask for the composite
schedule, to one station or to many at once.

Every operation writes its history rows before the CALLs go out (``pending``), calls
the stations through the gateway concurrently, and completes the rows with the answers
or the failures, so a crash mid-call leaves pending rows, never nothing. Rows are
written in one statement per step whatever the number of stations.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from profiles import installed, preview
from profiles.models import (
    ChargingProfilePurpose,
    ChargingProfileRecord,
    ClearRequest,
    CompositeScheduleRecord,
    OcppOperation,
    Outcome,
)
from stations import db, events, gateway
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
_COMPLETED_FIELDS = ["outcome", "ocpp_status", "error", "answered_at"]
CANCELLED = "Request cancelled before the station answered"
BATCH = 500  # rows per statement: well inside SQLite's limit on query parameters


@dataclass
class OperationResult:
    """How one operation on one station ended, as the API reports it."""

    station_id: str
    status: str
    ocpp_status: str | None = None
    error: str | None = None
    answer: dict[str, Any] = field(default_factory=dict)
    record: OcppOperation | None = None


@dataclass
class _Call:
    station: Station
    record: OcppOperation
    action: str
    payload: dict[str, Any]


async def _call_one(call: _Call, limit: asyncio.Semaphore) -> OperationResult:
    station_id = call.station.station_id
    async with limit:
        try:
            answer = await gateway.call(
                station_id, call.action, call.payload, channel_name=call.station.channel_name
            )
        except gateway.GatewayError as error:
            result = OperationResult(station_id, Outcome.ERROR, error=error.reason)
        else:
            ocpp_status = answer.get("status")
            result = OperationResult(
                station_id, _OUTCOMES.get(ocpp_status, Outcome.ERROR), ocpp_status, answer=answer
            )
    record = call.record
    record.outcome = result.status
    record.ocpp_status = result.ocpp_status or ""
    record.error = result.error or ""
    record.answered_at = timezone.now()
    result.record = record
    return result


def _complete(model, records: list, fields: Sequence[str], then=None) -> None:
    """Complete the history rows, and record what follows from them, in one transaction."""
    with transaction.atomic():
        if len(records) == 1:
            record = records[0]
            model.objects.filter(pk=record.pk).update(
                **{name: getattr(record, name) for name in fields}
            )
        elif records:
            _update_each(model, records, fields)
        if then is not None:
            then()


def _update_each(model, records: list, fields: Sequence[str]) -> None:
    """One UPDATE by primary key, run for every row (``executemany``).

    ``bulk_update`` would build one CASE per field over all the rows, and resolving those
    expressions held the database thread for half a second per 1,000 rows (measured on
    a bulk send), every other caller waiting behind it.
    """
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    sql = (f"UPDATE {quote(meta.db_table)} SET "
           + ", ".join(f"{quote(f.column)} = %s" for f in columns)
           + f" WHERE {quote(meta.pk.column)} = %s")
    rows = [[f.get_db_prep_save(getattr(r, f.attname), connection) for f in columns] + [r.pk]
            for r in records]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _write_pending(calls: Sequence[_Call]) -> None:
    if calls:
        type(calls[0].record).objects.bulk_create([c.record for c in calls], batch_size=BATCH)


async def _run(
    calls: Sequence[_Call],
    *,
    written: bool = False,
    extra_fields: Sequence[str] = (),
    on_answer: Callable[[OperationResult], None] | None = None,
    then: Callable[[list[OperationResult]], Callable[[], None] | None] | None = None,
) -> list[OperationResult]:
    """Write the pending rows (unless ``written``), make the calls (bounded concurrency),
    complete the rows.

    ``then(results)`` may return a function that runs in the completing transaction
    (the installed-profile record), so one operation costs two database writes.
    """
    if not calls:
        return []
    model = type(calls[0].record)
    if not written:
        await db.run(_write_pending, calls)
    limit = asyncio.Semaphore(settings.BULK_CONCURRENCY)
    try:
        results = await asyncio.gather(*(_call_one(c, limit) for c in calls))
    except asyncio.CancelledError:
        # The client went away mid-call: no row may stay pending forever.
        now = timezone.now()
        unfinished = [c.record for c in calls if c.record.outcome == Outcome.PENDING]
        for record in unfinished:
            record.outcome, record.error, record.answered_at = Outcome.ERROR, CANCELLED, now
        await db.run(_complete, model, unfinished, _COMPLETED_FIELDS)
        raise
    if on_answer is not None:
        for result in results:
            on_answer(result)
    await db.run(
        _complete, model, [r.record for r in results], [*_COMPLETED_FIELDS, *extra_fields],
        then(results) if then is not None else None,
    )
    return results


# --- SetChargingProfile ------------------------------------------------------------------


def target_connector(profile: dict[str, Any], connector_id: int) -> int:
    """The connector a profile must be sent on: a ChargePointMaxProfile caps the whole
    station and OCPP 1.6 accepts it only on connector 0."""
    if profile.get("chargingProfilePurpose") == ChargingProfilePurpose.CHARGE_POINT_MAX:
        return 0
    return connector_id


@dataclass
class SendResult(OperationResult):
    connector_id: int = 0
    profile_id: int | None = None


async def send_charging_profile(
    station: Station, connector_id: int, profile: dict[str, Any], *, scenario: str = ""
) -> SendResult:
    """SetChargingProfile. ``profile`` must already be valid (see profiles.validation)."""
    [result] = await send_charging_profiles([station], connector_id, profile, scenario=scenario)
    return result


async def send_charging_profiles(
    stations: Sequence[Station],
    connector_id: int,
    profile: dict[str, Any],
    *,
    scenario: str = "",
) -> list[SendResult]:
    """SetChargingProfile with the same profile to every station, concurrently."""
    pending = await db.run(write_pending_sends, stations, connector_id, profile,
                           scenario=scenario)
    return await run_sends(pending)


@dataclass
class PendingSends:
    """A send whose history rows are written (``pending``) and whose CALLs are not."""

    calls: list[_Call]
    connector_id: int
    profile: dict[str, Any]
    scenario: str


def write_pending_sends(
    stations: Sequence[Station],
    connector_id: int,
    profile: dict[str, Any],
    *,
    scenario: str = "",
) -> PendingSends:
    """The first half of a send, synchronous so that a view can run it on the database
    thread together with its own lookups and checks: one thread hop instead of several.
    """
    sent_on = target_connector(profile, connector_id)
    schedule = profile.get("chargingSchedule", {})
    calls = []
    for station in stations:
        logger.info(
            "API: Sending charging profile to %s, connector %s", station.station_id, connector_id
        )
        record = ChargingProfileRecord(
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
        calls.append(_Call(station, record, "SetChargingProfile",
                           {"connectorId": sent_on, "csChargingProfiles": profile}))
    _write_pending(calls)
    return PendingSends(calls, connector_id, profile, scenario)


async def run_sends(pending: PendingSends) -> list[SendResult]:
    """The second half of a send: the CALLs, then the rows completed with the answers."""
    profile, scenario = pending.profile, pending.scenario
    sent_on = target_connector(profile, pending.connector_id)
    profile_id = profile["chargingProfileId"]
    for call in pending.calls:
        events.publish("profile.sent", call.station.station_id, profile_id=profile_id,
                       connector_id=sent_on, purpose=call.record.purpose)

    def report(result: OperationResult) -> None:
        station_id = result.station_id
        if result.status == Outcome.SUCCESS:
            logger.info("Profile %s accepted by %s", profile_id, station_id)
            kind = "profile.accepted"
        elif result.status == Outcome.REJECTED:
            logger.info("Profile %s rejected by %s (%s)", profile_id, station_id,
                        result.ocpp_status)
            kind = "profile.rejected"
        else:
            logger.warning("Profile %s not sent to %s: %s", profile_id, station_id, result.error)
            kind = "profile.failed"
        events.publish(kind, station_id, profile_id=profile_id, connector_id=sent_on,
                       ocpp_status=result.ocpp_status, error=result.error)

    def record_installed(results: list[OperationResult]):
        accepted = [
            installed.Accepted(r.record.station_id, sent_on, profile, r.record.pk, scenario)
            for r in results if r.status == Outcome.SUCCESS
        ]
        return functools.partial(installed.record_accepted, accepted) if accepted else None

    results = await _run(pending.calls, written=True, on_answer=report, then=record_installed)
    return [SendResult(**vars(r), connector_id=sent_on, profile_id=profile_id) for r in results]


# --- ClearChargingProfile ----------------------------------------------------------------


@dataclass(frozen=True)
class ClearFilters:
    profile_id: int | None = None
    connector_id: int | None = None
    purpose: str | None = None
    stack_level: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def ocpp_payload(self) -> dict[str, Any]:
        pairs = (
            ("id", self.profile_id),
            ("connectorId", self.connector_id),
            ("chargingProfilePurpose", self.purpose),
            ("stackLevel", self.stack_level),
        )
        return {key: value for key, value in pairs if value is not None}


async def clear_charging_profiles(station: Station, filters: ClearFilters) -> OperationResult:
    """ClearChargingProfile with the given filters (none: every profile)."""
    [result] = await clear_on_stations([station], filters)
    return result


async def clear_on_stations(
    stations: Sequence[Station], filters: ClearFilters
) -> list[OperationResult]:
    calls = []
    for station in stations:
        logger.info("API: Clearing charging profiles from %s", station.station_id)
        record = ClearRequest(station=station, node=NODE_ID, **filters.as_dict())
        calls.append(_Call(station, record, "ClearChargingProfile", filters.ocpp_payload()))

    def report(result: OperationResult) -> None:
        if result.status == Outcome.SUCCESS:
            logger.info("Profiles cleared from %s", result.station_id)
        elif result.status == Outcome.UNKNOWN:
            logger.info("No profiles matched on %s", result.station_id)
        else:
            logger.warning("Clear on %s failed: %s", result.station_id,
                           result.error or result.ocpp_status)
        events.publish("profile.cleared", result.station_id, status=result.status,
                       ocpp_status=result.ocpp_status, error=result.error,
                       filters=filters.as_dict())

    def forget_cleared(results: list[OperationResult]):
        cleared = [r.record.station_id for r in results if r.status == Outcome.SUCCESS]
        if not cleared:
            return None
        return functools.partial(installed.record_cleared, cleared, filters.as_dict())

    return await _run(calls, on_answer=report, then=forget_cleared)


# --- GetCompositeSchedule ----------------------------------------------------------------


@dataclass
class ScheduleResult(OperationResult):
    schedule: dict[str, Any] | None = None
    schedule_start: str | None = None
    matches_preview: bool | None = None


async def get_composite_schedule(
    station: Station, connector_id: int, duration: int, charging_rate_unit: str = "W"
) -> ScheduleResult:
    """GetCompositeSchedule; the station's schedule is kept with the request."""
    station_id = station.station_id
    logger.info(
        "API: Requesting composite schedule from %s, connector %s", station_id, connector_id
    )
    record = CompositeScheduleRecord(
        station=station,
        node=NODE_ID,
        connector_id=connector_id,
        duration=duration,
        charging_rate_unit=charging_rate_unit,
    )
    payload = {
        "connectorId": connector_id,
        "duration": duration,
        "chargingRateUnit": charging_rate_unit,
    }

    inputs = await db.run(preview.inputs_for, station)

    def keep_schedule(result: OperationResult) -> None:
        start = result.answer.get("scheduleStart")
        record.schedule = result.answer.get("chargingSchedule")
        record.schedule_start = parse_datetime(start) if start else None
        if record.schedule is not None and record.schedule_start is not None:
            ours = preview.compute(
                inputs, connector_id, record.schedule_start, duration, charging_rate_unit
            )
            record.preview = ours.to_ocpp()
            record.matches_preview = preview.agrees(record.schedule, ours)
        if result.status == Outcome.SUCCESS:
            logger.info("Composite schedule retrieved from %s", station_id)
            events.publish("schedule.received", station_id, connector_id=connector_id,
                           schedule=record.schedule, schedule_start=start)
        else:
            logger.warning("Composite schedule of %s not retrieved: %s", station_id,
                           result.error or result.ocpp_status)

    [result] = await _run(
        [_Call(station, record, "GetCompositeSchedule", payload)],
        extra_fields=["schedule", "schedule_start", "preview", "matches_preview"],
        on_answer=keep_schedule,
    )
    return ScheduleResult(
        **vars(result),
        schedule=record.schedule,
        schedule_start=result.answer.get("scheduleStart"),
        matches_preview=record.matches_preview,
    )
