"""Checks a charging profile before anything is sent to a station.

Errors are ``(path, message)`` pairs with JSON paths as the API request spells them,
for example ``profile.chargingSchedule.chargingSchedulePeriod[2].limit``.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Iterable
from typing import Any

from ocpp.messages import MessageType, get_validator

ProblemList = list[tuple[str, str]]

# Names in the OCPP payload → names in our REST request.
_REQUEST_NAMES = {"csChargingProfiles": "profile", "connectorId": "connector_id"}


def json_path(parts: Iterable[Any], root: str = "") -> str:
    path = root
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            part = _REQUEST_NAMES.get(part, part) if not path else part
            path = f"{path}.{part}" if path else part
    return path or "profile"


def schema_problems(connector_id: int, profile: Any) -> ProblemList:
    """Every way the SetChargingProfile.req would break OCPP 1.6's JSON schema."""
    validator = get_validator(
        MessageType.Call, "SetChargingProfile", "1.6", parse_float=decimal.Decimal
    )
    # The schema says multipleOf 0.1; floats would fail it for 21.4, Decimals do not.
    payload = json.loads(
        json.dumps({"connectorId": connector_id, "csChargingProfiles": profile}),
        parse_float=decimal.Decimal,
    )
    problems = []
    for error in sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path)):
        path = json_path(error.absolute_path)
        problems.append((path, error.message))
    return problems


def format_problems(problems: ProblemList) -> str:
    return "; ".join(f"{path}: {message}" for path, message in problems)
