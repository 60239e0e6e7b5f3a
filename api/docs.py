"""Descriptions, examples and error responses shown on the OpenAPI docs page."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from api.serializers import ErrorSerializer, ValidationErrorSerializer


def _not_about_a_field(detail: str) -> dict:
    """A 400 body whose ``detail`` names no field (as api/errors.py answers it)."""
    return {"detail": detail, "errors": [{"field": "", "message": detail}]}


_NO_SMART_CHARGING = (
    "Station PY-SIM-0001 does not support SmartCharging (CentralSystemChargePoint required)"
)

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
            value=_not_about_a_field(_NO_SMART_CHARGING),
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

BAD_LOG_QUERY = OpenApiResponse(
    ValidationErrorSerializer,
    description="`limit` is not a whole number from 1 to 5000.",
    examples=[
        OpenApiExample(
            "Limit out of range",
            value={
                "detail": "limit: Ensure this value is greater than or equal to 1.",
                "errors": [{"field": "limit",
                            "message": "Ensure this value is greater than or equal to 1."}],
            },
            response_only=True,
            status_codes=["400"],
        )
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

TEST_PROFILES = (
    "Generates a profile for a common scenario and sends it:\n\n"
    "- `peak_shaving` (`max_power_w`): a ChargePointMaxProfile capping the whole station, "
    "sent on connector 0.\n"
    "- `time_of_use` (`off_peak_w`, `peak_w`, `peak_start_hour`, `peak_end_hour`): a daily "
    "recurring TxDefaultProfile; hours are in the station's time zone (admin, default UTC) "
    "and the profile is valid until the next daylight-saving change.\n"
    "- `energy_cap` (`transaction_id`, `max_energy_wh`, `duration_seconds`, "
    "`power_limit_w`): a TxProfile at `power_limit_w` until the energy would be reached, "
    "then 0 W. A transaction the CSMS knows is not active there is refused with 400.\n\n"
    "The chargingProfileId is allocated by the CSMS (unique per station, never reused); the "
    "stack level replaces the same scenario's earlier profile, else nothing (the message "
    "says what was replaced). The profile is validated and recorded with the scenario name."
)

INSTALLED = (
    "What the station has installed, by connector, as the CSMS recorded it (OCPP 1.6 has "
    "no way to ask): accepted profiles replace by id or by stack level + purpose + "
    "connector; clears remove what they matched; TxProfiles end with their transaction; "
    "profiles past their validTo are listed as expired."
)

RESYNC = (
    "Sends every profile of the CSMS's record (not expired, no TxProfiles) to the station "
    "again, for example after it lost them in a reboot."
)

PREVIEW = (
    "The composite schedule the CSMS expects the station to report, computed from its "
    "record of installed profiles with the same OCPP 1.6 rules the station applies. "
    "Nothing is sent. Periods no profile limits report the connector's rated maximum "
    "(`connector_max_power_w`, admin), marked in `periods_from_profiles`. With "
    "`ev_max_power_w`, the energy such an EV gets over the window; with `energy_wh` as "
    "well, the seconds it needs."
)

PREVIEW_CANDIDATE = (
    "The schedule before and after installing a candidate profile, with its validation "
    "problems (if any, `after` is null). Nothing is sent."
)

TEST_PROFILE_EXAMPLES = [
    OpenApiExample("Peak shaving", request_only=True,
                   value={"scenario": "peak_shaving", "connector_id": 1, "max_power_w": 11000}),
    OpenApiExample("Time of use", request_only=True, value={
        "scenario": "time_of_use", "connector_id": 1, "off_peak_w": 11000, "peak_w": 7000,
        "peak_start_hour": 9, "peak_end_hour": 17}),
    OpenApiExample("Energy cap", request_only=True, value={
        "scenario": "energy_cap", "connector_id": 1, "transaction_id": 1234,
        "max_energy_wh": 30000, "duration_seconds": 7200, "power_limit_w": 11000}),
    OpenApiExample("Sent", response_only=True, status_codes=["200"], value={
        "status": "success", "station_id": "PY-SIM-0001", "scenario": "peak_shaving",
        "profile": {"chargingProfileId": 1, "stackLevel": 0,
                    "chargingProfilePurpose": "ChargePointMaxProfile",
                    "chargingProfileKind": "Absolute",
                    "chargingSchedule": {"chargingRateUnit": "W",
                                         "chargingSchedulePeriod": [
                                             {"startPeriod": 0, "limit": 11000}],
                                         "startSchedule": "2026-01-08T10:30:00+00:00"}},
        "connector_id": 0, "send_status": "Accepted",
        "message": "Test profile generated and sent with status: Accepted", "error": None}),
    OpenApiExample("Unknown scenario", response_only=True, status_codes=["400"],
                   value=_not_about_a_field("Unknown scenario 'invalid_scenario'. Valid: "
                                            "peak_shaving, time_of_use, energy_cap")),
    OpenApiExample("Missing parameter", response_only=True, status_codes=["400"],
                   value=_not_about_a_field("max_power_w is required for peak_shaving")),
]

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
