"""Who may connect as a station: OCPP-J security profile 1 (HTTP Basic authentication
on the WebSocket handshake, user = station id, password = the AuthorizationKey).

The rule: a station with a stored password must always present it, under either
policy. Policy ``known``: only registered stations, with their password. Policy
``auto``: an unknown id is registered on first connect; a station without a stored
password connects without one, and the first connection that presents a password
stores it (trust on first use), so from then on nobody connects as that station
without it. Until a station has a password, anyone can connect as it under ``auto``:
production uses ``known``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass

from django.conf import settings

from stations.models import Station

logger = logging.getLogger(__name__)

STATION_ID = re.compile(r"^[A-Za-z0-9\-_.:]{1,48}$")


def valid_station_id(station_id: str) -> bool:
    return bool(STATION_ID.match(station_id))


def hash_key(password: str, salt: str | None = None) -> str:
    # AuthorizationKeys are long random strings (16+ bytes): a salted SHA-256 resists
    # guessing as well as a slow hash would, and 10,000 reconnecting stations stay cheap.
    salt = salt or secrets.token_hex(8)
    digest = hashlib.sha256(f"{salt}:{password}".encode()).hexdigest()
    return f"sha256${salt}${digest}"


def key_matches(stored: str, password: str) -> bool:
    try:
        _, salt, _ = stored.split("$", 2)
    except ValueError:
        return False
    return hmac.compare_digest(stored, hash_key(password, salt))


def basic_credentials(headers: list[tuple[bytes, bytes]]) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization: Basic`` handshake header."""
    for name, value in headers:
        if name.lower() != b"authorization":
            continue
        scheme, _, encoded = value.decode("latin-1").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(encoded.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return (user, password) if sep else None
    return None


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""


def authorize(station_id: str, headers: list[tuple[bytes, bytes]]) -> Verdict:
    """Decide a handshake (synchronous ORM; call through stations.db.run)."""
    credentials = basic_credentials(headers)
    password = None
    if credentials is not None:
        user, password = credentials
        if user != station_id:
            return Verdict(False, f"Basic auth user {user!r} is not the station id")
    station = Station.objects.filter(station_id=station_id).only(
        "id", "authorization_key_hash").first()
    if settings.CSMS_STATION_AUTH == "known":
        if station is None:
            return Verdict(False, "unknown station (policy: known)")
        if not station.authorization_key_hash:
            return Verdict(False, "station has no AuthorizationKey registered")
    if station is None:  # auto: register on first connect
        Station.objects.create(
            station_id=station_id,
            authorization_key_hash=hash_key(password) if password else "",
        )
        return Verdict(True)
    stored = station.authorization_key_hash
    if not stored and password:
        stored = _store_first_password(station.pk, station_id, password)
    if stored:
        if password is None:
            return Verdict(False, "missing password")
        if not key_matches(stored, password):
            return Verdict(False, "wrong password")
    return Verdict(True)


def _store_first_password(pk: int, station_id: str, password: str) -> str:
    """Trust on first use (policy ``auto``): keep the hash of the first password a
    station without one presents. Returns the hash now stored: when two connections
    race, only the first one's is kept and the other must match it."""
    hashed = hash_key(password)
    if Station.objects.filter(pk=pk, authorization_key_hash="").update(
            authorization_key_hash=hashed):
        logger.warning("%s had no AuthorizationKey; the one it presented is now required "
                       "(trust on first use)", station_id)
        return hashed
    return Station.objects.filter(pk=pk).values_list(
        "authorization_key_hash", flat=True).first() or ""
