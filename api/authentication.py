"""REST API authentication by API key (``Authorization: Bearer <key>`` or ``X-API-Key``)
and the roles that decide what a caller may do."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from api import auth_failures
from api.models import ROLE_RANK, ApiKey, Role

logger = logging.getLogger(__name__)

# Valid keys are kept briefly so that a busy client costs no query per request; a
# revoked key stops working within this many seconds. Bounded: invalid keys are never
# kept, so random guesses cannot grow it.
CACHE_SECONDS = 10.0
CACHE_SIZE = 10_000
_cache: dict[str, tuple[float, ApiKey]] = {}


@dataclass(frozen=True)
class ApiKeyUser:
    """The caller behind a key, shaped enough like a user for DRF and the throttles."""

    key_id: int
    name: str
    role: str
    is_authenticated: bool = True
    is_staff: bool = False

    @property
    def pk(self) -> str:
        return f"key:{self.key_id}"


def lookup(secret: str) -> ApiKey | None:
    """The live key for ``secret``, or None."""
    prefix = ApiKey.prefix_of(secret)
    if prefix is None:
        return None
    now = time.monotonic()
    cached = _cache.get(secret)
    if cached is not None and cached[0] > now:
        return cached[1]
    key = ApiKey.objects.filter(prefix=prefix, revoked=False).first()
    if key is not None and not key.matches(secret):
        key = None
    if key is None:
        return None
    if (key.last_used_at is None or
                            (timezone.now() - key.last_used_at).total_seconds() > 60):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    if len(_cache) >= CACHE_SIZE:
        _cache.clear()
    _cache[secret] = (now + CACHE_SECONDS, key)
    return key


def cached(secret: str) -> ApiKey | None:
    """The key for ``secret`` if it was looked up recently; never queries."""
    entry = _cache.get(secret)
    return entry[1] if entry is not None and entry[0] > time.monotonic() else None


def pin(request, secret: str, key: ApiKey) -> None:
    """Have ``authenticate`` use ``key``, found in the cache just before, for this
    request: were the entry to expire in between (a garbage-collection pause is enough),
    authentication running on the event loop would query the database there."""
    request._csms_pinned_key = (secret, key)


def secret_from(headers: Any) -> str | None:
    """The key a request carries, from either header."""
    header = headers.get("Authorization") or headers.get("authorization") or ""
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return (headers.get("X-API-Key") or headers.get("x-api-key") or "").strip() or None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request) -> tuple[ApiKeyUser, ApiKey] | None:
        secret = secret_from(request.headers)
        if secret is None:
            return None
        # Before the lookup: an address guessing keys learns nothing more (see
        # api/auth_failures.py), and costs no more queries.
        address = auth_failures.address_of_request(request)
        auth_failures.check(address)
        pinned = getattr(request._request, "_csms_pinned_key", None)
        key = pinned[1] if pinned is not None and pinned[0] == secret else lookup(secret)
        if key is None:
            auth_failures.record(address)
            raise exceptions.AuthenticationFailed("Invalid or revoked API key")
        return ApiKeyUser(key.pk, key.name, key.role), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="csms"'


def role_of(user: Any) -> str | None:
    if isinstance(user, ApiKeyUser):
        return user.role
    if getattr(user, "is_authenticated", False) and getattr(user, "is_staff", False):
        return Role.ADMIN if user.is_superuser else Role.OPERATOR
    return None


class HasRole(permissions.BasePermission):
    """GET needs a viewer, anything that acts needs an operator; ``required_role`` on a
    view raises the bar (key management needs an admin)."""

    message = "Your API key's role does not allow this"

    def has_permission(self, request, view) -> bool:
        if not settings.CSMS_API_AUTH:
            return True
        role = role_of(request.user)
        if role is None:
            # A missing key counts as a failed attempt, like a wrong one.
            address = auth_failures.address_of_request(request)
            auth_failures.check(address)
            auth_failures.record(address)
            raise exceptions.NotAuthenticated(
                "Authentication required: send your API key as 'Authorization: Bearer <key>'"
                " or 'X-API-Key: <key>'"
            )
        needed = getattr(view, "required_role", None) or (
            Role.VIEWER if request.method in permissions.SAFE_METHODS else Role.OPERATOR
        )
        if ROLE_RANK[Role(role)] < ROLE_RANK[Role(needed)]:
            self.message = f"This needs the {needed} role; your key has {role}"
            return False
        return True
