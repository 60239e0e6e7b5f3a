"""API keys: who may use the REST API and the event stream, and with which role."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.db import models
from django.utils import timezone

KEY_PREFIX = "csms"


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer (read only)"
    OPERATOR = "operator", "Operator (also sends, clears, scenarios, bulk, simulator)"
    ADMIN = "admin", "Admin (also key management)"


ROLE_RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


def _digest(secret: str) -> str:
    # Keys are 256-bit random values: a plain SHA-256 is as safe as a slow hash here and
    # keeps authentication off the profile of every request.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(models.Model):
    """Only the SHA-256 of a key is stored; the key itself is shown once, at creation."""

    name = models.CharField(max_length=100, unique=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.role})"

    @classmethod
    def generate(cls, name: str, role: str) -> tuple[ApiKey, str]:
        """Create a key; return it with the secret (the only time it exists in clear)."""
        prefix = secrets.token_hex(4)
        secret = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        key = cls.objects.create(name=name, role=role, prefix=prefix, key_hash=_digest(secret))
        return key, secret

    @staticmethod
    def prefix_of(secret: str) -> str | None:
        parts = secret.split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            return None
        return parts[1]

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.key_hash, _digest(secret))

    def allows(self, role: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]
