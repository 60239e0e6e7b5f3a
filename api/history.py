"""The history API: read-only, paginated lists of what was sent to the stations.

Every SetChargingProfile, GetCompositeSchedule and ClearChargingProfile the CSMS sends
is recorded (``profiles.models``) before the CALL goes out and completed with the
answer; these endpoints list those rows, newest first, filtered with django-filter.
Bad filter values are refused with 400 and a ``detail`` naming each one.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django_filters import fields as filter_fields
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import generics, serializers
from rest_framework.pagination import PageNumberPagination

from api.errors import StationNotFound
from api.serializers import ClearFiltersSerializer, ErrorSerializer, ValidationErrorSerializer
from profiles.models import (
    ChargingProfilePurpose,
    ChargingProfileRecord,
    ClearRequest,
    CompositeScheduleRecord,
    Outcome,
)
from stations.models import Station

# --- pagination ----------------------------------------------------------------------------


class HistoryPagination(PageNumberPagination):
    """``?page=N&page_size=M``: 50 rows a page by default, at most 1000."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
    page_size_query_description = "Rows per page (default 50, at most 1000)."

    def get_page_number(self, request: Any, paginator: Any) -> Any:
        """A page that is not a whole number from 1 is a bad request (400, like a bad
        filter); a page past the last one is 404 ``Invalid page.`` (documented)."""
        page = super().get_page_number(request, paginator)
        if isinstance(page, int):  # the default 1, or the number of "last"
            return page
        if not (page.isascii() and page.isdigit() and int(page) >= 1):
            raise serializers.ValidationError(
                {self.page_query_param: "A page is a whole number from 1, or 'last'."})
        return int(page)

    def get_paginated_response_schema(self, schema: dict) -> dict:
        paginated = super().get_paginated_response_schema(schema)
        # The docs' examples show one row: a count and links that agree with it.
        paginated["properties"]["count"]["example"] = 1
        paginated["properties"]["next"]["example"] = None
        paginated["properties"]["previous"]["example"] = None
        return paginated


# --- filters -------------------------------------------------------------------------------


class IsoDateTimeField(filter_fields.IsoDateTimeField):
    """An ISO 8601 date-time; a ``+hh:mm`` offset left unencoded in the URL (read as a
    space) is taken as meant. Without an offset the time is UTC."""

    def strptime(self, value: Any, format: str) -> Any:
        try:
            return super().strptime(value, format)
        except ValueError:
            text = str(value)
            if format != self.ISO_8601 or " " not in text.strip():
                raise
            return super().strptime(text.strip().replace(" ", "+"), format)

    def to_python(self, value: Any) -> Any:
        # In UTC for the query: PostgreSQL refuses offsets beyond +-15:59 that Python
        # accepts (2808-06-15T10:31:13-21:09), and the moment is the same.
        moment = super().to_python(value)
        if moment is not None and moment.tzinfo is not None:
            try:
                moment = moment.astimezone(UTC)
            except OverflowError:
                raise ValidationError("Enter a valid date/time.", code="invalid") from None
        return moment


class IsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = IsoDateTimeField


class IntegerFilter(filters.NumberFilter):
    """A whole number (django-filter's NumberFilter takes decimals)."""

    field_class = forms.IntegerField


class PeriodForm(forms.Form):
    def clean(self) -> dict:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "must not be before since")
        return data


class HistoryFilter(filters.FilterSet):
    """What every history list can be filtered on."""

    connector_id = IntegerFilter(min_value=0, help_text="Rows of this connector only")
    outcome = filters.ChoiceFilter(
        choices=Outcome.choices,
        help_text="How the call ended (`pending` while the station has not answered)",
    )
    since = IsoDateTimeFilter(
        field_name="requested_at",
        lookup_expr="gte",
        help_text="Requested at or after this ISO 8601 date-time, e.g. `2026-01-08T10:00:00Z`",
    )
    until = IsoDateTimeFilter(
        field_name="requested_at",
        lookup_expr="lte",
        help_text="Requested at or before this ISO 8601 date-time, e.g. `2026-01-08T18:00:00Z`",
    )

    class Meta:
        form = PeriodForm
        fields: list[str] = []


