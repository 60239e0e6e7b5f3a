"""Rate limits per API key (or per address without one), answered with 429 and
Retry-After. Rates are settings: CSMS_THROTTLE_KEY_RATE and CSMS_THROTTLE_ANON_RATE."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from api.authentication import role_of


class CallerRateThrottle(SimpleRateThrottle):
    """One budget per caller: a key's own, or the client address's when it has none.

    Counted in this process's memory (the ``throttle`` cache), so checking costs no
    network round trip; with several server processes each has its own budget.
    """

    cache = caches["throttle"]

    def __init__(self) -> None:  # the rate is chosen per request, not per class
        pass

    def allow_request(self, request, view) -> bool:
        known = role_of(request.user) is not None
        self.rate = settings.CSMS_THROTTLE_KEY_RATE if known else settings.CSMS_THROTTLE_ANON_RATE
        if not self.rate:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        user = request.user
        if role_of(user) is not None:
            ident = getattr(user, "pk", None) or getattr(user, "username", "user")
        else:
            ident = self.get_ident(request)
        return f"throttle:{ident}"
