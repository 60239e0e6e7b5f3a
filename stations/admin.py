"""Browse stations, their connectors and transactions, and the OCPP message log.

Stations are editable only where editing cannot falsify what a station said; the log
and transactions are read-only history.
"""

from django import forms
from django.contrib import admin

from stations.auth import hash_key
from stations.models import Connector, Station, StationLog, Transaction
from stations.presence import is_connected


class ReadOnlyAdmin(admin.ModelAdmin):
    """History: browsable, never edited or deleted from the admin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ConnectorInline(admin.TabularInline):
    model = Connector
    extra = 0
    can_delete = False
    fields = ["connector_id", "status", "error_code", "power_w", "energy_wh", "current_a",
              "status_at", "meter_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class SmartChargingFilter(admin.SimpleListFilter):
    title = "smart charging"
    parameter_name = "smart_charging"

    def lookups(self, request, model_admin):
        return [("yes", "Supported"), ("no", "Not supported"), ("unknown", "Not reported")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(supported_feature_profiles__contains="SmartCharging")
        if self.value() == "no":
            return queryset.exclude(supported_feature_profiles__contains="SmartCharging").exclude(
                supported_feature_profiles__isnull=True
            )
        if self.value() == "unknown":
            return queryset.filter(supported_feature_profiles__isnull=True)
        return queryset


class StationForm(forms.ModelForm):
    new_authorization_key = forms.CharField(
        required=False, min_length=16, max_length=40, widget=forms.PasswordInput,
        help_text="Set the station's AuthorizationKey (HTTP Basic password); stored hashed. "
                  "Leave empty to keep the current one.",
    )

    class Meta:
        model = Station
        fields = ["station_id", "time_zone", "connector_max_power_w"]


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    form = StationForm
    list_display = ["station_id", "is_connected", "has_key", "vendor", "model", "smart_charging",
                    "number_of_connectors", "last_seen", "node"]
    list_filter = ["connected", "vendor", SmartChargingFilter]
    search_fields = ["station_id", "serial_number"]
    inlines = [ConnectorInline]
    readonly_fields = [
        "vendor", "model", "serial_number", "firmware_version", "last_boot_at", "connected",
        "connected_at", "disconnected_at", "last_seen", "node", "channel_name",
        "supported_feature_profiles", "number_of_connectors", "charge_profile_max_stack_level",
        "charging_schedule_allowed_charging_rate_unit", "charging_schedule_max_periods",
        "max_charging_profiles_installed", "configuration", "configuration_at", "created_at",
    ]

    def save_model(self, request, obj: Station, form, change: bool) -> None:
        key = form.cleaned_data.get("new_authorization_key")
        if key:
            obj.authorization_key_hash = hash_key(key)
        super().save_model(request, obj, form, change)

    @admin.display(boolean=True, description="has a key")
    def has_key(self, station: Station) -> bool:
        return bool(station.authorization_key_hash)

    @admin.display(boolean=True, description="connected")
    def is_connected(self, station: Station) -> bool:
        return is_connected(station)

    @admin.display(boolean=True, description="smart charging")
    def smart_charging(self, station: Station) -> bool | None:
        return station.supports_smart_charging


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "station", "connector_id", "id_tag", "started_at", "stopped_at",
                    "meter_start", "meter_stop", "stop_reason"]
    list_filter = ["stopped_at", "station"]
    search_fields = ["station__station_id", "id_tag"]
    date_hierarchy = "started_at"


@admin.register(StationLog)
class StationLogAdmin(ReadOnlyAdmin):
    list_display = ["timestamp", "station_id", "source", "action", "unique_id", "short_message"]
    list_filter = ["source", "action", "level"]
    search_fields = ["station_id", "unique_id", "message"]
    date_hierarchy = "timestamp"

    @admin.display(description="message")
    def short_message(self, entry: StationLog) -> str:
        return entry.message if len(entry.message) <= 120 else entry.message[:117] + "..."
