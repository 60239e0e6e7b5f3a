"""Request validation and response shapes of the REST API (the contract's models)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from profiles.models import ChargingProfilePurpose
from profiles.validation import schema_problems
from stations import presence
from stations.models import Connector, Station, StationLog

RATE_UNITS = ("W", "A")
# What the history columns hold: OCPP's integers are 32-bit, connectors fit in 16 bits.
MAX_CONNECTOR = 32767
MAX_INT32 = 2**31 - 1


class StrictIntegerField(serializers.IntegerField):
    """An integer that refuses 1.5, "1" in JSON bodies and booleans."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or (isinstance(data, float) and not data.is_integer()):
            self.fail("invalid")
        return super().to_internal_value(data)


# --- requests ------------------------------------------------------------------------------


class ChargingProfileRequestSerializer(serializers.Serializer):
    connector_id = StrictIntegerField(min_value=0, max_value=MAX_CONNECTOR)
    profile = serializers.JSONField(
        help_text="An OCPP 1.6 csChargingProfiles object (camelCase, as on the wire)."
    )

    def validate_profile(self, value: Any) -> dict:
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object (an OCPP ChargingProfile)")
        return value



def problems_error(problems: list[tuple[str, str]]) -> serializers.ValidationError:
    """Validation problems as the 400 the API answers with, every path named."""
    errors: dict[str, list[str]] = {}
    for path, message in problems:
        errors.setdefault(path, []).append(message)
    return serializers.ValidationError(errors)


class CompositeScheduleQuerySerializer(serializers.Serializer):
    connector_id = serializers.IntegerField(min_value=0, max_value=MAX_CONNECTOR,
                                            help_text="Connector; 0 = whole station")
    duration = serializers.IntegerField(min_value=1, max_value=MAX_INT32,
                                        help_text="Length of the schedule in seconds")
    charging_rate_unit = serializers.ChoiceField(choices=RATE_UNITS, default="W")


class ClearQuerySerializer(serializers.Serializer):
    profile_id = serializers.IntegerField(required=False, min_value=-MAX_INT32 - 1,
                                          max_value=MAX_INT32, help_text="Clear this profile only")
    connector_id = serializers.IntegerField(min_value=0, max_value=MAX_CONNECTOR, required=False)
    purpose = serializers.ChoiceField(choices=ChargingProfilePurpose.choices, required=False)
    stack_level = serializers.IntegerField(min_value=0, max_value=MAX_INT32, required=False)


class LogQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=5000, default=200,
                                     help_text="At most this many of the latest lines")


# --- responses -----------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ValidationErrorItemSerializer(serializers.Serializer):
    field = serializers.CharField()
    message = serializers.CharField()


class ValidationErrorSerializer(ErrorSerializer):
    errors = ValidationErrorItemSerializer(many=True)


class ChargingProfileResponseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success", "rejected", "error"])
    station_id = serializers.CharField()
    connector_id = serializers.IntegerField(help_text="The connector the profile was sent on")
    profile_id = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    ocpp_status = serializers.CharField(allow_null=True, help_text="The station's own answer")


class CompositeScheduleResponseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success", "rejected", "error"])
    station_id = serializers.CharField()
    connector_id = serializers.IntegerField()
    schedule = serializers.JSONField(allow_null=True)
    schedule_start = serializers.CharField(allow_null=True)
    matches_preview = serializers.BooleanField(
        allow_null=True,
        help_text="Whether the station's schedule agrees with the CSMS's own computation "
        "from the profiles it believes installed (null when there is nothing to compare)",
    )
    message = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    ocpp_status = serializers.CharField(allow_null=True)


class ClearFiltersSerializer(serializers.Serializer):
    profile_id = serializers.IntegerField(allow_null=True)
    connector_id = serializers.IntegerField(allow_null=True)
    purpose = serializers.CharField(allow_null=True)
    stack_level = serializers.IntegerField(allow_null=True)


class ClearResponseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success", "unknown", "rejected", "error"])
    station_id = serializers.CharField()
    message = serializers.CharField()
    filters = ClearFiltersSerializer()
    error = serializers.CharField(allow_null=True)
    ocpp_status = serializers.CharField(allow_null=True)


class ConnectorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Connector
        fields = [
            "connector_id",
            "status",
            "error_code",
            "info",
            "status_at",
            "power_w",
            "energy_wh",
            "current_a",
            "meter_at",
        ]


