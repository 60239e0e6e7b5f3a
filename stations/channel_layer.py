"""The in-memory channel layer of the embedded mode (no ``REDIS_URL``), built to hold
tens of thousands of connections in one process.

Channels' own ``InMemoryChannelLayer`` scans every channel and every group membership
for expired messages on each ``receive`` and each ``group_send``. Every connected
station's consumer waits on a channel of its own, so each new connection and each
event paid for all the others: booting N stations cost O(N²), and with 10,000 stations
the scan took most of the event loop. It also keeps an ``asyncio.Queue`` (four deques,
a few kB) per waiting consumer.

This layer keeps the same promises (what ``receive`` returns, per-channel capacity and
``ChannelFull``, message expiry, a channel whose message expired leaves its groups,
group membership expiry, ``flush``) at a cost that does not grow with idle channels:

- a waiting receiver costs one future; queued messages live in a deque that exists only
  while the channel has messages;
- expired messages are dropped from the channel being read when it is read, and by a
  sweep that runs at most once per ``sweep_interval`` seconds and only looks at the
  channels that hold messages (and at group memberships, for ``group_expiry``);
- ``group_send`` puts the message on each member channel directly (no task per member).

Like channels' layer, it only works within one process: several server processes need
Redis (``REDIS_URL``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from copy import deepcopy
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer


class _Channel:
    __slots__ = ("messages", "waiters")

    def __init__(self) -> None:
        self.messages: deque[tuple[float, dict]] | None = None  # (expires at, message)
        self.waiters: list[asyncio.Future] | None = None


class LocalChannelLayer(InMemoryChannelLayer):
    """A drop-in ``InMemoryChannelLayer`` whose costs do not grow with idle channels."""

    def __init__(self, expiry: int = 60, group_expiry: int = 86400, capacity: int = 100,
                 channel_capacity: Any = None, sweep_interval: float = 1.0,
                 **kwargs: Any) -> None:
        super().__init__(expiry=expiry, group_expiry=group_expiry, capacity=capacity,
                         channel_capacity=channel_capacity, **kwargs)
        # Glob patterns to compiled ones (channels' in-memory layer forgets to, and fails).
        self.channel_capacity = self.compile_capacities(channel_capacity or {})
        self.sweep_interval = sweep_interval
        self.channels: dict[str, _Channel] = {}  # type: ignore[assignment]
        self._backlogged: set[str] = set()  # channels holding at least one message
        self._next_sweep = 0.0

    # --- the channel layer API ------------------------------------------------------------

    async def send(self, channel: str, message: dict) -> None:
        """Put ``message`` on ``channel``; ``ChannelFull`` when it holds ``capacity``."""
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        self._maybe_sweep()
        self._put(channel, message)

    async def receive(self, channel: str) -> dict:
        """The first unexpired message on ``channel``, waiting for one if need be. If
        several coroutines wait on one channel, each message goes to one of them."""
        self.require_valid_channel_name(channel)
        self._maybe_sweep()
        loop = asyncio.get_running_loop()
        while True:
            entry = self.channels.get(channel)
            if entry is None:
                entry = self.channels[channel] = _Channel()
            self._drop_expired(channel, entry, time.time())
            if entry.messages:
                break
            waiter = loop.create_future()
            if entry.waiters is None:
                entry.waiters = []
            entry.waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                self._forget_waiter(entry, waiter)
                if waiter.done() and not waiter.cancelled():
                    self._wake(entry)  # woken for a message, cancelled before taking it
                self._forget_if_idle(channel, entry)
                raise
            self._forget_waiter(entry, waiter)
            # The message may be gone (another receiver, expiry, flush): look again.
        _, message = entry.messages.popleft()
        if entry.messages:
            self._wake(entry)  # more for any other receiver
        else:
            entry.messages = None
            self._backlogged.discard(channel)
        self._forget_if_idle(channel, entry)
        return message

    async def group_send(self, group: str, message: dict) -> None:
        """Put ``message`` on every channel of ``group``; a full channel misses it."""
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._maybe_sweep()
        for channel in list(self.groups.get(group, ())):
            with contextlib.suppress(ChannelFull):
                self._put(channel, message)

    async def flush(self) -> None:
        """Drop every message and group; receivers waiting now go on waiting."""
        self.channels = {name: entry for name, entry in self.channels.items() if entry.waiters}
        for entry in self.channels.values():
            entry.messages = None
        self.groups = {}
        self._backlogged = set()

    def has_members(self, group: str) -> bool:
        """Whether any channel of this process belongs to ``group`` (nobody else can)."""
        return bool(self.groups.get(group))

    # --- internals -----------------------------------------------------------------------

    def _put(self, channel: str, message: dict) -> None:
        entry = self.channels.get(channel)
        if entry is None:
            entry = self.channels[channel] = _Channel()
        if entry.messages is None:
            entry.messages = deque()
        elif len(entry.messages) >= self.get_capacity(channel):
            raise ChannelFull(channel)
        entry.messages.append((time.time() + self.expiry, deepcopy(message)))
        self._backlogged.add(channel)
        self._wake(entry)

    @staticmethod
    def _wake(entry: _Channel) -> None:
        for waiter in entry.waiters or ():
            if not waiter.done():
                waiter.set_result(None)
                return

    @staticmethod
    def _forget_waiter(entry: _Channel, waiter: asyncio.Future) -> None:
        if entry.waiters is not None:
            with contextlib.suppress(ValueError):
                entry.waiters.remove(waiter)
            if not entry.waiters:
                entry.waiters = None

    def _forget_if_idle(self, channel: str, entry: _Channel) -> None:
        if not entry.messages and not entry.waiters and self.channels.get(channel) is entry:
            del self.channels[channel]

    def _drop_expired(self, channel: str, entry: _Channel, now: float) -> None:
        messages = entry.messages
        if not messages or messages[0][0] >= now:
            return
        while messages and messages[0][0] < now:
            messages.popleft()
        # A channel that let a message expire is presumed gone: it leaves its groups.
        self._remove_from_groups(channel)
        if not messages:
            entry.messages = None
            self._backlogged.discard(channel)

    def _maybe_sweep(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.sweep_interval
            self._clean_expired()

    def _clean_expired(self) -> None:
        """Drop expired messages (only channels holding messages are looked at) and end
        group memberships older than ``group_expiry``."""
        now = time.time()
        for channel in list(self._backlogged):
            entry = self.channels.get(channel)
            if entry is None:
                self._backlogged.discard(channel)
            else:
                self._drop_expired(channel, entry, now)
                self._forget_if_idle(channel, entry)
        horizon = int(now) - self.group_expiry
        for group, members in list(self.groups.items()):
            for name, joined in list(members.items()):
                if joined and joined < horizon:
                    members.pop(name, None)
            if not members:
                self.groups.pop(group, None)
