"""Test scenarios for one station: generate the profile (a fresh chargingProfileId, a
stack level that replaces nothing unrelated), check it, send it, and record it in the
history with the scenario's name."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from profiles import checks, scenarios, services
from profiles.models import ChargingProfileRecord, InstalledChargingProfile
from profiles.validation import ProblemList
from stations import db
from stations.models import Station, Transaction

logger = logging.getLogger(__name__)

ENERGY_CAP = "energy_cap"


class ScenarioRefused(Exception):
    """The request cannot be sent; ``detail`` is the 400 text, ``problems`` any paths."""

    def __init__(self, detail: str, problems: ProblemList | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems or []


@dataclass
class ScenarioResult:
    generated: scenarios.GeneratedProfile
    sent: services.SendResult
    replaces: list[InstalledChargingProfile]


def allocate_profile_id(station: Station) -> int:
    """A chargingProfileId this station has never been sent: above every id in its
    history and installed record, and above every id allocated before."""
    with transaction.atomic():
        row = Station.objects.select_for_update().get(pk=station.pk)
        sent = ChargingProfileRecord.objects.filter(station=row).aggregate(
            top=Max("charging_profile_id"))["top"]
        held = InstalledChargingProfile.objects.filter(station=row).aggregate(
            top=Max("charging_profile_id"))["top"]
        new_id = max(row.last_profile_id, sent or 0, held or 0) + 1
        row.last_profile_id = new_id
        row.save(update_fields=["last_profile_id"])
    return new_id


def choose_stack_level(
    station: Station, connector_id: int, purpose: str, scenario: str
) -> tuple[int, list[InstalledChargingProfile]]:
    """The stack level for a scenario's profile, and what it will replace.

    The profile of the same scenario on the same connector and purpose is replaced
    (running a scenario again updates it); otherwise the level above every installed
    one is taken so nothing is replaced, unless the station's ChargeProfileMaxStackLevel
    leaves no room: then the top level is reused and the answer says which it replaces.
    """
    rows = list(InstalledChargingProfile.objects.filter(
        station=station, connector_id=connector_id, purpose=purpose))
    same = [r for r in rows if r.scenario == scenario]
    if same:
        level = max(r.stack_level for r in same)
    else:
        level = max((r.stack_level for r in rows), default=-1) + 1
        top = station.charge_profile_max_stack_level
        if top is not None and level > top:
            level = top
    return level, [r for r in rows if r.stack_level == level]


def _check_transaction(station: Station, connector_id: int, params: dict[str, Any]) -> None:
    tx_id = params.get("transaction_id")
    if not isinstance(tx_id, int) or isinstance(tx_id, bool):
        return  # the generator reports it
    tx = Transaction.objects.filter(station=station, pk=tx_id).first()
    if tx is None or tx.stopped_at is not None or tx.connector_id != connector_id:
        raise ScenarioRefused(
            f"Transaction {tx_id} is not active on connector {connector_id} of "
            f"{station.station_id}"
        )


def prepare(station: Station, params: dict[str, Any]) -> tuple[
        scenarios.GeneratedProfile, list[InstalledChargingProfile]]:
    """Generate the scenario's profile for ``station``; raise ScenarioRefused if it cannot
    be sent. Synchronous: it allocates ids and reads the installed record."""
    name = params.get("scenario")
    now = timezone.now()
    # A dry run first, so that a bad request allocates nothing.
    try:
        draft = scenarios.build(name, params, profile_id=1, stack_level=0, now=now,
                                time_zone=station.time_zone)
    except scenarios.ScenarioError as error:
        raise ScenarioRefused(error.detail) from None
    if name == ENERGY_CAP:
        _check_transaction(station, draft.connector_id, params)
    purpose = draft.profile["chargingProfilePurpose"]
    level, replaces = choose_stack_level(station, draft.connector_id, purpose, name)
    generated = scenarios.build(
        name, params, profile_id=allocate_profile_id(station), stack_level=level, now=now,
        time_zone=station.time_zone,
    )
    problems = checks.problems_for(station, generated.connector_id, generated.profile)
    if problems:
        raise ScenarioRefused("; ".join(f"{p}: {m}" for p, m in problems), problems)
    return generated, replaces


async def send_test_profile(station: Station, params: dict[str, Any]) -> ScenarioResult:
    logger.info("API: Generating test profile '%s' for %s", params.get("scenario"),
                station.station_id)
    generated, replaces = await db.run(prepare, station, params)
    logger.info("Generated %s profile: %s", generated.scenario,
                generated.profile["chargingProfileId"])
    # The connector the request named is kept in the history; a ChargePointMaxProfile
    # still goes to connector 0 (services.target_connector).
    requested = params.get("connector_id", generated.connector_id)
    sent = await services.send_charging_profile(
        station, requested, generated.profile, scenario=generated.scenario
    )
    return ScenarioResult(generated, sent, replaces)
