"""Descriptions, examples and error responses shown on the OpenAPI docs page."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from api.serializers import ErrorSerializer, ValidationErrorSerializer

NOT_FOUND = OpenApiResponse(
    ErrorSerializer,
    description="The station is unknown or not connected.",
    examples=[
        OpenApiExample(
            "Station not found",
            value={"detail": "Station PY-SIM-9999 not found or not connected"},
            response_only=True,
            status_codes=["404"],
        )
    ],
)

BAD_REQUEST = OpenApiResponse(
    ValidationErrorSerializer,
    description=(
        "The request is invalid (every bad field is named in `detail`), or the station "
        "does not support SmartCharging. Nothing is sent to the station."
    ),
    examples=[
        OpenApiExample(
            "No SmartCharging",
            value={
                "detail": "Station PY-SIM-0001 does not support SmartCharging "
                "(CentralSystemChargePoint required)"
            },
            response_only=True,
            status_codes=["400"],
        ),
        OpenApiExample(
            "Invalid input",
            value={
                "detail": "duration: Ensure this value is greater than or equal to 1.",
                "errors": [
                    {
                        "field": "duration",
                        "message": "Ensure this value is greater than or equal to 1.",
                    }
                ],
            },
            response_only=True,
            status_codes=["400"],
        ),
    ],
)

_OUTCOMES = (
    "`status` is `success` when the station answers Accepted, `rejected` when it answers "
    "Rejected or NotSupported, and `error` when it does not answer in time, answers with a "
    "CALLERROR or the connection is lost (the reason is in `error`). `ocpp_status` is the "
    "station's own answer. Every request is recorded in the history, visible in the admin."
)

SEND_PROFILE = (
    "Sends SetChargingProfile to the station. The profile is checked against the OCPP 1.6 "
    "schema first. A ChargePointMaxProfile caps the whole station and OCPP 1.6 allows it "
    "only on connector 0: it is sent on connector 0 whatever `connector_id` says, and the "
    "response says so.\n\n" + _OUTCOMES
)

COMPOSITE_SCHEDULE = (
    "Asks the station for its composite schedule (GetCompositeSchedule) over the next "
    "`duration` seconds. `connector_id` 0 asks for the whole station.\n\n" + _OUTCOMES
)

CLEAR_PROFILES = (
    "Sends ClearChargingProfile. With `profile_id` only that profile is cleared and the "
    "other filters are ignored by the station (OCPP 1.6); otherwise every profile matching "
    "all given filters is cleared, and all profiles when none is given. `status` is "
    "`unknown` when the station had nothing that matched.\n\n" + _OUTCOMES
)

STATION_LOGS = (
    "The station's log, oldest first: every OCPP frame in (`ocpp_in`) and out (`ocpp_out`), "
    "and notes from the CSMS and the simulator. `limit` keeps the latest lines."
)

BULK_SEND = (
    "Sends one profile to many stations at once: `target` is `{\"station_ids\": [...]}`, "
    "`{\"all\": true}` (every connected station) or `{\"vendor\": \"...\"}`. Each station "
    "is called as by the single operation and recorded in the history; `results` has one "
    "entry per station with the same fields, including stations that were named but are "
    "not connected (`status: error`). The contract's Emergency Load Shedding is one request."
)

BULK_CLEAR = (
    "Clears charging profiles on many stations: the target is `station_ids` "
    "(comma-separated), `all=true` or `vendor`, and the filters are those of the single "
    "clear."
)

SIMULATOR_START = (
    "Starts simulated OCPP 1.6J charge points inside this server process; they connect "
    "to this server's OCPP endpoint (or `url`), boot, report status, enforce the profiles "
    "they receive and log it (`OCPP limit: 11000W → 3.06Wh (sample_interval=1.0s)`) in "
    "`GET /stations/{station_id}/logs`. Give `count` (ids `prefix`0001, ...) or "
    "`station_ids`."
)

_PROFILE = {
    "chargingProfileId": 100,
    "stackLevel": 0,
    "chargingProfilePurpose": "ChargePointMaxProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000}],
        "startSchedule": "2026-01-08T10:00:00+00:00",
    },
}

SEND_PROFILE_EXAMPLES = [
    OpenApiExample("Station maximum 22 kW", value={"connector_id": 1, "profile": _PROFILE},
                   request_only=True),
    OpenApiExample(
        "Accepted",
        value={
            "status": "success",
            "station_id": "PY-SIM-0001",
            "connector_id": 0,
            "profile_id": 100,
            "message": "Charging profile 100 sent successfully (ChargePointMaxProfile applies "
            "to the whole station: sent on connector 0 instead of 1)",
            "error": None,
            "ocpp_status": "Accepted",
        },
        response_only=True,
        status_codes=["200"],
    ),
    OpenApiExample(
        "Timeout",
        value={
            "status": "error",
            "station_id": "PY-SIM-0001",
            "connector_id": 1,
            "profile_id": 100,
            "message": "Failed to send charging profile",
            "error": "Connection timeout",
            "ocpp_status": None,
        },
        response_only=True,
        status_codes=["200"],
    ),
]

COMPOSITE_EXAMPLES = [
    OpenApiExample(
        "Retrieved",
        value={
            "status": "success",
            "station_id": "PY-SIM-0001",
            "connector_id": 1,
            "schedule": {
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000}],
                "duration": 3600,
            },
            "schedule_start": "2026-01-08T10:00:00Z",
            "message": "Composite schedule retrieved successfully",
            "error": None,
            "ocpp_status": "Accepted",
        },
        response_only=True,
        status_codes=["200"],
    )
]

CLEAR_EXAMPLES = [
    OpenApiExample(
        "Cleared",
        value={
            "status": "success",
            "station_id": "PY-SIM-0001",
            "message": "Charging profiles cleared successfully",
            "filters": {"profile_id": 100, "connector_id": 1, "purpose": None, "stack_level": None},
            "error": None,
            "ocpp_status": "Accepted",
        },
        response_only=True,
        status_codes=["200"],
    )
]
