"""The audit history of smart charging operations: browsable, filterable, never edited."""

import json

from django.contrib import admin
from django.utils.html import format_html

from profiles.models import ChargingProfileRecord, ClearRequest, CompositeScheduleRecord
from stations.admin import ReadOnlyAdmin


def pretty_json(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


@admin.register(ChargingProfileRecord)
class ChargingProfileRecordAdmin(ReadOnlyAdmin):
    list_display = ["requested_at", "station", "connector_id", "charging_profile_id", "purpose",
                    "stack_level", "kind", "charging_rate_unit", "outcome", "ocpp_status",
                    "scenario"]
    list_filter = ["outcome", "purpose", "kind", "scenario", "station", "requested_at"]
    search_fields = ["station__station_id", "charging_profile_id"]
    date_hierarchy = "requested_at"
    exclude = ["profile"]
    readonly_fields = ["profile_json"]

    @admin.display(description="profile")
    def profile_json(self, record: ChargingProfileRecord) -> str:
        return pretty_json(record.profile)


@admin.register(ClearRequest)
class ClearRequestAdmin(ReadOnlyAdmin):
    list_display = ["requested_at", "station", "profile_id", "connector_id", "purpose",
                    "stack_level", "outcome", "ocpp_status"]
    list_filter = ["outcome", "station", "requested_at"]
    search_fields = ["station__station_id"]
    date_hierarchy = "requested_at"


@admin.register(CompositeScheduleRecord)
class CompositeScheduleRecordAdmin(ReadOnlyAdmin):
    list_display = ["requested_at", "station", "connector_id", "duration", "charging_rate_unit",
                    "outcome", "ocpp_status"]
    list_filter = ["outcome", "charging_rate_unit", "station", "requested_at"]
    search_fields = ["station__station_id"]
    date_hierarchy = "requested_at"
    exclude = ["schedule"]
    readonly_fields = ["schedule_json"]

    @admin.display(description="schedule")
    def schedule_json(self, record: CompositeScheduleRecord) -> str:
        return pretty_json(record.schedule)
