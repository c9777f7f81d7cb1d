"""Shared fixtures: a clean cache per test, API and page clients, keys with credits, and the
live server and worker of the integration and browser tests."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import ApiKey
from tests.factories import AccountFactory, ApiKeyFactory
from tests.integration.live import RUNNING, LiveEnv, LiveFactory, LiveStack, database_url, wait_for
from tests.support import IN_CI, skip_or_fail  # noqa: F401  (re-exported for tests)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    """Password hashing is deliberately slow; tests only need it to work."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _usage_rows_written_directly(settings: Any) -> None:
    """In-process tests read the request log right after a call: its rows are written directly
    here. The buffered path (Redis stream, folded by beat) is what the live servers run, and
    tests/api/test_usage_buffer.py tests it in-process."""
    settings.BREACT_USAGE_LOG_BUFFER = False


@pytest.fixture(autouse=True)
def _no_worker_needed(settings: Any) -> Iterator[None]:
    """In-process tests run queued work inline or not at all: executes do not wait for a worker
    heartbeat here (tests of that refusal turn it back on)."""
    from services.workers import runner_status_forget

    settings.BREACT_REQUIRE_WORKER = False
    runner_status_forget()
    yield
    runner_status_forget()


@pytest.fixture
def heartbeats(db: Any) -> Callable[..., None]:
    """heartbeats(worker_age=1, beat_age=1): a worker and a beat heartbeat that many seconds old
    (None: no row)."""
    from datetime import timedelta

    from django.utils import timezone

    from services.models import Heartbeat
    from services.workers import runner_status_forget

    def make(worker_age: float | None = None, beat_age: float | None = None) -> None:
        now = timezone.now()
        for role, age in ((Heartbeat.Role.WORKER, worker_age), (Heartbeat.Role.BEAT, beat_age)):
            Heartbeat.objects.filter(role=role).delete()
            if age is not None:
                seen = now - timedelta(seconds=age)
                Heartbeat.objects.create(
                    role=role, name=f"test:{role}", started_at=seen, seen_at=seen
                )
        runner_status_forget()

    return make


def _clear_cache_keys() -> None:
    # With Redis, cache and broker may share a database: delete only the cache's own keys.
    delete_pattern = getattr(cache, "delete_pattern", None)
    if delete_pattern is not None:
        delete_pattern("*")
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    _clear_cache_keys()
    yield
    _clear_cache_keys()


@pytest.fixture(autouse=True)
def _forget_key_prefixes() -> None:
    """Worker processes remember each key's prefix by id (services.webhooks.events): an id
    never comes back in production, but on SQLite a rolled-back test's ids are given again."""
    from services.webhooks.events import _key_prefix

    _key_prefix.cache_clear()


@pytest.fixture
def still_rate_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stop the throttle clock (breact.throttle) so a test's requests never straddle two
    windows."""
    from types import SimpleNamespace

    import breact.throttle

    frozen = 1_700_000_000.0
    monkeypatch.setattr(breact.throttle, "time", SimpleNamespace(time=lambda: frozen))


CLOSED_REDIS_PORT_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def cache_down(settings: Any) -> None:
    """The cache is a Redis server that cannot be reached (a closed port): an outage."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": CLOSED_REDIS_PORT_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_key(db: Any) -> Callable[..., ApiKey]:
    """make_key(credits=100, **api_key_create options) -> ApiKey with `.raw`."""

    def make(credits: int = 100, account: Any = None, **options: Any) -> ApiKey:
        account = account or AccountFactory(credits=credits)
        return ApiKeyFactory(account=account, **options)

    return make


@pytest.fixture
def key(make_key: Callable[..., ApiKey]) -> ApiKey:
    return make_key()


@pytest.fixture
def keyed_client(key: ApiKey) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key.raw)  # type: ignore[attr-defined]
    return client


@pytest.fixture
def eager_worker() -> Iterator[None]:
    """Run queued processes inline (Celery eager mode) instead of on a worker."""
    from breact.celery import app

    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


