"""What the CSMS records when a station tells it something (consumer → here → models).

Synchronous ORM code: the consumer calls these through ``stations.db.run``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction as db_transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from stations.models import Connector, Station, Transaction
from stations.signals import transaction_stopped

logger = logging.getLogger(__name__)

# The configuration keys the CSMS asks for after every boot, and the Station field each
# one fills. Integer fields are parsed; a value the station cannot express stays null.
SMART_CHARGING_KEYS: dict[str, tuple[str, type]] = {
    "SupportedFeatureProfiles": ("supported_feature_profiles", str),
    "NumberOfConnectors": ("number_of_connectors", int),
    "ChargeProfileMaxStackLevel": ("charge_profile_max_stack_level", int),
    "ChargingScheduleAllowedChargingRateUnit": (
        "charging_schedule_allowed_charging_rate_unit",
        str,
    ),
    "ChargingScheduleMaxPeriods": ("charging_schedule_max_periods", int),
    "MaxChargingProfilesInstalled": ("max_charging_profiles_installed", int),
}


def parse_ocpp_datetime(value: str | None) -> datetime:
    """A station's timestamp, or now when it sent none or nonsense."""
    parsed = parse_datetime(value) if value else None
    if parsed is None:
        return timezone.now()
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.UTC)
    return parsed


def mark_connected(station_id: str, node: str, channel_name: str) -> str:
    """Record who holds the station now; return the channel of the connection it had
    before, if it was still marked connected (that one must be closed)."""
    now = timezone.now()
    station, _ = Station.objects.get_or_create(station_id=station_id)
    previous = station.channel_name if station.connected else ""
    station.connected = True
    station.connected_at = now
    station.last_seen = now
    station.node = node
    station.channel_name = channel_name
    station.save(
        update_fields=["connected", "connected_at", "last_seen", "node", "channel_name"]
    )
    return previous if previous != channel_name else ""


def mark_disconnected(station_id: str, channel_name: str) -> None:
    """Mark the station disconnected, unless a newer connection already holds it."""
    Station.objects.filter(station_id=station_id, channel_name=channel_name).update(
        connected=False, disconnected_at=timezone.now(), channel_name=""
    )


def record_boot(
    station_id: str, vendor: str, model: str, serial_number: str, firmware_version: str
) -> None:
    now = timezone.now()
    Station.objects.filter(station_id=station_id).update(
        vendor=vendor,
        model=model,
        serial_number=serial_number,
        firmware_version=firmware_version,
        last_boot_at=now,
        last_seen=now,
    )


def record_status(
    station_id: str,
    connector_id: int,
    status: str,
    error_code: str,
    info: str = "",
    vendor_error_code: str = "",
    timestamp: str | None = None,
) -> None:
    _save_connector(station_id, connector_id, {
        "status": status,
        "error_code": error_code,
        "info": info or "",
        "vendor_error_code": vendor_error_code or "",
        "status_at": parse_ocpp_datetime(timestamp),
    })
    Station.objects.filter(station_id=station_id).update(last_seen=timezone.now())


def _save_connector(station_id: str, connector_id: int, fields: dict) -> None:
    """Write what a station said about one connector: one UPDATE for a connector already
    known (every frame after the first), the row created otherwise."""
    if Connector.objects.filter(station__station_id=station_id,
                                connector_id=connector_id).update(**fields):
        return
    station = Station.objects.only("id").get(station_id=station_id)
    Connector.objects.update_or_create(station=station, connector_id=connector_id,
                                       defaults=fields)


def start_transaction(
    station_id: str, connector_id: int, id_tag: str, meter_start: int, timestamp: str | None
) -> Transaction:
    """Open a transaction; the database allocates its id (the OCPP transactionId)."""
    with db_transaction.atomic():
        station = Station.objects.only("id").get(station_id=station_id)
        # A station that starts a new transaction on a connector has ended the old one,
        # even if its StopTransaction was lost.
        for old in Transaction.objects.filter(
            station=station, connector_id=connector_id, stopped_at__isnull=True
        ):
            old.stopped_at, old.stop_reason = timezone.now(), "Superseded"
            old.save(update_fields=["stopped_at", "stop_reason"])
            transaction_stopped.send(
                sender=Transaction, station_id=station_id, transaction_id=old.pk,
                connector_id=connector_id,
            )
        return Transaction.objects.create(
            station=station,
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start=meter_start,
            started_at=parse_ocpp_datetime(timestamp),
        )


