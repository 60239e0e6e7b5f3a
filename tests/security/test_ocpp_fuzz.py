"""Malformed OCPP frames from a connected station: a seeded fuzzer sends a few thousand
of them while another station is driven through the REST API.

OCPP-J 1.6 (section 4.2.3): a CALL that cannot be handled is answered with a CALLERROR
that carries its message id and one of the ten 1.6 error codes; a frame whose id cannot
be read cannot be answered. The server must not crash, the fuzzed connection must keep
working, and the other station must not notice.

A few inputs once broke the server each on its own and have dedicated tests below:
JSON nested deeper than the interpreter's recursion limit, MessageTypeIds outside
0..32767 or not finite, and non-finite meter values.
"""

from __future__ import annotations

import asyncio
import json
import random
import string
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from stations import message_log, registry
from tests.security.support import (
    OCPP16_ERROR_CODES,
    VALID_PROFILE,
    RawPeer,
    log_purged_after,
    on_server_loop,
)
from tests.support.station import connected_station, unique_id

pytestmark = pytest.mark.e2e

SEED = 16_2025
FRAMES = 3000
SEND_SECONDS = 60.0

TS = "2026-01-08T10:00:00Z"
# Valid payloads, and each top-level field's JSON type.
TEMPLATES: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "Heartbeat": ({}, {}),
    "StatusNotification": (
        {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
        {"connectorId": "integer", "errorCode": "string", "status": "string",
         "info": "string", "timestamp": "string"},
    ),
    "Authorize": ({"idTag": "TAG-1"}, {"idTag": "string"}),
    "DataTransfer": ({"vendorId": "com.example", "messageId": "m", "data": "d"},
                     {"vendorId": "string", "messageId": "string", "data": "string"}),
    "MeterValues": (
        {"connectorId": 1, "meterValue": [{"timestamp": TS, "sampledValue": [
            {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"}]}]},
        {"connectorId": "integer", "transactionId": "integer", "meterValue": "array"},
    ),
    "StartTransaction": (
        {"connectorId": 2, "idTag": "TAG-2", "meterStart": 0, "timestamp": TS},
        {"connectorId": "integer", "idTag": "string", "meterStart": "integer",
         "timestamp": "string", "reservationId": "integer"},
    ),
    "StopTransaction": (
        {"meterStop": 10, "timestamp": TS, "transactionId": 1},
        {"meterStop": "integer", "timestamp": "string", "transactionId": "integer",
         "idTag": "string", "reason": "string"},
    ),
    "BootNotification": ({"chargePointVendor": "Fuzz", "chargePointModel": "F-1"},
                         {"chargePointVendor": "string", "chargePointModel": "string"}),
}
MAX_LENGTHS = {"idTag": 20, "chargePointVendor": 20, "chargePointModel": 20, "info": 50,
               "messageId": 50, "vendorId": 255}
WRONG = {
    "string": [5, -1, 1.5, True, False, None, [], {}, ["x"], {"a": "b"}],
    "integer": ["5", "", 1.5, -0.5, True, None, [], {}, [1], {"n": 1}, "NaN"],
    "array": ["x", 5, {}, None, True, {"0": {}}],
}
HUGE = [10**10, 2**31, 2**63, 2**64, 10**20, 10**40, 10**300, -(10**20), -(2**63) - 1,
        0, -1, 1e308, -1e308, 1.5e300]


class Expect:
    ERROR = "callerror"      # a CALLERROR with this id and a 1.6 code, once per frame
    RESULT = "callresult"    # a valid CALL: a CALLRESULT, once per frame
    ANSWER = "answer"        # a CALLRESULT or a CALLERROR (1.6 code), once per frame
    SILENT = "silent"        # no answer (the id cannot be read, or it is not a CALL)
    ANY = "any"              # no expectation


@dataclass
class Plan:
    frames: list[tuple[str | bytes, str | None, str, str]] = field(default_factory=list)
    expected: dict[str, tuple[str, int]] = field(default_factory=dict)

    def add(self, frame: str | bytes, uid: str | None, expect: str, kind: str) -> None:
        self.frames.append((frame, uid, expect, kind))
        if uid is None or expect == Expect.ANY:
            return
        previous, count = self.expected.get(uid, (expect, 0))
        # A duplicate id with another expectation: the weaker one applies.
        if previous != expect:
            expect = Expect.ANY
        self.expected[uid] = (expect, count + 1)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _nested(rng: random.Random, depth: int) -> Any:
    value: Any = rng.choice([1, "x", None, True, 1.5])
    for _ in range(depth):
        value = rng.choice([[value], {"k": value}, [1, {"z": value}], {"a": [value, None]}])
    return value


def build_plan(rng: random.Random, count: int) -> Plan:
    plan = Plan()
    numbers = iter(range(10**9))

    def uid(prefix: str) -> str:
        return f"{prefix}-{next(numbers)}"

    actions = list(TEMPLATES)
    while len(plan.frames) < count:
        kind = rng.choice([
            "random_bytes", "random_binary", "truncated", "wrong_type", "wrong_payload_type",
            "missing_field", "extra_field", "too_long", "huge_number", "unknown_action",
            "bad_action_type", "duplicate_id", "ghost_result", "ghost_error",
            "short_or_long_frame", "nested_garbage", "bad_message_type", "not_a_list",
            "odd_unique_id", "valid",
        ])
        action = rng.choice(actions)
        payload, types = (dict(TEMPLATES[action][0]), TEMPLATES[action][1])
        if kind == "random_bytes":
            raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
            plan.add(raw.decode("latin-1"), None, Expect.ANY, kind)
        elif kind == "random_binary":
            raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
            plan.add(raw, None, Expect.ANY, kind)
        elif kind == "truncated":
            i = uid("trunc")
            text = _dumps([2, i, action, payload])
            plan.add(text[: rng.randint(1, len(text) - 1)], i, Expect.SILENT, kind)
        elif kind == "wrong_type" and types:
            i = uid("type")
            name = rng.choice(sorted(types))
            payload[name] = rng.choice(WRONG[types[name]])
            plan.add(_dumps([2, i, action, payload]), i, Expect.ERROR, kind)
        elif kind == "wrong_payload_type":
            i = uid("ptype")
            bad = rng.choice([[], [payload], "payload", 5, None, True, 1.5])
            plan.add(_dumps([2, i, action, bad]), i, Expect.ERROR, kind)
        elif kind == "missing_field" and payload:
            i = uid("miss")
            payload.pop(rng.choice(sorted(payload)))
            expect = Expect.ERROR if action != "DataTransfer" else Expect.ANSWER
            plan.add(_dumps([2, i, action, payload]), i, expect, kind)
        elif kind == "extra_field":
            i = uid("extra")
            payload[rng.choice(["extra", "connectorID", "__proto__", "", "é"])] = 1
            plan.add(_dumps([2, i, action, payload]), i, Expect.ERROR, kind)
        elif kind == "too_long" and set(payload) & set(MAX_LENGTHS):
            i = uid("long")
            name = rng.choice(sorted(set(payload) & set(MAX_LENGTHS)))
            payload[name] = "L" * (MAX_LENGTHS[name] + rng.randint(1, 5000))
            plan.add(_dumps([2, i, action, payload]), i, Expect.ERROR, kind)
        elif kind == "huge_number":
            i = uid("huge")
            ints = [n for n, t in types.items() if t == "integer"]
            if ints:
                payload[rng.choice(ints)] = rng.choice(HUGE)
                plan.add(_dumps([2, i, action, payload]), i, Expect.ANSWER, kind)
            else:
                text = _dumps([2, i, "MeterValues", {**TEMPLATES["MeterValues"][0]}])
                value = rng.choice(["1e300", "-1e300", "123456789012345678901234567890",
                                    "0.000000000000000000000001", "1e-300", "-0"])
                plan.add(text.replace('"7400"', json.dumps(value)), i, Expect.RESULT, kind)
        elif kind == "unknown_action":
            i = uid("unknown")
            name = rng.choice([
                "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(1, 40))),
                "", " ", "heartbeat", "HEARTBEAT", "Heartbeat ", "__init__", "route_map",
                "on_heartbeat", "../Heartbeat", "Heartbeat\x00", "SetChargingProfile",
                "GetCompositeSchedule", "FirmwareStatusNotification", "Ωmega",
            ])
            plan.add(_dumps([2, i, name, payload]), i, Expect.ERROR, kind)
        elif kind == "bad_action_type":
            i = uid("atype")
            name = rng.choice([5, None, True, [], ["Heartbeat"], {"a": 1}, 1.5])
            plan.add(_dumps([2, i, name, {}]), i, Expect.ERROR, kind)
        elif kind == "duplicate_id" and plan.frames:
            frame, old, expect, _ = rng.choice(plan.frames)
            if old is not None and expect in (Expect.ERROR, Expect.RESULT, Expect.ANSWER):
                plan.add(frame, old, expect, kind)
            else:
                i = uid("dup")
                text = _dumps([2, i, "Heartbeat", {}])
                plan.add(text, i, Expect.RESULT, kind)
                plan.add(text, i, Expect.RESULT, kind)
        elif kind == "ghost_result":
            i = uid("ghost")
            plan.add(_dumps([3, i, rng.choice([{}, {"status": "Accepted"}, []])]), i,
                     Expect.SILENT, kind)
        elif kind == "ghost_error":
            i = uid("ghosterr")
            plan.add(_dumps([4, i, "GenericError", "nobody asked", {}]), i, Expect.SILENT,
                     kind)
        elif kind == "short_or_long_frame":
            i = uid("shape")
            frame = rng.choice([[2, i], [2, i, action], [2, i, action, payload, "extra"],
                                [2, i, action, payload, {}, {}]])
            plan.add(_dumps(frame), i, Expect.ERROR, kind)
        elif kind == "nested_garbage":
            i = uid("nest")
            depth = rng.randint(1, 60)
            if rng.random() < 0.5:
                payload["garbage"] = _nested(rng, depth)
                plan.add(_dumps([2, i, action, payload]), i, Expect.ERROR, kind)
            else:
                plan.add(_dumps([2, i, _nested(rng, depth), _nested(rng, depth)]), i,
                         Expect.ERROR, kind)
        elif kind == "bad_message_type":
            i = uid("mtype")
            message_type = rng.choice([0, 1, 5, 7, 99, 32767, "2", "CALL", None, 2.5, True,
                                       [], {}])
            plan.add(_dumps([message_type, i, "Heartbeat", {}]), i, Expect.ERROR, kind)
        elif kind == "not_a_list":
            frame = rng.choice([{}, {"0": 2, "1": "x"}, "[2]", 2, None, True, [], [2], [[]]])
            plan.add(_dumps(frame), None, Expect.ANY, kind)
        elif kind == "odd_unique_id":
            i = uid("oddid")
            odd = rng.choice([i * 20, i + "\x00", i + " ", i + "é"])
            plan.add(_dumps([2, odd, "Heartbeat", {}]), odd, Expect.ANSWER, kind)
            plan.add(_dumps([2, rng.choice([5, None, 1.5, [], {}]), "Heartbeat", {}]), None,
                     Expect.ANY, kind)
        else:
            i = uid("valid")
            if action == "BootNotification" and rng.random() < 0.9:
                action, payload = "Heartbeat", {}
            expect = Expect.RESULT
            if action == "StopTransaction":
                expect = Expect.ANSWER  # the transaction may not exist
            plan.add(_dumps([2, i, action, payload]), i, expect, "valid")
    return plan


def check_answers(plan: Plan, answers: dict[Any, list[list]]) -> list[str]:
    problems = []
    for uid, (expect, count) in plan.expected.items():
        got = answers.get(uid, [])
        if expect == Expect.SILENT:
            if got:
                problems.append(f"{uid}: expected no answer, got {got[:2]}")
            continue
        if expect == Expect.ANY:
            continue
        if len(got) != count:
            problems.append(f"{uid}: expected {count} answer(s) ({expect}), got {len(got)}")
        for frame in got:
            if frame[0] == 4:
                ok = (len(frame) == 5 and frame[2] in OCPP16_ERROR_CODES
                      and isinstance(frame[3], str) and isinstance(frame[4], dict))
                if not ok or expect == Expect.RESULT:
                    problems.append(f"{uid}: {expect} expected, got {str(frame)[:200]}")
            elif frame[0] == 3:
                if expect == Expect.ERROR or len(frame) != 3 or not isinstance(frame[2], dict):
                    problems.append(f"{uid}: {expect} expected, got {str(frame)[:200]}")
            else:
                problems.append(f"{uid}: not an answer: {str(frame)[:200]}")
    return problems


@pytest.fixture
def fuzz_limits(settings):
    """The fuzzer must reach the parser, not the flood guard."""
    settings.OCPP_STATION_CALL_RATE = 1_000_000.0
    settings.OCPP_STATION_CALL_BURST = 1_000_000
    settings.OCPP_FLOOD_DISCONNECT_AFTER = 1_000_000_000
    settings.OCPP_CONFIG_TIMEOUT = 2.0
    settings.OCPP_CALL_TIMEOUT = 10.0


async def _drive(api: httpx.AsyncClient, station_id: str, stop: asyncio.Event) -> list[float]:
    """SetChargingProfile through the REST API until ``stop``; every one must succeed."""
    latencies = []
    n = 0
    while not stop.is_set() and n < 2000:
        n += 1
        started = time.monotonic()
        response = await api.post(
            f"/stations/{station_id}/charging_profile",
            json={"connector_id": 1, "profile": {**VALID_PROFILE, "chargingProfileId": n}},
        )
        latencies.append(time.monotonic() - started)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "success", response.text
        await asyncio.sleep(0.01)
    return latencies


async def test_fuzzed_station_gets_ocpp_answers_and_others_do_not_notice(
        csms, api, fuzz_limits):
    plan = build_plan(random.Random(SEED), FRAMES)
    kinds = Counter(kind for _, _, _, kind in plan.frames)
    assert len(kinds) >= 18, kinds
    fuzz_id = unique_id("FUZZ")

    async with log_purged_after(csms, fuzz_id), \
            connected_station(csms.ws_url) as bystander, \
            RawPeer.connect(csms.ws_url, fuzz_id) as peer:
        assert (await peer.heartbeat("before"))[0] == 3
        stop = asyncio.Event()
        driver = asyncio.create_task(_drive(api, bystander.id, stop))
        started = time.monotonic()
        try:
            for n, (frame, _, _, _) in enumerate(plan.frames):
                await peer.send(frame)
                if n % 25 == 0:
                    await asyncio.sleep(0.002)
                assert time.monotonic() - started < SEND_SECONDS, f"sent only {n} frames"
                assert not driver.done(), "the REST driver stopped"
            # Every frame is handled in order: once "after" is answered, all were.
            assert (await peer.heartbeat("after", timeout=60))[0] == 3
        finally:
            stop.set()
            latencies = await driver

        assert peer.ws.close_code is None, "the server closed the fuzzed connection"
        problems = check_answers(plan, peer.answers)
        assert not problems, f"{len(problems)} wrong answers, e.g.:\n" + "\n".join(problems[:30])
        assert latencies, "no REST call ran during the fuzz"
        assert max(latencies) < 5.0, max(latencies)

        # The server still serves: the lists, the fuzzed station's log, both stations.
        assert (await api.get("/stations")).status_code == 200
        logs = await api.get(f"/stations/{fuzz_id}/logs", params={"limit": 10})
        assert logs.status_code == 200, logs.text
        detail = await api.get(f"/stations/{fuzz_id}")
        assert detail.status_code == 200
        assert detail.json()["connected"] is True
        assert (await peer.heartbeat("final"))[0] == 3


# --- single frames that break things (known bugs) --------------------------------------------


async def test_unparseable_frames_get_no_answer_and_valid_ones_do(csms):
    async with RawPeer.connect(csms.ws_url, unique_id("FUZZ-ONE")) as peer:
        for frame in ["", " ", "[", "]", "null", "\ufeff[2,\"bom\",\"Heartbeat\",{}]",
                      '[2,"trunc","Heartbeat",{}', "[2,'single','Heartbeat',{}]"]:
            await peer.send(frame)
        assert (await peer.heartbeat("probe"))[0] == 3
        assert set(peer.answers) == {"probe"}, dict(peer.answers)


DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize("frame", [DEEP, '[2,"deep","Heartbeat",' + DEEP + "]"])
async def test_deeply_nested_frame_does_not_kill_the_connection(csms, poisoned_log, frame):
    station_id = unique_id("FUZZ-DEEP")
    poisoned_log.add(station_id)
    async with log_purged_after(csms, station_id), \
            RawPeer.connect(csms.ws_url, station_id) as peer:
        await peer.send(frame)
        assert (await peer.heartbeat("after-deep", timeout=3))[0] == 3


@pytest.mark.parametrize("frame", ['[-1,"neg",{}]', '[1e400,"inf",{}]',
                                   '[99999999999999999999,"big",{}]', '["-3","s",{}]',
                                   "[" * 3000 + "]" * 3000])
async def test_one_bad_frame_does_not_break_every_stations_log(csms, api, poisoned_log, frame):
    bad_id, good_id = unique_id("FUZZ-LOGBAD"), unique_id("FUZZ-LOGOK")
    poisoned_log.update({bad_id, good_id})
    async with log_purged_after(csms, bad_id, good_id), \
            RawPeer.connect(csms.ws_url, bad_id) as bad, \
            RawPeer.connect(csms.ws_url, good_id) as good:
        await bad.send(frame)
        await asyncio.sleep(0.1)
        assert (await good.heartbeat("good-hb"))[0] == 3
        response = await api.get(f"/stations/{good_id}/logs")
        assert response.status_code == 200, response.status_code
        assert any(line["unique_id"] == "good-hb" for line in response.json())


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "1e400"])
async def test_non_finite_meter_value_does_not_break_the_station_list(csms, api, value):
    async with RawPeer.connect(csms.ws_url, unique_id("FUZZ-INF")) as peer:
        frame = [2, "mv", "MeterValues", {"connectorId": 1, "meterValue": [
            {"timestamp": TS, "sampledValue": [
                {"value": value, "measurand": "Power.Active.Import", "unit": "W"}]}]}]
        await peer.send(json.dumps(frame))
        await peer.answer_to("mv")
        station_id = peer.ws.request.path.rsplit("/", 1)[-1]
        assert (await api.get("/stations")).status_code == 200
        assert (await api.get(f"/stations/{station_id}")).status_code == 200


async def test_unsolicited_answers_are_not_kept(csms, fuzz_limits):
    station_id = unique_id("FUZZ-GHOST")
    async with RawPeer.connect(csms.ws_url, station_id) as peer:
        for n in range(1000):
            await peer.send(_dumps([3, f"ghost-{n}", {"pad": "x" * 100}]))
        assert (await peer.heartbeat("ghost-end"))[0] == 3
        consumer = registry.get(station_id)
        assert consumer is not None
        assert consumer.central_system._response_queue.qsize() < 100


async def test_fuzz_leaves_the_log_writer_working(csms):
    """Guard for the tests above: the log of the session is writable again."""
    await on_server_loop(csms, message_log.flush())
