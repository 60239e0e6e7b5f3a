"""POST /simulator/stations makes the server itself open WebSocket connections: the
``url`` a caller gives may name only this CSMS's host or SIMULATOR_ALLOWED_HOSTS
(loopback by default), or any caller could make the server connect anywhere."""

from __future__ import annotations

import pytest

from stations import simulation
from tests.support.station import unique_id

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("url", [
    "ws://10.0.0.1:9000",
    "ws://169.254.169.254/latest",  # a cloud metadata address
    "wss://example.com/ocpp",
    "ws://127.0.0.1:1@example.com/",  # the host is example.com
    "http://127.0.0.1:9000",
    "ws://127.0.0.1:port",
    "ws://",
    "example.com",
])
async def test_a_url_elsewhere_is_refused_and_nothing_starts(csms, api, settings, url):
    settings.SIMULATOR_CSMS_URL = csms.ws_url
    station_id = unique_id("SEC-URL")
    response = await api.post("/simulator/stations",
                              json={"station_ids": [station_id], "url": url})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errors"][0]["field"] == "url"
    assert body["detail"].startswith("url: url ")
    assert simulation.get(station_id) is None


async def test_this_csms_and_loopback_hosts_are_allowed(csms, api, settings):
    settings.SIMULATOR_CSMS_URL = csms.ws_url
    station_id = unique_id("SEC-URL-OK")
    url = csms.ws_url.replace("127.0.0.1", "localhost")
    response = await api.post("/simulator/stations",
                              json={"station_ids": [station_id], "url": url})
    assert response.status_code == 201, response.text
    assert response.json()["url"] == url
    assert (await api.delete(f"/simulator/stations/{station_id}")).status_code == 204


async def test_the_allowed_hosts_are_a_setting(csms, api, settings):
    settings.SIMULATOR_CSMS_URL = csms.ws_url
    settings.SIMULATOR_ALLOWED_HOSTS = []  # only this CSMS's own host
    body = {"station_ids": [unique_id("SEC-URL-SET")], "url": "ws://localhost:9/"}
    assert (await api.post("/simulator/stations", json=body)).status_code == 400
    settings.SIMULATOR_ALLOWED_HOSTS = ["*"]
    assert simulation.url_refusal("wss://example.com/ocpp") is None
    settings.SIMULATOR_ALLOWED_HOSTS = ["example.com"]
    assert simulation.url_refusal("wss://EXAMPLE.com/ocpp") is None
    assert simulation.url_refusal("wss://example.org/ocpp") is not None