@pytest.fixture
def run_endpoint(
    keyed_client: APIClient, eager_worker: None, django_capture_on_commit_callbacks: Any
) -> Callable[..., dict[str, Any]]:
    """run_endpoint(service_id, endpoint, params) -> the completed poll body.

    Goes through the real API path (auth, rate limit, validation, charge, process) with the
    process run inline; asserts the execute was accepted.
    """

    def run(service_id: str, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        with django_capture_on_commit_callbacks(execute=True):
            response = keyed_client.post(
                f"/api/v1/services/{service_id}/{endpoint}", params, format="json"
            )
        assert response.status_code == 202, response.content
        accepted = response.json()
        poll = keyed_client.get(
            f"/api/v1/services/result/{accepted['process_id']}"
            f"?access_token={accepted['access_token']}"
        )
        assert poll.status_code == 200, poll.content
        body: dict[str, Any] = poll.json()
        return body

    return run


@pytest.fixture
def fake_llm() -> Iterator[Any]:
    """A loopback OpenAI-compatible server; see tests/llm_server.py."""
    from tests.llm_server import FakeChatServer

    with FakeChatServer() as server:
        yield server


@pytest.fixture
def llm_route(fake_llm: Any, settings: Any) -> Any:
    """Map the model ids "gpt-4o" and "mistral-large-2411" to the loopback server."""
    import json

    settings.BREACT_MODEL_PROVIDERS = json.dumps(
        {
            model: {"base_url": fake_llm.base_url, "api_key": "sk-test", "timeout": 3}
            for model in ("gpt-4o", "mistral-large-2411", "mistral-small")
        }
    )
    return fake_llm


@pytest.fixture
def account(db: Any) -> Any:
    """An account with 100 credits; its owner's password is PASSWORD."""
    return AccountFactory(credits=100)


PASSWORD = "correct horse battery staple"


@pytest.fixture
def page_client(account: Any) -> Any:
    """A browser-like test client logged in as `account`'s owner."""
    from django.test import Client

    client = Client()
    client.force_login(account.owner)
    return client


# --- live server and worker (integration and browser tests) ----------------------------------


def _redis_reachable(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def live_env(request: pytest.FixtureRequest, django_db_setup: Any) -> Iterator[LiveEnv]:
    """Where live processes find the test database and Redis, and where they log."""
    if settings.REDIS_URL and (problem := _redis_reachable(settings.REDIS_URL)):
        skip_or_fail(f"Redis at REDIS_URL is unreachable ({problem})")
    try:
        url = database_url(connection.settings_dict)
    except RuntimeError as exc:
        skip_or_fail(str(exc))
    run = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    log_dir = settings.VAR_DIR / "integration-logs" / run
    yield LiveEnv(database_url=url, redis_url=settings.REDIS_URL, log_dir=log_dir)
    if request.session.testsfailed == 0:
        shutil.rmtree(log_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def live_stack(live_env: LiveEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """The shared server (gunicorn, 2 workers × 4 threads) and Celery worker (prefork, 2).
    The slow_test service is loaded too (BREACT_EXTRA_SERVICE_MODULES)."""
    var_dir = tmp_path_factory.mktemp("live-var")
    factory = LiveFactory(live_env)
    try:
        yield factory.stack("main", live_env.child_env(var_dir), var_dir)
    finally:
        factory.close()


@pytest.fixture(scope="module")
def live_factory(live_env: LiveEnv) -> Iterator[LiveFactory]:
    """More servers and workers for one module; all stopped when the module ends."""
    factory = LiveFactory(live_env)
    try:
        yield factory
    finally:
        factory.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failing test shows the tail of every live process's log, and where the full log is."""
    report = yield
    if report.failed:
        for process in RUNNING:
            report.sections.append(
                (
                    f"live {process.name} (pid {process.pid}), full log: {process.log_path}",
                    process.tail(),
                )
            )
    return report


@pytest.fixture(autouse=True)
def _worker_heartbeat(request: pytest.FixtureRequest) -> None:
    """Every test on the shared live stack (API, browser, integration) starts with a live
    worker. Executes need a fresh worker heartbeat, and the previous transactional test emptied the
    heartbeat table: wait (about a second) for the shared worker to write its next one."""
    if "live_stack" not in request.fixturenames:
        return
    request.getfixturevalue("live_stack")
    from services.workers import runner_status

    _sync_live_catalogue()

    def seen() -> Any:
        return runner_status().worker_ok

    wait_for(seen, timeout=30, what="the shared worker's heartbeat")


def _sync_live_catalogue() -> None:
    """The live processes also load the slow_test service; its rows are made as on a deploy
    (`manage.py sync_catalogue`), since the previous transactional test emptied the tables and
    the re-sync that follows knows only this process's services."""
    from django.test import override_settings

    from services.catalogue import registry
    from services.catalogue.actions import services_sync
    from tests.integration.live import SLOW_SERVICE_MODULE

    registry._load.cache_clear()
    try:
        with override_settings(BREACT_EXTRA_SERVICE_MODULES=[SLOW_SERVICE_MODULE]):
            services_sync()
    finally:
        registry._load.cache_clear()
