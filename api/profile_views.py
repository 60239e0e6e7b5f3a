"""Scenarios, what each station has installed, and schedule previews."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from api import docs
from api.base import AsyncAPIView
from api.errors import BadRequest, StationNotFound
from api.serializers import (
    CandidatePreviewResponseSerializer,
    InstalledProfilesResponseSerializer,
    PreviewCandidateSerializer,
    PreviewQuerySerializer,
    PreviewResponseSerializer,
    ResyncResponseSerializer,
    TestProfileRequestSerializer,
    TestProfileResponseSerializer,
    problems_error,
)
from api.views import send_body, smart_charging_station
from profiles import checks, installed, preview, scheduling, services
from profiles.models import ChargingProfilePurpose, Outcome
from profiles.scenario_service import ScenarioRefused, send_test_profile
from stations import db
from stations.models import Station


class TestProfilesView(AsyncAPIView):
    @extend_schema(
        operation_id="send_test_profile",
        summary="Generate and send a scenario profile",
        description=docs.TEST_PROFILES,
        request=TestProfileRequestSerializer,
        responses={200: TestProfileResponseSerializer, 400: docs.BAD_REQUEST,
                   404: docs.NOT_FOUND},
        examples=docs.TEST_PROFILE_EXAMPLES,
        tags=["Smart charging"],
    )
    async def post(self, request: Request, station_id: str) -> Response:
        serializer = TestProfileRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        station = await smart_charging_station(station_id)
        params = dict(serializer.validated_data)
        try:
            result = await send_test_profile(station, params)
        except ScenarioRefused as refused:
            if refused.problems:
                raise problems_error(refused.problems) from None
            raise BadRequest(refused.detail) from None
        sent = result.sent
        send_status = sent.ocpp_status or "Failed"
        message = f"Test profile generated and sent with status: {send_status}"
        if sent.status != Outcome.SUCCESS and sent.error:
            message = f"Test profile generated but not sent: {sent.error}"
        if result.replaces:
            replaced = ", ".join(
                f"{r.charging_profile_id}" + (f" ({r.scenario})" if r.scenario else "")
                for r in result.replaces
            )
            message += (f"; replaces profile {replaced} at stack level "
                        f"{result.generated.profile['stackLevel']}")
        return Response({
            "status": sent.status,
            "station_id": station_id,
            "scenario": result.generated.scenario,
            "profile": result.generated.profile,
            "connector_id": sent.connector_id,
            "send_status": send_status,
            "message": message,
            "error": sent.error,
        })


async def _known_station(station_id: str) -> Station:
    station = await db.run(Station.objects.filter(station_id=station_id).first)
    if station is None:
        raise StationNotFound(station_id, connected_required=False)
    return station


def _installed_listing(station: Station) -> dict:
    by_connector: dict[int, list] = {}
    for row in installed.installed(station):
        by_connector.setdefault(row.connector_id, []).append({
            "charging_profile_id": row.charging_profile_id,
            "purpose": row.purpose,
            "stack_level": row.stack_level,
            "transaction_id": row.transaction_id,
            "valid_to": row.valid_to,
            "expired": row.expired,
            "scenario": row.scenario,
            "installed_at": row.installed_at,
            "profile": row.profile,
        })
    return {
        "station_id": station.station_id,
        "connectors": [{"connector_id": c, "profiles": by_connector[c]}
                       for c in sorted(by_connector)],
    }


class InstalledProfilesView(AsyncAPIView):
    @extend_schema(
        operation_id="installed_charging_profiles",
        summary="Profiles the station has installed (the CSMS's record)",
        description=docs.INSTALLED,
        responses={200: InstalledProfilesResponseSerializer, 404: docs.NOT_FOUND},
        tags=["Smart charging"],
    )
    async def get(self, request: Request, station_id: str) -> Response:
        station = await _known_station(station_id)
        return Response(await db.run(_installed_listing, station))


class ResyncView(AsyncAPIView):
    @extend_schema(
        operation_id="resync_charging_profiles",
        summary="Send the CSMS's record of installed profiles to the station again",
        description=docs.RESYNC,
        request=None,
        responses={200: ResyncResponseSerializer, 400: docs.BAD_REQUEST, 404: docs.NOT_FOUND},
        tags=["Smart charging"],
    )
    async def post(self, request: Request, station_id: str) -> Response:
        station = await smart_charging_station(station_id)
        rows = await db.run(installed.installed, station)
        results = []
        for row in rows:
            if row.expired or row.purpose == ChargingProfilePurpose.TX:
                continue  # expired ones are gone; TxProfiles ended with their transaction
            sent = await services.send_charging_profile(
                station, row.connector_id, row.profile, scenario=row.scenario
            )
            results.append(send_body(sent, row.connector_id))
        succeeded = sum(1 for r in results if r["status"] == Outcome.SUCCESS)
        return Response({"station_id": station_id, "total": len(results),
                         "succeeded": succeeded, "results": results})


def _schedule_view(schedule: scheduling.CompositeSchedule, ev_max_w: float | None,
                   energy_wh: float | None) -> dict:
    """A computed schedule with the energy figures the request asked for."""
    energy = needed = None
    if ev_max_w is not None:
        energy = round(scheduling.energy_wh(schedule, ev_max_w), 2)
        if energy_wh is not None:
            needed = scheduling.time_to_energy(schedule, ev_max_w, energy_wh)
    return {
        "schedule_start": schedule.schedule_start,
        "schedule": schedule.to_ocpp(),
        "periods_from_profiles": [p.from_profile for p in schedule.periods],
        "energy_wh": energy,
        "seconds_to_energy": needed,
    }


class SchedulePreviewView(AsyncAPIView):
    """The composite schedule the CSMS expects, from its record: nothing is sent."""

    @extend_schema(
        operation_id="schedule_preview",
        summary="Preview the composite schedule (computed, nothing sent)",
        description=docs.PREVIEW,
        parameters=[PreviewQuerySerializer],
        responses={200: PreviewResponseSerializer, 400: docs.BAD_REQUEST, 404: docs.NOT_FOUND},
        tags=["Preview"],
    )
    async def get(self, request: Request, station_id: str) -> Response:
        query = PreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        station = await _known_station(station_id)
        inputs = await db.run(preview.inputs_for, station)
        schedule = preview.compute(inputs, params["connector_id"], _now(), params["duration"],
                                   params["charging_rate_unit"])
        return Response({
            "station_id": station_id,
            "connector_id": params["connector_id"],
            **_schedule_view(schedule, params.get("ev_max_power_w"), params.get("energy_wh")),
        })

    @extend_schema(
        operation_id="schedule_preview_candidate",
        summary="Preview a candidate profile: the schedule before and after, and its checks",
        description=docs.PREVIEW_CANDIDATE,
        request=PreviewCandidateSerializer,
        responses={200: CandidatePreviewResponseSerializer, 400: docs.BAD_REQUEST,
                   404: docs.NOT_FOUND},
        examples=[OpenApiExample("Cap connector 1 at 7.4 kW", request_only=True, value={
            "connector_id": 1, "duration": 3600, "ev_max_power_w": 11000,
            "profile": {"chargingProfileId": 500, "stackLevel": 3,
                        "chargingProfilePurpose": "TxDefaultProfile",
                        "chargingProfileKind": "Relative",
                        "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [
                            {"startPeriod": 0, "limit": 7400}]}}})],
        tags=["Preview"],
    )
    async def post(self, request: Request, station_id: str) -> Response:
        serializer = PreviewCandidateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        station = await _known_station(station_id)
        connector_id, profile = data["connector_id"], data["profile"]
        problems = await checks.aproblems_for(station, connector_id, profile)
        inputs = await db.run(preview.inputs_for, station)
        now, duration, unit = _now(), data["duration"], data["charging_rate_unit"]
        ev, energy = data.get("ev_max_power_w"), data.get("energy_wh")
        before = preview.compute(inputs, connector_id, now, duration, unit)
        after = None
        if not problems:
            sent_on = services.target_connector(profile, connector_id)
            candidate = preview.with_candidate(inputs, sent_on, profile, now)
            after = _schedule_view(preview.compute(candidate, connector_id, now, duration, unit),
                                   ev, energy)
        return Response({
            "station_id": station_id,
            "connector_id": connector_id,
            "valid": not problems,
            "problems": [{"field": p, "message": m} for p, m in problems],
            "before": _schedule_view(before, ev, energy),
            "after": after,
        })


def _now() -> datetime:
    return timezone.now().replace(microsecond=0)
