"""A simulated OCPP 1.6J charge point: connection lifecycle, CSMS requests, enforcement.

One Station is one ``ocpp.v16.ChargePoint`` that outlives its WebSocket: on every
(re)connection the socket, response queue and call lock are swapped, while installed
profiles, open transactions and meters stay. Everything a station does runs in one
asyncio TaskGroup (no threads), so a thousand of them in one process stay cheap.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ocpp.charge_point import snake_to_camel_case
from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.headers import build_authorization_basic

from profiles.scheduling import (
    CHARGE_POINT_MAX_PROFILE,
    TX_PROFILE,
    ActiveTransaction,
    ChargingProfile,
    InstalledProfile,
    composite_schedule,
    format_datetime,
    limit_at,
)

from .config import SessionPlan, StationConfig
from .ev import IN_TRANSACTION, Connector, EvSession, format_watts, limit_line
from .smart_charging import ProfileStore

logger = logging.getLogger(__name__)

LogHook = Callable[[str, datetime, str, str], None]
SUBPROTOCOL = "ocpp1.6"
TRIGGERABLE = ("BootNotification", "Heartbeat", "MeterValues", "StatusNotification")
WRITABLE_KEYS = ("HeartbeatInterval", "MeterValueSampleInterval")
MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import,Current.Import"


class NotConnectedError(ConnectionError):
    """Raised by Station.call when there is no live connection (or it dropped mid-call)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff_delay(attempt: int, low: float = 0.5, high: float = 30.0) -> float:
    """0.5 s doubling up to 30 s, +-20 % jitter so a restarted CSMS is not hit in lockstep."""
    base = min(high, low * (2 ** min(attempt, 16)))
    return min(high, base * random.uniform(0.8, 1.2))


