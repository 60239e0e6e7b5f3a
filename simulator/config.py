"""Configuration of one simulated charge point.

Kept in a plain dataclass (no Django, no I/O) so the same description drives the CLI,
tests and a host process that embeds the simulator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

DEFAULT_FEATURE_PROFILES = (
    "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"
)
SMART_CHARGING = "SmartCharging"
VOLTAGE_V = 230.0

# OCPP chargingRateUnit -> the name ChargingScheduleAllowedChargingRateUnit uses for it.
UNIT_NAMES = {"A": "Current", "W": "Power"}


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """One EV visit the station plays on its own: plug in after a delay, take some energy."""

    connector_id: int = 1
    plug_in_after_s: float = 3.0
    energy_wh: float = 10_000.0
    ev_max_w: float = 11_000.0
    id_tag: str = "PYSIM-TAG"


@dataclass(slots=True)
class StationConfig:
    """Everything that makes one simulated station differ from another."""

    station_id: str
    url: str
    connectors: int = 1
    max_power_w: float = 22_080.0
    phases: int = 3
    feature_profiles: str = DEFAULT_FEATURE_PROFILES
    sample_interval: float = 1.0
    sessions: list[SessionPlan] = field(default_factory=list)
    password: str | None = None
    max_stack_level: int = 8
    max_periods: int = 24
    allowed_units: str = "Current,Power"
    max_profiles: int = 16
    heartbeat_interval: int = 60
    vendor: str = "PySim"
    model: str = "SimCharger-22"
    serial: str | None = None
    firmware: str = "pysim-1.0"
    id_tag: str = "PYSIM-TAG"
    # What an EV started by RemoteStartTransaction wants (no session plan describes it).
    remote_ev_energy_wh: float = 20_000.0
    remote_ev_max_w: float = 11_000.0
    log_capacity: int = 200
    response_timeout: float = 30.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    ping_interval: float | None = 20.0
    # A slow charger: seconds it takes to answer SetChargingProfile (benchmarks, tests).
    answer_delay_s: float = 0.0

    def __post_init__(self) -> None:
        if self.connectors < 1:
            raise ValueError("a station needs at least one connector")
        if self.sample_interval <= 0:
            raise ValueError("sample_interval must be positive")
        if self.phases not in (1, 2, 3):
            raise ValueError("phases must be 1, 2 or 3")

    @property
    def endpoint(self) -> str:
        """The WebSocket URL: OCPP-J puts the charge point identity as the last path segment."""
        return f"{self.url.rstrip('/')}/{self.station_id}"

    @property
    def features(self) -> set[str]:
        return {p.strip() for p in self.feature_profiles.split(",") if p.strip()}

    @property
    def smart_charging(self) -> bool:
        return SMART_CHARGING in self.features

    @property
    def allowed_unit_codes(self) -> set[str]:
        """Allowed chargingRateUnit codes ("A", "W") from the configuration key's wording."""
        names = {u.strip() for u in self.allowed_units.split(",")}
        return {code for code, name in UNIT_NAMES.items() if name in names}

    @property
    def serial_number(self) -> str:
        return self.serial or f"SN-{self.station_id}"
