"""What stations say about their connectors: written in one statement once the connector
is known, created on the first word about it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from stations import services
from stations.models import Connector, Station

pytestmark = pytest.mark.django_db

# As the handler gets it from the ocpp package: snake_case keys.
SAMPLE = [{"timestamp": "2026-12-04T10:00:00Z", "sampled_value": [
    {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"}]}]


def test_status_then_meter_values_fill_one_connector_row():
    Station.objects.create(station_id="CON-1")
    services.record_status("CON-1", 1, "Charging", "NoError", info="plugged")
    services.record_meter_values("CON-1", 1, SAMPLE)
    [row] = Connector.objects.filter(station__station_id="CON-1")
    assert (row.connector_id, row.status, row.info, row.power_w) == (1, "Charging", "plugged",
                                                                    7200.0)
    assert row.meter_at is not None
    assert Station.objects.get(station_id="CON-1").last_seen is not None


def test_meter_values_of_a_known_connector_cost_one_statement():
    Station.objects.create(station_id="CON-2")
    services.record_meter_values("CON-2", 2, SAMPLE)  # creates the row
    with CaptureQueriesContext(connection) as queries:
        services.record_meter_values("CON-2", 2, SAMPLE)
    assert len(queries.captured_queries) == 1
    assert Connector.objects.filter(station__station_id="CON-2").count() == 1


def test_a_station_the_csms_does_not_know_is_refused():
    with pytest.raises(Station.DoesNotExist):
        services.record_status("CON-NOBODY", 1, "Available", "NoError")
    assert not Connector.objects.exists()
