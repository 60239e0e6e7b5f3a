"""API keys and roles on the REST API and the event stream, admin sessions, the
CSMS_API_AUTH switch, and what the OpenAPI schema says about authentication."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.core.management import call_command

from api import authentication
from api.models import ApiKey
from stations.models import Station
from tests.security.support import VALID_PROFILE, bearer, new_key
from tests.support.station import connected_station, unique_id

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


# --- 401: no key, a wrong key, a revoked key ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/stations"),
        ("POST", "/stations"),
        ("GET", "/charging_profiles/history"),
        ("DELETE", "/stations/X/charging_profile"),
        ("GET", "/simulator/stations"),
    ],
)
async def test_no_key_gets_401_naming_both_headers(anon, method, path):
    response = await anon.request(method, path, headers={"Accept": "application/json"})
    assert response.status_code == 401, response.text
    detail = response.json()["detail"]
    assert "Authorization: Bearer" in detail
    assert "X-API-Key" in detail
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer csms_00000000_not-a-real-key"},
        {"Authorization": "Bearer garbage"},
        {"X-API-Key": "csms_deadbeef_" + "x" * 43},
        {"X-API-Key": "csms__"},
        {"X-API-Key": "' OR 1=1 --"},
    ],
)
async def test_wrong_key_gets_401(anon, operator_key, headers):
    response = await anon.get("/stations", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or revoked API key"


async def test_key_with_a_real_prefix_but_a_wrong_secret_gets_401(anon, operator_key):
    prefix = ApiKey.prefix_of(operator_key)
    forged = f"csms_{prefix}_{'A' * 43}"
    assert (await anon.get("/stations", headers=bearer(forged))).status_code == 401
    assert (await anon.get("/stations", headers=bearer(operator_key))).status_code == 200


async def test_revoked_key_gets_401(anon):
    secret = await new_key("sec-revoked", "operator")
    assert (await anon.get("/stations", headers=bearer(secret))).status_code == 200
    await ApiKey.objects.filter(name="sec-revoked").aupdate(revoked=True)
    # Valid keys are cached for CACHE_SECONDS in the server's process (this one).
    authentication._cache.clear()
    response = await anon.get("/stations", headers=bearer(secret))
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or revoked API key"


async def test_deleted_key_gets_401(anon):
    secret = await new_key("sec-deleted", "viewer")
    assert (await anon.get("/stations", headers=bearer(secret))).status_code == 200
    await ApiKey.objects.filter(name="sec-deleted").adelete()
    authentication._cache.clear()
    assert (await anon.get("/stations", headers=bearer(secret))).status_code == 401


# --- both headers, and roles ---------------------------------------------------------------


@pytest.mark.parametrize("style", ["bearer", "bearer-lowercase", "x-api-key"])
async def test_key_works_in_either_header(anon, operator_key, style):
    headers = {
        "bearer": {"Authorization": f"Bearer {operator_key}"},
        "bearer-lowercase": {"authorization": f"bearer {operator_key}"},
        "x-api-key": {"X-API-Key": operator_key},
    }[style]
    response = await anon.get("/stations", headers=headers)
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), list)


async def test_viewer_reads_but_may_not_act(anon):
    viewer = await new_key("sec-viewer", "viewer")
    headers = bearer(viewer)
    for path in ["/stations", "/charging_profiles/history", "/simulator/stations"]:
        assert (await anon.get(path, headers=headers)).status_code == 200, path

    attempts = [
        ("POST", "/stations", {"station_id": "SEC-VIEWER-1"}),
        ("POST", "/stations/ANY/charging_profile", {"connector_id": 1,
                                                    "profile": VALID_PROFILE}),
        ("DELETE", "/stations/ANY/charging_profile", None),
        ("POST", "/charging_profiles/bulk", {"all": True, "profile": VALID_PROFILE}),
        ("POST", "/simulator/stations", {"station_ids": ["SEC-VIEWER-SIM"]}),
        ("DELETE", "/simulator/stations/ANY", None),
    ]
    for method, path, body in attempts:
        response = await anon.request(method, path, headers=headers, json=body)
        assert response.status_code == 403, (method, path, response.text)
        detail = response.json()["detail"]
        assert "operator" in detail
        assert "viewer" in detail
    # Nothing happened.
    assert not await Station.objects.filter(station_id="SEC-VIEWER-1").aexists()
    hosted = (await anon.get("/simulator/stations", headers=headers)).json()
    assert "SEC-VIEWER-SIM" not in {s["station_id"] for s in hosted}


async def test_operator_can_send_and_register(csms, api):
    async with connected_station(csms.ws_url) as station:
        response = await api.post(f"/stations/{station.id}/charging_profile",
                                  json={"connector_id": 1, "profile": VALID_PROFILE})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "success"
        assert [action for action, _ in station.received] == ["SetChargingProfile"]
    station_id = unique_id("SEC-REG")
    response = await api.post("/stations", json={"station_id": station_id})
    assert response.status_code == 201, response.text


# --- creating keys ---------------------------------------------------------------------------


def _row_values(key: ApiKey) -> list[str]:
    return [str(getattr(key, field.attname)) for field in ApiKey._meta.concrete_fields]


@pytest.mark.django_db
def test_create_api_key_prints_the_key_and_stores_only_its_sha256():
    out = io.StringIO()
    call_command("create_api_key", "sec-cli", "--role", "operator", stdout=out)
    text = out.getvalue()
    secrets_shown = set(re.findall(r"csms_[0-9a-f]{8}_[A-Za-z0-9_\-]{20,}", text))
    assert len(secrets_shown) == 1, text
    secret = secrets_shown.pop()
    assert "shown only now" in text

    key = ApiKey.objects.get(name="sec-cli")
    assert key.role == "operator"
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    random_part = secret.split("_", 2)[2]
    for value in _row_values(key):
        assert secret not in value
        assert random_part not in value
    assert str(key) == "sec-cli (operator)"
    assert key.matches(secret)
    assert not key.matches(secret + "x")

    quiet = io.StringIO()
    call_command("create_api_key", "sec-cli-quiet", "--role", "viewer", "--quiet", stdout=quiet)
    assert re.fullmatch(r"csms_[0-9a-f]{8}_[A-Za-z0-9_\-]{40,}\n", quiet.getvalue())
    with pytest.raises(Exception, match="exists already"):
        call_command("create_api_key", "sec-cli", stdout=io.StringIO())


# --- admin sessions --------------------------------------------------------------------------


async def _admin_login(client: httpx.AsyncClient, username: str, password: str) -> None:
    page = await client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = await client.post(
        "/admin/login/?next=/admin/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token,
              "next": "/admin/"},
    )
    assert response.status_code == 302, response.text
    assert "sessionid" in client.cookies


async def test_admin_session_reaches_the_api_and_csrf_is_enforced(csms):
    from django.contrib.auth.models import User

    await sync_to_async(User.objects.create_superuser)("sec-admin", "a@example.org",
                                                       "sec-admin-password-1")
    async with httpx.AsyncClient(base_url=csms.http_url, timeout=30) as client:
        await _admin_login(client, "sec-admin", "sec-admin-password-1")
        response = await client.get("/stations", headers={"Accept": "application/json"})
        assert response.status_code == 200, response.text
        browsable = await client.get("/stations", headers={"Accept": "text/html"})
        assert browsable.status_code == 200
        assert "<html" in browsable.text.lower()
        assert (await client.get("/docs")).status_code == 200

        # A session is a cookie: unsafe methods need the CSRF token as well.
        body = {"station_id": unique_id("SEC-ADM")}
        forged = await client.post("/stations", json=body)
        assert forged.status_code == 403
        assert "CSRF" in forged.json()["detail"]
        assert not await Station.objects.filter(station_id=body["station_id"]).aexists()
        response = await client.post("/stations", json=body,
                                     headers={"X-CSRFToken": client.cookies["csrftoken"]})
        assert response.status_code == 201, response.text


async def test_wrong_admin_password_gives_no_api_access(csms):
    from django.contrib.auth.models import User

    await sync_to_async(User.objects.create_superuser)("sec-admin2", "b@example.org",
                                                       "right-password-2")
    async with httpx.AsyncClient(base_url=csms.http_url, timeout=30) as client:
        page = await client.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = await client.post("/admin/login/", data={
            "username": "sec-admin2", "password": "wrong", "csrfmiddlewaretoken": token})
        assert response.status_code == 200  # the form again, with an error
        assert "sessionid" not in client.cookies
        response = await client.get("/stations", headers={"Accept": "application/json"})
        assert response.status_code == 401


# --- CSMS_API_AUTH=off -----------------------------------------------------------------------


async def test_auth_off_lets_anonymous_callers_in(anon, settings):
    settings.CSMS_API_AUTH = False
    assert (await anon.get("/stations")).status_code == 200
    station_id = unique_id("SEC-OFF")
    response = await anon.post("/stations", json={"station_id": station_id})
    assert response.status_code == 201, response.text
    settings.CSMS_API_AUTH = True
    assert (await anon.get("/stations")).status_code == 401


def _manage(args: list[str], **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "CSMS_API_AUTH"}
    environment.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_auth_off_logs_a_warning_at_start():
    off = _manage(["check"], CSMS_API_AUTH="off")
    assert off.returncode == 0, off.stderr
    assert "CSMS_API_AUTH=off" in off.stderr
    assert "WARNING" in off.stderr
    on = _manage(["check"])
    assert on.returncode == 0, on.stderr
    assert "CSMS_API_AUTH=off" not in on.stderr


def _auth_setting(value: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c",
         "import django; django.setup(); from django.conf import settings; "
         "print(settings.CSMS_API_AUTH)"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "csms_project.settings",
             "CSMS_API_AUTH": value},
    )
    return result.stdout.strip() or result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("value", ["", "ture", "enabled"])
def test_unrecognised_auth_switch_does_not_open_the_api(value):
    assert _auth_setting(value) != "False"


# --- the event stream ------------------------------------------------------------------------


async def _events_status(url: str, headers: dict[str, str] | None = None,
                         subprotocols: list[str] | None = None) -> int | str:
    """101 (or the selected subprotocol, when one was offered) or the refusal's status."""
    try:
        ws = await websockets.connect(url, additional_headers=headers or {}, open_timeout=5,
                                      subprotocols=subprotocols)
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
    await ws.close()
    return ws.subprotocol if subprotocols else 101