class ProfileHistoryFilter(HistoryFilter):
    purpose = filters.ChoiceFilter(
        choices=ChargingProfilePurpose.choices, help_text="chargingProfilePurpose of the profile"
    )
    charging_profile_id = IntegerFilter(help_text="chargingProfileId of the profile")
    scenario = filters.CharFilter(
        help_text="Test scenario that generated the profile (`POST /stations/{id}/test_profiles`)"
    )

    class Meta(HistoryFilter.Meta):
        model = ChargingProfileRecord


class AllProfileHistoryFilter(ProfileHistoryFilter):
    station_id = filters.CharFilter(
        field_name="station__station_id", help_text="Rows of this station only"
    )

    class Meta(ProfileHistoryFilter.Meta):
        pass


class CompositeScheduleHistoryFilter(HistoryFilter):
    connector_id = IntegerFilter(min_value=0, help_text="Connector asked about (0 = station)")

    class Meta(HistoryFilter.Meta):
        model = CompositeScheduleRecord


class ClearHistoryFilter(HistoryFilter):
    connector_id = IntegerFilter(min_value=0, help_text="Clears that named this connector")
    # Typed by hand: the column is nullable, the filter is not.
    purpose = extend_schema_field(
        {"type": "string", "enum": ChargingProfilePurpose.values,
         "description": "Clears that named this purpose"}
    )(filters.ChoiceFilter(choices=ChargingProfilePurpose.choices))

    class Meta(HistoryFilter.Meta):
        model = ClearRequest


# --- serializers ---------------------------------------------------------------------------


