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


class StrictIntegerField(serializers.IntegerField):
    """An integer that refuses 1.5, "1" in JSON bodies and booleans."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or (isinstance(data, float) and not data.is_integer()):
            self.fail("invalid")
        return super().to_internal_value(data)


# --- requests ------------------------------------------------------------------------------


class ChargingProfileRequestSerializer(serializers.Serializer):
    connector_id = StrictIntegerField(min_value=0)
    profile = serializers.JSONField(
        help_text="An OCPP 1.6 csChargingProfiles object (camelCase, as on the wire)."
    )

    def validate_profile(self, value: Any) -> dict:
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object (an OCPP ChargingProfile)")
        return value

    def validate(self, attrs: dict) -> dict:
        problems = schema_problems(attrs["connector_id"], attrs["profile"])
        if problems:
            errors: dict[str, list[str]] = {}
            for path, message in problems:
                errors.setdefault(path, []).append(message)
            raise serializers.ValidationError(errors)
        return attrs


class CompositeScheduleQuerySerializer(serializers.Serializer):
    connector_id = serializers.IntegerField(min_value=0, help_text="Connector; 0 = whole station")
    duration = serializers.IntegerField(min_value=1, help_text="Length of the schedule in seconds")
    charging_rate_unit = serializers.ChoiceField(choices=RATE_UNITS, default="W")


class ClearQuerySerializer(serializers.Serializer):
    profile_id = serializers.IntegerField(required=False, help_text="Clear this profile only")
    connector_id = serializers.IntegerField(min_value=0, required=False)
    purpose = serializers.ChoiceField(choices=ChargingProfilePurpose.choices, required=False)
    stack_level = serializers.IntegerField(min_value=0, required=False)


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
    target = BulkTargetSerializer()


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
