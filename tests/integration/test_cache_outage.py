"""A Redis cache outage on the live stack: the API answers 503 in the envelope and charges
nothing, the console says so on its forms and keeps its pages, and all comes back with Redis.

The cache is a private redis-server on a free port, stopped and restarted by the test (the
broker stays on the suite's Redis)."""

from __future__ import annotations

import os
import re
import shutil
import signal
from collections.abc import Iterator

import httpx
import pytest
import redis
from django.test import Client

from accounts.ledger.selectors import account_balance, ledger_total
from services.models import Process
from tests.integration.live import (
    EXECUTE_PATH,
    LiveEnv,
    LiveProcess,
    LiveStack,
    free_port,
    need_redis,
    poll_until_finished,
    wait_for,
)
from tests.support import skip_or_fail

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
UNAVAILABLE = "unavailable for a moment"


class PrivateRedis:
    """A redis-server of this module's own, on one port, that can be stopped and started."""

    def __init__(self, live_env: LiveEnv, data_dir: str) -> None:
        self.live_env = live_env
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: LiveProcess | None = None

    def start(self) -> None:
        argv = [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self.data_dir,
        ]  # fmt: skip
        self.process = LiveProcess.spawn("private-redis", argv, os.environ, self.live_env.log_dir)
        wait_for(self._ping, timeout=15, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate(signal.SIGKILL)  # an outage, not a tidy shutdown
        self.process.reap()
        assert not self._ping()

    def _ping(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=1).ping())
        except redis.ConnectionError:
            return False


@pytest.fixture(scope="module")
def private_redis(live_env, tmp_path_factory) -> Iterator[PrivateRedis]:
    need_redis()
    if shutil.which("redis-server") is None:
        skip_or_fail("This test starts its own redis-server, which is not installed")
    server = PrivateRedis(live_env, str(tmp_path_factory.mktemp("private-redis")))
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.alive():
            server.process.terminate(signal.SIGKILL)
            server.process.reap()


@pytest.fixture(scope="module")
def cache_stack(live_stack, live_factory, private_redis) -> LiveStack:
    """A server whose cache is the private Redis; its broker (and the worker that runs its
    processes) are the main stack's."""
    env = {**live_stack.env, "REDIS_URL": private_redis.url}
    return live_factory.stack("cache-outage", env, live_stack.var_dir, with_worker=False)


def _post_form(client: httpx.Client, page: str, data: dict[str, str]) -> httpx.Response:
    form_page = client.get(page)
    assert form_page.status_code == 200, form_page.text
    match = _CSRF_INPUT.search(form_page.text)
    assert match, form_page.text
    return client.post(page, data={**data, "csrfmiddlewaretoken": match.group(1)})


def test_a_cache_outage_degrades_to_503_and_recovers(
    cache_stack, private_redis, live_stack, make_key, account
):
    key = make_key(credits=10)
    api = cache_stack.client(key.raw)
    ok = api.post(EXECUTE_PATH, json={"text": "Before the outage."})
    assert ok.status_code == 202, ok.text
    poll_until_finished(api, ok.json()["result_url"])
    session = Client()
    session.force_login(account.owner)
    cookies = {"sessionid": session.cookies["sessionid"].value}

    private_redis.stop()

    # The API: 503 in the envelope, whatever the key, and nothing charged.
    executed = api.post(EXECUTE_PATH, json={"text": "During the outage."})
    assert executed.status_code == 503, executed.text
    body = executed.json()
    assert body["status"] == "error" and body["error"] == "SERVICE_UNAVAILABLE"
    assert body["request_id"] == executed.headers["X-Request-ID"]
    assert int(executed.headers["Retry-After"]) >= 1
    assert api.get(ok.json()["result_url"]).status_code == 503
    bad_key = api.get("/api/v1/account", headers={"x-api-key": "brk_" + "Z" * 40})
    assert bad_key.status_code == 503 and bad_key.json()["error"] == "SERVICE_UNAVAILABLE"
    assert account_balance(account=key.account) == 9 == ledger_total(account=key.account)
    assert Process.objects.filter(account=key.account).count() == 1

    # The console: its forms say so, its pages stay up for people logged in.
    with cache_stack.client(follow_redirects=False) as browser:
        login = _post_form(
            browser, "/login/", {"login": account.owner.email, "password": "whatever"}
        )
        reset = _post_form(browser, "/password-reset/", {"email": account.owner.email})
        signup = _post_form(
            browser,
            "/signup/",
            {
                "email": "outage@example.com",
                "password1": "plum-kettle-orbit-97",
                "password2": "plum-kettle-orbit-97",
            },
        )
    for response in (login, reset, signup):
        assert response.status_code == 503
        assert UNAVAILABLE in response.text
        assert "Traceback" not in response.text
    with cache_stack.client(cookies=cookies, follow_redirects=False) as browser:
        for page in ("/", "/keys/", "/credits/", "/usage/"):
            assert browser.get(page).status_code == 200, page

    # Redis comes back: so does everything, without a restart.
    private_redis.start()
    again = wait_for(
        lambda: (r := api.post(EXECUTE_PATH, json={"text": "After."})).status_code == 202 and r,
        timeout=20,
        what="the API to accept calls again",
    )
    poll_until_finished(api, again.json()["result_url"])
    api.close()
    assert account_balance(account=key.account) == 8 == ledger_total(account=key.account)