def stop_transaction(
    station_id: str,
    transaction_id: int,
    meter_stop: int,
    timestamp: str | None,
    reason: str = "",
) -> Transaction | None:
    tx = Transaction.objects.filter(pk=transaction_id, station__station_id=station_id).first()
    if tx is None:
        logger.warning("%s stopped unknown transaction %s", station_id, transaction_id)
        return None
    tx.meter_stop = meter_stop
    tx.stopped_at = parse_ocpp_datetime(timestamp)
    tx.stop_reason = reason or "Local"
    tx.save(update_fields=["meter_stop", "stopped_at", "stop_reason"])
    transaction_stopped.send(
        sender=Transaction, station_id=station_id, transaction_id=tx.pk,
        connector_id=tx.connector_id,
    )
    return tx


_SCALE = {"W": 1.0, "kW": 1000.0, "Wh": 1.0, "kWh": 1000.0, "A": 1.0}
_FIELD_BY_MEASURAND = {
    "Energy.Active.Import.Register": "energy_wh",
    "Power.Active.Import": "power_w",
    "Current.Import": "current_a",
}


def latest_sample(meter_value: Iterable[dict]) -> dict[str, float]:
    """The last value of each measurand we track, in W, Wh and A.

    Phase-less values win; otherwise power is summed over phases and current is the
    largest phase current (the one a per-phase limit applies to).
    """
    values: dict[str, float] = {}
    phased: dict[str, list[float]] = {}
    for mv in meter_value:
        for sv in mv.get("sampled_value", []):
            field = _FIELD_BY_MEASURAND.get(sv.get("measurand", "Energy.Active.Import.Register"))
            if field is None:
                continue
            try:
                number = float(sv["value"]) * _SCALE.get(sv.get("unit", ""), 1.0)
            except (KeyError, TypeError, ValueError):
                continue
            if not math.isfinite(number):
                continue  # "Infinity" or "1e400" is no measurement
            if sv.get("phase"):
                phased.setdefault(field, []).append(number)
            else:
                values[field] = number
    for field, numbers in phased.items():
        if field not in values:
            values[field] = max(numbers) if field == "current_a" else sum(numbers)
    return values


def record_meter_values(station_id: str, connector_id: int, meter_value: list[dict]) -> None:
    sample = latest_sample(meter_value)
    if not sample:
        return
    _save_connector(station_id, connector_id, {**sample, "meter_at": timezone.now()})


def store_configuration(
    station_id: str, configuration_key: list[dict], unknown_key: list[str]
) -> Station:
    """Keep the whole GetConfiguration answer and the smart charging limits it gives."""
    station = Station.objects.get(station_id=station_id)
    config = {item["key"]: item.get("value") for item in configuration_key if "key" in item}
    station.configuration = {**station.configuration, **config}
    for key, (field, kind) in SMART_CHARGING_KEYS.items():
        raw = config.get(key)
        if raw is None:
            if key in unknown_key:
                setattr(station, field, None)
            continue
        try:
            setattr(station, field, kind(str(raw).strip()))
        except ValueError:
            logger.warning("%s sent %s=%r, which is not a %s", station_id, key, raw, kind.__name__)
            setattr(station, field, None)
    if "SupportedFeatureProfiles" in unknown_key:
        # A station that cannot say which profiles it supports only has Core for sure.
        station.supported_feature_profiles = None
    station.configuration_at = timezone.now()
    # Only these fields: a full save would write back a stale connection state if the
    # station reconnected elsewhere meanwhile.
    station.save(update_fields=[
        "configuration", "configuration_at", *(f for f, _ in SMART_CHARGING_KEYS.values())
    ])
    return station
