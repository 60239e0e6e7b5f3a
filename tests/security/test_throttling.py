"""Rate limits of the REST API: one budget per API key, one per anonymous address,
answered with 429 and Retry-After. Budgets live in Django's caches (cleared around
every test by the package's conftest)."""

from __future__ import annotations

import pytest

from tests.security.support import bearer, new_key

pytestmark = pytest.mark.e2e


def _retry_after(response) -> int:
    assert response.status_code == 429, response.text
    value = int(response.headers["Retry-After"])
    assert 0 < value <= 60
    assert "throttled" in response.text.lower()  # /api/schema/ answers in YAML
    return value


async def test_anonymous_budget_on_public_endpoints(anon, settings):
    settings.CSMS_THROTTLE_ANON_RATE = "3/min"
    for _ in range(3):
        assert (await anon.get("/api/schema/")).status_code == 200
    _retry_after(await anon.get("/api/schema/"))
    _retry_after(await anon.get("/api/schema/?format=json"))


async def test_anonymous_budget_with_auth_off(anon, settings):
    settings.CSMS_API_AUTH = False
    settings.CSMS_THROTTLE_ANON_RATE = "4/min"
    for _ in range(4):
        assert (await anon.get("/stations")).status_code == 200
    _retry_after(await anon.get("/stations"))
    _retry_after(await anon.post("/stations", json={"station_id": "SEC-THR-1"}))


async def test_each_key_has_its_own_budget(anon, settings):
    settings.CSMS_THROTTLE_KEY_RATE = "3/min"
    settings.CSMS_THROTTLE_ANON_RATE = "3/min"
    first = bearer(await new_key("sec-thr-a", "viewer"))
    second = {"X-API-Key": await new_key("sec-thr-b", "operator")}
    for _ in range(3):
        assert (await anon.get("/stations", headers=first)).status_code == 200
    _retry_after(await anon.get("/stations", headers=first))
    # The same address with another key, and without a key, still has its budget.
    for _ in range(3):
        assert (await anon.get("/stations", headers=second)).status_code == 200
    _retry_after(await anon.get("/stations", headers=second))
    for _ in range(3):
        assert (await anon.get("/api/schema/")).status_code == 200
    _retry_after(await anon.get("/api/schema/"))


async def test_key_budget_is_not_the_anonymous_one(anon, settings):
    settings.CSMS_THROTTLE_KEY_RATE = "100/min"
    settings.CSMS_THROTTLE_ANON_RATE = "2/min"
    key = bearer(await new_key("sec-thr-c", "viewer"))
    for _ in range(10):
        assert (await anon.get("/stations", headers=key)).status_code == 200


async def test_budgets_can_be_turned_off(anon, settings):
    settings.CSMS_THROTTLE_ANON_RATE = None
    for _ in range(8):
        assert (await anon.get("/api/schema/")).status_code == 200


async def test_anonymous_budget_cannot_be_dodged_with_x_forwarded_for(anon, settings):
    """DRF has NUM_PROXIES=0 (CSMS_NUM_PROXIES); this once failed because uvicorn itself
    rewrote the client address from X-Forwarded-For for peers on 127.0.0.1
    (csms_project/proxies.py)."""
    settings.CSMS_THROTTLE_ANON_RATE = "3/min"
    codes = [
        (await anon.get("/api/schema/", headers={"X-Forwarded-For": f"198.51.100.{n}"}))
        .status_code
        for n in range(6)
    ]
    assert 429 in codes, codes


async def test_wrong_keys_count_against_the_anonymous_budget(anon, operator_key, settings):
    settings.CSMS_THROTTLE_ANON_RATE = "3/min"
    codes = [
        (await anon.get("/stations", headers=bearer(f"csms_{n:08x}_{'g' * 43}"))).status_code
        for n in range(8)
    ]
    assert codes == [401] * 3 + [429] * 5, codes
    _retry_after(await anon.get("/stations", headers={"X-API-Key": "garbage"}))
    # Once over the budget even the right key is refused: a guesser ignoring the 429s
    # must not learn which guess was right.
    _retry_after(await anon.get("/stations", headers=bearer(operator_key)))


async def test_missing_keys_count_against_the_anonymous_budget(anon, settings):
    settings.CSMS_THROTTLE_ANON_RATE = "2/min"
    codes = [(await anon.get("/stations")).status_code for _ in range(4)]
    assert codes == [401, 401, 429, 429], codes
    _retry_after(await anon.post("/stations", json={"station_id": "SEC-THR-2"}))


async def test_failures_do_not_touch_a_valid_keys_budget(anon, operator_key, settings):
    """Valid keys keep their own budget: failures below the limit from the same address
    change nothing, and a busy valid key does not use up the anonymous one."""
    settings.CSMS_THROTTLE_ANON_RATE = "3/min"
    settings.CSMS_THROTTLE_KEY_RATE = "100/min"
    for _ in range(2):
        assert (await anon.get("/stations", headers=bearer("csms_0_wrong"))).status_code == 401
    for _ in range(10):
        assert (await anon.get("/stations", headers=bearer(operator_key))).status_code == 200
    assert (await anon.get("/stations", headers=bearer("csms_0_wrong"))).status_code == 401
    _retry_after(await anon.get("/stations", headers=bearer("csms_0_wrong")))


async def test_failure_budget_is_off_with_the_anonymous_rate(anon, settings):
    settings.CSMS_THROTTLE_ANON_RATE = None
    for _ in range(8):
        assert (await anon.get("/stations", headers=bearer("csms_0_wrong"))).status_code == 401


async def test_wrong_keys_cannot_dodge_the_failure_budget_with_x_forwarded_for(anon, settings):
    settings.CSMS_THROTTLE_ANON_RATE = "2/min"
    codes = [
        (await anon.get("/stations", headers={**bearer("csms_0_wrong"),
                                               "X-Forwarded-For": f"198.51.100.{n}"}))
        .status_code
        for n in range(4)
    ]
    assert codes == [401, 401, 429, 429], codes


def test_proxy_headers_follow_num_proxies(settings):
    from csms_project.proxies import uvicorn_proxy_options

    assert uvicorn_proxy_options() == {"proxy_headers": False}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert uvicorn_proxy_options() == {"proxy_headers": True}
