"""Errors the API answers with, and the handler that gives every one of them a
``detail`` a person can act on."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class StationNotFound(APIException):
    status_code = status.HTTP_404_NOT_FOUND

    def __init__(self, station_id: str, connected_required: bool = True) -> None:
        suffix = " or not connected" if connected_required else ""
        super().__init__(f"Station {station_id} not found{suffix}")


class SmartChargingNotSupported(APIException):
    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, station_id: str) -> None:
        super().__init__(
            f"Station {station_id} does not support SmartCharging "
            "(CentralSystemChargePoint required)"
        )


def flatten(detail: Any, path: str = "") -> list[tuple[str, str]]:
    """DRF's nested error detail as (field path, message) pairs."""
    if isinstance(detail, dict):
        pairs = []
        for key, value in detail.items():
            name = path if key == "non_field_errors" else (f"{path}.{key}" if path else str(key))
            pairs.extend(flatten(value, name))
        return pairs
    if isinstance(detail, list):
        pairs = []
        for index, value in enumerate(detail):
            pairs.extend(flatten(value, f"{path}[{index}]" if isinstance(value, dict) else path))
        return pairs
    return [(path, str(detail))]


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, with every 400 in the one documented shape.

    ``{"detail": "duration: Ensure this value is greater than or equal to 1.", "errors":
    [{"field": "duration", "message": "..."}]}``: the text names every bad field and
    ``errors`` lists them for programs. A 400 that is not about one field (a body that
    is not JSON, an unknown scenario, a station without SmartCharging) keeps its
    ``detail`` as the contract words it and lists it once with the field ``""``, as
    DRF's non-field errors are, so a client reads every 400 the same way.
    """
    response = drf_exception_handler(exc, context)
    if response is None or response.status_code != status.HTTP_400_BAD_REQUEST:
        return response
    if isinstance(exc, ValidationError):
        pairs = flatten(exc.detail)
        response.data = {
            "detail": "; ".join(f"{field}: {message}" if field else message
                                for field, message in pairs),
            "errors": [{"field": field, "message": message} for field, message in pairs],
        }
    elif isinstance(response.data, dict) and "errors" not in response.data:
        detail = str(response.data.get("detail", ""))
        response.data = {"detail": detail, "errors": [{"field": "", "message": detail}]}
    return response


class BadRequest(APIException):
    """A 400 whose ``detail`` is the whole answer (the contract's scenario errors)."""

    status_code = status.HTTP_400_BAD_REQUEST
