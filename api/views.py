"""REST endpoints of the contract. Views parse and validate, then hand over to the
profile services; they hold no OCPP or database logic of their own.

The operations are async views: a request waiting up to the call deadline for a
station holds no thread, so a slow station never delays requests to the others.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from api import docs
from api.base import AsyncAPIView
from api.errors import SmartChargingNotSupported, StationNotFound
from api.serializers import (
    ChargingProfileRequestSerializer,
    ChargingProfileResponseSerializer,
    ClearQuerySerializer,
    ClearResponseSerializer,
    CompositeScheduleQuerySerializer,
    CompositeScheduleResponseSerializer,
    HealthSerializer,
    LogQuerySerializer,
    StationLogSerializer,
    StationRegistrationSerializer,
    StationSerializer,
    problems_error,
)
from profiles import checks, services
from profiles.models import Outcome
from stations import db, loop_monitor, message_log, presence, registry
from stations.models import Station, StationLog
from stations.node import NODE_ID


def connected_smart_charging_station(station_id: str) -> Station:
    """The connected station, or the contract's 404 / 400. Synchronous: a database
    thread, where a view can join it with the rest of its database work."""
    station = presence.connected_station(station_id)
    if station is None:
        raise StationNotFound(station_id)
    if station.supports_smart_charging is False:
        raise SmartChargingNotSupported(station_id)
    return station


async def smart_charging_station(station_id: str) -> Station:
    """``connected_smart_charging_station`` from async code."""
    await presence.ensure_heartbeat()
    return await db.run(connected_smart_charging_station, station_id)


def _checked_send(station_id: str, connector_id: int, profile: dict) -> services.PendingSends:
    """Lookup, checks and the pending row of a send, in one trip to the database thread."""
    station = connected_smart_charging_station(station_id)
    problems = checks.problems_for(station, connector_id, profile)
    if problems:
        raise problems_error(problems)
    return services.write_pending_sends([station], connector_id, profile)


def send_body(result: services.SendResult, requested: int) -> dict:
    """The contract's answer to a send, for one station (single, bulk or resync)."""
    return {
        "status": result.status,
        "station_id": result.station_id,
        "connector_id": result.connector_id,
        "profile_id": result.profile_id,
        "message": _send_message(result, result.profile_id, requested),
        "error": result.error,
        "ocpp_status": result.ocpp_status,
    }


def clear_body(result: services.OperationResult) -> dict:
    """The contract's answer to a clear, for one station, without the filters."""
    return {
        "status": result.status,
        "station_id": result.station_id,
        "message": CLEAR_MESSAGES.get(result.status, "Failed to clear charging profiles"),
        "error": result.error,
        "ocpp_status": result.ocpp_status,
    }


def _send_message(result: services.SendResult, profile_id: int, requested: int) -> str:
    if result.status == Outcome.SUCCESS:
        message = f"Charging profile {profile_id} sent successfully"
    elif result.status == Outcome.REJECTED:
        message = (
            f"Charging profile {profile_id} was rejected by the station ({result.ocpp_status})"
        )
    else:
        message = "Failed to send charging profile"
    if result.connector_id != requested:
        message += (
            f" (ChargePointMaxProfile applies to the whole station: sent on connector "
            f"{result.connector_id} instead of {requested})"
        )
    return message


_SCHEDULE_MESSAGES = {
    Outcome.SUCCESS: "Composite schedule retrieved successfully",
    Outcome.REJECTED: "Station rejected the composite schedule request",
}
CLEAR_MESSAGES = {
    Outcome.SUCCESS: "Charging profiles cleared successfully",
    Outcome.UNKNOWN: "No charging profiles matched the filters",
    Outcome.REJECTED: "Station rejected the clear request",
}


class ChargingProfileView(AsyncAPIView):
    """Send (POST) or clear (DELETE) charging profiles on one station."""

    @extend_schema(
        operation_id="send_charging_profile",
        summary="Send a charging profile",
        description=docs.SEND_PROFILE,
        request=ChargingProfileRequestSerializer,
        responses={
            200: ChargingProfileResponseSerializer,
            400: docs.BAD_REQUEST,
            404: docs.NOT_FOUND,
        },
        examples=docs.SEND_PROFILE_EXAMPLES,
        tags=["Smart charging"],
    )
    async def post(self, request: Request, station_id: str) -> Response:
        serializer = ChargingProfileRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        connector_id = serializer.validated_data["connector_id"]
        profile = serializer.validated_data["profile"]
        await presence.ensure_heartbeat()
        pending = await db.run(_checked_send, station_id, connector_id, profile)
        [result] = await services.run_sends(pending)
        return Response(send_body(result, connector_id))

    @extend_schema(
        operation_id="clear_charging_profiles",
        summary="Clear charging profiles",
        description=docs.CLEAR_PROFILES,
        parameters=[ClearQuerySerializer],
        responses={200: ClearResponseSerializer, 400: docs.BAD_REQUEST, 404: docs.NOT_FOUND},
        examples=docs.CLEAR_EXAMPLES,
        tags=["Smart charging"],
    )
    async def delete(self, request: Request, station_id: str) -> Response:
        query = ClearQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = services.ClearFilters(**query.validated_data)
        station = await smart_charging_station(station_id)
        result = await services.clear_charging_profiles(station, filters)
        return Response({**clear_body(result), "filters": filters.as_dict()})


