"""Integration tests: each test that uses the shared live stack starts with a live worker."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.live import wait_for


@pytest.fixture(autouse=True)
def _worker_heartbeat(request: pytest.FixtureRequest) -> None:
    """Executes need a fresh worker heartbeat, and the previous transactional test emptied the
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
