"""Requests and answers of the simulator endpoints."""

from __future__ import annotations

from rest_framework import serializers

from simulator.config import DEFAULT_FEATURE_PROFILES, SMART_CHARGING, SessionPlan, StationConfig
from simulator.fleet import station_ids
from stations import simulation
from stations.models import Station

STATION_ID_MAX = Station._meta.get_field("station_id").max_length


class SessionPlanSerializer(serializers.Serializer):
    connector_id = serializers.IntegerField(min_value=1, default=1)
    plug_in_after_s = serializers.FloatField(min_value=0, default=3.0)
    energy_wh = serializers.FloatField(min_value=1, default=10_000.0)
    ev_max_w = serializers.FloatField(min_value=1, default=11_000.0)


class SimulatorStartSerializer(serializers.Serializer):
    """Start ``count`` stations named ``prefix`` + 0001..., or the listed ``station_ids``."""

    count = serializers.IntegerField(min_value=1, max_value=5000, required=False)
    prefix = serializers.CharField(default="PY-SIM-", max_length=40)
    first = serializers.IntegerField(min_value=0, default=1, help_text="Number of the first id")
    station_ids = serializers.ListField(
        child=serializers.RegexField(r"^[A-Za-z0-9_.:-]{1,48}$"), required=False,
        min_length=1, max_length=5000,
    )
    connectors = serializers.IntegerField(min_value=1, max_value=16, default=1)
    max_power_w = serializers.FloatField(min_value=1, default=22_080.0,
                                         help_text="Rated power per connector")
    phases = serializers.ChoiceField(choices=[1, 2, 3], default=3)
    smart_charging = serializers.BooleanField(
        default=True, help_text="false: a station without SmartCharging (the 400 path)"
    )
    sample_interval = serializers.FloatField(min_value=0.1, max_value=3600, default=1.0)
    sessions = SessionPlanSerializer(many=True, required=False,
                                     help_text="EV visits each station plays on its own")
    password = serializers.CharField(required=False, allow_null=True, default=None,
                                     help_text="HTTP Basic password (user = station id)")
    url = serializers.CharField(
        required=False, max_length=2000,
        help_text="CSMS to connect to (default: this one). Only ws:// or wss:// on this "
        "CSMS's host or SIMULATOR_ALLOWED_HOSTS (loopback by default): the server opens "
        "the connections itself.",
    )

    def validate_url(self, value: str) -> str:
        refusal = simulation.url_refusal(value)
        if refusal is not None:
            raise serializers.ValidationError(refusal)
        return value

    def validate(self, attrs: dict) -> dict:
        if ("count" in attrs) == ("station_ids" in attrs):
            raise serializers.ValidationError("give either count or station_ids")
        if "count" in attrs:
            ids = station_ids(attrs["count"], attrs["prefix"], attrs["first"])
            if any(len(i) > STATION_ID_MAX for i in ids):
                raise serializers.ValidationError({"prefix": "station ids would be too long"})
            attrs["station_ids"] = ids
        if len(set(attrs["station_ids"])) != len(attrs["station_ids"]):
            raise serializers.ValidationError({"station_ids": "ids must be unique"})
        return attrs

    def configs(self, default_url: str) -> list[StationConfig]:
        data = self.validated_data
        features = DEFAULT_FEATURE_PROFILES
        if not data["smart_charging"]:
            features = ",".join(f for f in features.split(",") if f != SMART_CHARGING)
        return [
            StationConfig(
                station_id=station_id,
                url=data.get("url") or default_url,
                connectors=data["connectors"],
                max_power_w=data["max_power_w"],
                phases=data["phases"],
                feature_profiles=features,
                sample_interval=data["sample_interval"],
                sessions=[SessionPlan(**plan) for plan in data.get("sessions", [])],
                password=data["password"],
            )
            for station_id in data["station_ids"]
        ]


class SimulatorStartedSerializer(serializers.Serializer):
    station_ids = serializers.ListField(child=serializers.CharField())
    url = serializers.CharField()


class SimulatedConnectorSerializer(serializers.Serializer):
    connector_id = serializers.IntegerField()
    status = serializers.CharField(allow_null=True)
    power_w = serializers.FloatField(allow_null=True)
    limit_w = serializers.FloatField(allow_null=True)
    energy_wh = serializers.FloatField(allow_null=True)
    transaction_id = serializers.IntegerField(allow_null=True)


class SimulatedStationSerializer(serializers.Serializer):
    station_id = serializers.CharField()
    url = serializers.CharField()
    connected = serializers.BooleanField()
    registered = serializers.BooleanField()
    smart_charging = serializers.BooleanField()
    installed_profiles = serializers.IntegerField()
    connectors = SimulatedConnectorSerializer(many=True)


class PlugInSerializer(serializers.Serializer):
    connector_id = serializers.IntegerField(min_value=1, default=1)
    energy_wh = serializers.FloatField(min_value=1, default=20_000.0)
    ev_max_w = serializers.FloatField(min_value=1, default=11_000.0)


class PlugInResultSerializer(serializers.Serializer):
    station_id = serializers.CharField()
    connector_id = serializers.IntegerField()
    transaction_id = serializers.IntegerField(allow_null=True)
