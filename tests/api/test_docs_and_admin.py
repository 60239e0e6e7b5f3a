"""The OpenAPI schema and docs pages, and the admin's history views."""

from __future__ import annotations

import pytest
import yaml
from django.utils import timezone

from profiles.models import ChargingProfileRecord, ClearRequest, CompositeScheduleRecord
from stations.models import Connector, Station, StationLog, Transaction


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_schema_documents_every_contract_operation(schema):
    paths = schema["paths"]
    operation = paths["/stations/{station_id}/charging_profile"]
    assert {"post", "delete"} <= set(operation)
    post = operation["post"]
    assert set(post["responses"]) == {"200", "400", "404"}
    assert post["requestBody"]["content"]["application/json"]["examples"]
    delete_params = {p["name"] for p in operation["delete"]["parameters"] if p["in"] == "query"}
    assert delete_params == {"profile_id", "connector_id", "purpose", "stack_level"}

    composite = paths["/stations/{station_id}/composite_schedule"]["get"]
    params = {p["name"]: p for p in composite["parameters"] if p["in"] == "query"}
    assert params["connector_id"]["required"] is True
    assert params["duration"]["required"] is True
    assert params["charging_rate_unit"]["schema"]["enum"] == ["W", "A"]
    assert set(composite["responses"]) == {"200", "400", "404"}
    not_found = composite["responses"]["404"]["content"]["application/json"]["examples"]
    assert any("not found or not connected" in e["value"]["detail"] for e in not_found.values())

    for path in ["/stations", "/stations/{station_id}", "/stations/{station_id}/logs"]:
        assert "get" in paths[path]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_local_assets(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn.jsdelivr.net" not in html
    assert "unpkg.com" not in html


@pytest.fixture
def history(db):
    now = timezone.now()
    station = Station.objects.create(station_id="ADM-1", vendor="ACME", connected=True,
                                     supported_feature_profiles="Core,SmartCharging")
    Connector.objects.create(station=station, connector_id=1, status="Charging", power_w=7400)
    Transaction.objects.create(station=station, connector_id=1, id_tag="T", meter_start=0,
                               started_at=now)
    StationLog.objects.create(station_id="ADM-1", timestamp=now, source="ocpp_in",
                              message='[2,"1","Heartbeat",{}]', action="Heartbeat")
    profile = ChargingProfileRecord.objects.create(
        station=station, connector_id=0, requested_connector_id=1,
        profile={"chargingProfileId": 100, "stackLevel": 0}, charging_profile_id=100,
        purpose="ChargePointMaxProfile", stack_level=0, kind="Absolute", charging_rate_unit="W",
        outcome="success", ocpp_status="Accepted",
    )
    ClearRequest.objects.create(station=station, profile_id=100, outcome="unknown")
    CompositeScheduleRecord.objects.create(
        station=station, connector_id=1, duration=60, charging_rate_unit="W", outcome="success",
        schedule={"chargingRateUnit": "W", "chargingSchedulePeriod": []},
    )
    return station, profile


@pytest.mark.parametrize(
    "url",
    [
        "/admin/stations/station/",
        "/admin/stations/station/?connected__exact=1&smart_charging=yes",
        "/admin/stations/station/?q=ADM",
        "/admin/stations/transaction/",
        "/admin/stations/stationlog/",
        "/admin/profiles/chargingprofilerecord/",
        "/admin/profiles/chargingprofilerecord/?outcome__exact=success&purpose__exact=ChargePointMaxProfile",
        "/admin/profiles/clearrequest/",
        "/admin/profiles/compositeschedulerecord/",
    ],
)
def test_admin_lists_render(admin_client, history, url):
    response = admin_client.get(url)
    assert response.status_code == 200
    assert "ADM-1" in response.content.decode()


def test_admin_station_page_shows_connectors(admin_client, history):
    station, _ = history
    page = admin_client.get(f"/admin/stations/station/{station.pk}/change/").content.decode()
    assert "Charging" in page
    assert "7400" in page


def test_history_is_read_only_and_json_readable(admin_client, history):
    _, profile = history
    page = admin_client.get(f"/admin/profiles/chargingprofilerecord/{profile.pk}/change/")
    html = page.content.decode()
    assert "<pre>" in html
    assert "&quot;chargingProfileId&quot;: 100" in html
    assert admin_client.get("/admin/profiles/chargingprofilerecord/add/").status_code == 403
    response = admin_client.post(f"/admin/profiles/chargingprofilerecord/{profile.pk}/delete/")
    assert response.status_code == 403
    assert ChargingProfileRecord.objects.filter(pk=profile.pk).exists()
