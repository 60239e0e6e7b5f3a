"""The central system's side of one OCPP 1.6J connection, on the ``ocpp`` package.

Handlers for what a station sends, and :meth:`CentralSystem.send_call` for what the
CSMS asks of it. Framing, schema validation and routing are the package's; this class
only decides the answers and records what it hears (through :mod:`stations.services`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

from django.conf import settings
from django.utils import timezone
from ocpp.exceptions import InternalError, OCPPError
from ocpp.messages import Call, CallError, MessageType, _validate_payload, unpack
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    DataTransferStatus,
    RegistrationStatus,
)

from stations import db, events, last_seen, services

logger = logging.getLogger(__name__)

OCPP_VERSION = "1.6"
CONFIGURATION_KEYS = list(services.SMART_CHARGING_KEYS)


def _now_iso() -> str:
    return timezone.now().isoformat().replace("+00:00", "Z")


class CentralSystem(ChargePoint):
    """One station as seen from the CSMS."""

    def __init__(self, station_id: str, connection: Any) -> None:
        # The gateway enforces deadlines itself (see send_call); this one only bounds the
        # package's own calls.
        super().__init__(station_id, connection, response_timeout=settings.OCPP_CALL_TIMEOUT)
        self.open_transactions: dict[int, int] = {}  # connector -> transaction id

    # --- CSMS → station ------------------------------------------------------------------

    async def send_call(self, action: str, payload: dict, timeout: float) -> dict:
        """Send one CALL with a camelCase payload and return the CALLRESULT's payload.

        Raises ``OCPPError`` for a CALLERROR or an answer that breaks the schema and
        ``asyncio.TimeoutError`` when no answer comes in ``timeout`` seconds. At most one
        CALL is outstanding per connection (OCPP-J); later ones wait for the lock. An
        answer that arrives after its deadline is discarded by its unique id when the
        next answer is awaited, so it can never be taken for another call's answer.
        """
        request = Call(unique_id=str(uuid.uuid4()), action=action, payload=payload)
        _validate_payload(request, OCPP_VERSION)
        async with self._call_lock:
            await self._send(request.to_json())
            response = await self._get_specific_response(request.unique_id, timeout)
        if response.message_type_id == MessageType.CallError:
            raise response.to_exception()
        answer = response.payload
        response.action = action
        _validate_payload(response, OCPP_VERSION)  # replaces response.payload, not `answer`
        return answer

    async def fetch_configuration(self) -> None:
        """Ask for the smart charging configuration keys and store the answer."""
        try:
            answer = await asyncio.wait_for(
                self.send_call(
                    "GetConfiguration",
                    {"key": CONFIGURATION_KEYS},
                    settings.OCPP_CONFIG_TIMEOUT,
                ),
                settings.OCPP_CONFIG_TIMEOUT,
            )
        except (TimeoutError, OCPPError) as exc:
            logger.warning("%s: GetConfiguration failed: %r", self.id, exc)
            return
        await db.run(services.store_configuration,
            self.id, answer.get("configurationKey", []), answer.get("unknownKey", [])
        )
        logger.info("%s: configuration stored", self.id)

    async def _send(self, message: str) -> None:
        if message.startswith("[4,"):
            message = _ocpp16_error_codes(message)
        await self._connection.send(message)

    # --- station → CSMS ------------------------------------------------------------------

    async def route_frame(self, raw: str) -> None:
        """Route one frame, answering what cannot be parsed as OCPP-J requires.

        Unlike ``ChargePoint.route_message`` this never lets an exception escape: one
        broken frame must not end the connection.
        """
        try:
            msg = unpack(raw)
        except RecursionError:
            logger.warning("%s: frame nested too deep; dropped", self.id)
            return
        except OCPPError as error:
            unique_id = _unique_id_of(raw)
            logger.warning("%s: unparseable frame (%s): %.200s", self.id, error, raw)
            if unique_id is not None:
                reply = CallError(unique_id, error.code, error.description, error.details)
                await self._send(reply.to_json())
            return
        if msg.message_type_id == MessageType.Call:
            try:
                await self._handle_call(msg)
            except OCPPError as error:
                logger.warning("%s: %s refused: %s", self.id, msg.action, error)
                await self._send(msg.create_call_error(error).to_json())
            except OSError:
                raise  # the answer could not be written: the station is gone (the consumer logs it)
            except Exception:
                logger.exception("%s: error while handling %s", self.id, msg.action)
                await self._send(msg.create_call_error(InternalError()).to_json())
        elif self._call_lock.locked():
            self._response_queue.put_nowait(msg)
        else:
            # Nothing is awaiting an answer: an unsolicited CALLRESULT/CALLERROR is dropped
            # rather than queued for a call that will never claim it.
            logger.warning("%s: answer to no pending call dropped (%s)", self.id, msg.unique_id)

    @on(Action.boot_notification)
    async def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> call_result.BootNotification:
        await db.run(services.record_boot,
            self.id,
            charge_point_vendor,
            charge_point_model,
            kwargs.get("charge_point_serial_number", ""),
            kwargs.get("firmware_version", ""),
        )
        logger.info("%s booted (%s %s)", self.id, charge_point_vendor, charge_point_model)
        return call_result.BootNotification(
            current_time=_now_iso(),
            interval=settings.OCPP_HEARTBEAT_INTERVAL,
            status=RegistrationStatus.accepted,
        )

    @after(Action.boot_notification)
    async def after_boot_notification(self, **kwargs: Any) -> None:
        await self.fetch_configuration()

    @on(Action.heartbeat)
    async def on_heartbeat(self) -> call_result.Heartbeat:
        last_seen.seen(self.id)
        return call_result.Heartbeat(current_time=_now_iso())

    @on(Action.status_notification)
    async def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **kwargs: Any
    ) -> call_result.StatusNotification:
        await db.run(services.record_status,
            self.id,
            connector_id,
            status,
            error_code,
            kwargs.get("info", ""),
            kwargs.get("vendor_error_code", ""),
            kwargs.get("timestamp"),
        )
        events.publish(
            "station.status", self.id, connector_id=connector_id, status=status,
            error_code=error_code,
        )
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str) -> call_result.Authorize:
        return call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.start_transaction)
    async def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kwargs: Any
    ) -> call_result.StartTransaction:
        tx = await db.run(services.start_transaction,
            self.id, connector_id, id_tag, meter_start, timestamp
        )
        self.open_transactions[connector_id] = tx.pk
        logger.info("%s: transaction %s started on connector %s", self.id, tx.pk, connector_id)
        return call_result.StartTransaction(
            transaction_id=tx.pk, id_tag_info={"status": AuthorizationStatus.accepted}
        )

    @on(Action.stop_transaction)
    async def on_stop_transaction(
        self, meter_stop: int, timestamp: str, transaction_id: int, **kwargs: Any
    ) -> call_result.StopTransaction:
        tx = await db.run(services.stop_transaction,
            self.id, transaction_id, meter_stop, timestamp, kwargs.get("reason", "")
        )
        if tx is not None:
            self.open_transactions.pop(tx.connector_id, None)
            logger.info("%s: transaction %s stopped", self.id, transaction_id)
        return call_result.StopTransaction(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.meter_values)
    async def on_meter_values(
        self, connector_id: int, meter_value: list[dict], **kwargs: Any
    ) -> call_result.MeterValues:
        await db.run(services.record_meter_values,
            self.id, connector_id, meter_value
        )
        return call_result.MeterValues()

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> call_result.DataTransfer:
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)


# The ocpp package names CALLERROR codes as OCPP 2.0 does; OCPP-J 1.6 (section 4.2.3)
# spells two of them differently, and strict 1.6 stations reject unknown codes.
_OCPP16_ERROR_CODES = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
}


def _ocpp16_error_codes(frame: str) -> str:
    message = json.loads(frame)
    if len(message) > 2 and message[2] in _OCPP16_ERROR_CODES:
        message[2] = _OCPP16_ERROR_CODES[message[2]]
        return json.dumps(message, separators=(",", ":"))
    return frame


def _unique_id_of(raw: str) -> str | None:
    """The message id of a frame that is a JSON array with a string id, if it is one."""
    try:
        frame = json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        return None
    if isinstance(frame, list) and len(frame) > 1 and isinstance(frame[1], str):
        return frame[1]
    return None