def _browser(key: str) -> list[str]:
    """What a browser offers: ``new WebSocket(url, ["csms.events", "csms.key." + key])``."""
    return ["csms.events", f"csms.key.{key}"]


async def test_event_stream_needs_a_key(csms):
    base = f"{csms.ws_root_url}/ws/events"
    viewer = await new_key("sec-events", "viewer")
    assert await _events_status(base) == 403
    assert await _events_status(base, {"X-API-Key": "garbage"}) == 403
    assert await _events_status(base, subprotocols=_browser("csms_00000000_nope")) == 403
    assert await _events_status(base, bearer(viewer)) == 101
    assert await _events_status(base, {"X-API-Key": viewer}) == 101
    # Browsers: the key as a subprotocol; the server selects csms.events, not the key.
    assert await _events_status(base, subprotocols=_browser(viewer)) == "csms.events"
    assert await _events_status(base, subprotocols=[f"csms.key.{viewer}"]) == \
        f"csms.key.{viewer}"
    await ApiKey.objects.filter(name="sec-events").aupdate(revoked=True)
    authentication._cache.clear()
    assert await _events_status(base, subprotocols=_browser(viewer)) == 403
    assert await _events_status(base, bearer(viewer)) == 403


async def test_event_stream_refuses_a_key_in_the_url(csms, caplog):
    """URLs are written to access logs (the server's, every proxy's): a key there leaks."""
    caplog.set_level(logging.WARNING)
    viewer = await new_key("sec-events-url", "viewer")
    assert await _events_status(f"{csms.ws_root_url}/ws/events?api_key={viewer}") == 403
    assert any("?api_key is not accepted" in r.getMessage() for r in caplog.records)


