"""The history API over real HTTP: the rows of profiles sent, composite schedules and
clears, newest first, with every filter, pagination, 404 and 400 on bad filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from profiles.models import ChargingProfileRecord, ClearRequest, CompositeScheduleRecord
from stations.models import Station

pytestmark = pytest.mark.e2e

T0 = datetime(2026, 1, 8, 10, 0, tzinfo=UTC)
HAS_MATCHES_PREVIEW = any(
    f.name == "matches_preview" for f in CompositeScheduleRecord._meta.get_fields()
)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iso(minutes: int) -> str:
    """How the API writes a time (UTC, ``Z``)."""
    return at(minutes).strftime("%Y-%m-%dT%H:%M:%SZ")


def profile_json(cpid: int, purpose: str, stack_level: int, unit: str) -> dict:
    return {
        "chargingProfileId": cpid,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": unit,
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16 if unit == "A" else 22000}],
        },
    }


async def add_profile(station: Station, minutes: int, *, connector: int, purpose: str,
                      outcome: str, cpid: int, scenario: str = "", requested: int | None = None,
                      stack_level: int = 0, unit: str = "A", **extra) -> ChargingProfileRecord:
    return await ChargingProfileRecord.objects.acreate(
        station=station,
        requested_at=at(minutes),
        connector_id=connector,
        requested_connector_id=connector if requested is None else requested,
        profile=profile_json(cpid, purpose, stack_level, unit),
        charging_profile_id=cpid,
        purpose=purpose,
        stack_level=stack_level,
        kind="Absolute",
        charging_rate_unit=unit,
        outcome=outcome,
        scenario=scenario,
        **extra,
    )


@dataclass
class History:
    a: Station
    b: Station
    ids: dict[str, int]

    def names(self, body: dict) -> list[str]:
        """The rows of a page as the names they were created under, in order."""
        by_id = {pk: name for name, pk in self.ids.items()}
        return [by_id[row["id"]] for row in body["results"]]


@pytest.fixture
async def history(csms) -> History:
    """Two stations; rows created out of time order so ordering is not insertion order."""
    a = await Station.objects.acreate(station_id="HIST-A")
    b = await Station.objects.acreate(station_id="HIST-B")
    rows = {
        "p3": await add_profile(a, 20, connector=2, purpose="TxProfile", outcome="rejected",
                                cpid=8, scenario="peak_shaving", ocpp_status="Rejected",
                                transaction_id=55, stack_level=2, answered_at=at(20) +
                                timedelta(milliseconds=250), node="node-a"),
        "p1": await add_profile(a, 0, connector=1, purpose="TxDefaultProfile", outcome="success",
                                cpid=7, ocpp_status="Accepted"),
        "p5": await add_profile(a, 40, connector=1, purpose="TxDefaultProfile",
                                outcome="pending", cpid=9, scenario="solar"),
        "p2": await add_profile(a, 10, connector=0, requested=1,
                                purpose="ChargePointMaxProfile", outcome="success", cpid=100,
                                scenario="peak_shaving", ocpp_status="Accepted", unit="W"),
        "p4": await add_profile(a, 30, connector=1, purpose="TxDefaultProfile", outcome="error",
                                cpid=7, error="Connection timeout"),
        "q1": await add_profile(b, 5, connector=1, purpose="TxDefaultProfile", outcome="success",
                                cpid=7, scenario="solar", ocpp_status="Accepted"),
        "q2": await add_profile(b, 25, connector=0, purpose="ChargePointMaxProfile",
                                outcome="rejected", cpid=100, ocpp_status="NotSupported",
                                unit="W"),
    }
    return History(a, b, {name: row.pk for name, row in rows.items()})


# --- profiles of one station ---------------------------------------------------------------


async def test_station_profile_history_newest_first_with_every_field(api, history):
    response = await api.get("/stations/HIST-A/profile_history")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5
    assert body["next"] is None
    assert body["previous"] is None
    assert history.names(body) == ["p5", "p4", "p3", "p2", "p1"]
    assert body["results"][2] == {
        "id": history.ids["p3"],
        "station_id": "HIST-A",
        "requested_at": iso(20),
        "answered_at": "2026-01-08T10:20:00.250000Z",
        "outcome": "rejected",
        "ocpp_status": "Rejected",
        "error": None,
        "node": "node-a",
        "connector_id": 2,
        "requested_connector_id": 2,
        "charging_profile_id": 8,
        "purpose": "TxProfile",
        "stack_level": 2,
        "kind": "Absolute",
        "charging_rate_unit": "A",
        "transaction_id": 55,
        "scenario": "peak_shaving",
        "profile": profile_json(8, "TxProfile", 2, "A"),
    }
    timeout, charge_point_max = body["results"][1], body["results"][3]
    assert (timeout["outcome"], timeout["error"], timeout["ocpp_status"]) == (
        "error", "Connection timeout", None)
    assert timeout["answered_at"] is None
    assert timeout["scenario"] is None
    assert (charge_point_max["connector_id"], charge_point_max["requested_connector_id"]) == (0, 1)
    assert charge_point_max["profile"]["chargingSchedule"]["chargingRateUnit"] == "W"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"connector_id": 1}, ["p5", "p4", "p1"]),
        ({"connector_id": 0}, ["p2"]),
        ({"connector_id": 3}, []),
        ({"outcome": "rejected"}, ["p3"]),
        ({"outcome": "success"}, ["p2", "p1"]),
        ({"outcome": "pending"}, ["p5"]),
        ({"purpose": "ChargePointMaxProfile"}, ["p2"]),
        ({"purpose": "TxDefaultProfile"}, ["p5", "p4", "p1"]),
        ({"scenario": "peak_shaving"}, ["p3", "p2"]),
        ({"scenario": "solar"}, ["p5"]),
        ({"charging_profile_id": 7}, ["p4", "p1"]),
        ({"since": iso(10)}, ["p5", "p4", "p3", "p2"]),
        ({"until": iso(20)}, ["p3", "p2", "p1"]),
        ({"since": iso(10), "until": iso(30)}, ["p4", "p3", "p2"]),
        # the same instant written with an offset
        ({"since": "2026-01-08T11:15:00+01:00"}, ["p5", "p4", "p3"]),
        # no offset: UTC
        ({"until": "2026-01-08T10:05:00"}, ["p1"]),
        ({"connector_id": 1, "purpose": "TxDefaultProfile", "outcome": "error"}, ["p4"]),
        ({"charging_profile_id": 7, "since": iso(1)}, ["p4"]),
        ({"scenario": "peak_shaving", "outcome": "success", "connector_id": 0}, ["p2"]),
        ({"scenario": "peak_shaving", "outcome": "pending"}, []),
    ],
)
async def test_station_profile_history_filters(api, history, query, expected):
    response = await api.get("/stations/HIST-A/profile_history", params=query)
    assert response.status_code == 200, response.text
    body = response.json()
    assert history.names(body) == expected
    assert body["count"] == len(expected)
    assert {row["station_id"] for row in body["results"]} <= {"HIST-A"}


async def test_unencoded_offset_in_url_is_understood(api, history):
    # curl users write "+01:00" unencoded; the query string turns it into a space.
    response = await api.get("/stations/HIST-A/profile_history?since=2026-01-08T11:15:00+01:00")
    assert response.status_code == 200
    assert history.names(response.json()) == ["p5", "p4", "p3"]


async def test_station_with_no_history_has_an_empty_page(api, history):
    await Station.objects.acreate(station_id="HIST-EMPTY")
    for path in ["profile_history", "composite_schedules", "clears"]:
        response = await api.get(f"/stations/HIST-EMPTY/{path}")
        assert response.status_code == 200
        assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


# --- profiles of every station -------------------------------------------------------------


async def test_all_stations_profile_history_newest_first(api, history):
    body = (await api.get("/charging_profiles/history")).json()
    assert body["count"] == 7
    assert history.names(body) == ["p5", "p4", "q2", "p3", "p2", "q1", "p1"]
    stations = [row["station_id"] for row in body["results"]]
    assert stations == ["HIST-A", "HIST-A", "HIST-B", "HIST-A", "HIST-A", "HIST-B", "HIST-A"]
    q2 = body["results"][2]
    assert (q2["outcome"], q2["ocpp_status"], q2["purpose"]) == (
        "rejected", "NotSupported", "ChargePointMaxProfile")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"station_id": "HIST-B"}, ["q2", "q1"]),
        ({"station_id": "HIST-A", "connector_id": 0}, ["p2"]),
        ({"station_id": "NOBODY"}, []),
        ({"connector_id": 0}, ["q2", "p2"]),
        ({"outcome": "rejected"}, ["q2", "p3"]),
        ({"purpose": "ChargePointMaxProfile"}, ["q2", "p2"]),
        ({"scenario": "solar"}, ["p5", "q1"]),
        ({"charging_profile_id": 100}, ["q2", "p2"]),
        ({"purpose": "TxDefaultProfile", "outcome": "success"}, ["q1", "p1"]),
        ({"since": iso(5), "until": iso(25)}, ["q2", "p3", "p2", "q1"]),
        ({"station_id": "HIST-B", "since": iso(6)}, ["q2"]),
        ({"station_id": "HIST-B", "scenario": "solar", "outcome": "success",
          "charging_profile_id": 7, "connector_id": 1, "purpose": "TxDefaultProfile",
          "since": iso(5), "until": iso(5)}, ["q1"]),
    ],
)
async def test_all_stations_profile_history_filters(api, history, query, expected):
    response = await api.get("/charging_profiles/history", params=query)
    assert response.status_code == 200, response.text
    body = response.json()
    assert history.names(body) == expected
    assert body["count"] == len(expected)


# --- pagination ----------------------------------------------------------------------------


async def test_pages_follow_next_links(api, history):
    first = (await api.get("/charging_profiles/history", params={"page_size": 3})).json()
    assert first["count"] == 7
    assert history.names(first) == ["p5", "p4", "q2"]
    assert first["previous"] is None
    assert "page=2" in first["next"]
    assert "page_size=3" in first["next"]

    second = (await api.get(first["next"])).json()
    assert history.names(second) == ["p3", "p2", "q1"]
    assert second["count"] == 7
    assert second["previous"] is not None

    third = (await api.get(second["next"])).json()
    assert history.names(third) == ["p1"]
    assert third["next"] is None

    beyond = await api.get("/charging_profiles/history", params={"page_size": 3, "page": 4})
    assert beyond.status_code == 404
    assert beyond.json() == {"detail": "Invalid page."}


async def test_pages_keep_the_filters(api, history):
    first = (await api.get("/stations/HIST-A/profile_history",
                           params={"connector_id": 1, "page_size": 2})).json()
    assert first["count"] == 3
    assert history.names(first) == ["p5", "p4"]
    assert "connector_id=1" in first["next"]
    second = (await api.get(first["next"])).json()
    assert history.names(second) == ["p1"]


async def test_page_size_defaults_to_50_and_is_capped_at_1000(api, csms):
    station = await Station.objects.acreate(station_id="HIST-MANY")
    await CompositeScheduleRecord.objects.abulk_create(
        CompositeScheduleRecord(station=station, connector_id=1, duration=60,
                                charging_rate_unit="W", requested_at=at(i), outcome="success")
        for i in range(1001)
    )
    url = "/stations/HIST-MANY/composite_schedules"
    default = (await api.get(url)).json()
    assert default["count"] == 1001
    assert len(default["results"]) == 50
    assert default["results"][0]["requested_at"] == iso(1000)
    assert default["results"][49]["requested_at"] == iso(951)
    assert "page=2" in default["next"]

    capped = (await api.get(url, params={"page_size": 5000})).json()
    assert len(capped["results"]) == 1000
    assert capped["results"][-1]["requested_at"] == iso(1)
    last = (await api.get(capped["next"])).json()
    assert [row["requested_at"] for row in last["results"]] == [iso(0)]
    assert last["next"] is None


# --- composite schedules -------------------------------------------------------------------

SCHEDULE = {
    "chargingRateUnit": "W",
    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000.0},
                               {"startPeriod": 1800, "limit": 11000.0}],
    "duration": 3600,
}


@pytest.fixture
async def schedules(history) -> dict[str, int]:
    a, b = history.a, history.b
    preview = {"matches_preview": True} if HAS_MATCHES_PREVIEW else {}
    rows = {
        "s1": await CompositeScheduleRecord.objects.acreate(
            station=a, connector_id=1, duration=3600, charging_rate_unit="W",
            requested_at=at(0), answered_at=at(0) + timedelta(seconds=1), outcome="success",
            ocpp_status="Accepted", schedule=SCHEDULE, schedule_start=at(0), node="node-a",
            **preview),
        "s2": await CompositeScheduleRecord.objects.acreate(
            station=a, connector_id=0, duration=600, charging_rate_unit="A",
            requested_at=at(15), outcome="rejected", ocpp_status="Rejected"),
        "s3": await CompositeScheduleRecord.objects.acreate(
            station=a, connector_id=1, duration=60, charging_rate_unit="W",
            requested_at=at(30), outcome="error", error="Connection lost"),
        "sb": await CompositeScheduleRecord.objects.acreate(
            station=b, connector_id=1, duration=60, charging_rate_unit="W",
            requested_at=at(45), outcome="success", ocpp_status="Accepted", schedule=SCHEDULE),
    }
    return {name: row.pk for name, row in rows.items()}


async def test_composite_schedule_history_includes_the_schedule(api, schedules):
    body = (await api.get("/stations/HIST-A/composite_schedules")).json()
    assert body["count"] == 3
    assert [row["id"] for row in body["results"]] == [
        schedules["s3"], schedules["s2"], schedules["s1"]]
    expected = {
        "id": schedules["s1"],
        "station_id": "HIST-A",
        "requested_at": iso(0),
        "answered_at": "2026-01-08T10:00:01Z",
        "outcome": "success",
        "ocpp_status": "Accepted",
        "error": None,
        "node": "node-a",
        "connector_id": 1,
        "duration": 3600,
        "charging_rate_unit": "W",
        "schedule_start": iso(0),
        "schedule": SCHEDULE,
    }
    if HAS_MATCHES_PREVIEW:
        expected["matches_preview"] = True
    assert body["results"][2] == expected
    rejected, failed = body["results"][1], body["results"][0]
    assert (rejected["schedule"], rejected["schedule_start"], rejected["duration"]) == (
        None, None, 600)
    assert (failed["outcome"], failed["error"], failed["ocpp_status"]) == (
        "error", "Connection lost", None)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"connector_id": 1}, ["s3", "s1"]),
        ({"connector_id": 0}, ["s2"]),
        ({"outcome": "success"}, ["s1"]),
        ({"outcome": "error"}, ["s3"]),
        ({"since": iso(15)}, ["s3", "s2"]),
        ({"until": iso(14)}, ["s1"]),
        ({"connector_id": 1, "since": iso(1)}, ["s3"]),
        ({"connector_id": 1, "outcome": "rejected"}, []),
    ],
)
async def test_composite_schedule_history_filters(api, schedules, query, expected):
    response = await api.get("/stations/HIST-A/composite_schedules", params=query)
    assert response.status_code == 200, response.text
    assert [row["id"] for row in response.json()["results"]] == [schedules[n] for n in expected]


# --- clears --------------------------------------------------------------------------------


@pytest.fixture
async def clears(history) -> dict[str, int]:
    a, b = history.a, history.b
    rows = {
        "c1": await ClearRequest.objects.acreate(
            station=a, requested_at=at(0), answered_at=at(0) + timedelta(seconds=2),
            profile_id=100, outcome="success", ocpp_status="Accepted", node="node-a"),
        "c2": await ClearRequest.objects.acreate(
            station=a, requested_at=at(10), connector_id=1, purpose="TxDefaultProfile",
            stack_level=1, outcome="unknown", ocpp_status="Unknown"),
        "c3": await ClearRequest.objects.acreate(
            station=a, requested_at=at(20), connector_id=2, purpose="TxProfile",
            outcome="error", error="CALLERROR InternalError: boom"),
        "c4": await ClearRequest.objects.acreate(
            station=a, requested_at=at(30), outcome="success", ocpp_status="Accepted"),
        "cb": await ClearRequest.objects.acreate(
            station=b, requested_at=at(40), connector_id=1, outcome="success",
            ocpp_status="Accepted"),
    }
    return {name: row.pk for name, row in rows.items()}


async def test_clear_history_shows_the_filters_as_the_contract_does(api, clears):
    body = (await api.get("/stations/HIST-A/clears")).json()
    assert body["count"] == 4
    assert [row["id"] for row in body["results"]] == [
        clears["c4"], clears["c3"], clears["c2"], clears["c1"]]
    assert body["results"][3] == {
        "id": clears["c1"],
        "station_id": "HIST-A",
        "requested_at": iso(0),
        "answered_at": "2026-01-08T10:00:02Z",
        "outcome": "success",
        "ocpp_status": "Accepted",
        "error": None,
        "node": "node-a",
        "filters": {"profile_id": 100, "connector_id": None, "purpose": None,
                    "stack_level": None},
    }
    assert body["results"][2]["filters"] == {
        "profile_id": None, "connector_id": 1, "purpose": "TxDefaultProfile", "stack_level": 1}
    assert body["results"][2]["outcome"] == "unknown"
    assert body["results"][1]["error"] == "CALLERROR InternalError: boom"
    assert body["results"][0]["filters"] == {
        "profile_id": None, "connector_id": None, "purpose": None, "stack_level": None}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"connector_id": 1}, ["c2"]),
        ({"connector_id": 2}, ["c3"]),
        ({"purpose": "TxProfile"}, ["c3"]),
        ({"purpose": "ChargePointMaxProfile"}, []),
        ({"outcome": "success"}, ["c4", "c1"]),
        ({"outcome": "unknown"}, ["c2"]),
        ({"since": iso(10), "until": iso(20)}, ["c3", "c2"]),
        ({"outcome": "success", "until": iso(29)}, ["c1"]),
        ({"connector_id": 1, "purpose": "TxDefaultProfile", "outcome": "unknown"}, ["c2"]),
    ],
)
async def test_clear_history_filters(api, clears, query, expected):
    response = await api.get("/stations/HIST-A/clears", params=query)
    assert response.status_code == 200, response.text
    assert [row["id"] for row in response.json()["results"]] == [clears[n] for n in expected]


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["profile_history", "composite_schedules", "clears"])
async def test_unknown_station_is_404(api, csms, path):
    response = await api.get(f"/stations/NOPE-1/{path}", params={"outcome": "maybe"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Station NOPE-1 not found"}


@pytest.mark.parametrize(
    ("path", "query", "field", "message"),
    [
        ("/stations/HIST-A/profile_history", {"outcome": "maybe"}, "outcome",
         "Select a valid choice. maybe is not one of the available choices."),
        ("/stations/HIST-A/profile_history", {"since": "yesterday"}, "since",
         "Enter a valid date/time."),
        ("/stations/HIST-A/profile_history", {"until": "2026-13-45T99:00:00Z"}, "until",
         "Enter a valid date/time."),
        ("/stations/HIST-A/profile_history", {"purpose": "MaxProfile"}, "purpose",
         "Select a valid choice. MaxProfile is not one of the available choices."),
        ("/stations/HIST-A/profile_history", {"connector_id": "one"}, "connector_id",
         "Enter a whole number."),
        ("/stations/HIST-A/profile_history", {"connector_id": "-1"}, "connector_id",
         "Ensure this value is greater than or equal to 0."),
        ("/stations/HIST-A/profile_history", {"charging_profile_id": "1.5"},
         "charging_profile_id", "Enter a whole number."),
        ("/stations/HIST-A/profile_history", {"since": iso(20), "until": iso(10)}, "until",
         "must not be before since"),
        ("/charging_profiles/history", {"outcome": "maybe"}, "outcome",
         "Select a valid choice. maybe is not one of the available choices."),
        ("/charging_profiles/history", {"since": "yesterday"}, "since",
         "Enter a valid date/time."),
        ("/stations/HIST-A/composite_schedules", {"outcome": "Accepted"}, "outcome",
         "Select a valid choice. Accepted is not one of the available choices."),
        ("/stations/HIST-A/composite_schedules", {"connector_id": "x"}, "connector_id",
         "Enter a whole number."),
        ("/stations/HIST-A/clears", {"purpose": "txprofile"}, "purpose",
         "Select a valid choice. txprofile is not one of the available choices."),
        ("/stations/HIST-A/clears", {"until": "tomorrow"}, "until",
         "Enter a valid date/time."),
    ],
)
async def test_bad_filter_value_is_400_naming_it(api, history, path, query, field, message):
    response = await api.get(path, params=query)
    assert response.status_code == 400
    assert response.json() == {
        "detail": f"{field}: {message}",
        "errors": [{"field": field, "message": message}],
    }


async def test_every_bad_filter_is_named(api, history):
    response = await api.get("/charging_profiles/history",
                             params={"outcome": "maybe", "since": "yesterday"})
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == (
        "outcome: Select a valid choice. maybe is not one of the available choices.; "
        "since: Enter a valid date/time."
    )
    assert [e["field"] for e in body["errors"]] == ["outcome", "since"]


async def test_unknown_query_parameters_are_ignored(api, history):
    response = await api.get("/stations/HIST-A/profile_history", params={"colour": "blue"})
    assert response.status_code == 200
    assert response.json()["count"] == 5


# --- OpenAPI -------------------------------------------------------------------------------


async def test_schema_documents_the_history_endpoints(api, csms):
    response = await api.get("/api/schema/", params={"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    common = {"connector_id", "outcome", "since", "until", "page", "page_size"}
    expected = {
        "/stations/{station_id}/profile_history": (
            "station_profile_history", common | {"purpose", "scenario", "charging_profile_id"}),
        "/charging_profiles/history": (
            "profile_history",
            common | {"purpose", "scenario", "charging_profile_id", "station_id"}),
        "/stations/{station_id}/composite_schedules": (
            "station_composite_schedule_history", common),
        "/stations/{station_id}/clears": ("station_clear_history", common | {"purpose"}),
    }
    for path, (operation_id, query_names) in expected.items():
        operation = paths[path]["get"]
        assert operation["operationId"] == operation_id
        assert operation["tags"] == ["History"]
        assert operation["description"]
        params = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
        assert set(params) == query_names, path
        assert params["outcome"]["schema"]["enum"] == [
            "error", "pending", "rejected", "success", "unknown"]
        assert params["since"]["schema"] == {"type": "string", "format": "date-time"}
        assert params["connector_id"]["schema"]["type"] == "integer"
        if "purpose" in params:
            assert params["purpose"]["schema"]["enum"] == [
                "ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]
        ok = operation["responses"]["200"]["content"]["application/json"]
        [example] = list(ok["examples"].values())[:1]
        assert set(example["value"]) == {"count", "next", "previous", "results"}
        assert example["value"]["results"][0]["station_id"] == "PY-SIM-0001"
        assert "400" in operation["responses"]
        not_found = operation["responses"]["404"]["content"]["application/json"]
        errors = [e["value"] for e in not_found["examples"].values()]
        assert {"detail": "Invalid page."} in errors  # a page past the end
        if path.startswith("/stations/"):
            assert {"detail": "Station PY-SIM-9999 not found"} in errors
            [station] = [p for p in operation["parameters"] if p["in"] == "path"]
            assert station["schema"] == {"type": "string"}
        else:
            assert len(errors) == 1