def _plain(value: Any) -> Any:
    """Incoming payloads arrive snake_cased with Decimal limits; profiles want camelCase JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return value


def _camel_json(value: dict[str, Any]) -> dict[str, Any]:
    return snake_to_camel_case(_plain(value))


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class Station(ChargePoint):
    """A charge point with EVs, meters and a station-side smart charging store."""

    def __init__(self, config: StationConfig, *, on_log: LogHook | None = None) -> None:
        super().__init__(config.station_id, None, response_timeout=config.response_timeout)
        self.config = config
        self.on_log: LogHook | None = on_log
        self.log_lines: deque[tuple[datetime, str, str]] = deque(maxlen=config.log_capacity)
        self.profiles = ProfileStore(
            connectors=config.connectors,
            max_stack_level=config.max_stack_level,
            max_periods=config.max_periods,
            allowed_units=config.allowed_unit_codes,
            max_profiles=config.max_profiles,
            supported=config.smart_charging,
        )
        self.connectors: dict[int, Connector] = {
            i: Connector(i, config.max_power_w, config.phases)
            for i in range(1, config.connectors + 1)
        }
        self.status0 = "Available"
        self.heartbeat_interval: int = config.heartbeat_interval
        self.sample_interval: float = config.sample_interval
        self.boot_count = 0  # BootNotifications accepted, one per (re)connection
        self._tx: dict[int, ActiveTransaction] = {}  # connector id -> running transaction
        self._ws: ClientConnection | None = None
        self._lost: asyncio.Future[None] | None = None
        self._registered = asyncio.Event()  # boot accepted and statuses sent
        self._booted = False  # boot accepted on this connection
        self._heartbeat_changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._attempt = 0
        self._remote_start: tuple[Connector, dict[str, Any] | None] | None = None

    # ------------------------------------------------------------------ state

    @property
    def station_id(self) -> str:
        return self.config.station_id

    @property
    def connected(self) -> bool:
        """True while a WebSocket to the CSMS is open."""
        return self._ws is not None

    @property
    def registered(self) -> bool:
        """True once the CSMS accepted this connection's BootNotification and got the statuses."""
        return self._registered.is_set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def installed_profiles(self) -> list[InstalledProfile]:
        return list(self.profiles.installed)

    @property
    def transactions(self) -> dict[int, ActiveTransaction]:
        """Running transactions by connector id."""
        return dict(self._tx)

    @property
    def power_w(self) -> dict[int, float]:
        return {c.connector_id: c.power_w for c in self.connectors.values()}

    @property
    def limit_w(self) -> dict[int, float]:
        """The OCPP limit currently applied per connector."""
        return {c.connector_id: c.limit_w for c in self.connectors.values()}

    @property
    def energy_wh(self) -> dict[int, float]:
        """Meter register (Wh) per connector."""
        return {c.connector_id: c.meter_wh for c in self.connectors.values()}

    @property
    def statuses(self) -> dict[int, str]:
        out = {0: self.status0}
        out.update((c.connector_id, c.status) for c in self.connectors.values())
        return out

    @property
    def logs(self) -> list[tuple[datetime, str, str]]:
        return list(self.log_lines)

    # ------------------------------------------------------------------ logging

    def log(self, level: int, message: str) -> None:
        """Keep the line for the station's log view, forward it to the hook and to logging."""
        now = utcnow()
        name = logging.getLevelName(level)
        self.log_lines.append((now, name, message))
        hook = self.on_log
        if hook is not None:
            try:
                hook(self.station_id, now, name, message)
            except Exception:
                logger.exception("%s: on_log hook failed", self.station_id)
        if logger.isEnabledFor(level):
            logger.log(level, "%s: %s", self.station_id, message)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, delay: float = 0.0) -> None:  # type: ignore[override]
        """Start the station's task group (connection, sampler, planned sessions); non-blocking.

        ``delay`` postpones the first connection attempt so a fleet can ramp up.
        """
        if self.running:
            return
        self._task = asyncio.create_task(self._run(delay), name=f"station:{self.station_id}")
        # One loop turn lets the task enter its TaskGroup (no await before that), so
        # plug_in() and the handlers can spawn into it as soon as start() returns.
        await asyncio.sleep(0)

    async def stop(self) -> None:
        """Close the connection and stop every task; profiles and meters stay in memory."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("%s: stopped with an error", self.station_id)

    async def wait_registered(self, timeout: float | None = None) -> None:
        """Wait until the CSMS accepted a BootNotification on the current connection."""
        async with asyncio.timeout(timeout):
            await self._registered.wait()

    async def _run(self, delay: float) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(self._connection_loop(delay))
                tg.create_task(self._clock())
                for c in self.connectors.values():
                    if c.transaction is not None:  # started again mid-transaction
                        tg.create_task(self._guarded(self._sampler(c, c.transaction)))
                for plan in self.config.sessions:
                    tg.create_task(self._guarded(self._planned_session(plan)))
        finally:
            self._tg = None
            self._mark_disconnected()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a coroutine inside the station's task group, its errors logged, not fatal."""
        tg = self._tg
        if tg is None:
            coro.close()
            raise RuntimeError(f"station {self.station_id} is not running")
        tg.create_task(self._guarded(coro))

    async def _guarded(self, coro: Coroutine[Any, Any, Any]) -> None:
        try:
            await coro
        except (NotConnectedError, TimeoutError, OCPPError) as exc:
            self.log(logging.WARNING, f"gave up on a request: {exc or type(exc).__name__}")
        except Exception as exc:
            logger.exception("%s: task failed", self.station_id)
            self.log(logging.ERROR, f"internal error: {exc!r}")

    # ------------------------------------------------------------------ connection

    async def _connection_loop(self, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        cfg = self.config
        headers = None
        if cfg.password:
            headers = {"Authorization": build_authorization_basic(cfg.station_id, cfg.password)}
        while True:
            try:
                async with connect(
                    cfg.endpoint,
                    subprotocols=[SUBPROTOCOL],
                    compression=None,
                    additional_headers=headers,
                    proxy=None,
                    open_timeout=10,
                    close_timeout=2,
                    ping_interval=cfg.ping_interval,
                    max_size=2**20,
                ) as ws:
                    if ws.subprotocol != SUBPROTOCOL:
                        self.log(logging.ERROR, f"CSMS did not agree on {SUBPROTOCOL}; closing")
                    else:
                        await self._serve(ws)
            except (OSError, TimeoutError, WebSocketException) as exc:
                self.log(logging.WARNING, f"connection to {cfg.endpoint} failed: {exc!r}")
            except Exception as exc:  # a bug must not end the station: log and reconnect
                logger.exception("%s: connection error", self.station_id)
                self.log(logging.ERROR, f"connection error: {exc!r}")
            finally:
                self._mark_disconnected()
            wait = backoff_delay(self._attempt, cfg.reconnect_min_s, cfg.reconnect_max_s)
            self._attempt += 1
            self.log(logging.INFO, f"reconnecting in {wait:.1f}s")
            await asyncio.sleep(wait)

    async def _serve(self, ws: ClientConnection) -> None:
        """Run one connection: read frames while booting and heartbeating."""
        self._connection = ws
        self._ws = ws
        self._response_queue = asyncio.Queue()
        self._call_lock = asyncio.Lock()
        self._lost = asyncio.get_running_loop().create_future()
        self.log(logging.INFO, f"connected to {self.config.endpoint}")
        async with asyncio.TaskGroup() as tg:
            keeper = tg.create_task(self._boot_and_heartbeat())
            try:
                async for frame in ws:
                    await self.route_message(frame)
            except ConnectionClosed:
                pass
            finally:
                keeper.cancel()
                self._mark_disconnected()
        self.log(logging.WARNING, f"disconnected (close code {ws.close_code})")

    def _mark_disconnected(self) -> None:
        self._registered.clear()
        self._booted = False
        self._ws = None
        lost = self._lost
        if lost is not None and not lost.done():
            lost.set_result(None)

    async def call(  # type: ignore[override]
        self,
        payload: Any,
        suppress: bool = False,
        unique_id: str | None = None,
        skip_schema_validation: bool = False,
    ) -> Any:
        """ChargePoint.call that fails fast with NotConnectedError when the socket drops.

        Without this a request sent just before a disconnect would wait the whole
        response timeout, blocking the caller long after the station reconnected.
        """
        lost = self._lost
        if lost is None or lost.done():
            raise NotConnectedError(f"{self.station_id} is not connected")
        inner = asyncio.ensure_future(
            super().call(payload, suppress, unique_id, skip_schema_validation)
        )
        try:
            await asyncio.wait((inner, lost), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            inner.cancel()
            raise
        if inner.done():
            return inner.result()
        inner.cancel()
        raise NotConnectedError(f"{self.station_id} lost its connection")

    async def _request(self, payload: Any) -> Any | None:
        """Send a CALL; None (logged) when offline, timed out or answered with a CallError."""
        try:
            return await self.call(payload)
        except NotConnectedError:
            return None
        except TimeoutError:
            self.log(logging.WARNING, f"{type(payload).__name__}: no answer in time")
        except OCPPError as exc:
            self.log(logging.WARNING, f"{type(payload).__name__}: CallError {exc}")
        return None

    async def _request_online(self, payload: Any) -> Any:
        """Send a CALL that must arrive (transactions): wait for a connection and retry."""
        while True:
            await self._registered.wait()
            try:
                return await self.call(payload)
            except NotConnectedError:
                continue

    async def _send_boot(self) -> Any:
        cfg = self.config
        return await self.call(
            call.BootNotification(
                charge_point_model=cfg.model,
                charge_point_vendor=cfg.vendor,
                charge_point_serial_number=cfg.serial_number,
                firmware_version=cfg.firmware,
            )
        )

    async def _boot_and_heartbeat(self) -> None:
        while True:
            try:
                res = await self._send_boot()
            except TimeoutError:
                self.log(logging.WARNING, "BootNotification: no answer, retrying")
                continue
            except OCPPError as exc:
                self.log(logging.WARNING, f"BootNotification: CallError {exc}")
                res = None
            if res is not None and res.status == "Accepted":
                break
            wait = res.interval if res is not None and res.interval > 0 else 10
            status = res.status if res is not None else "error"
            self.log(logging.WARNING, f"BootNotification {status}; retrying in {wait}s")
            await asyncio.sleep(wait)
        self._accept_boot(res)
        await self._send_all_statuses()
        # Registered only now, so a status change made meanwhile is not sent twice.
        self._registered.set()
        while True:
            self._heartbeat_changed.clear()
            try:
                async with asyncio.timeout(self.heartbeat_interval):
                    await self._heartbeat_changed.wait()
                continue  # ChangeConfiguration: start over with the new interval
            except TimeoutError:
                pass
            await self._request(call.Heartbeat())

    def _accept_boot(self, res: Any) -> None:
        if res.interval > 0:
            self.heartbeat_interval = res.interval
        self.boot_count += 1
        self._attempt = 0
        self._booted = True
        self.log(
            logging.INFO,
            f"BootNotification accepted (heartbeat {self.heartbeat_interval}s, "
            f"boot #{self.boot_count})",
        )

    async def _send_all_statuses(self) -> None:
        await self._send_status(0, self.status0)
        for c in self.connectors.values():
            await self._send_status(c.connector_id, c.status)

    async def _send_status(self, connector_id: int, status: str) -> None:
        if not self._booted:
            return  # every status is sent again after the next BootNotification
        await self._request(
            call.StatusNotification(
                connector_id=connector_id,
                error_code="NoError",
                status=status,
                timestamp=format_datetime(utcnow()),
            )
        )

    async def _set_status(self, c: Connector, status: str) -> None:
        if c.status == status:
            return
        self.log(logging.INFO, f"connector {c.connector_id}: {c.status} → {status}")
        c.status = status
        await self._send_status(c.connector_id, status)

    # ------------------------------------------------------------------ enforcement

    def _limit_for(self, connector_id: int, now: datetime) -> float:
        cfg = self.config
        return limit_at(
            self.profiles.installed,
            connector_id,
            now,
            "W",
            transactions=self._tx,
            connector_max_w=cfg.max_power_w,
            number_of_connectors=cfg.connectors,
            number_phases=cfg.phases,
        )

    def _apply_limits(self) -> None:
        """Settle meters, then recompute each connector's OCPP limit and the EV's power.

        Called every sample and right after a profile change, so a new limit is
        enforced at once and energy before the change is booked at the old power.
        """
        t = asyncio.get_running_loop().time()
        for c in self.connectors.values():
            c.settle(t)
        installed = self.profiles.installed
        now = utcnow() if installed else None
        total = 0.0
        for c in self.connectors.values():
            limit = (
                min(self._limit_for(c.connector_id, now), c.max_power_w)
                if now is not None else c.max_power_w
            )
            if limit != c.limit_w:
                c.limit_w = limit
                self.log(logging.INFO, self._limit_message(c))
            c.power_w = min(c.demand_w, limit)
            total += c.power_w
        if (
            now is not None and len(self.connectors) > 1 and total > 0
            and any(i.profile.purpose == CHARGE_POINT_MAX_PROFILE for i in installed)
        ):
            # ChargePointMaxProfile caps the station as a whole: share it pro rata.
            cap = self._limit_for(0, now)
            if total > cap:
                scale = cap / total
                for c in self.connectors.values():
                    c.power_w = int(c.power_w * scale * 10) / 10

    def _limit_message(self, c: Connector) -> str:
        line = limit_line(c.limit_w, self.sample_interval)
        if len(self.connectors) > 1:
            line += f" [connector {c.connector_id}]"
        return line

    async def _sync_statuses(self) -> None:
        for c in self.connectors.values():
            if c.transaction is None or c.status not in IN_TRANSACTION:
                continue
            if c.session is not None and c.session.full:
                status = "SuspendedEV"
                if not c.finishing:
                    c.finishing = True
                    self.log(logging.INFO, f"connector {c.connector_id}: EV full")
                    self._spawn(self._ev_leaves(c))
            elif c.power_w > 0:
                status = "Charging"
            else:
                status = "SuspendedEVSE"
            await self._set_status(c, status)

    async def _reevaluate(self) -> None:
        self._apply_limits()
        await self._sync_statuses()

    async def _clock(self) -> None:
        """Limits that change with time (a schedule's next period) take effect, and are
        logged, within one sample interval, with or without a transaction."""
        while True:
            await asyncio.sleep(self.sample_interval)
            await self._reevaluate()

    async def _sampler(self, c: Connector, tx: ActiveTransaction) -> None:
        """Periodic MeterValues of one transaction, every MeterValueSampleInterval from
        its start (OCPP 1.6, 9.1.17), not on a clock shared by every station: a fleet's
        transactions start at different times and so do their samples."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while c.transaction is tx:
            due += self.sample_interval
            pause = due - loop.time()
            if pause < 0:  # fell behind (slow CSMS): skip, do not burst
                due = loop.time()
                pause = 0.0
            await asyncio.sleep(pause)
            if c.transaction is not tx:
                return
            self._apply_limits()  # the meter settled up to now; statuses are _clock's
            if self.registered:
                await self._request(self._meter_values(c, "Sample.Periodic"))

    def _meter_values(self, c: Connector, context: str) -> call.MeterValues:
        ctx = context
        return call.MeterValues(
            connector_id=c.connector_id,
            transaction_id=c.transaction.transaction_id if c.transaction else None,
            meter_value=[{
                "timestamp": format_datetime(utcnow()),
                "sampledValue": [
                    {"value": f"{c.meter_wh:.2f}", "context": ctx,
                     "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": f"{c.power_w:.1f}", "context": ctx,
                     "measurand": "Power.Active.Import", "unit": "W"},
                    {"value": f"{c.current_a:.2f}", "context": ctx,
                     "measurand": "Current.Import", "unit": "A"},
                ],
            }],
        )

    # ------------------------------------------------------------------ sessions

    def _connector(self, connector_id: int) -> Connector:
        try:
            return self.connectors[connector_id]
        except KeyError:
            raise ValueError(f"{self.station_id} has no connector {connector_id}") from None

    def _reserve(self, connector_id: int, session: EvSession) -> Connector:
        c = self._connector(connector_id)
        if c.session is not None or c.transaction is not None:
            raise RuntimeError(f"connector {connector_id} of {self.station_id} is occupied")
        c.session = session
        c.finishing = False
        return c

    async def plug_in(
        self,
        connector_id: int,
        energy_wh: float,
        ev_max_w: float,
        *,
        id_tag: str | None = None,
    ) -> int | None:
        """Plug an EV in, authorize and start a transaction; return its id (None if refused).

        Waits for the CSMS if the station is offline, as a charger holds the EV until it
        can start the transaction.
        """
        session = EvSession(float(energy_wh), float(ev_max_w), id_tag or self.config.id_tag)
        c = self._reserve(connector_id, session)
        return await self._start_session(c, authorize=True)

    async def _start_session(
        self, c: Connector, *, authorize: bool, profile: dict[str, Any] | None = None
    ) -> int | None:
        session = c.session
        assert session is not None
        self.log(
            logging.INFO,
            f"EV plugged in on connector {c.connector_id} "
            f"(needs {session.energy_wh:.0f}Wh, max {format_watts(session.ev_max_w)}W)",
        )
        await self._set_status(c, "Preparing")
        if authorize:
            res = await self._request_online(call.Authorize(id_tag=session.id_tag))
            if res.id_tag_info["status"] != "Accepted":
                self.log(logging.WARNING, f"idTag {session.id_tag} {res.id_tag_info['status']}")
                c.session = None
                await self._set_status(c, "Available")
                return None
        c.settle(asyncio.get_running_loop().time())
        started = utcnow()
        c.meter_start_wh = int(c.meter_wh)
        res = await self._request_online(
            call.StartTransaction(
                connector_id=c.connector_id,
                id_tag=session.id_tag,
                meter_start=c.meter_start_wh,
                timestamp=format_datetime(started),
            )
        )
        tx = ActiveTransaction(res.transaction_id, started)
        c.transaction = tx
        self._tx[c.connector_id] = tx
        c.last_settle = asyncio.get_running_loop().time()
        self.log(
            logging.INFO, f"transaction {tx.transaction_id} started on connector {c.connector_id}"
        )
        if res.id_tag_info["status"] != "Accepted":
            self.log(logging.WARNING, f"StartTransaction idTag {res.id_tag_info['status']}")
            await self._end_transaction(c, "DeAuthorized")
            c.session = None
            await self._set_status(c, "Available")
            return None
        if c.session is not session:  # unplugged while we waited for the CSMS
            await self._end_transaction(c, "EVDisconnected")
            await self._set_status(c, "Available")
            return None
        if profile is not None:
            self._install(c.connector_id, profile, "RemoteStartTransaction")
        self._apply_limits()
        await self._set_status(c, "Charging" if c.power_w > 0 else "SuspendedEVSE")
        self._spawn(self._sampler(c, tx))
        return tx.transaction_id

    async def unplug(self, connector_id: int) -> None:
        """The driver unplugs: stop the running transaction (EVDisconnected), then Available."""
        c = self._connector(connector_id)
        if c.transaction is not None:
            await self._end_transaction(c, "EVDisconnected")
        if c.session is not None:
            c.session = None
            self.log(logging.INFO, f"EV unplugged from connector {connector_id}")
        await self._set_status(c, "Available")

    async def _end_transaction(self, c: Connector, reason: str) -> None:
        """Stop locally at once; the StopTransaction is delivered whenever the CSMS is there."""
        tx = c.transaction
        if tx is None:
            return
        c.settle(asyncio.get_running_loop().time())
        c.power_w = 0.0
        c.transaction = None
        self._tx.pop(c.connector_id, None)
        meter_stop = int(c.meter_wh)
        dropped = self.profiles.drop_transaction(c.connector_id, tx.transaction_id)
        self.log(
            logging.INFO,
            f"transaction {tx.transaction_id} stopped ({reason}), "
            f"{meter_stop - c.meter_start_wh}Wh delivered",
        )
        if dropped:
            ids = ", ".join(str(i.profile.charging_profile_id) for i in dropped)
            self.log(
                logging.INFO, f"TxProfile {ids} discarded with transaction {tx.transaction_id}"
            )
        stop = call.StopTransaction(
            meter_stop=meter_stop,
            timestamp=format_datetime(utcnow()),
            transaction_id=tx.transaction_id,
            reason=reason,
        )
        self._spawn(self._request_online(stop))
        await self._set_status(c, "Finishing")
        self._apply_limits()  # the other connectors may now get a bigger share

    async def _ev_leaves(self, c: Connector) -> None:
        """A full EV is unplugged one sample later (real drivers take longer; tests do not)."""
        await asyncio.sleep(self.sample_interval)
        if c.finishing and c.transaction is not None:
            await self.unplug(c.connector_id)

    async def _planned_session(self, plan: SessionPlan) -> None:
        await asyncio.sleep(plan.plug_in_after_s)
        await self.plug_in(plan.connector_id, plan.energy_wh, plan.ev_max_w, id_tag=plan.id_tag)

    # ------------------------------------------------------------------ smart charging

    def _install(self, connector_id: int, profile: dict[str, Any], source: str) -> str:
        decision = self.profiles.set(connector_id, profile, transactions=self._tx, now=utcnow())
        p = decision.profile
        what = (
            f"profile {p.charging_profile_id} ({p.purpose}, stack {p.stack_level}, "
            f"{p.kind}) on connector {connector_id}"
            if p is not None else f"profile on connector {connector_id}"
        )
        if decision.accepted:
            extra = f", replacing {list(decision.replaced)}" if decision.replaced else ""
            self.log(logging.INFO, f"{source}: {what} Accepted{extra}")
        else:
            self.log(logging.WARNING, f"{source}: {what} {decision.status}: {decision.reason}")
        return decision.status

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any], **_: Any
    ) -> call_result.SetChargingProfile:
        if self.config.answer_delay_s > 0:
            await asyncio.sleep(self.config.answer_delay_s)
        profile = _camel_json(cs_charging_profiles)
        status = self._install(connector_id, profile, "SetChargingProfile")
        return call_result.SetChargingProfile(status=status)

    @after(Action.set_charging_profile)
    def after_set_charging_profile(self, **_: Any) -> None:
        self._spawn(self._reevaluate())

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
        **_: Any,
    ) -> call_result.ClearChargingProfile:
        removed = self.profiles.clear(
            profile_id=id,
            connector_id=connector_id,
            purpose=charging_profile_purpose,
            stack_level=stack_level,
        )
        asked = {"id": id, "connectorId": connector_id,
                 "chargingProfilePurpose": charging_profile_purpose, "stackLevel": stack_level}
        filters = ", ".join(f"{k}={v}" for k, v in asked.items() if v is not None) or "all"
        if removed:
            ids = [i.profile.charging_profile_id for i in removed]
            self.log(logging.INFO, f"ClearChargingProfile ({filters}): cleared {ids}")
            return call_result.ClearChargingProfile(status="Accepted")
        self.log(logging.INFO, f"ClearChargingProfile ({filters}): nothing matched, Unknown")
        return call_result.ClearChargingProfile(status="Unknown")

    @after(Action.clear_charging_profile)
    def after_clear_charging_profile(self, **_: Any) -> None:
        self._spawn(self._reevaluate())

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None, **_: Any
    ) -> call_result.GetCompositeSchedule:
        cfg = self.config
        allowed = cfg.allowed_unit_codes
        unit = charging_rate_unit or ("W" if "W" in allowed else "A")
        reason = None
        if not cfg.smart_charging:
            reason = "SmartCharging not supported"
        elif not 0 <= connector_id <= cfg.connectors:
            reason = f"unknown connector {connector_id}"
        elif unit not in allowed:
            reason = f"chargingRateUnit {unit} not allowed"
        elif duration <= 0:
            reason = "duration must be positive"
        if reason is not None:
            self.log(logging.WARNING, f"GetCompositeSchedule Rejected: {reason}")
            return call_result.GetCompositeSchedule(status="Rejected")
        now = utcnow().replace(microsecond=0)
        schedule = composite_schedule(
            self.profiles.installed,
            connector_id,
            now,
            duration,
            unit,
            transactions=self._tx,
            connector_max_w=cfg.max_power_w,
            number_of_connectors=cfg.connectors,
            number_phases=cfg.phases,
        )
        self.log(
            logging.INFO,
            f"GetCompositeSchedule connector {connector_id}, {duration}s in {unit}: "
            f"{len(schedule.periods)} period(s)",
        )
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=format_datetime(now),
            charging_schedule=schedule.to_ocpp(),
        )

    # ------------------------------------------------------------------ configuration

    def configuration(self) -> dict[str, tuple[str, bool]]:
        """Configuration keys as (value, readonly), as GetConfiguration reports them."""
        cfg = self.config
        keys: dict[str, tuple[str, bool]] = {
            "HeartbeatInterval": (str(self.heartbeat_interval), False),
            "MeterValueSampleInterval": (_format_number(self.sample_interval), False),
            "NumberOfConnectors": (str(cfg.connectors), True),
            "SupportedFeatureProfiles": (cfg.feature_profiles, True),
            "MeterValuesSampledData": (MEASURANDS, True),
            "AuthorizeRemoteTxRequests": ("false", True),
        }
        if cfg.smart_charging:
            keys.update({
                "ChargeProfileMaxStackLevel": (str(cfg.max_stack_level), True),
                "ChargingScheduleAllowedChargingRateUnit": (cfg.allowed_units, True),
                "ChargingScheduleMaxPeriods": (str(cfg.max_periods), True),
                "MaxChargingProfilesInstalled": (str(cfg.max_profiles), True),
            })
        return keys

    @on(Action.get_configuration)
    def on_get_configuration(
        self, key: list[str] | None = None, **_: Any
    ) -> call_result.GetConfiguration:
        known = self.configuration()
        wanted = key or list(known)
        found = [
            {"key": k, "readonly": known[k][1], "value": known[k][0]} for k in wanted if k in known
        ]
        unknown = [k for k in wanted if k not in known]
        return call_result.GetConfiguration(
            configuration_key=found, unknown_key=unknown or None
        )

    @on(Action.change_configuration)
    def on_change_configuration(
        self, key: str, value: str, **_: Any
    ) -> call_result.ChangeConfiguration:
        known = self.configuration()
        if key not in known:
            status = "NotSupported"
        elif key not in WRITABLE_KEYS:
            status = "Rejected"
        else:
            try:
                number = float(value)
            except ValueError:
                number = -1.0
            if key == "HeartbeatInterval" and number > 0 and number.is_integer():
                self.heartbeat_interval = int(number)
                self._heartbeat_changed.set()
                status = "Accepted"
            elif key == "MeterValueSampleInterval" and number > 0:
                self.sample_interval = number
                status = "Accepted"
            else:
                status = "Rejected"
        self.log(logging.INFO, f"ChangeConfiguration {key}={value}: {status}")
        return call_result.ChangeConfiguration(status=status)

    # ------------------------------------------------------------------ remote control

    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> call_result.TriggerMessage:
        if requested_message not in TRIGGERABLE:
            status = "NotImplemented"
        elif connector_id is not None and not 0 <= connector_id <= self.config.connectors:
            status = "Rejected"
        else:
            status = "Accepted"
        self.log(logging.INFO, f"TriggerMessage {requested_message}: {status}")
        return call_result.TriggerMessage(status=status)

    @after(Action.trigger_message)
    def after_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> None:
        if requested_message not in TRIGGERABLE:
            return
        if connector_id is not None and not 0 <= connector_id <= self.config.connectors:
            return
        self._spawn(self._send_triggered(requested_message, connector_id))

    async def _send_triggered(self, message: str, connector_id: int | None) -> None:
        if message == "BootNotification":
            res = await self._send_boot()
            if res.status == "Accepted":
                self._accept_boot(res)
        elif message == "Heartbeat":
            await self._request(call.Heartbeat())
        elif message == "StatusNotification":
            if connector_id is None:
                await self._send_all_statuses()
            elif connector_id == 0:
                await self._send_status(0, self.status0)
            else:
                await self._send_status(connector_id, self.connectors[connector_id].status)
        else:
            self._apply_limits()
            targets = (
                list(self.connectors.values()) if not connector_id
                else [self.connectors[connector_id]]
            )
            for c in targets:
                await self._request(self._meter_values(c, "Trigger"))

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
        **_: Any,
    ) -> call_result.RemoteStartTransaction:
        self._remote_start = None
        reason = self._remote_start_problem(connector_id, charging_profile)
        if reason is None:
            cid = connector_id or next(
                c.connector_id for c in self.connectors.values()
                if c.session is None and c.transaction is None
            )
            cfg = self.config
            c = self._reserve(cid, EvSession(cfg.remote_ev_energy_wh, cfg.remote_ev_max_w, id_tag))
            profile = _camel_json(charging_profile) if charging_profile else None
            self._remote_start = (c, profile if cfg.smart_charging else None)
            self.log(logging.INFO, f"RemoteStartTransaction {id_tag} on connector {cid}: Accepted")
            return call_result.RemoteStartTransaction(status="Accepted")
        self.log(logging.WARNING, f"RemoteStartTransaction {id_tag} Rejected: {reason}")
        return call_result.RemoteStartTransaction(status="Rejected")

    def _remote_start_problem(
        self, connector_id: int | None, charging_profile: dict[str, Any] | None
    ) -> str | None:
        free = [c for c in self.connectors.values() if c.session is None and c.transaction is None]
        if connector_id is not None:
            if connector_id not in self.connectors:
                return f"unknown connector {connector_id}"
            if self.connectors[connector_id] not in free:
                return f"connector {connector_id} is occupied"
        elif not free:
            return "no free connector"
        if charging_profile and self.config.smart_charging:
            try:
                profile = ChargingProfile.from_ocpp(_camel_json(charging_profile))
            except (ValueError, TypeError, KeyError) as exc:
                return f"malformed chargingProfile: {exc}"
            if profile.purpose != TX_PROFILE:
                return "chargingProfile must be a TxProfile"
        return None

    @after(Action.remote_start_transaction)
    def after_remote_start_transaction(self, **_: Any) -> None:
        pending, self._remote_start = self._remote_start, None
        if pending is not None:
            c, profile = pending
            self._spawn(self._start_session(c, authorize=False, profile=profile))

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(
        self, transaction_id: int, **_: Any
    ) -> call_result.RemoteStopTransaction:
        found = any(tx.transaction_id == transaction_id for tx in self._tx.values())
        status = "Accepted" if found else "Rejected"
        self.log(logging.INFO, f"RemoteStopTransaction {transaction_id}: {status}")
        return call_result.RemoteStopTransaction(status=status)

    @after(Action.remote_stop_transaction)
    def after_remote_stop_transaction(self, transaction_id: int, **_: Any) -> None:
        for cid, tx in self._tx.items():
            if tx.transaction_id == transaction_id:
                self._spawn(self._remote_stop(self.connectors[cid]))
                return

    async def _remote_stop(self, c: Connector) -> None:
        await self._end_transaction(c, "Remote")
        c.session = None  # the driver takes the cable away
        await self._set_status(c, "Available")