async def test_event_stream_key_guessing_is_refused(csms, settings):
    settings.CSMS_THROTTLE_ANON_RATE = "3/min"
    base = f"{csms.ws_root_url}/ws/events"
    viewer = await new_key("sec-events-guess", "viewer")
    for n in range(3):
        assert await _events_status(base, bearer(f"csms_{n:08x}_wrong")) == 403
    # Over the budget the right key is refused too, so guessing teaches nothing.
    assert await _events_status(base, bearer(viewer)) == 403
    # One budget per address, whichever door the guesses came through.
    async with httpx.AsyncClient(base_url=csms.http_url) as client:
        response = await client.get("/stations", headers=bearer(viewer))
    assert response.status_code == 429


# --- the schema and /docs --------------------------------------------------------------------


async def test_schema_declares_both_key_schemes_and_docs_are_public(anon):
    response = await anon.get("/api/schema/?format=json")
    assert response.status_code == 200
    schemes = response.json()["components"]["securitySchemes"]
    assert schemes["BearerKey"]["type"] == "http"
    assert schemes["BearerKey"]["scheme"] == "bearer"
    assert schemes["HeaderKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    docs = await anon.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert (await anon.get("/redoc")).status_code == 200


async def test_schema_lets_either_key_header_satisfy_an_operation(anon):
    schema = (await anon.get("/api/schema/?format=json")).json()
    public = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            requirements = operation.get("security", schema.get("security", []))
            if requirements == []:
                public.add(f"{method.upper()} {path}")
                continue
            assert {} not in requirements, (method, path)  # a key is never optional
            single = [set(r) for r in requirements if len(r) == 1]
            assert {"BearerKey"} in single, (method, path, requirements)
            assert {"HeaderKey"} in single, (method, path, requirements)
    assert public == {"GET /health"}  # for load balancers; it names no station
