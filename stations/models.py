"""What the CSMS knows about each charge point: identity, connection, connectors,
transactions, and the log of everything it said and was told."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

SMART_CHARGING = "SmartCharging"


class Node(models.Model):
    """A running server process. It renews ``last_heartbeat`` while alive; the stations
    and pending calls of a node whose heartbeat expired are released by the others."""

    node_id = models.CharField(max_length=64, unique=True)
    started_at = models.DateTimeField(default=timezone.now)
    last_heartbeat = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["node_id"]

    def __str__(self) -> str:
        return self.node_id


class Station(models.Model):
    """A charge point known by its OCPP identity (the last path segment of its URL)."""

    station_id = models.CharField(max_length=48, unique=True)

    # From BootNotification.
    vendor = models.CharField(max_length=20, blank=True)
    model = models.CharField(max_length=20, blank=True)
    serial_number = models.CharField(max_length=25, blank=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    last_boot_at = models.DateTimeField(null=True, blank=True)

    # Connection state. `node` is the server process holding the WebSocket and
    # `channel_name` its channel-layer address, so any process can reach the station.
    connected = models.BooleanField(default=False, db_index=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    node = models.CharField(max_length=64, blank=True)
    channel_name = models.CharField(max_length=200, blank=True)

    # From GetConfiguration after each boot. Null means the station has not told us.
    supported_feature_profiles = models.CharField(  # noqa: DJ001 - null: "not reported"
        max_length=500, null=True, blank=True
    )
    number_of_connectors = models.PositiveSmallIntegerField(null=True, blank=True)
    charge_profile_max_stack_level = models.PositiveIntegerField(null=True, blank=True)
    charging_schedule_allowed_charging_rate_unit = models.CharField(  # noqa: DJ001
        max_length=50, null=True, blank=True
    )
    charging_schedule_max_periods = models.PositiveIntegerField(null=True, blank=True)
    max_charging_profiles_installed = models.PositiveIntegerField(null=True, blank=True)
    configuration = models.JSONField(default=dict, blank=True)
    configuration_at = models.DateTimeField(null=True, blank=True)

    # OCPP-J security profile 1: the salted hash of the station's AuthorizationKey.
    authorization_key_hash = models.CharField(max_length=100, blank=True, editable=False)

    # Set by the operator (admin): what the CSMS assumes where the station says nothing.
    time_zone = models.CharField(
        max_length=64, default="UTC", help_text="IANA time zone of the site (time-of-use hours)"
    )
    connector_max_power_w = models.FloatField(
        default=22080.0, help_text="Rated power per connector (W), for schedule previews"
    )
    # The last chargingProfileId the CSMS allocated for this station (scenarios).
    last_profile_id = models.PositiveIntegerField(default=0, editable=False)

    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["station_id"]
        indexes = [models.Index(fields=["vendor"]), models.Index(fields=["node", "connected"])]

    def __str__(self) -> str:
        return self.station_id

    @property
    def feature_profiles(self) -> list[str] | None:
        if self.supported_feature_profiles is None:
            return None
        return [p.strip() for p in self.supported_feature_profiles.split(",") if p.strip()]

    @property
    def supports_smart_charging(self) -> bool | None:
        """True or False once the station has said; None while it has not.

        A station that has not answered GetConfiguration yet is given the benefit of
        the doubt: it answers NotSupported itself if it lacks the profile.
        """
        profiles = self.feature_profiles
        return None if profiles is None else SMART_CHARGING in profiles


class Connector(models.Model):
    """One connector of a station (connector 0 is the station as a whole)."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="connectors")
    connector_id = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=20, blank=True)
    error_code = models.CharField(max_length=30, blank=True)
    info = models.CharField(max_length=50, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)

    # Latest sample from MeterValues.
    power_w = models.FloatField(null=True, blank=True)
    energy_wh = models.FloatField(null=True, blank=True)
    current_a = models.FloatField(null=True, blank=True)
    meter_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["station", "connector_id"]
        constraints = [
            models.UniqueConstraint(fields=["station", "connector_id"], name="unique_connector")
        ]

    def __str__(self) -> str:
        return f"{self.station_id}#{self.connector_id}"


class Transaction(models.Model):
    """A charging session. Its primary key is the OCPP transactionId: allocated by the
    database, so ids stay unique across restarts and server processes."""

    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="transactions")
    connector_id = models.PositiveSmallIntegerField()
    id_tag = models.CharField(max_length=20)
    meter_start = models.IntegerField()
    started_at = models.DateTimeField()
    meter_stop = models.IntegerField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=30, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["station", "connector_id", "stopped_at"])]

    def __str__(self) -> str:
        return f"Transaction {self.pk} on {self.station_id}#{self.connector_id}"

    @property
    def active(self) -> bool:
        return self.stopped_at is None


class StationLog(models.Model):
    """One line of a station's log: an OCPP frame in or out, or a note from the CSMS or
    the simulator. The source of ``GET /stations/{id}/logs``."""

    class Source(models.TextChoices):
        OCPP_IN = "ocpp_in", "OCPP frame from the station"
        OCPP_OUT = "ocpp_out", "OCPP frame to the station"
        CSMS = "csms", "CSMS"
        SIMULATOR = "simulator", "Simulator"

    # Not a foreign key: frames are logged in bulk off the hot path, and a station that is
    # refused or deleted keeps its audit trail.
    station_id = models.CharField(max_length=48)
    timestamp = models.DateTimeField()
    source = models.CharField(max_length=10, choices=Source.choices)
    level = models.CharField(max_length=8, default="INFO")
    message_type = models.PositiveSmallIntegerField(null=True, blank=True)
    unique_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=50, blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["timestamp", "id"]
        indexes = [models.Index(fields=["station_id", "timestamp"])]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.station_id} {self.source}"
