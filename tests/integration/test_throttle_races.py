"""Throttles on the live stack (gunicorn, 2 processes × 4 threads, and Redis): under parallel
requests each counter is one atomic increment, so at most the limit gets through; and the
client-address header, when configured, never breaks a request, whatever it holds."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from accounts.signin.adapter import LOGIN_FAILED
from tests.conftest import PASSWORD
from tests.integration.live import LiveStack, need_redis

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PARALLEL = 40
LOGIN_LIMIT = 5
AUTH_FAILURE_LIMIT = 20
_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(scope="module")
def hourly_stack(live_stack, live_factory) -> LiveStack:
    """A server whose throttles count per hour, so a burst never straddles two windows, and
    that reads client addresses from X-Forwarded-For (falling back to the socket's)."""
    need_redis()
    env = {
        **live_stack.env,
        "BREACT_CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR",
        "BREACT_LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT}/h",
        "BREACT_LOGIN_IP_RATE_LIMIT": "1000/h",
        "BREACT_AUTH_FAILURE_RATE_LIMIT": f"{AUTH_FAILURE_LIMIT}/h",
    }
    return live_factory.stack("throttles", env, live_stack.var_dir, with_worker=False)


def _csrf_token(client: httpx.Client) -> str:
    page = client.get("/login/")
    assert page.status_code == 200
    match = _CSRF_INPUT.search(page.text)
    assert match, page.text
    return match.group(1)


def test_parallel_wrong_passwords_check_at_most_the_limit(hourly_stack, account):
    email = account.owner.email
    with hourly_stack.client(follow_redirects=False) as client:
        token = _csrf_token(client)

        def attempt(password: str) -> httpx.Response:
            form = {"login": email, "password": password, "csrfmiddlewaretoken": token}
            return client.post("/login/", data=form)

        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            responses = list(pool.map(attempt, [f"wrong {n}" for n in range(PARALLEL)]))
        right = attempt(PASSWORD)

    checked = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(checked) == LOGIN_LIMIT, [r.status_code for r in responses]
    assert len(refused) == PARALLEL - LOGIN_LIMIT
    assert all(LOGIN_FAILED in r.text for r in checked)
    assert all("Too many failed attempts to log in to this account" in r.text for r in refused)
    # The right password is refused while the account is throttled.
    assert right.status_code == 429
    assert "sessionid" not in right.cookies


def test_parallel_wrong_keys_are_checked_at_most_the_limit(hourly_stack, key):
    with hourly_stack.client() as client:

        def attempt(n: int) -> httpx.Response:
            return client.get("/api/v1/account", headers={"x-api-key": f"brk_{n:040d}"})

        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            responses = list(pool.map(attempt, range(PARALLEL)))
        good = client.get("/api/v1/account", headers={"x-api-key": key.raw})

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * AUTH_FAILURE_LIMIT + [429] * (PARALLEL - AUTH_FAILURE_LIMIT)
    assert all(
        r.json()["error"] == "RATE_LIMIT_EXCEEDED" for r in responses if r.status_code == 429
    )
    assert good.status_code == 429  # the address is throttled for the window


@pytest.mark.parametrize("forwarded", ["garbage", "", ",,", "203.0.113.7, 198.51.100.2", "a, b"])
def test_any_client_address_header_is_served_without_an_error(hourly_stack, key, forwarded):
    with hourly_stack.client(follow_redirects=False) as client:
        client.headers["X-Forwarded-For"] = forwarded
        token = _csrf_token(client)
        login = client.post(
            "/login/",
            data={"login": "x@example.com", "password": "wrong", "csrfmiddlewaretoken": token},
        )
        signup = client.post(
            "/signup/",
            data={
                "email": f"fwd-{uuid.uuid4().hex[:12]}@example.com",
                "password1": "plum-kettle-orbit-97",
                "password2": "plum-kettle-orbit-97",
                "csrfmiddlewaretoken": token,
            },
        )
        good = client.get("/api/v1/account", headers={"x-api-key": key.raw})
        bad = client.get("/api/v1/account", headers={"x-api-key": "brk_" + "Q" * 40})

    assert login.status_code == 200 and LOGIN_FAILED in login.text
    assert signup.status_code == 302
    assert good.status_code == 200
    assert bad.status_code == 401
