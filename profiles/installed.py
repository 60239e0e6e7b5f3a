"""The CSMS's record of what each station has installed, kept by OCPP 1.6's rules.

An Accepted SetChargingProfile replaces an installed profile with the same id (on any
connector) or with the same stackLevel and purpose on the same connector; a Rejected
one changes nothing. An Accepted ClearChargingProfile removes what its filters match
(by id alone when an id is given). A TxProfile ends with its transaction. Synchronous
ORM code: call it through ``stations.db.run``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from profiles import scheduling
from profiles.models import ChargingProfilePurpose, InstalledChargingProfile
from stations.models import Station, Transaction


@dataclass(frozen=True)
class Accepted:
    """A profile a station accepted: what the record must now hold."""

    station_pk: int
    connector_id: int
    profile: dict[str, Any]
    sent_pk: int | None = None
    scenario: str = ""


def _slot(connector_id: int, profile: dict[str, Any]) -> Q:
    """The installed profiles the spec says ``profile`` replaces."""
    return Q(charging_profile_id=profile["chargingProfileId"]) | Q(
        connector_id=connector_id,
        purpose=profile["chargingProfilePurpose"],
        stack_level=profile["stackLevel"],
    )


def record_accepted(entries: Iterable[Accepted]) -> None:
    entries = sorted(entries, key=lambda e: e.station_pk)
    if not entries:
        return
    # Part of the completing transaction when called inside it: no savepoint of its own,
    # a failure here rolls the whole completion back.
    with transaction.atomic(savepoint=False):
        # One writer per station at a time (PostgreSQL row locks, taken in id order so two
        # bulk sends cannot deadlock): the delete-then-insert below must not interleave
        # with another for the same station.
        if connection.vendor != "sqlite":  # SQLite has one writer at a time anyway
            list(Station.objects.select_for_update().filter(
                pk__in=[e.station_pk for e in entries]).order_by("pk").values_list("pk",
                                                                                   flat=True))
        if len({e.station_pk for e in entries}) < len(entries):
            # Several profiles for one station replace each other in order.
            for entry in entries:
                _replace(entry.connector_id, entry.profile, [entry.station_pk])
                _installed_row(entry).save(force_insert=True)
            return
        # One station each (a bulk send): one DELETE per distinct slot, one INSERT in all,
        # not two statements per station.
        by_slot: dict[tuple, list[Accepted]] = {}
        for entry in entries:
            by_slot.setdefault(_slot_key(entry), []).append(entry)
        for group in by_slot.values():
            _replace(group[0].connector_id, group[0].profile, [e.station_pk for e in group])
        InstalledChargingProfile.objects.bulk_create(
            [_installed_row(e) for e in entries], batch_size=500)


def _slot_key(entry: Accepted) -> tuple:
    profile = entry.profile
    return (entry.connector_id, profile["chargingProfileId"],
            profile["chargingProfilePurpose"], profile["stackLevel"])


def _replace(connector_id: int, profile: dict[str, Any], station_pks: list[int]) -> None:
    """Forget what ``profile`` replaces on these stations."""
    for start in range(0, len(station_pks), 500):  # inside SQLite's parameter limit
        InstalledChargingProfile.objects.filter(
            _slot(connector_id, profile), station_id__in=station_pks[start:start + 500]
        ).delete()


def _installed_row(entry: Accepted) -> InstalledChargingProfile:
    profile = entry.profile
    return InstalledChargingProfile(
        station_id=entry.station_pk,
        connector_id=entry.connector_id,
        charging_profile_id=profile["chargingProfileId"],
        purpose=profile["chargingProfilePurpose"],
        stack_level=profile["stackLevel"],
        transaction_id=profile.get("transactionId"),
        valid_to=scheduling.parse_datetime(profile.get("validTo")),
        profile=profile,
        scenario=entry.scenario,
        sent_id=entry.sent_pk,
    )


def record_cleared(station_pks: Iterable[int], filters: dict[str, Any]) -> int:
    """Forget what an Accepted ClearChargingProfile removed; return how many."""
    query = Q(station_id__in=list(station_pks))
    if filters.get("profile_id") is not None:
        query &= Q(charging_profile_id=filters["profile_id"])
    else:
        for name in ("connector_id", "purpose", "stack_level"):
            if filters.get(name) is not None:
                query &= Q(**{name: filters[name]})
    deleted, _ = InstalledChargingProfile.objects.filter(query).delete()
    return deleted


def drop_transaction_profiles(station_id: str, transaction_id: int, connector_id: int) -> None:
    """The station discards a TxProfile when its transaction ends; so does the record."""
    InstalledChargingProfile.objects.filter(
        Q(transaction_id=transaction_id) | Q(connector_id=connector_id),
        station__station_id=station_id,
        purpose=ChargingProfilePurpose.TX,
    ).delete()


def installed(station: Station) -> list[InstalledChargingProfile]:
    return list(InstalledChargingProfile.objects.filter(station=station))


def active_transactions(station: Station) -> dict[int, scheduling.ActiveTransaction]:
    """Open transactions by connector, as the engine wants them."""
    return {
        tx.connector_id: scheduling.ActiveTransaction(tx.pk, tx.started_at)
        for tx in Transaction.objects.filter(station=station, stopped_at__isnull=True)
    }


def engine_input(rows: Iterable[InstalledChargingProfile]) -> list[scheduling.InstalledProfile]:
    """The record as the composite schedule engine takes it; expired ones left out."""
    now = timezone.now()
    return [
        scheduling.InstalledProfile(
            row.connector_id, scheduling.ChargingProfile.from_ocpp(row.profile), row.installed_at
        )
        for row in rows
        if row.valid_to is None or row.valid_to > now
    ]
