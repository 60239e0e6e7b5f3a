"""The product's REST operations as the load generator calls them (aiohttp, keep-alive
connection pool, an operator API key)."""

from __future__ import annotations

from typing import Any

import aiohttp


def profile(profile_id: int, limit_w: int = 7400) -> dict[str, Any]:
    """The SetChargingProfile payload of every call, product and bare alike."""
    return {
        "chargingProfileId": profile_id,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit_w}],
        },
    }


async def _outcome(resp: aiohttp.ClientResponse, ok: tuple[str, ...]) -> str | None:
    text = await resp.text()
    if resp.status != 200:
        return f"HTTP {resp.status}: {text[:100]}"
    try:
        data = await resp.json(content_type=None)
    except ValueError:
        return f"HTTP 200, not JSON: {text[:80]}"
    if data.get("status") in ok:
        return None
    return f"{data.get('status')}: {data.get('error') or data.get('ocpp_status')}"


class Rest:
    def __init__(self, session: aiohttp.ClientSession, bases: list[str], key: str) -> None:
        self.session = session
        self.bases = bases
        self.headers = {"Authorization": f"Bearer {key}"}

    def base(self, index: int) -> str:
        """Calls go round-robin over the server processes."""
        return self.bases[index % len(self.bases)]

    async def set_profile(self, base: str, station_id: str, body: dict[str, Any]) -> str | None:
        async with self.session.post(f"{base}/stations/{station_id}/charging_profile",
                                     json=body, headers=self.headers) as resp:
            return await _outcome(resp, ("success",))

    async def composite_schedule(self, base: str, station_id: str) -> str | None:
        params = {"connector_id": "1", "duration": "3600", "charging_rate_unit": "W"}
        async with self.session.get(f"{base}/stations/{station_id}/composite_schedule",
                                    params=params, headers=self.headers) as resp:
            return await _outcome(resp, ("success",))

    async def clear_profile(self, base: str, station_id: str, profile_id: int) -> str | None:
        async with self.session.delete(f"{base}/stations/{station_id}/charging_profile",
                                       params={"profile_id": str(profile_id)},
                                       headers=self.headers) as resp:
            # "unknown": the station answered that nothing matched; the round trip is whole.
            return await _outcome(resp, ("success", "unknown"))

    async def bulk(self, base: str, station_ids: list[str], body: dict[str, Any],
                   timeout: float) -> tuple[int, dict[str, Any] | str]:
        payload = {"target": {"station_ids": station_ids}, **body}
        async with self.session.post(f"{base}/charging_profiles/bulk", json=payload,
                                     headers=self.headers,
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            text = await resp.text()
            if resp.status != 200:
                return resp.status, text[:200]
            return resp.status, await resp.json(content_type=None)

    async def health(self, base: str) -> dict[str, Any]:
        async with self.session.get(f"{base}/health",
                                    timeout=aiohttp.ClientTimeout(total=10)) as resp:
            return await resp.json(content_type=None)

    async def warm_up(self) -> None:
        """Touch the operation views once (404s) so lazy imports are not measured."""
        for base in self.bases:
            await self.set_profile(base, "BENCH-WARMUP", {"connector_id": 1,
                                                           "profile": profile(1)})
            await self.composite_schedule(base, "BENCH-WARMUP")
            await self.clear_profile(base, "BENCH-WARMUP", 1)
