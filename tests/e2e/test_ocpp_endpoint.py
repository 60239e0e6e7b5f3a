"""The OCPP 1.6J endpoint: handshake, what each station message stores, bad frames."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from asgiref.sync import sync_to_async
from ocpp.v16 import call

from stations.models import Connector, Station, StationLog, Transaction
from tests.conftest import wait_until
from tests.support.station import connected_station, unique_id

pytestmark = pytest.mark.e2e


async def station_row(station_id: str) -> Station:
    return await Station.objects.aget(station_id=station_id)


async def test_client_without_ocpp16_subprotocol_is_refused(csms):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{csms.ws_url}/{unique_id()}", subprotocols=["ocpp2.0.1"])
    assert refused.value.response.status_code == 403
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(f"{csms.ws_url}/{unique_id()}")


async def test_handshake_selects_ocpp16(csms):
    async with websockets.connect(
        f"{csms.ws_url}/{unique_id()}", subprotocols=["ocpp2.0.1", "ocpp1.6"]
    ) as ws:
        assert ws.subprotocol == "ocpp1.6"


@pytest.mark.parametrize("base", ["ws_url", "ws_root_url"])
async def test_both_url_forms_accept_stations(csms, api, base):
    async with connected_station(getattr(csms, base)) as station:
        body = (await api.get(f"/stations/{station.id}")).json()
        assert body["connected"] is True
        assert body["vendor"] == "Tests"


async def test_boot_stores_identity_and_configuration(csms, settings):
    settings.OCPP_HEARTBEAT_INTERVAL = 123
    station_id = unique_id()
    async with connected_station(csms.ws_url, station_id, boot=False) as station:
        answer = await station.call(
            call.BootNotification(
                charge_point_model="M-1",
                charge_point_vendor="ACME",
                charge_point_serial_number="SN-7",
                firmware_version="1.2.3",
            )
        )
        assert answer.status == "Accepted"
        assert answer.interval == 123
        await asyncio.wait_for(station.configured.wait(), 5)

        async def configured() -> bool:
            return (await station_row(station_id)).configuration_at is not None

        await wait_until(configured)
        row = await station_row(station_id)
        assert (row.vendor, row.model, row.serial_number, row.firmware_version) == (
            "ACME", "M-1", "SN-7", "1.2.3"
        )
        assert row.connected
        assert row.last_boot_at is not None
        assert row.feature_profiles == ["Core", "SmartCharging"]
        assert row.number_of_connectors == 2
        assert row.charge_profile_max_stack_level == 8
        assert row.charging_schedule_allowed_charging_rate_unit == "Current,Power"
        assert row.charging_schedule_max_periods == 24
        assert row.max_charging_profiles_installed == 16
    await wait_until(lambda: _disconnected(station_id))


async def _disconnected(station_id: str) -> bool:
    return not (await station_row(station_id)).connected


async def test_status_heartbeat_authorize_datatransfer(csms):
    async with connected_station(csms.ws_url) as station:
        assert (await station.call(call.Heartbeat())).current_time
        await station.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )
        await station.call(
            call.StatusNotification(connector_id=2, error_code="GroundFailure", status="Faulted")
        )
        connectors = await sync_to_async(list)(
            Connector.objects.filter(station__station_id=station.id).order_by("connector_id")
        )
        assert [(c.connector_id, c.status, c.error_code) for c in connectors] == [
            (1, "Charging", "NoError"),
            (2, "Faulted", "GroundFailure"),
        ]
        authorized = await station.call(call.Authorize(id_tag="TAG1"))
        assert authorized.id_tag_info["status"] == "Accepted"
        transfer = await station.call(call.DataTransfer(vendor_id="com.example"))
        assert transfer.status == "UnknownVendorId"


async def test_transactions_get_database_ids_and_meter_values_are_kept(csms):
    async with connected_station(csms.ws_url) as station:
        first = await station.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG1", meter_start=100, timestamp="2026-01-08T10:00:00Z"
            )
        )
        second = await station.call(
            call.StartTransaction(
                connector_id=2, id_tag="TAG2", meter_start=0, timestamp="2026-01-08T10:00:01Z"
            )
        )
        assert first.transaction_id != second.transaction_id
        assert first.id_tag_info["status"] == "Accepted"
        await station.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=first.transaction_id,
                meter_value=[
                    {
                        "timestamp": "2026-01-08T10:00:10Z",
                        "sampledValue": [
                            {"value": "1.5", "measurand": "Energy.Active.Import.Register",
                             "unit": "kWh"},
                            {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
                            {"value": "10.7", "measurand": "Current.Import", "unit": "A",
                             "phase": "L1"},
                            {"value": "10.9", "measurand": "Current.Import", "unit": "A",
                             "phase": "L2"},
                        ],
                    }
                ],
            )
        )
        connector = await Connector.objects.aget(station__station_id=station.id, connector_id=1)
        assert connector.energy_wh == 1500.0
        assert connector.power_w == 7400.0
        assert connector.current_a == 10.9
        await station.call(
            call.StopTransaction(
                meter_stop=1600, timestamp="2026-01-08T11:00:00Z",
                transaction_id=first.transaction_id, reason="EVDisconnected",
            )
        )
        tx = await Transaction.objects.aget(pk=first.transaction_id)
        assert (tx.meter_start, tx.meter_stop, tx.stop_reason) == (100, 1600, "EVDisconnected")
        assert tx.station_id == (await station_row(station.id)).pk
        assert not tx.active
        assert (await Transaction.objects.aget(pk=second.transaction_id)).active


async def test_every_frame_is_logged_in_order(csms, api):
    async with connected_station(csms.ws_url) as station:
        await station.call(call.Heartbeat())
        lines = (await api.get(f"/stations/{station.id}/logs")).json()
    actions = [line["action"] for line in lines if line["source"] == "ocpp_in"
               and line["message_type"] == 2]
    assert actions == ["BootNotification", "Heartbeat"]
    outgoing = [line for line in lines if line["source"] == "ocpp_out"]
    assert any(line["action"] == "GetConfiguration" for line in outgoing)
    timestamps = [line["timestamp"] for line in lines]
    assert timestamps == sorted(timestamps)


class RawStation:
    """A WebSocket that sends whatever bytes a test wants."""

    def __init__(self, ws):
        self.ws = ws

    async def exchange(self, frame: str, timeout: float = 2.0) -> list | None:
        await self.ws.send(frame)
        try:
            return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        except TimeoutError:
            return None


@pytest.fixture
async def raw_station(csms):
    async with websockets.connect(f"{csms.ws_url}/{unique_id('RAW')}",
                                  subprotocols=["ocpp1.6"]) as ws:
        yield RawStation(ws)


async def test_frame_that_is_not_json_is_dropped(raw_station):
    assert await raw_station.exchange("this is not json", timeout=0.5) is None
    answer = await raw_station.exchange('[2, "hb-1", "Heartbeat", {}]')
    assert answer[0] == 3
    assert answer[1] == "hb-1"
    assert "currentTime" in answer[2]


async def test_wrong_message_type_id_gets_a_callerror(raw_station):
    answer = await raw_station.exchange('[7, "x-1", "Heartbeat", {}]')
    assert answer[:3] == [4, "x-1", "PropertyConstraintViolation"]


async def test_unknown_action_gets_not_supported(raw_station):
    answer = await raw_station.exchange('[2, "u-1", "MakeCoffee", {}]')
    assert answer[:3] == [4, "u-1", "NotSupported"]


async def test_known_action_without_handler_gets_not_implemented(raw_station):
    answer = await raw_station.exchange(
        '[2, "f-1", "DiagnosticsStatusNotification", {"status": "Idle"}]'
    )
    assert answer[:3] == [4, "f-1", "NotImplemented"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ('{"chargePointVendor": "V"}', "ProtocolError"),  # required field missing
        ('{"chargePointVendor": 5, "chargePointModel": "M"}', "TypeConstraintViolation"),
        ('{"chargePointVendor": "V", "chargePointModel": "M", "extra": 1}', "FormationViolation"),
    ],
)
async def test_payload_breaking_the_schema_gets_a_callerror(raw_station, payload, code):
    answer = await raw_station.exchange(f'[2, "b-1", "BootNotification", {payload}]')
    assert answer[:3] == [4, "b-1", code]
    # The connection and the server are still up.
    answer = await raw_station.exchange('[2, "hb-2", "Heartbeat", {}]')
    assert answer[:2] == [3, "hb-2"]


async def test_bad_frames_are_logged_too(csms, raw_station, api):
    await raw_station.exchange("garbage", timeout=0.3)
    station_id = raw_station.ws.request.path.rsplit("/", 1)[-1]
    lines = (await api.get(f"/stations/{station_id}/logs")).json()
    assert any(line["message"] == "garbage" and line["source"] == "ocpp_in" for line in lines)
    assert await StationLog.objects.filter(station_id=station_id, message="garbage").aexists()
