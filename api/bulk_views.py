"""Bulk operations: one profile, or one clear, to many stations at once.

Each station gets the same treatment as the single operation (validation, history row,
outcome), concurrently within ``BULK_CONCURRENCY``; the answer lists every station.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from api import docs
from api.base import AsyncAPIView
from api.serializers import (
    BulkClearQuerySerializer,
    BulkClearResponseSerializer,
    BulkProfileRequestSerializer,
    BulkProfileResponseSerializer,
)
from api.views import clear_body, send_body
from profiles import services
from profiles.models import Outcome
from stations import targets


def _refused(station_ids: list[str]) -> list[dict]:
    return [
        {"station_id": sid, "status": Outcome.ERROR,
         "error": f"Station {sid} not found or not connected"}
        for sid in station_ids
    ]


def _split_smart_charging(stations: list) -> tuple[list, list[dict]]:
    able = [s for s in stations if s.supports_smart_charging is not False]
    unable = [
        {"station_id": s.station_id, "status": Outcome.ERROR,
         "error": f"Station {s.station_id} does not support SmartCharging "
                  "(CentralSystemChargePoint required)"}
        for s in stations if s.supports_smart_charging is False
    ]
    return able, unable


def _summary(results: list[dict]) -> dict:
    succeeded = sum(1 for r in results if r["status"] == Outcome.SUCCESS)
    return {"total": len(results), "succeeded": succeeded, "failed": len(results) - succeeded}


class BulkChargingProfileView(AsyncAPIView):
    @extend_schema(
        operation_id="send_charging_profile_bulk",
        summary="Send a charging profile to many stations",
        description=docs.BULK_SEND,
        request=BulkProfileRequestSerializer,
        responses={200: BulkProfileResponseSerializer, 400: docs.BAD_REQUEST},
        examples=[
            OpenApiExample(
                "Emergency load shedding: every connected station to 3 kW",
                value={
                    "target": {"all": True},
                    "connector_id": 0,
                    "profile": {
                        "chargingProfileId": 900,
                        "stackLevel": 5,
                        "chargingProfilePurpose": "ChargePointMaxProfile",
                        "chargingProfileKind": "Relative",
                        "chargingSchedule": {
                            "chargingRateUnit": "W",
                            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3000}],
                        },
                    },
                },
                request_only=True,
            )
        ],
        tags=["Bulk"],
    )
    async def post(self, request: Request) -> Response:
        serializer = BulkProfileRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        connector_id, profile, target = data["connector_id"], data["profile"], data["target"]
        found = await targets.resolve(target.get("station_ids"), target.get("vendor"))
        stations, unable = _split_smart_charging(found.stations)
        sent = await services.send_charging_profiles(stations, connector_id, profile)
        profile_id = profile["chargingProfileId"]
        results = [send_body(r, connector_id) for r in sent]
        for failure in _refused(found.unavailable) + unable:
            results.append({**failure, "connector_id": connector_id, "profile_id": profile_id,
                            "message": "Failed to send charging profile", "ocpp_status": None})
        return Response({**_summary(results), "results": results})

    @extend_schema(
        operation_id="clear_charging_profiles_bulk",
        summary="Clear charging profiles on many stations",
        description=docs.BULK_CLEAR,
        parameters=[BulkClearQuerySerializer],
        responses={200: BulkClearResponseSerializer, 400: docs.BAD_REQUEST},
        tags=["Bulk"],
    )
    async def delete(self, request: Request) -> Response:
        query = BulkClearQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = dict(query.validated_data)
        target = params.pop("target")
        filters = services.ClearFilters(**params)
        found = await targets.resolve(target.get("station_ids"), target.get("vendor"))
        stations, unable = _split_smart_charging(found.stations)
        cleared = await services.clear_on_stations(stations, filters)
        results = [clear_body(r) for r in cleared]
        for failure in _refused(found.unavailable) + unable:
            results.append({**failure, "message": "Failed to clear charging profiles",
                            "ocpp_status": None})
        return Response({**_summary(results), "filters": filters.as_dict(), "results": results})
