"""A connector with its meter, and the EV plugged into it.

Energy is integrated piecewise: power only changes at the moments the station settles
the meter (each sample and each limit change), so E += P x dt over each piece is exact
for the simulated power curve, whatever the sample interval or scheduling jitter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from profiles.scheduling import ActiveTransaction

from .config import VOLTAGE_V

logger = logging.getLogger(__name__)

# Statuses in which the connector has a running transaction the sampler drives.
IN_TRANSACTION = frozenset({"Charging", "SuspendedEVSE", "SuspendedEV"})


@dataclass(slots=True)
class EvSession:
    """What the plugged-in EV wants: a quantity of energy at up to ev_max_w."""

    energy_wh: float
    ev_max_w: float
    id_tag: str
    delivered_wh: float = 0.0

    @property
    def remaining_wh(self) -> float:
        return max(0.0, self.energy_wh - self.delivered_wh)

    @property
    def full(self) -> bool:
        return self.delivered_wh >= self.energy_wh - 1e-9


@dataclass(slots=True)
class Connector:
    """One outlet: status as last reported, meter register, applied limit and power."""

    connector_id: int
    max_power_w: float
    phases: int
    status: str = "Available"
    meter_wh: float = 0.0
    power_w: float = 0.0
    limit_w: float = 0.0
    session: EvSession | None = None
    transaction: ActiveTransaction | None = None
    meter_start_wh: int = 0
    last_settle: float | None = None  # event-loop time of the last settle
    finishing: bool = False

    def __post_init__(self) -> None:
        if not self.limit_w:
            self.limit_w = self.max_power_w

    @property
    def demand_w(self) -> float:
        """What the EV would draw with no OCPP limit."""
        s = self.session
        if s is None or self.transaction is None or s.full:
            return 0.0
        return min(s.ev_max_w, self.max_power_w)

    @property
    def current_a(self) -> float:
        """Per-phase current at the present power."""
        return self.power_w / (VOLTAGE_V * self.phases)

    @property
    def session_energy_wh(self) -> float:
        return self.meter_wh - self.meter_start_wh if self.transaction else 0.0

    def settle(self, now: float) -> float:
        """Book the energy drawn since the last settle at the power that held; return it."""
        last, self.last_settle = self.last_settle, now
        if last is None or self.power_w <= 0.0 or now <= last:
            return 0.0
        wh = self.power_w * (now - last) / 3600.0
        s = self.session
        if s is not None:
            # The EV stops drawing once full: never book more than it took.
            wh = min(wh, s.remaining_wh)
            s.delivered_wh += wh
        self.meter_wh += wh
        return wh


def format_watts(watts: float) -> str:
    """11000.0 -> '11000', 7245.5 -> '7245.5' (limits carry at most one decimal)."""
    return f"{watts:.1f}".rstrip("0").rstrip(".")


def limit_line(limit_w: float, sample_interval: float) -> str:
    """The contract's enforcement log line.

    e.g. 'OCPP limit: 11000W → 3.06Wh (sample_interval=1.0s)': the limit, and the energy
    one sample interval at that power books.
    """
    wh = limit_w * sample_interval / 3600.0
    return (
        f"OCPP limit: {format_watts(limit_w)}W → {wh:.2f}Wh "
        f"(sample_interval={float(sample_interval)}s)"
    )
