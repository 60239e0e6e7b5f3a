"""Simulated OCPP 1.6J charge points (with EVs) for any Central System; no Django needed.

Run standalone with ``python -m simulator --url ws://127.0.0.1:9000 --count 2``, or embed:
``Station(StationConfig(...))`` / ``Fleet`` / ``run_stations``.
"""

from .config import SessionPlan, StationConfig
from .fleet import Fleet, make_configs, run_stations
from .station import NotConnectedError, Station

__all__ = [
    "Fleet",
    "NotConnectedError",
    "SessionPlan",
    "Station",
    "StationConfig",
    "make_configs",
    "run_stations",
]
