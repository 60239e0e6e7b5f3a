"""API calls take the lean ASGI handler (csms_project/asgi.py): its response must be
the one the view built, rendered on the event loop, with its status and headers."""

import httpx

from tests.support.station import connected_station


async def test_health_is_rendered_with_its_length(csms):
    async with httpx.AsyncClient(base_url=csms.http_url) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.json()["status"] == "ok"


async def test_an_error_keeps_its_status_headers_and_body(csms):
    async with httpx.AsyncClient(base_url=csms.http_url) as client:
        response = await client.delete("/stations/CP-1/charging_profile",
                                       headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.json()["detail"]


async def test_a_synchronous_view_is_answered_too(api):
    response = await api.get("/stations")
    assert response.status_code == 200
    assert isinstance(response.json(), list)


async def test_an_operation_answers_through_it(csms, api):
    async with connected_station(csms.ws_url) as station:
        response = await api.delete(f"/stations/{station.id}/charging_profile")
    assert response.status_code == 200, response.text
    assert response.json()["station_id"] == station.id
    assert int(response.headers["content-length"]) == len(response.content)
