"""The simulated station against a bare OCPP 1.6J central system over real WebSockets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from ocpp.charge_point import snake_to_camel_case
from ocpp.v16 import call
from websockets.headers import build_authorization_basic

from profiles.scheduling import composite_schedule, parse_datetime
from simulator.station import Station

from .conftest import BareCentralSystem, eventually, plain

pytestmark = pytest.mark.e2e

SID = "PY-SIM-0001"
StationFactory = Callable[..., Station]


def cp_max(pid: int, watts: float, stack: int = 0) -> dict[str, Any]:
    return {
        "chargingProfileId": pid,
        "stackLevel": stack,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": watts}],
        },
    }


def tx_profile(pid: int, watts: float, tx: int | None = None) -> dict[str, Any]:
    out = {
        "chargingProfileId": pid,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": watts}],
        },
    }
    if tx is not None:
        out["transactionId"] = tx
    return out


def sampled(meter: dict[str, Any], measurand: str) -> float:
    for value in meter["meter_value"][0]["sampled_value"]:
        if value["measurand"] == measurand:
            return float(value["value"])
    raise AssertionError(f"{measurand} missing from {meter}")


def power(meter: dict[str, Any]) -> float:
    return sampled(meter, "Power.Active.Import")


def statuses(csms: BareCentralSystem, connector_id: int, since: int = 0) -> list[str]:
    return [
        m["status"] for m in csms.messages(SID, "StatusNotification", since)
        if m["connector_id"] == connector_id
    ]


async def started(csms: BareCentralSystem, station: Station) -> None:
    await station.start()
    await csms.station(station.station_id)
    await station.wait_registered(5)


async def test_boot_status_and_heartbeat(
    bare_csms: BareCentralSystem, station_factory: StationFactory
) -> None:
    station = station_factory(connectors=2)
    await started(bare_csms, station)
    boot = bare_csms.messages(SID, "BootNotification")[0]
    assert boot["charge_point_vendor"] == "PySim"
    assert boot["charge_point_model"] == "SimCharger-22"
    assert boot["charge_point_serial_number"] == "SN-PY-SIM-0001"
    assert station.heartbeat_interval == 10  # as the CSMS answered
    await bare_csms.wait_for(SID, "StatusNotification", lambda m: m["connector_id"] == 2)
    assert [(m["connector_id"], m["status"], m["error_code"])
            for m in bare_csms.messages(SID, "StatusNotification")] == [
        (0, "Available", "NoError"), (1, "Available", "NoError"), (2, "Available", "NoError"),
    ]
    assert bare_csms.headers[SID]["Sec-WebSocket-Protocol"] == "ocpp1.6"
    assert "permessage-deflate" not in bare_csms.headers[SID].get("Sec-WebSocket-Extensions", "")

    res = await bare_csms.call(SID, call.ChangeConfiguration(key="HeartbeatInterval", value="1"))
    assert res.status == "Accepted"
    since = bare_csms.mark(SID)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await bare_csms.wait_for(SID, "Heartbeat", since=since, timeout=3)
    await bare_csms.wait_for(
        SID, "Heartbeat", since=bare_csms.mark(SID), timeout=3
    )
    assert loop.time() - t0 < 2.8  # two heartbeats at ~1 s, not 10 s


async def test_set_charging_profile_enforced_within_one_sample(
    bare_csms: BareCentralSystem, station_factory: StationFactory
) -> None:
    station = station_factory()
    await started(bare_csms, station)
    tx_id = await station.plug_in(1, energy_wh=50_000, ev_max_w=22_080)
    assert tx_id == 1
    assert station.transactions[1].transaction_id == 1
    full = await bare_csms.wait_for(SID, "MeterValues", lambda m: power(m) == 22080.0)
    assert full["transaction_id"] == 1
    assert sampled(full, "Current.Import") == pytest.approx(32.0, abs=0.01)
    assert statuses(bare_csms, 1) == ["Available", "Preparing", "Charging"]

    res = await bare_csms.call(SID, call.SetChargingProfile(connector_id=0,
                                                            cs_charging_profiles=cp_max(1, 11000)))
    assert res.status == "Accepted"
    since = bare_csms.mark(SID)
    t_accepted = asyncio.get_running_loop().time()
    # The CSMS sees the new power in the next sample (or the one after, if a sample
    # was already on its way when the profile arrived).
    limited = await bare_csms.wait_for(
        SID, "MeterValues", lambda m: power(m) == 11000.0, since=since, timeout=0.2 * 2 + 0.3
    )
    assert [power(m) for m in bare_csms.messages(SID, "MeterValues", since)][-1] == 11000.0
    assert sampled(limited, "Current.Import") == pytest.approx(11000 / 690, abs=0.01)
    assert station.power_w[1] == 11000.0
    assert asyncio.get_running_loop().time() - t_accepted < 0.6
    messages = [m for _, _, m in station.logs]
    assert "OCPP limit: 11000W → 0.61Wh (sample_interval=0.2s)" in messages
    assert any("SetChargingProfile: profile 1 (ChargePointMaxProfile" in m for m in messages)

    # Integration: the register grows by P x dt between samples at the limited power.
    await bare_csms.wait_for(SID, "MeterValues", since=bare_csms.mark(SID))
    await bare_csms.wait_for(SID, "MeterValues", since=bare_csms.mark(SID))
    first, second = bare_csms.messages(SID, "MeterValues", since)[-2:]
    dt = (parse_datetime(second["meter_value"][0]["timestamp"])
          - parse_datetime(first["meter_value"][0]["timestamp"])).total_seconds()
    delta = (sampled(second, "Energy.Active.Import.Register")
             - sampled(first, "Energy.Active.Import.Register"))
    assert delta == pytest.approx(11000 * dt / 3600, rel=0.05, abs=0.02)

    res = await bare_csms.call(SID, call.ClearChargingProfile(id=1))
    assert res.status == "Accepted"
    await bare_csms.wait_for(SID, "MeterValues", lambda m: power(m) == 22080.0,
                             since=bare_csms.mark(SID), timeout=1)
    assert "OCPP limit: 22080W → 1.23Wh (sample_interval=0.2s)" in [m for _, _, m in station.logs]


async def test_composite_schedule_equals_direct_computation(
    bare_csms: BareCentralSystem, station_factory: StationFactory
) -> None:
    station = station_factory(connectors=2)
    await started(bare_csms, station)
    await station.plug_in(1, energy_wh=50_000, ev_max_w=11_000)
    now = datetime.now().astimezone()
    tx_default = {
        "chargingProfileId": 20, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "startSchedule": now.isoformat(), "duration": 1800, "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0},
                                       {"startPeriod": 600, "limit": 10.5, "numberPhases": 1}],
        },
    }
    profiles = [(0, cp_max(10, 20000)), (0, tx_default), (1, tx_profile(30, 6000, tx=1))]
    for connector_id, prof in profiles:
        res = await bare_csms.call(
            SID, call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=prof)
        )
        assert res.status == "Accepted"
    assert len(station.installed_profiles) == 3

    for connector_id, unit in [(1, "W"), (2, "A"), (0, "W"), (2, "W")]:
        res = await bare_csms.call(SID, call.GetCompositeSchedule(
            connector_id=connector_id, duration=3600, charging_rate_unit=unit))
        assert res.status == "Accepted"
        assert res.connector_id == connector_id
        start = parse_datetime(res.schedule_start)
        assert res.schedule_start.endswith("Z")
        expected = composite_schedule(
            station.installed_profiles, connector_id, start, 3600, unit,
            transactions=station.transactions, connector_max_w=22080.0,
            number_of_connectors=2, number_phases=3,
        ).to_ocpp()
        assert snake_to_camel_case(plain(res.charging_schedule)) == expected
    # Spot-check the values themselves for connector 1: the TxProfile's 6000 W decides.
    res = await bare_csms.call(SID, call.GetCompositeSchedule(connector_id=1, duration=60))
    assert plain(res.charging_schedule)["charging_schedule_period"] == [
        {"start_period": 0, "limit": 6000.0}
    ]


async def test_station_side_rejections(
    bare_csms: BareCentralSystem, station_factory: StationFactory
) -> None:
    station = station_factory(allowed_units="Power", max_stack_level=3)
    await started(bare_csms, station)

    async def set_profile(connector_id: int, prof: dict[str, Any]) -> str:
        res = await bare_csms.call(
            SID, call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=prof)
        )
        return res.status

    assert await set_profile(1, tx_profile(1, 5000)) == "Rejected"  # no transaction
    assert await set_profile(1, cp_max(2, 5000)) == "Rejected"  # CPMax off connector 0
    assert await set_profile(0, cp_max(3, 5000, stack=4)) == "Rejected"  # stack level
    assert await set_profile(2, cp_max(4, 5000)) == "Rejected"  # unknown connector
    amps = cp_max(5, 16)
    amps["chargingSchedule"]["chargingRateUnit"] = "A"
    assert await set_profile(0, amps) == "Rejected"  # unit not allowed
    assert station.installed_profiles == []

    res = await bare_csms.call(SID, call.GetCompositeSchedule(connector_id=5, duration=60))
    assert res.status == "Rejected"
    res = await bare_csms.call(
        SID, call.GetCompositeSchedule(connector_id=1, duration=60, charging_rate_unit="A")
    )
    assert res.status == "Rejected"
    res = await bare_csms.call(SID, call.ClearChargingProfile(id=77))
    assert res.status == "Unknown"
    res = await bare_csms.call(SID, call.GetConfiguration(
        key=["ChargingScheduleAllowedChargingRateUnit", "ChargeProfileMaxStackLevel"]))
    assert res.configuration_key == [
        {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Power"},
        {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "3"},
    ]


async def test_not_supported_without_smart_charging(
    bare_csms: BareCentralSystem, station_factory: StationFactory
) -> None:
    station = station_factory(feature_profiles="Core,RemoteTrigger")
    await started(bare_csms, station)
    res = await bare_csms.call(
        SID, call.SetChargingProfile(connector_id=0, cs_charging_profiles=cp_max(1, 5000))
    )
    assert res.status == "NotSupported"
    res = await bare_csms.call(SID, call.GetCompositeSchedule(connector_id=0, duration=60))
    assert res.status == "Rejected"
    res = await bare_csms.call(SID, call.ClearChargingProfile())
    assert res.status == "Unknown"
    res = await bare_csms.call(
        SID, call.GetConfiguration(key=["SupportedFeatureProfiles", "ChargeProfileMaxStackLevel"])
    )
    assert res.configuration_key == [
        {"key": "SupportedFeatureProfiles", "readonly": True, "value": "Core,RemoteTrigger"}
    ]
    assert res.unknown_key == ["ChargeProfileMaxStackLevel"]
    assert station.installed_profiles == []


async def test_tx_profile_dropped_and_statuses_on_stop(
    bare_csms: BareCentralSystem, station_factory: StationFactory
) -> None:
    station = station_factory()
    await started(bare_csms, station)
    tx_id = await station.plug_in(1, energy_wh=50_000, ev_max_w=11_000)
    res = await bare_csms.call(
        SID, call.SetChargingProfile(connector_id=1, cs_charging_profiles=tx_profile(7, 0, tx_id))
    )
    assert res.status == "Accepted"
    zero = await bare_csms.wait_for(SID, "MeterValues", lambda m: power(m) == 0.0)
    assert zero["transaction_id"] == tx_id
    await bare_csms.wait_for(
        SID, "StatusNotification", lambda m: m["status"] == "SuspendedEVSE", timeout=1
    )
    energy_at_zero = station.energy_wh[1]
    await asyncio.sleep(0.5)
    assert station.energy_wh[1] == pytest.approx(energy_at_zero)  # nothing drawn at 0 W

    await station.unplug(1)
    stop = await bare_csms.wait_for(SID, "StopTransaction")
    assert (stop["transaction_id"], stop["reason"]) == (tx_id, "EVDisconnected")
    assert stop["meter_stop"] == int(station.energy_wh[1])
    assert station.installed_profiles == []  # TxProfile discarded with its transaction
    assert statuses(bare_csms, 1) == [
        "Available", "Preparing", "Charging", "SuspendedEVSE", "Finishing", "Available",
    ]
    res = await bare_csms.call(SID, call.ClearChargingProfile(id=7))
    assert res.status == "Unknown"


async def test_ev_full_ends_the_session_with_exact_energy(
    bare_csms: BareCentralSystem, station_factory: StationFactory
) -> None:
    station = station_factory()
    await started(bare_csms, station)
    since = bare_csms.mark(SID)
    await station.plug_in(1, energy_wh=5.0, ev_max_w=30_000)  # capped at 22080 W: ~0.8 s
    stop = await bare_csms.wait_for(SID, "StopTransaction", timeout=4)
    assert (stop["meter_stop"], stop["reason"]) == (5, "EVDisconnected")
    assert station.energy_wh[1] == pytest.approx(5.0)
    await bare_csms.wait_for(
        SID, "StatusNotification", lambda m: m["status"] == "Available", since=since, timeout=2
    )
    assert statuses(bare_csms, 1)[-3:] == ["SuspendedEV", "Finishing", "Available"]
    registers = [sampled(m, "Energy.Active.Import.Register")
                 for m in bare_csms.messages(SID, "MeterValues")]
    assert registers == sorted(registers)
    assert registers[-1] <= 5.0


async def test_reconnect_keeps_profiles_and_transaction(
    bare_csms: BareCentralSystem, station_factory: StationFactory
) -> None:
    station = station_factory()
    await started(bare_csms, station)
    tx_id = await station.plug_in(1, energy_wh=50_000, ev_max_w=22_080)
    res = await bare_csms.call(
        SID, call.SetChargingProfile(connector_id=0, cs_charging_profiles=cp_max(3, 7000))
    )
    assert res.status == "Accepted"

    await bare_csms.close()  # the CSMS goes away ...
    await eventually(lambda: not station.connected)
    since = bare_csms.mark(SID)
    await bare_csms.start()  # ... and comes back on the same port
    await bare_csms.wait_for(SID, "BootNotification", since=since, timeout=5)
    await station.wait_registered(2)
    assert station.boot_count == 2
    assert [i.profile.charging_profile_id for i in station.installed_profiles] == [3]
    assert station.transactions[1].transaction_id == tx_id

    meter = await bare_csms.wait_for(SID, "MeterValues", since=since)
    assert (meter["transaction_id"], power(meter)) == (tx_id, 7000.0)
    res = await bare_csms.call(SID, call.GetCompositeSchedule(connector_id=1, duration=60))
    assert plain(res.charging_schedule)["charging_schedule_period"] == [
        {"start_period": 0, "limit": 7000.0}
    ]
    await station.unplug(1)
    stop = await bare_csms.wait_for(SID, "StopTransaction", since=since)
    assert stop["transaction_id"] == tx_id


async def test_configuration_and_trigger_message(
    bare_csms: BareCentralSystem, station_factory: StationFactory
) -> None:
    station = station_factory(connectors=2)
    await started(bare_csms, station)
    res = await bare_csms.call(SID, call.GetConfiguration())
    conf = {k["key"]: (k["value"], k["readonly"]) for k in res.configuration_key}
    assert conf["SupportedFeatureProfiles"][0].split(",") == [
        "Core", "FirmwareManagement", "LocalAuthListManagement", "Reservation",
        "SmartCharging", "RemoteTrigger",
    ]
    assert conf["NumberOfConnectors"] == ("2", True)
    assert conf["ChargeProfileMaxStackLevel"] == ("8", True)
    assert conf["ChargingScheduleAllowedChargingRateUnit"] == ("Current,Power", True)
    assert conf["ChargingScheduleMaxPeriods"] == ("24", True)
    assert conf["MaxChargingProfilesInstalled"] == ("16", True)
    assert conf["HeartbeatInterval"] == ("10", False)
    assert conf["MeterValueSampleInterval"] == ("0.2", False)
    assert res.unknown_key is None

    res = await bare_csms.call(SID, call.GetConfiguration(key=["NumberOfConnectors", "Nope"]))
    assert res.configuration_key == [{"key": "NumberOfConnectors", "readonly": True, "value": "2"}]
    assert res.unknown_key == ["Nope"]

    change = [("MeterValueSampleInterval", "0.5", "Accepted"),
              ("NumberOfConnectors", "4", "Rejected"),
              ("HeartbeatInterval", "soon", "Rejected"),
              ("Nope", "1", "NotSupported")]
    for key, value, expected in change:
        res = await bare_csms.call(SID, call.ChangeConfiguration(key=key, value=value))
        assert res.status == expected, key
    assert station.sample_interval == 0.5

    since = bare_csms.mark(SID)
    res = await bare_csms.call(
        SID, call.TriggerMessage(requested_message="StatusNotification", connector_id=2)
    )
    assert res.status == "Accepted"
    status = await bare_csms.wait_for(SID, "StatusNotification", since=since)
    assert (status["connector_id"], status["status"]) == (2, "Available")
    res = await bare_csms.call(SID, call.TriggerMessage(requested_message="MeterValues",
                                                        connector_id=1))
    assert res.status == "Accepted"
    meter = await bare_csms.wait_for(SID, "MeterValues", since=since)
    assert meter["meter_value"][0]["sampled_value"][0]["context"] == "Trigger"
    res = await bare_csms.call(SID, call.TriggerMessage(requested_message="BootNotification"))
    assert res.status == "Accepted"
    await bare_csms.wait_for(SID, "BootNotification", since=since)
    res = await bare_csms.call(
        SID, call.TriggerMessage(requested_message="DiagnosticsStatusNotification")
    )
    assert res.status == "NotImplemented"
    res = await bare_csms.call(
        SID, call.TriggerMessage(requested_message="Heartbeat", connector_id=9)
    )
    assert res.status == "Rejected"


async def test_remote_start_with_tx_profile_and_remote_stop(
    bare_csms: BareCentralSystem, station_factory: StationFactory
) -> None:
    station = station_factory()
    await started(bare_csms, station)
    since = bare_csms.mark(SID)
    res = await bare_csms.call(SID, call.RemoteStartTransaction(
        id_tag="REMOTE1", connector_id=1, charging_profile=tx_profile(40, 4000)))
    assert res.status == "Accepted"
    start = await bare_csms.wait_for(SID, "StartTransaction")
    assert (start["id_tag"], start["connector_id"]) == ("REMOTE1", 1)
    assert bare_csms.messages(SID, "Authorize") == []  # AuthorizeRemoteTxRequests=false
    meter = await bare_csms.wait_for(SID, "MeterValues", lambda m: power(m) > 0)
    assert power(meter) == 4000.0
    assert [(i.connector_id, i.profile.purpose) for i in station.installed_profiles] == [
        (1, "TxProfile")
    ]
    busy = await bare_csms.call(SID, call.RemoteStartTransaction(id_tag="X", connector_id=1))
    assert busy.status == "Rejected"

    res = await bare_csms.call(SID, call.RemoteStopTransaction(transaction_id=999))
    assert res.status == "Rejected"
    res = await bare_csms.call(
        SID, call.RemoteStopTransaction(transaction_id=start["transaction_id"])
    )
    assert res.status == "Accepted"
    stop = await bare_csms.wait_for(SID, "StopTransaction")
    assert (stop["transaction_id"], stop["reason"]) == (start["transaction_id"], "Remote")
    assert station.installed_profiles == []
    await bare_csms.wait_for(SID, "StatusNotification", lambda m: m["status"] == "Available",
                             since=since)
    assert statuses(bare_csms, 1, since) == ["Preparing", "Charging", "Finishing", "Available"]


async def test_password_and_log_hook(
    bare_csms: BareCentralSystem, station_factory: StationFactory
) -> None:
    station = station_factory(password="s3cret")
    seen: list[tuple[str, datetime, str, str]] = []
    station.on_log = lambda sid, at, level, msg: seen.append((sid, at, level, msg))
    await started(bare_csms, station)
    assert bare_csms.headers[SID]["Authorization"] == build_authorization_basic(SID, "s3cret")
    assert any(m.startswith("BootNotification accepted") for _, _, _, m in seen)
    assert {(sid, level) for sid, _, level, _ in seen} >= {(SID, "INFO")}
    assert [m for _, _, _, m in seen] == [m for _, _, m in station.logs]


async def test_charge_point_max_profile_shared_between_connectors(
    bare_csms: BareCentralSystem, station_factory: StationFactory
) -> None:
    station = station_factory(connectors=2)
    await started(bare_csms, station)
    await station.plug_in(1, energy_wh=50_000, ev_max_w=11_000)
    await station.plug_in(2, energy_wh=50_000, ev_max_w=11_000)
    assert station.power_w == {1: 11000.0, 2: 11000.0}
    res = await bare_csms.call(
        SID, call.SetChargingProfile(connector_id=0, cs_charging_profiles=cp_max(1, 11000))
    )
    assert res.status == "Accepted"
    since = bare_csms.mark(SID)
    for connector_id in (1, 2):
        meter = await bare_csms.wait_for(
            SID, "MeterValues", lambda m, c=connector_id: m["connector_id"] == c, since=since
        )
        assert power(meter) == 5500.0  # the station's 11 kW cap split between two EVs
    messages = [m for _, _, m in station.logs]
    assert "OCPP limit: 11000W → 0.61Wh (sample_interval=0.2s) [connector 2]" in messages
    await station.unplug(2)
    await eventually(lambda: station.power_w[1] == 11000.0)


async def test_meter_values_follow_each_transactions_start_not_a_shared_clock(
    bare_csms: BareCentralSystem, station_factory: StationFactory
) -> None:
    """OCPP 1.6 (MeterValueSampleInterval): samples from the start of the transaction. A
    fleet started together must not send every sample at the same instant."""
    interval = 0.5
    first = station_factory("PY-SIM-PHASE-1", sample_interval=interval)
    second = station_factory("PY-SIM-PHASE-2", sample_interval=interval)
    await asyncio.gather(first.start(), second.start())
    await bare_csms.station("PY-SIM-PHASE-1")
    await bare_csms.station("PY-SIM-PHASE-2")
    loop = asyncio.get_running_loop()
    await first.plug_in(1, energy_wh=50_000, ev_max_w=11_000)
    started_1 = loop.time()
    await asyncio.sleep(interval / 2)
    await second.plug_in(1, energy_wh=50_000, ev_max_w=11_000)
    started_2 = loop.time()
    for sid in ("PY-SIM-PHASE-1", "PY-SIM-PHASE-2"):
        await bare_csms.wait_for(sid, "MeterValues", timeout=3)
        await bare_csms.wait_for(sid, "MeterValues", since=bare_csms.mark(sid), timeout=3)

    def sample_times(sid: str) -> list[float]:
        return [r.at for r in bare_csms.received[sid] if r.action == "MeterValues"]

    for sid, started in (("PY-SIM-PHASE-1", started_1), ("PY-SIM-PHASE-2", started_2)):
        phases = [(at - started) % interval for at in sample_times(sid)]
        # each sample one interval after the last, counted from its own transaction
        assert all(min(p, interval - p) < 0.15 for p in phases), (sid, phases)
    gap = abs(sample_times("PY-SIM-PHASE-1")[0] - sample_times("PY-SIM-PHASE-2")[0])
    assert min(gap % interval, interval - gap % interval) > 0.1  # about interval / 2