class StationSerializer(serializers.ModelSerializer):
    connected = serializers.SerializerMethodField()
    supports_smart_charging = serializers.BooleanField(
        allow_null=True, read_only=True, help_text="Null until the station has said"
    )
    feature_profiles = serializers.ListField(
        child=serializers.CharField(), allow_null=True, read_only=True
    )
    connector_count = serializers.SerializerMethodField()
    connectors = ConnectorSerializer(many=True, read_only=True)

    class Meta:
        model = Station
        fields = [
            "station_id",
            "connected",
            "vendor",
            "model",
            "serial_number",
            "firmware_version",
            "connector_count",
            "connectors",
            "supports_smart_charging",
            "feature_profiles",
            "charge_profile_max_stack_level",
            "charging_schedule_allowed_charging_rate_unit",
            "charging_schedule_max_periods",
            "max_charging_profiles_installed",
            "last_seen",
            "last_boot_at",
            "connected_at",
            "node",
        ]

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_connected(self, station: Station) -> bool:
        return presence.is_connected(station)

    @extend_schema_field(OpenApiTypes.INT)
    def get_connector_count(self, station: Station) -> int:
        """What the station said (NumberOfConnectors), else the connectors it reported."""
        if station.number_of_connectors is not None:
            return station.number_of_connectors
        return sum(1 for c in station.connectors.all() if c.connector_id > 0)


class StationLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = StationLog
        fields = ["timestamp", "source", "level", "message_type", "action", "unique_id", "message"]


# --- bulk operations ---------------------------------------------------------------------


class BulkTargetSerializer(serializers.Serializer):
    """Exactly one of: a list of station ids, every connected station, one vendor's."""

    station_ids = serializers.ListField(
        child=serializers.CharField(max_length=48), required=False, min_length=1,
        max_length=100_000,
    )
    all = serializers.BooleanField(required=False, help_text="Every connected station")
    vendor = serializers.CharField(required=False, help_text="Connected stations of this vendor")

    def validate(self, attrs: dict) -> dict:
        chosen = [k for k in ("station_ids", "vendor") if k in attrs] + (
            ["all"] if attrs.get("all") else []
        )
        if len(chosen) != 1:
            raise serializers.ValidationError(
                "give exactly one of station_ids, all (true) or vendor"
            )
        return attrs


class BulkProfileRequestSerializer(ChargingProfileRequestSerializer):
    """The station-independent checks happen here; each station's own limits later."""

    target = BulkTargetSerializer()

    def validate(self, attrs: dict) -> dict:
        problems = schema_problems(attrs["connector_id"], attrs["profile"])
        if problems:
            raise problems_error(problems)
        return attrs


class BulkClearQuerySerializer(ClearQuerySerializer):
    station_ids = serializers.CharField(required=False, help_text="Comma-separated station ids")
    all = serializers.BooleanField(required=False, help_text="Every connected station")
    vendor = serializers.CharField(required=False)

    def validate(self, attrs: dict) -> dict:
        target = {k: attrs.pop(k) for k in ("station_ids", "all", "vendor") if k in attrs}
        if "station_ids" in target:
            target["station_ids"] = [s for s in target["station_ids"].split(",") if s]
        serializer = BulkTargetSerializer(data=target)
        serializer.is_valid(raise_exception=True)
        attrs["target"] = serializer.validated_data
        return attrs


class BulkSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField(help_text="Rejected, unknown, unreachable or errors")


class BulkProfileResponseSerializer(BulkSummarySerializer):
    results = ChargingProfileResponseSerializer(many=True)


class BulkClearResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success", "unknown", "rejected", "error"])
    station_id = serializers.CharField()
    message = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    ocpp_status = serializers.CharField(allow_null=True)


class BulkClearResponseSerializer(BulkSummarySerializer):
    filters = ClearFiltersSerializer()
    results = BulkClearResultSerializer(many=True)


# --- scenarios, installed profiles, previews -------------------------------------------


class TestProfileRequestSerializer(serializers.Serializer):
    """The contract's TestProfileRequest: ``scenario`` plus the scenario's own fields."""

    scenario = serializers.CharField(help_text="peak_shaving, time_of_use or energy_cap")
    connector_id = serializers.IntegerField(default=1, min_value=0)
    max_power_w = serializers.FloatField(required=False, help_text="peak_shaving")
    off_peak_w = serializers.FloatField(required=False, help_text="time_of_use")
    peak_w = serializers.FloatField(required=False, help_text="time_of_use")
    peak_start_hour = serializers.IntegerField(required=False, help_text="time_of_use, 0-24")
    peak_end_hour = serializers.IntegerField(required=False, help_text="time_of_use, 0-24")
    transaction_id = serializers.IntegerField(required=False, help_text="energy_cap")
    max_energy_wh = serializers.FloatField(required=False, help_text="energy_cap")
    duration_seconds = serializers.IntegerField(required=False, help_text="energy_cap")
    power_limit_w = serializers.FloatField(required=False, help_text="energy_cap")


class TestProfileResponseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success", "rejected", "error"])
    station_id = serializers.CharField()
    scenario = serializers.CharField()
    profile = serializers.JSONField()
    connector_id = serializers.IntegerField(help_text="The connector the profile was sent on")
    send_status = serializers.CharField(
        help_text="The station's answer (Accepted, Rejected, NotSupported), or Failed"
    )
    message = serializers.CharField()
    error = serializers.CharField(allow_null=True)


class InstalledProfileSerializer(serializers.Serializer):
    charging_profile_id = serializers.IntegerField()
    purpose = serializers.CharField()
    stack_level = serializers.IntegerField()
    transaction_id = serializers.IntegerField(allow_null=True)
    valid_to = serializers.DateTimeField(allow_null=True)
    expired = serializers.BooleanField()
    scenario = serializers.CharField()
    installed_at = serializers.DateTimeField()
    profile = serializers.JSONField()


class InstalledConnectorSerializer(serializers.Serializer):
    connector_id = serializers.IntegerField()
    profiles = InstalledProfileSerializer(many=True)


class InstalledProfilesResponseSerializer(serializers.Serializer):
    station_id = serializers.CharField()
    connectors = InstalledConnectorSerializer(many=True)


class ResyncResponseSerializer(serializers.Serializer):
    station_id = serializers.CharField()
    total = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    results = ChargingProfileResponseSerializer(many=True)


class PreviewQuerySerializer(CompositeScheduleQuerySerializer):
    ev_max_power_w = serializers.FloatField(
        min_value=0, required=False, help_text="Energy an EV of this power would get"
    )
    energy_wh = serializers.FloatField(
        min_value=0, required=False, help_text="Time such an EV needs for this energy"
    )


class PreviewCandidateSerializer(serializers.Serializer):
    connector_id = serializers.IntegerField(min_value=0)
    duration = serializers.IntegerField(min_value=1, default=86400)
    charging_rate_unit = serializers.ChoiceField(choices=RATE_UNITS, default="W")
    ev_max_power_w = serializers.FloatField(min_value=0, required=False)
    energy_wh = serializers.FloatField(min_value=0, required=False)
    profile = serializers.JSONField()


class PreviewScheduleSerializer(serializers.Serializer):
    schedule_start = serializers.DateTimeField()
    schedule = serializers.JSONField(help_text="OCPP chargingSchedule (no startSchedule)")
    periods_from_profiles = serializers.ListField(
        child=serializers.BooleanField(),
        help_text="Per period: true if a profile limits it, false if it is the rated maximum",
    )
    energy_wh = serializers.FloatField(allow_null=True)
    seconds_to_energy = serializers.IntegerField(allow_null=True)


class PreviewResponseSerializer(PreviewScheduleSerializer):
    station_id = serializers.CharField()
    connector_id = serializers.IntegerField()


class CandidatePreviewResponseSerializer(serializers.Serializer):
    station_id = serializers.CharField()
    connector_id = serializers.IntegerField()
    valid = serializers.BooleanField()
    problems = ValidationErrorItemSerializer(many=True)
    before = PreviewScheduleSerializer()
    after = PreviewScheduleSerializer(allow_null=True)


class StationRegistrationSerializer(serializers.Serializer):
    """Register a station before it connects (the ``known`` policy needs it)."""

    station_id = serializers.RegexField(
        r"^[A-Za-z0-9\-_.:]{1,48}$",
        error_messages={"invalid": "1 to 48 letters, digits or -_.:"},
    )
    password = serializers.CharField(
        required=False, min_length=16, max_length=40, write_only=True,
        help_text="The station's AuthorizationKey (HTTP Basic password); stored hashed",
    )
    time_zone = serializers.CharField(default="UTC", max_length=64)
    connector_max_power_w = serializers.FloatField(default=22080.0, min_value=1)

    def validate_time_zone(self, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise serializers.ValidationError(f"unknown time zone {value!r}") from None
        return value

    def validate_station_id(self, value: str) -> str:
        if Station.objects.filter(station_id=value).exists():
            raise serializers.ValidationError(f"station {value} is registered already")
        return value

    def create(self, validated_data: dict) -> Station:
        from stations.auth import hash_key

        password = validated_data.pop("password", None)
        return Station.objects.create(
            **validated_data, authorization_key_hash=hash_key(password) if password else ""
        )


class LoopLagSerializer(serializers.Serializer):
    last_ms = serializers.FloatField(allow_null=True)
    mean_ms = serializers.FloatField(allow_null=True)
    max_ms = serializers.FloatField(allow_null=True)


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    node = serializers.CharField(help_text="This server process")
    stations_held = serializers.IntegerField(help_text="Stations connected to this process")
    event_loop_lag = LoopLagSerializer(help_text="How late the event loop runs (last minute)")
