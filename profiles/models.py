"""Audit history of every smart charging operation sent to a station.

Each row is written *before* the CALL goes out (outcome ``pending``) and completed
when the answer or the failure comes back, so a crash mid-call leaves a pending row,
never nothing.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from stations.models import Station


class Outcome(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCESS = "success", "Success"
    REJECTED = "rejected", "Rejected"
    UNKNOWN = "unknown", "Unknown"
    ERROR = "error", "Error"


class ChargingProfilePurpose(models.TextChoices):
    CHARGE_POINT_MAX = "ChargePointMaxProfile"
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"


INTERRUPTED = "interrupted: the server process making the call stopped before the answer"


class OcppOperation(models.Model):
    """What every recorded operation has: who, when, and how it ended."""

    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(
        max_length=10, choices=Outcome.choices, default=Outcome.PENDING, db_index=True
    )
    ocpp_status = models.CharField(max_length=20, blank=True, help_text="The station's answer")
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    node = models.CharField(
        max_length=64, blank=True, help_text="Server process that made the call"
    )

    class Meta:
        abstract = True
        ordering = ["-requested_at", "-id"]


class ChargingProfileRecord(OcppOperation):
    """A SetChargingProfile sent to a station, with the full profile and the answer."""

    connector_id = models.PositiveSmallIntegerField(help_text="Connector the profile was sent on")
    requested_connector_id = models.PositiveSmallIntegerField(
        help_text="Connector the request named (differs for ChargePointMaxProfile)"
    )
    profile = models.JSONField()
    charging_profile_id = models.IntegerField(db_index=True)
    purpose = models.CharField(max_length=25, choices=ChargingProfilePurpose.choices)
    stack_level = models.PositiveIntegerField()
    kind = models.CharField(max_length=10)
    charging_rate_unit = models.CharField(max_length=1)
    transaction_id = models.IntegerField(null=True, blank=True)
    scenario = models.CharField(max_length=30, blank=True, db_index=True)

    class Meta(OcppOperation.Meta):
        verbose_name = "charging profile sent"
        verbose_name_plural = "charging profiles sent"
        indexes = [
            models.Index(fields=["station", "-requested_at"]),
            models.Index(fields=["purpose"]),
        ]

    def __str__(self) -> str:
        return f"Profile {self.charging_profile_id} → {self.station_id}#{self.connector_id}"


class ClearRequest(OcppOperation):
    """A ClearChargingProfile sent to a station, with its filters and the answer."""

    profile_id = models.IntegerField(null=True, blank=True)
    connector_id = models.PositiveSmallIntegerField(null=True, blank=True)
    # null is "no filter", which an empty string would not say
    purpose = models.CharField(  # noqa: DJ001
        max_length=25, choices=ChargingProfilePurpose.choices, null=True, blank=True
    )
    stack_level = models.PositiveIntegerField(null=True, blank=True)

    class Meta(OcppOperation.Meta):
        verbose_name = "profile clear"
        indexes = [models.Index(fields=["station", "-requested_at"])]

    def __str__(self) -> str:
        return f"Clear on {self.station_id} at {self.requested_at:%Y-%m-%d %H:%M:%S}"

    @property
    def filters(self) -> dict:
        return {
            "profile_id": self.profile_id,
            "connector_id": self.connector_id,
            "purpose": self.purpose,
            "stack_level": self.stack_level,
        }


class CompositeScheduleRecord(OcppOperation):
    """A GetCompositeSchedule asked of a station and the schedule it reported."""

    connector_id = models.PositiveSmallIntegerField()
    duration = models.PositiveIntegerField()
    charging_rate_unit = models.CharField(max_length=1)
    schedule_start = models.DateTimeField(null=True, blank=True)
    schedule = models.JSONField(null=True, blank=True)
    preview = models.JSONField(
        null=True, blank=True, help_text="What the CSMS computed for the same window"
    )
    matches_preview = models.BooleanField(
        null=True, blank=True, help_text="Whether the station's schedule agrees with the CSMS's"
    )

    class Meta(OcppOperation.Meta):
        verbose_name = "composite schedule"
        indexes = [models.Index(fields=["station", "-requested_at"])]

    def __str__(self) -> str:
        return f"Composite schedule of {self.station_id}#{self.connector_id}"


class InstalledChargingProfile(models.Model):
    """What the CSMS believes a station has installed now.

    OCPP 1.6 cannot ask a station for its profiles, so the CSMS keeps this record from
    what it sent and what the station answered, by the spec's replacement rules.
    """

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="+")
    connector_id = models.PositiveSmallIntegerField()
    charging_profile_id = models.IntegerField()
    purpose = models.CharField(max_length=25, choices=ChargingProfilePurpose.choices)
    stack_level = models.PositiveIntegerField()
    transaction_id = models.IntegerField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    profile = models.JSONField()
    scenario = models.CharField(max_length=30, blank=True)
    installed_at = models.DateTimeField(default=timezone.now)
    sent = models.ForeignKey(
        ChargingProfileRecord, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", help_text="The history row of the SetChargingProfile",
    )

    class Meta:
        ordering = ["station", "connector_id", "purpose", "-stack_level"]
        verbose_name = "installed charging profile"
        constraints = [
            models.UniqueConstraint(
                fields=["station", "charging_profile_id"], name="unique_installed_profile_id"
            ),
            models.UniqueConstraint(
                fields=["station", "connector_id", "purpose", "stack_level"],
                name="unique_installed_stack_slot",
            ),
        ]

    def __str__(self) -> str:
        return f"Profile {self.charging_profile_id} on {self.station_id}#{self.connector_id}"

    @property
    def expired(self) -> bool:
        return self.valid_to is not None and self.valid_to <= timezone.now()
