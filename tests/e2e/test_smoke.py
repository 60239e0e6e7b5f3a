import pytest

from tests.support.station import connected_station

pytestmark = pytest.mark.e2e


async def test_send_profile_end_to_end(api, csms):
    async with connected_station(csms.ws_url) as station:
        response = await api.post(
            f"/stations/{station.id}/charging_profile",
            json={
                "connector_id": 1,
                "profile": {
                    "chargingProfileId": 100,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "TxDefaultProfile",
                    "chargingProfileKind": "Absolute",
                    "chargingSchedule": {
                        "chargingRateUnit": "W",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000}],
                    },
                },
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "success"
