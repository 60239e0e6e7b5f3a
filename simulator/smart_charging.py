"""Station-side charging profile store: what a conforming OCPP 1.6 charger keeps and refuses.

Pure (no sockets, no clock of its own) so every accept/reject/replace/clear rule can be
tested directly. The arithmetic over the stored profiles lives in profiles.scheduling.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from profiles.scheduling import (
    CHARGE_POINT_MAX_PROFILE,
    TX_PROFILE,
    ActiveTransaction,
    ChargingProfile,
    InstalledProfile,
)

logger = logging.getLogger(__name__)

ACCEPTED = "Accepted"
REJECTED = "Rejected"
NOT_SUPPORTED = "NotSupported"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to SetChargingProfile plus why, so the station can log a useful line."""

    status: str
    reason: str = ""
    profile: ChargingProfile | None = None
    replaced: tuple[int, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED


class ProfileStore:
    """Installed charging profiles of one station, with the station's advertised limits."""

    __slots__ = (
        "_installed",
        "allowed_units",
        "connectors",
        "max_periods",
        "max_profiles",
        "max_stack_level",
        "supported",
    )

    def __init__(
        self,
        *,
        connectors: int,
        max_stack_level: int = 8,
        max_periods: int = 24,
        allowed_units: Iterable[str] = ("A", "W"),
        max_profiles: int = 16,
        supported: bool = True,
    ) -> None:
        self.connectors = connectors
        self.max_stack_level = max_stack_level
        self.max_periods = max_periods
        self.allowed_units = frozenset(allowed_units)
        self.max_profiles = max_profiles
        self.supported = supported
        self._installed: list[InstalledProfile] = []

    @property
    def installed(self) -> list[InstalledProfile]:
        """The live list (not a copy): the sampler reads it every tick; do not mutate it."""
        return self._installed

    def __len__(self) -> int:
        return len(self._installed)

    def get(self, profile_id: int) -> InstalledProfile | None:
        for item in self._installed:
            if item.profile.charging_profile_id == profile_id:
                return item
        return None

    def check(
        self,
        connector_id: int,
        profile: ChargingProfile,
        transactions: Mapping[int, ActiveTransaction],
    ) -> str | None:
        """Why this profile must be Rejected on this connector, or None if it fits."""
        if not 0 <= connector_id <= self.connectors:
            return f"unknown connector {connector_id}"
        purpose = profile.purpose
        if purpose == CHARGE_POINT_MAX_PROFILE and connector_id != 0:
            return "ChargePointMaxProfile is only allowed on connector 0"
        if purpose == TX_PROFILE:
            if connector_id == 0:
                return "TxProfile is not allowed on connector 0"
            tx = transactions.get(connector_id)
            if tx is None:
                return f"TxProfile needs an active transaction on connector {connector_id}"
            if profile.transaction_id is not None and profile.transaction_id != tx.transaction_id:
                return (
                    f"transactionId {profile.transaction_id} does not match the active "
                    f"transaction {tx.transaction_id} on connector {connector_id}"
                )
        if not 0 <= profile.stack_level <= self.max_stack_level:
            return (
                f"stackLevel {profile.stack_level} outside 0..{self.max_stack_level} "
                "(ChargeProfileMaxStackLevel)"
            )
        schedule = profile.schedule
        if not schedule.periods:
            return "chargingSchedulePeriod is empty"
        if len(schedule.periods) > self.max_periods:
            return (
                f"{len(schedule.periods)} periods exceed ChargingScheduleMaxPeriods "
                f"{self.max_periods}"
            )
        if schedule.charging_rate_unit not in self.allowed_units:
            return (
                f"chargingRateUnit {schedule.charging_rate_unit} not in "
                "ChargingScheduleAllowedChargingRateUnit"
            )
        starts = [p.start_period for p in schedule.periods]
        if starts[0] != 0 or any(b <= a for a, b in pairwise(starts)):
            return "startPeriod must begin at 0 and increase strictly"
        if any(p.limit < 0 for p in schedule.periods):
            return "a limit is negative"
        if profile.kind == "Recurring" and profile.recurrency_kind is None:
            return "a Recurring profile needs recurrencyKind"
        return None

    def set(
        self,
        connector_id: int,
        payload: Mapping[str, Any] | ChargingProfile,
        *,
        transactions: Mapping[int, ActiveTransaction],
        now: datetime,
    ) -> Decision:
        """Install a profile (SetChargingProfile.req) following the spec's replacement rules."""
        if not self.supported:
            return Decision(NOT_SUPPORTED, "SmartCharging is not a supported feature profile")
        try:
            profile = (
                payload if isinstance(payload, ChargingProfile)
                else ChargingProfile.from_ocpp(payload)
            )
        except (ValueError, TypeError, KeyError) as exc:
            return Decision(REJECTED, f"malformed profile: {exc}")
        reason = self.check(connector_id, profile, transactions)
        if reason is not None:
            return Decision(REJECTED, reason, profile)

        pid = profile.charging_profile_id
        keep: list[InstalledProfile] = []
        replaced: list[int] = []
        for item in self._installed:
            old = item.profile
            same_slot = (
                item.connector_id == connector_id
                and old.stack_level == profile.stack_level
                and old.purpose == profile.purpose
            )
            if old.charging_profile_id == pid or same_slot:
                replaced.append(old.charging_profile_id)
            else:
                keep.append(item)
        if len(keep) >= self.max_profiles:
            return Decision(
                REJECTED,
                f"MaxChargingProfilesInstalled ({self.max_profiles}) reached",
                profile,
            )
        keep.append(InstalledProfile(connector_id, profile, now))
        self._installed = keep
        return Decision(ACCEPTED, "", profile, tuple(replaced))

    def clear(
        self,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> list[InstalledProfile]:
        """ClearChargingProfile.req: by id alone, else every profile matching all given fields."""
        if not self.supported:
            return []
        if profile_id is not None:
            def hit(item: InstalledProfile) -> bool:
                return item.profile.charging_profile_id == profile_id
        else:
            def hit(item: InstalledProfile) -> bool:
                return (
                    (connector_id is None or item.connector_id == connector_id)
                    and (purpose is None or item.profile.purpose == purpose)
                    and (stack_level is None or item.profile.stack_level == stack_level)
                )
        removed = [i for i in self._installed if hit(i)]
        if removed:
            self._installed = [i for i in self._installed if not hit(i)]
        return removed

    def drop_transaction(self, connector_id: int, transaction_id: int) -> list[InstalledProfile]:
        """The station discards a transaction's TxProfiles when it ends."""
        def hit(item: InstalledProfile) -> bool:
            p = item.profile
            return (
                p.purpose == TX_PROFILE
                and item.connector_id == connector_id
                and p.transaction_id in (None, transaction_id)
            )
        removed = [i for i in self._installed if hit(i)]
        if removed:
            self._installed = [i for i in self._installed if not hit(i)]
        return removed