class BlankAsNullField(serializers.CharField):
    """A text column whose empty string means "nothing", shown as null as in the
    contract's responses (``"error": null``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> str | None:
        return value or None


_OPERATION_FIELDS = [
    "id",
    "station_id",
    "requested_at",
    "answered_at",
    "outcome",
    "ocpp_status",
    "error",
    "node",
]


class OperationSerializer(serializers.ModelSerializer):
    station_id = serializers.CharField(source="station_ref", read_only=True)
    ocpp_status = BlankAsNullField(help_text="The station's own answer; null before it answers")
    error = BlankAsNullField(help_text="Why the call failed (timeout, CALLERROR, lost connection)")
    node = BlankAsNullField(help_text="Server process that made the call")


class ProfileRecordSerializer(OperationSerializer):
    scenario = BlankAsNullField(help_text="Test scenario that generated the profile, if any")

    class Meta:
        model = ChargingProfileRecord
        fields = [
            *_OPERATION_FIELDS,
            "connector_id",
            "requested_connector_id",
            "charging_profile_id",
            "purpose",
            "stack_level",
            "kind",
            "charging_rate_unit",
            "transaction_id",
            "scenario",
            "profile",
        ]


def _model_has(model: type, name: str) -> bool:
    return any(field.name == name for field in model._meta.get_fields())


class CompositeScheduleRecordSerializer(OperationSerializer):
    class Meta:
        model = CompositeScheduleRecord
        fields = [
            *_OPERATION_FIELDS,
            "connector_id",
            "duration",
            "charging_rate_unit",
            "schedule_start",
            "schedule",
            # Added with the CSMS's own preview of the schedule; absent before that.
            *[
                name
                for name in ("matches_preview",)
                if _model_has(CompositeScheduleRecord, name)
            ],
        ]


class ClearRecordSerializer(OperationSerializer):
    # The same object as the contract's clear response; null: not given.
    filters = ClearFiltersSerializer(read_only=True)

    class Meta:
        model = ClearRequest
        fields = [*_OPERATION_FIELDS, "filters"]


# --- docs ----------------------------------------------------------------------------------

_STATION = OpenApiParameter(
    "station_id", OpenApiTypes.STR, OpenApiParameter.PATH,
    description="The station's OCPP identity (it need not be connected)",
)

_LISTS = (
    "Newest first, 50 rows a page (`page`, `page_size` up to 1000). `since` and `until` "
    "bound `requested_at` (both inclusive; ISO 8601, UTC when no offset is given). A row "
    "is written as `pending` before the CALL goes out and completed with the answer "
    "(`answered_at`, `ocpp_status`) or the failure (`error`). An invalid filter value or "
    "page number is refused with 400 naming it; a page past the last one is 404."
)

PROFILE_HISTORY = (
    "Every SetChargingProfile sent to the station: the full profile as sent, the connector "
    "it was sent on (`connector_id`; a ChargePointMaxProfile goes to 0) and the one the "
    "request named (`requested_connector_id`), and how the station answered.\n\n" + _LISTS
)

ALL_PROFILE_HISTORY = (
    "Every SetChargingProfile sent to any station (`station_id` narrows it to one).\n\n"
    + _LISTS
)

COMPOSITE_HISTORY = (
    "Every GetCompositeSchedule asked of the station and the schedule it reported "
    "(`schedule`, in OCPP's camelCase, null unless it answered Accepted).\n\n" + _LISTS
)

CLEAR_HISTORY = (
    "Every ClearChargingProfile sent to the station, with its filters (null: not given) "
    "and the answer; `outcome` is `unknown` when the station had nothing that matched. "
    "The `connector_id` and `purpose` filters select clears that named them.\n\n" + _LISTS
)

_PAGE_PAST_THE_END = OpenApiExample(
    "Page past the end",
    value={"detail": "Invalid page."},
    response_only=True,
    status_codes=["404"],
)

STATION_NOT_FOUND = OpenApiResponse(
    ErrorSerializer,
    description="No station with this id has ever connected, or `page` is past the last "
    "page.",
    examples=[
        OpenApiExample(
            "Station not found",
            value={"detail": "Station PY-SIM-9999 not found"},
            response_only=True,
            status_codes=["404"],
        ),
        _PAGE_PAST_THE_END,
    ],
)

PAGE_NOT_FOUND = OpenApiResponse(
    ErrorSerializer,
    description="`page` is past the last page.",
    examples=[_PAGE_PAST_THE_END],
)

BAD_FILTER = OpenApiResponse(
    ValidationErrorSerializer,
    description="A filter value or `page` is invalid; `detail` names every bad one.",
    examples=[
        OpenApiExample(
            "Invalid filters",
            value={
                "detail": "outcome: Select a valid choice. maybe is not one of the available "
                "choices.; since: Enter a valid date/time.",
                "errors": [
                    {
                        "field": "outcome",
                        "message": "Select a valid choice. maybe is not one of the available "
                        "choices.",
                    },
                    {"field": "since", "message": "Enter a valid date/time."},
                ],
            },
            response_only=True,
            status_codes=["400"],
        )
    ],
)

_PROFILE_ROW = {
    "id": 42,
    "station_id": "PY-SIM-0001",
    "requested_at": "2026-01-08T10:00:00.120000Z",
    "answered_at": "2026-01-08T10:00:00.180000Z",
    "outcome": "success",
    "ocpp_status": "Accepted",
    "error": None,
    "node": "csms-1",
    "connector_id": 0,
    "requested_connector_id": 1,
    "charging_profile_id": 100,
    "purpose": "ChargePointMaxProfile",
    "stack_level": 0,
    "kind": "Absolute",
    "charging_rate_unit": "W",
    "transaction_id": None,
    "scenario": None,
    "profile": {
        "chargingProfileId": 100,
        "stackLevel": 0,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000}],
            "startSchedule": "2026-01-08T10:00:00+00:00",
        },
    },
}

_TIMEOUT_ROW = {
    **_PROFILE_ROW,
    "id": 43,
    "answered_at": "2026-01-08T10:05:30.000000Z",
    "requested_at": "2026-01-08T10:05:00.000000Z",
    "outcome": "error",
    "ocpp_status": None,
    "error": "Connection timeout",
}

PROFILE_EXAMPLES = [
    OpenApiExample("Accepted profile", value=_PROFILE_ROW, response_only=True,
                   status_codes=["200"]),
    OpenApiExample("Station did not answer", value=_TIMEOUT_ROW, response_only=True,
                   status_codes=["200"]),
]

_COMPOSITE_ROW = {
    "id": 7,
    "station_id": "PY-SIM-0001",
    "requested_at": "2026-01-08T10:10:00.050000Z",
    "answered_at": "2026-01-08T10:10:00.090000Z",
    "outcome": "success",
    "ocpp_status": "Accepted",
    "error": None,
    "node": "csms-1",
    "connector_id": 1,
    "duration": 3600,
    "charging_rate_unit": "W",
    "schedule_start": "2026-01-08T10:10:00Z",
    "schedule": {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000}],
        "duration": 3600,
    },
}
if _model_has(CompositeScheduleRecord, "matches_preview"):
    _COMPOSITE_ROW["matches_preview"] = True

COMPOSITE_HISTORY_EXAMPLES = [
    OpenApiExample("Reported schedule", value=_COMPOSITE_ROW, response_only=True,
                   status_codes=["200"]),
]

CLEAR_HISTORY_EXAMPLES = [
    OpenApiExample(
        "Cleared one profile",
        value={
            "id": 3,
            "station_id": "PY-SIM-0001",
            "requested_at": "2026-01-08T11:00:00.010000Z",
            "answered_at": "2026-01-08T11:00:00.040000Z",
            "outcome": "success",
            "ocpp_status": "Accepted",
            "error": None,
            "node": "csms-1",
            "filters": {"profile_id": 100, "connector_id": None, "purpose": None,
                        "stack_level": None},
        },
        response_only=True,
        status_codes=["200"],
    ),
]


# --- views ---------------------------------------------------------------------------------


class HistoryView(generics.ListAPIView):
    """A read-only, paginated, filtered list of history rows, newest first."""

    model: type
    pagination_class = HistoryPagination
    filter_backends = [filters.DjangoFilterBackend]

    def base_queryset(self) -> QuerySet:
        return self.model.objects.annotate(station_ref=F("station__station_id")).order_by(
            "-requested_at", "-id"
        )

    def get_queryset(self) -> QuerySet:
        return self.base_queryset()


class StationHistoryView(HistoryView):
    """The history of one station; 404 when the station is unknown."""

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # the schema generator's look
            return self.base_queryset().none()
        station_id = self.kwargs["station_id"]
        pk = Station.objects.filter(station_id=station_id).values_list("pk", flat=True).first()
        if pk is None:
            raise StationNotFound(station_id, connected_required=False)
        return self.base_queryset().filter(station_id=pk)


def _history_schema(operation_id: str, summary: str, description: str, serializer: type,
                    examples: list, station: bool) -> Any:
    responses: dict = {200: serializer, 400: BAD_FILTER,
                       404: STATION_NOT_FOUND if station else PAGE_NOT_FOUND}
    return extend_schema_view(
        get=extend_schema(
            operation_id=operation_id,
            summary=summary,
            description=description,
            parameters=[_STATION] if station else None,
            responses=responses,
            examples=examples,
            tags=["History"],
        )
    )


@_history_schema("station_profile_history", "Profiles sent to a station", PROFILE_HISTORY,
                 ProfileRecordSerializer, PROFILE_EXAMPLES, station=True)
class StationProfileHistoryView(StationHistoryView):
    model = ChargingProfileRecord
    serializer_class = ProfileRecordSerializer
    filterset_class = ProfileHistoryFilter


@_history_schema("profile_history", "Profiles sent to every station", ALL_PROFILE_HISTORY,
                 ProfileRecordSerializer, PROFILE_EXAMPLES, station=False)
class ProfileHistoryView(HistoryView):
    model = ChargingProfileRecord
    serializer_class = ProfileRecordSerializer
    filterset_class = AllProfileHistoryFilter


@_history_schema("station_composite_schedule_history", "Composite schedules of a station",
                 COMPOSITE_HISTORY, CompositeScheduleRecordSerializer,
                 COMPOSITE_HISTORY_EXAMPLES, station=True)
class StationCompositeScheduleHistoryView(StationHistoryView):
    model = CompositeScheduleRecord
    serializer_class = CompositeScheduleRecordSerializer
    filterset_class = CompositeScheduleHistoryFilter


@_history_schema("station_clear_history", "Profile clears of a station", CLEAR_HISTORY,
                 ClearRecordSerializer, CLEAR_HISTORY_EXAMPLES, station=True)
class StationClearHistoryView(StationHistoryView):
    model = ClearRequest
    serializer_class = ClearRecordSerializer
    filterset_class = ClearHistoryFilter