class CompositeScheduleView(AsyncAPIView):
    @extend_schema(
        operation_id="get_composite_schedule",
        summary="Get the composite schedule",
        description=docs.COMPOSITE_SCHEDULE,
        parameters=[CompositeScheduleQuerySerializer],
        responses={
            200: CompositeScheduleResponseSerializer,
            400: docs.BAD_REQUEST,
            404: docs.NOT_FOUND,
        },
        examples=docs.COMPOSITE_EXAMPLES,
        tags=["Smart charging"],
    )
    async def get(self, request: Request, station_id: str) -> Response:
        query = CompositeScheduleQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        station = await smart_charging_station(station_id)
        result = await services.get_composite_schedule(
            station, params["connector_id"], params["duration"], params["charging_rate_unit"]
        )
        return Response(
            {
                "status": result.status,
                "station_id": station_id,
                "connector_id": params["connector_id"],
                "schedule": result.schedule,
                "schedule_start": result.schedule_start,
                "matches_preview": result.matches_preview,
                "message": _SCHEDULE_MESSAGES.get(
                    result.status, "Failed to retrieve composite schedule"
                ),
                "error": result.error,
                "ocpp_status": result.ocpp_status,
            }
        )


@extend_schema(tags=["Stations"])
class StationListView(generics.ListAPIView):
    """Every known station, connected or not, with its connectors."""

    serializer_class = StationSerializer
    queryset = Station.objects.prefetch_related("connectors")

    @extend_schema(operation_id="list_stations", summary="List stations")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="register_station",
        summary="Register a station (and its AuthorizationKey)",
        request=StationRegistrationSerializer,
        responses={201: StationSerializer, 400: docs.BAD_REQUEST},
    )
    def post(self, request: Request) -> Response:
        serializer = StationRegistrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        station = serializer.save()
        return Response(StationSerializer(station).data, status=201)


@extend_schema(tags=["Stations"])
class StationDetailView(generics.RetrieveAPIView):
    serializer_class = StationSerializer
    queryset = Station.objects.prefetch_related("connectors")
    lookup_field = "station_id"

    @extend_schema(
        operation_id="get_station", summary="One station", responses={
            200: StationSerializer, 404: docs.NOT_FOUND}
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_object(self) -> Station:
        station = self.get_queryset().filter(station_id=self.kwargs["station_id"]).first()
        if station is None:
            raise StationNotFound(self.kwargs["station_id"], connected_required=False)
        return station


class StationLogsView(AsyncAPIView):
    @extend_schema(
        operation_id="station_logs",
        summary="A station's log",
        description=docs.STATION_LOGS,
        parameters=[LogQuerySerializer],
        responses={200: StationLogSerializer(many=True), 400: docs.BAD_LOG_QUERY,
                   404: docs.NOT_FOUND},
        tags=["Stations"],
    )
    async def get(self, request: Request, station_id: str) -> Response:
        query = LogQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if not await db.run(Station.objects.filter(station_id=station_id).exists):
            raise StationNotFound(station_id, connected_required=False)
        await message_log.flush()
        latest = StationLog.objects.filter(station_id=station_id).order_by("-timestamp", "-id")
        rows = await db.run(list, latest[: query.validated_data["limit"]])
        rows.reverse()
        return Response(StationLogSerializer(rows, many=True).data)



class HealthView(AsyncAPIView):
    """For load balancers and monitoring: public, and it names no station."""

    permission_classes: list = []
    authentication_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        operation_id="health",
        summary="Liveness and event-loop lag of this server process",
        responses={200: HealthSerializer},
        tags=["Operations"],
    )
    async def get(self, request: Request) -> Response:
        loop_monitor.ensure_running()
        return Response({
            "status": "ok",
            "node": NODE_ID,
            "stations_held": len(registry.connected_ids()),
            "event_loop_lag": loop_monitor.summary(),
        })
