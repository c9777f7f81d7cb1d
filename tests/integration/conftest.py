"""Live-server fixtures: gunicorn and a Celery worker on the session's test database.

The processes reach the database pytest-django created (PostgreSQL, or the SQLite test file) and,
when the suite runs with REDIS_URL, Redis for cache, rate limits and the broker; without it the
broker is a folder on disk. Tests that create data must use django_db(transaction=True) so the
live processes see it. Logs are kept under VAR_DIR/integration-logs/ when a test fails.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import skip_or_fail
from tests.integration.live import (
    RUNNING,
    LiveEnv,
    LiveFactory,
    LiveStack,
    database_url,
)


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
