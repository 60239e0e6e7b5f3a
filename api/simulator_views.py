"""Start, list, drive and stop simulated stations hosted by this server process."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api import docs
from api.base import AsyncAPIView
from api.simulator_serializers import (
    PlugInResultSerializer,
    PlugInSerializer,
    SimulatedStationSerializer,
    SimulatorStartedSerializer,
    SimulatorStartSerializer,
)
from stations import simulation


def describe(station) -> dict:
    statuses, power, limit = station.statuses, station.power_w, station.limit_w
    energy, transactions = station.energy_wh, station.transactions
    return {
        "station_id": station.station_id,
        "url": station.config.endpoint,
        "connected": station.connected,
        "registered": station.registered,
        "smart_charging": station.config.smart_charging,
        "installed_profiles": len(station.installed_profiles),
        "connectors": [
            {
                "connector_id": n,
                "status": statuses.get(n),
                "power_w": power.get(n),
                "limit_w": limit.get(n),
                "energy_wh": energy.get(n),
                "transaction_id": getattr(transactions.get(n), "transaction_id", None),
            }
            for n in range(1, station.config.connectors + 1)
        ],
    }


def _hosted(station_id: str):
    station = simulation.get(station_id)
    if station is None:
        raise NotFound(f"Simulated station {station_id} not found")
    return station


class SimulatedStationsView(AsyncAPIView):
    @extend_schema(
        operation_id="start_simulated_stations",
        summary="Start simulated stations",
        description=docs.SIMULATOR_START,
        request=SimulatorStartSerializer,
        responses={201: SimulatorStartedSerializer, 400: docs.BAD_REQUEST},
        examples=[
            OpenApiExample("Two stations", value={"count": 2, "prefix": "PY-SIM-"},
                           request_only=True),
            OpenApiExample(
                "A station without SmartCharging",
                value={"station_ids": ["PY-NOSC-01"], "smart_charging": False},
                request_only=True,
            ),
            OpenApiExample(
                "An EV arrives after 5 s and wants 10 kWh at up to 11 kW",
                value={"station_ids": ["PY-EV-01"], "sessions": [
                    {"connector_id": 1, "plug_in_after_s": 5, "energy_wh": 10000,
                     "ev_max_w": 11000}]},
                request_only=True,
            ),
        ],
        tags=["Simulator"],
    )
    async def post(self, request: Request) -> Response:
        serializer = SimulatorStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        configs = serializer.configs(simulation.csms_url())
        try:
            started = await simulation.start(configs)
        except simulation.AlreadySimulated as exc:
            raise ValidationError({"station_ids": [str(exc)]}) from None
        return Response(
            {"station_ids": [s.station_id for s in started], "url": configs[0].url},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        operation_id="list_simulated_stations",
        summary="List simulated stations",
        responses={200: SimulatedStationSerializer(many=True)},
        tags=["Simulator"],
    )
    async def get(self, request: Request) -> Response:
        return Response([describe(s) for s in simulation.stations()])


class SimulatedStationView(AsyncAPIView):
    @extend_schema(
        operation_id="get_simulated_station",
        summary="One simulated station",
        responses={200: SimulatedStationSerializer, 404: docs.NOT_FOUND},
        tags=["Simulator"],
    )
    async def get(self, request: Request, station_id: str) -> Response:
        return Response(describe(_hosted(station_id)))

    @extend_schema(
        operation_id="stop_simulated_station",
        summary="Stop a simulated station",
        responses={204: None, 404: docs.NOT_FOUND},
        tags=["Simulator"],
    )
    async def delete(self, request: Request, station_id: str) -> Response:
        if not await simulation.stop(station_id):
            raise NotFound(f"Simulated station {station_id} not found")
        return Response(status=status.HTTP_204_NO_CONTENT)


class SimulatedEvView(AsyncAPIView):
    """An EV plugging in (POST) or leaving (DELETE) a simulated station's connector."""

    @extend_schema(
        operation_id="plug_in_ev",
        summary="Plug an EV in (starts a transaction)",
        request=PlugInSerializer,
        responses={200: PlugInResultSerializer, 400: docs.BAD_REQUEST, 404: docs.NOT_FOUND},
        tags=["Simulator"],
    )
    async def post(self, request: Request, station_id: str) -> Response:
        station = _hosted(station_id)
        serializer = PlugInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["connector_id"] > station.config.connectors:
            raise ValidationError({"connector_id": [f"station has {station.config.connectors}"
                                                    " connector(s)"]})
        try:
            transaction_id = await station.plug_in(
                data["connector_id"], data["energy_wh"], data["ev_max_w"]
            )
        except RuntimeError as exc:
            raise ValidationError({"connector_id": [str(exc)]}) from None
        return Response({"station_id": station_id, "connector_id": data["connector_id"],
                         "transaction_id": transaction_id})

    @extend_schema(
        operation_id="unplug_ev",
        summary="Unplug the EV (stops its transaction)",
        request=None,
        responses={204: None, 404: docs.NOT_FOUND},
        tags=["Simulator"],
    )
    async def delete(self, request: Request, station_id: str) -> Response:
        station = _hosted(station_id)
        try:
            connector_id = int(request.query_params.get("connector_id", "1"))
        except ValueError:
            connector_id = 0
        if not 1 <= connector_id <= station.config.connectors:
            raise ValidationError({"connector_id": ["not a connector of this station"]})
        await station.unplug(connector_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
