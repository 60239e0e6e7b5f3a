"""Brute-force protection: failed authentications (a wrong, revoked or missing API key)
are counted per client address, with the anonymous rate (CSMS_THROTTLE_ANON_RATE) as
their budget.

DRF authenticates before it throttles, so a request with a bad key never reaches the
throttles: without this, key guessing would never be slowed down. An address over
its budget is answered 429 with Retry-After for every request that carries a key, a
valid one included, until the window has passed: were a valid key let through, a
guesser ignoring the 429s would still learn which guess was right. Valid keys
otherwise keep their own budget (api/throttles.py). Counted in the ``throttle`` cache,
in this process's memory, like the other budgets.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping

from django.conf import settings
from django.core.cache import caches
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings

logger = logging.getLogger(__name__)

_DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _budget() -> tuple[int, int] | None:
    """(failures allowed, window in seconds), or None when the anonymous rate is off."""
    rate = settings.CSMS_THROTTLE_ANON_RATE
    if not rate:
        return None
    count, period = rate.split("/")
    return int(count), _DURATIONS[period[0]]


def address_of(remote_addr: str | None, forwarded_for: str | None) -> str:
    """The client's address as DRF's throttles see it (``BaseThrottle.get_ident``):
    X-Forwarded-For counts only behind CSMS_NUM_PROXIES proxies."""
    proxies = api_settings.NUM_PROXIES
    if proxies and forwarded_for:
        addrs = forwarded_for.split(",")
        return addrs[-min(proxies, len(addrs))].strip()
    return remote_addr or "unknown"


def address_of_scope(scope: Mapping) -> str:
    """``address_of`` for an ASGI scope (the WebSocket handshakes)."""
    forwarded = next((value.decode("latin-1") for name, value in scope.get("headers", [])
                      if name.lower() == b"x-forwarded-for"), None)
    client = scope.get("client") or (None, None)
    return address_of(client[0], forwarded)


def address_of_request(request) -> str:
    """``address_of`` for a DRF or Django request."""
    return address_of(request.META.get("REMOTE_ADDR"),
                      request.META.get("HTTP_X_FORWARDED_FOR"))


def _key(address: str) -> str:
    return f"throttle:authfail:{address}"


def _recent(address: str, window: int, now: float) -> list[float]:
    history = caches["throttle"].get(_key(address), [])
    return [moment for moment in history if moment > now - window]


def wait_seconds(address: str) -> int | None:
    """Seconds before ``address`` may try a key again; None if it may now."""
    budget = _budget()
    if budget is None:
        return None
    allowed, window = budget
    now = time.time()
    history = _recent(address, window, now)
    if len(history) < allowed:
        return None
    return max(1, math.ceil(min(history) + window - now))


def check(address: str) -> None:
    """Raise Throttled (429 with Retry-After) if ``address`` has used up its failures."""
    wait = wait_seconds(address)
    if wait is not None:
        raise Throttled(wait=wait)


def record(address: str) -> None:
    """Count one failed authentication of ``address``."""
    budget = _budget()
    if budget is None:
        return
    allowed, window = budget
    now = time.time()
    history = _recent(address, window, now)
    history.append(now)
    caches["throttle"].set(_key(address), history[-allowed:], window)
    if len(history) == allowed:
        logger.warning("%s: %s failed authentications within %ss; refusing its keys for a "
                       "while", address, allowed, window)
