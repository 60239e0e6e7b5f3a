"""Who may connect as a station (OCPP-J security profile 1: HTTP Basic on the
handshake), which ids are accepted, and what a station may send: frame size and CALL
rate limits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import statistics
import time

import httpx
import pytest
import websockets

from stations import message_log, registry
from stations.models import Station, StationLog
from tests.conftest import wait_until
from tests.security.support import (
    VALID_PROFILE,
    RawPeer,
    authed_station,
    basic,
    handshake_status,
    on_server_loop,
)
from tests.support.station import connected_station, unique_id

pytestmark = pytest.mark.e2e

PASSWORD = "0123456789abcdef-sec"


async def _register(api: httpx.AsyncClient, station_id: str, password: str | None) -> None:
    body = {"station_id": station_id}
    if password is not None:
        body["password"] = password
    response = await api.post("/stations", json=body)
    assert response.status_code == 201, response.text
    assert "password" not in response.json()


async def _nothing_kept_for(csms, station_id: str) -> None:
    await on_server_loop(csms, message_log.flush())
    assert not await Station.objects.filter(station_id=station_id).aexists()
    assert not await StationLog.objects.filter(station_id=station_id).aexists()
    assert registry.get(station_id) is None


def _refusals(caplog, station_id: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.getMessage().startswith(f"{station_id} refused at handshake")]


# --- policy "known" --------------------------------------------------------------------------


@pytest.fixture
def known(settings):
    settings.CSMS_STATION_AUTH = "known"


async def test_known_refuses_an_unregistered_station_and_keeps_nothing(csms, known, caplog):
    caplog.set_level(logging.WARNING)
    station_id = unique_id("SEC-UNK")
    for headers in [None, basic(station_id, PASSWORD)]:
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(f"{csms.ws_url}/{station_id}", subprotocols=["ocpp1.6"],
                                     additional_headers=headers or {})
        assert refused.value.response.status_code == 401
        assert refused.value.response.headers["WWW-Authenticate"].startswith("Basic")
    await _nothing_kept_for(csms, station_id)
    logged = _refusals(caplog, station_id)
    assert len(logged) == 2
    assert all("(401)" in line and "unknown station" in line for line in logged)


async def test_known_station_connects_with_its_password_only(csms, api, known, caplog):
    caplog.set_level(logging.WARNING)
    station_id = unique_id("SEC-KNOWN")
    await _register(api, station_id, PASSWORD)
    row = await Station.objects.aget(station_id=station_id)
    assert PASSWORD not in row.authorization_key_hash
    assert row.authorization_key_hash.startswith("sha256$")

    url = f"{csms.ws_url}/{station_id}"
    refused = {
        "missing": None,
        "wrong": basic(station_id, PASSWORD + "x"),
        "empty": basic(station_id, ""),
        "other user": basic("SOMEONE-ELSE", PASSWORD),
        "not base64": {"Authorization": "Basic !!!not-base64!!!"},
        "no colon": {"Authorization": "Basic " + "c2VjcmV0"},
        "bearer": {"Authorization": f"Bearer {PASSWORD}"},
    }
    for case, headers in refused.items():
        assert await handshake_status(url, headers) == 401, case
    assert len(_refusals(caplog, station_id)) == len(refused)
    assert registry.get(station_id) is None
    assert not (await Station.objects.aget(station_id=station_id)).connected

    async with authed_station(csms.ws_url, station_id, PASSWORD) as station:
        assert station.id == station_id
        body = (await api.get(f"/stations/{station_id}")).json()
        assert body["connected"] is True
        assert body["vendor"] == "Tests"

        # Someone else trying the id with a wrong password does not disturb the station.
        assert await handshake_status(url, basic(station_id, "x" * 20)) == 401
        assert await handshake_status(url) == 401
        response = await api.post(f"/stations/{station_id}/charging_profile",
                                  json={"connector_id": 1, "profile": VALID_PROFILE})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "success"


async def test_known_station_registered_without_password_is_refused(csms, api, known):
    station_id = unique_id("SEC-NOPW")
    await _register(api, station_id, None)
    url = f"{csms.ws_url}/{station_id}"
    assert await handshake_status(url) == 401
    assert await handshake_status(url, basic(station_id, PASSWORD)) == 401


async def test_registration_validates_id_and_password(api):
    for body in [
        {"station_id": "a b"},
        {"station_id": "x" * 49},
        {"station_id": "ok-id", "password": "short"},
        {"station_id": "ok-id", "password": "p" * 41},
    ]:
        response = await api.post("/stations", json=body)
        assert response.status_code == 400, (body, response.text)
    station_id = unique_id("SEC-DUP")
    await _register(api, station_id, PASSWORD)
    again = await api.post("/stations", json={"station_id": station_id, "password": PASSWORD})
    assert again.status_code == 400
    assert "registered already" in again.json()["detail"]


# --- policy "auto" ---------------------------------------------------------------------------


async def test_auto_registers_an_unknown_station_on_first_connect(csms, settings):
    settings.CSMS_STATION_AUTH = "auto"
    station_id = unique_id("SEC-AUTO")
    async with connected_station(csms.ws_url, station_id):
        row = await Station.objects.aget(station_id=station_id)
        assert row.authorization_key_hash == ""
        assert row.connected


async def test_auto_keeps_the_password_of_the_first_connect(csms, settings):
    settings.CSMS_STATION_AUTH = "auto"
    station_id = unique_id("SEC-AUTOPW")
    url = f"{csms.ws_url}/{station_id}"
    async with authed_station(csms.ws_url, station_id, PASSWORD):
        row = await Station.objects.aget(station_id=station_id)
        assert row.authorization_key_hash.startswith("sha256$")
        assert PASSWORD not in row.authorization_key_hash
    await wait_until(lambda: _disconnected(station_id))
    assert await handshake_status(url) == 401
    assert await handshake_status(url, basic(station_id, "y" * 20)) == 401
    assert await handshake_status(url, basic("OTHER", PASSWORD)) == 401
    async with authed_station(csms.ws_url, station_id, PASSWORD, boot=False) as station:
        assert station.id == station_id
    # The policy changing to "known" keeps the station: it is registered, with a password.
    settings.CSMS_STATION_AUTH = "known"
    assert await handshake_status(url, basic(station_id, PASSWORD)) == 101
    assert await handshake_status(url) == 401


async def _disconnected(station_id: str) -> bool:
    return registry.get(station_id) is None


@pytest.mark.parametrize("registered_by", ["api", "first connect"])
async def test_auto_stores_the_first_password_of_a_station_without_one(
        csms, api, settings, caplog, registered_by):
    """A station without a password could be impersonated by anyone under ``auto``: the
    first connection that presents one stores it (trust on first use)."""
    caplog.set_level(logging.WARNING)
    settings.CSMS_STATION_AUTH = "auto"
    station_id = unique_id("SEC-TOFU")
    url = f"{csms.ws_url}/{station_id}"
    if registered_by == "api":
        await _register(api, station_id, None)
    else:
        assert await handshake_status(url) == 101
        await wait_until(lambda: _disconnected(station_id))
    assert (await Station.objects.aget(station_id=station_id)).authorization_key_hash == ""
    assert await handshake_status(url) == 101  # no password yet: none needed
    await wait_until(lambda: _disconnected(station_id))

    assert await handshake_status(url, basic(station_id, PASSWORD)) == 101
    stored = (await Station.objects.aget(station_id=station_id)).authorization_key_hash
    assert stored.startswith("sha256$")
    assert PASSWORD not in stored
    assert any(station_id in r.getMessage() and "trust on first use" in r.getMessage()
               for r in caplog.records)
    await wait_until(lambda: _disconnected(station_id))

    assert await handshake_status(url) == 401
    assert await handshake_status(url, basic(station_id, "z" * 20)) == 401
    assert await handshake_status(url, basic(station_id, PASSWORD)) == 101
    # The first password stays: a second one presented later does not replace it.
    assert (await Station.objects.aget(station_id=station_id)).authorization_key_hash == stored


# --- station ids -----------------------------------------------------------------------------


@pytest.mark.parametrize("base", ["ws_url", "ws_root_url"])
@pytest.mark.parametrize(
    "station_id",
    [
        "a$b",
        "a%20b",  # "a b" once decoded
        "a%00b",
        "st%C3%A4tion",  # non-ASCII letter
        "a%3Bb",  # "a;b" (a client would strip a bare ";b" as URL parameters)
        "a'b",
        "..%00",
        # Once answered 500: csms_project/routing.py matched no route for these.
        "x" * 49,
        "x" * 48 + "%21",
        "a%2Fb",
        "a/b",
        "a%0Ab",  # a line break
        "",  # no id at all
    ],
)
async def test_invalid_station_ids_are_refused_at_the_handshake(csms, base, station_id,
                                                                 caplog):
    caplog.set_level(logging.WARNING)
    status = await handshake_status(f"{getattr(csms, base)}/{station_id}")
    assert status == 400
    # Logged on one line, quoted: an id may hold a line break.
    refusals = [r.getMessage() for r in caplog.records if "refused at handshake" in r.getMessage()]
    assert refusals, "the refusal was not logged"
    assert all("\n" not in line for line in refusals)


async def test_events_route_still_reaches_the_events_consumer(csms):
    """The catch-all station routes come after /ws/events: it still reaches the event
    stream (403 without a key), not the OCPP consumer (which would answer 400)."""
    for path in ["/ws/events", "/ws/events/"]:
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(f"{csms.ws_root_url}{path}", open_timeout=5)
        assert refused.value.response.status_code == 403, path
    assert await handshake_status(f"{csms.ws_url}/ws/events") == 400


async def test_id_limits_are_accepted(csms, settings):
    settings.CSMS_STATION_AUTH = "auto"
    for station_id in ["x" * 48, "A", "a-b_c.d:e"]:
        assert await handshake_status(f"{csms.ws_url}/{station_id}") == 101, station_id


# --- frame size ------------------------------------------------------------------------------


def _data_transfer(unique_id_: str, size: int, filler: str = "a") -> str:
    """A DataTransfer CALL of exactly ``size`` characters."""
    frame = json.dumps([2, unique_id_, "DataTransfer", {"vendorId": "sec", "data": ""}],
                       separators=(",", ":"))
    missing = size - len(frame)
    assert missing >= 0
    return frame.replace('"data":""', '"data":"' + filler * missing + '"')


async def test_frame_above_the_limit_closes_with_1009_and_others_go_on(csms, api, settings):
    settings.OCPP_MAX_FRAME_BYTES = 2048
    async with connected_station(csms.ws_url) as bystander, \
            RawPeer.connect(csms.ws_url, unique_id("SEC-BIG")) as peer:
        at_limit = _data_transfer("at-limit", 2048)
        assert len(at_limit.encode()) == 2048
        await peer.send(at_limit)
        assert (await peer.answer_to("at-limit"))[0] == 3

        await peer.send(_data_transfer("over", 2049))
        await asyncio.wait_for(peer.ws.wait_closed(), 5)
        assert peer.ws.close_code == 1009
        assert "over" not in peer.answers

        response = await api.post(f"/stations/{bystander.id}/charging_profile",
                                  json={"connector_id": 1, "profile": VALID_PROFILE})
        assert response.json()["status"] == "success"
    async with RawPeer.connect(csms.ws_url, unique_id("SEC-BIG2")) as again:
        assert (await again.heartbeat("hb"))[0] == 3
        await again.send(b"[" + b" " * 4096 + b"]")  # a binary frame is measured too
        await asyncio.wait_for(again.ws.wait_closed(), 5)
        assert again.ws.close_code == 1009


async def test_frame_limit_counts_bytes(csms, settings):
    settings.OCPP_MAX_FRAME_BYTES = 2048
    async with RawPeer.connect(csms.ws_url, unique_id("SEC-UTF8")) as peer:
        frame = _data_transfer("wide", 1500, filler="é")
        assert len(frame.encode()) > 2048
        await peer.send(frame)
        with pytest.raises((TimeoutError, AssertionError)):
            await peer.answer_to("wide", timeout=2)
        assert peer.ws.close_code == 1009


# --- CALL flood ------------------------------------------------------------------------------


@pytest.fixture
def flood_limits(settings):
    settings.OCPP_STATION_CALL_RATE = 5.0
    settings.OCPP_STATION_CALL_BURST = 10
    settings.OCPP_FLOOD_DISCONNECT_AFTER = 400


async def _flood(peer: RawPeer, template: str, limit: int = 20_000,
                 seconds: float = 10.0) -> int:
    """Send CALLs as fast as possible until the server closes the connection."""
    deadline = time.monotonic() + seconds
    sent = 0
    try:
        while sent < limit and time.monotonic() < deadline and not peer.closed:
            await peer.send(template.replace("{n}", str(sent)))
            sent += 1
            if sent % 10 == 0:
                await asyncio.sleep(0.001)  # let the other station's calls run meanwhile
    except websockets.ConnectionClosed:
        pass
    await asyncio.wait_for(peer.ws.wait_closed(), 5)
    with pytest.raises(websockets.ConnectionClosed):
        await peer.ws.send("x")
    return sent


async def _profile_latencies(api: httpx.AsyncClient, station_id: str, count: int,
                             stop: asyncio.Event | None = None) -> list[float]:
    latencies = []
    for n in range(count):
        if stop is not None and stop.is_set():
            break
        started = time.monotonic()
        response = await api.post(
            f"/stations/{station_id}/charging_profile",
            json={"connector_id": 1, "profile": {**VALID_PROFILE, "chargingProfileId": 200 + n}},
        )
        latencies.append(time.monotonic() - started)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "success", response.text
    return latencies


async def test_flooding_station_is_disconnected_and_others_keep_working(
        csms, api, flood_limits):
    flooder = unique_id("SEC-FLOOD")
    try:
        await _flood_while_driving(csms, api, flooder)
    finally:
        # The server may still be working through frames the flooder had sent.
        with contextlib.suppress(AssertionError):
            await wait_until(lambda: _disconnected(flooder), timeout=20, interval=0.05)
    async with RawPeer.connect(csms.ws_url, flooder) as back:
        assert (await back.heartbeat("after-flood"))[0] == 3


async def _flood_while_driving(csms, api: httpx.AsyncClient, flooder: str) -> None:
    async with connected_station(csms.ws_url) as bystander:
        baseline = await _profile_latencies(api, bystander.id, 5)
        async with RawPeer.connect(csms.ws_url, flooder) as peer:
            stop = asyncio.Event()

            async def flood() -> int:
                try:
                    return await _flood(peer, '[2,"hb-{n}","Heartbeat",{}]')
                finally:
                    stop.set()

            sent, during = await asyncio.gather(
                flood(), _profile_latencies(api, bystander.id, 200, stop))
            assert peer.ws.close_code == 1008
            answered = sum(1 for key in peer.answers if str(key).startswith("hb-"))
            assert sent > answered
            # Burst + rate x the flood's duration; the dropped CALLs got no answer.
            assert answered < 10 + 5 * 12
        assert len(during) >= 5, f"only {len(during)} REST calls ran during the flood"
        assert max(during) < 2.0, during
        assert statistics.median(during) < max(0.5, 5 * statistics.median(baseline))
        # The bystander still answers; the flooder may come back once the server has let
        # go of its old connection (at once: test_flooder_can_reconnect_at_once).
        assert (await _profile_latencies(api, bystander.id, 3))


async def test_flooder_can_reconnect_at_once(csms, settings):
    settings.OCPP_STATION_CALL_RATE = 5.0
    settings.OCPP_STATION_CALL_BURST = 10
    settings.OCPP_FLOOD_DISCONNECT_AFTER = 100
    station_id = unique_id("SEC-REFLOOD")
    async with RawPeer.connect(csms.ws_url, station_id) as peer:
        with contextlib.suppress(websockets.ConnectionClosed):
            for n in range(1000):
                await peer.send(f'[2,"f-{n}","Heartbeat",{{}}]')
        await asyncio.wait_for(peer.ws.wait_closed(), 5)
        assert peer.ws.close_code == 1008
    try:
        async with RawPeer.connect(csms.ws_url, station_id) as back:
            assert (await back.heartbeat("back", timeout=3))[0] == 3
    except BaseException:
        # Let the old connection finish logging its failed close tasks before pytest
        # formats this failure (see tests/security/support.py log_purged_after).
        await asyncio.sleep(3)
        raise


async def test_slow_callers_are_not_throttled(csms, settings):
    settings.OCPP_STATION_CALL_RATE = 50.0
    settings.OCPP_STATION_CALL_BURST = 5
    settings.OCPP_FLOOD_DISCONNECT_AFTER = 3
    async with RawPeer.connect(csms.ws_url, unique_id("SEC-SLOW")) as peer:
        for n in range(30):
            assert (await peer.heartbeat(f"slow-{n}"))[0] == 3
            await asyncio.sleep(0.03)
        assert peer.ws.close_code is None


@pytest.mark.parametrize("template", ['[ 2,"ws-{n}","Heartbeat",{}]',
                                      '[\n2,"ws-{n}","Heartbeat",{}]'])
async def test_flood_with_whitespace_in_the_frame_is_limited_too(csms, settings, template):
    settings.OCPP_STATION_CALL_RATE = 5.0
    settings.OCPP_STATION_CALL_BURST = 10
    settings.OCPP_FLOOD_DISCONNECT_AFTER = 50
    async with RawPeer.connect(csms.ws_url, unique_id("SEC-WSFLOOD")) as peer:
        for n in range(300):
            try:
                await peer.send(template.replace("{n}", str(n)))
            except websockets.ConnectionClosed:
                break
        await asyncio.sleep(1.0)
        answered = sum(1 for key in peer.answers if str(key).startswith("ws-"))
        assert answered < 10 + 5 * 3, f"{answered} of 300 flooded CALLs were answered"
        assert peer.ws.close_code == 1008
