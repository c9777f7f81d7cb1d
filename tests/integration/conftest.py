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

    def seen() -> Any:
        return runner_status().worker_ok

    wait_for(seen, timeout=30, what="the shared worker's heartbeat")
