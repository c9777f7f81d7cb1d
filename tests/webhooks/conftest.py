"""Fixtures of the webhook tests: a loopback receiver the sender may reach."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.BREACT_WEBHOOK_ALLOW_LOOPBACK = True
    settings.BREACT_WEBHOOK_TIMEOUT = 1
    settings.BREACT_WEBHOOK_RETRY_BASE = 0  # retries at once (eager mode runs them inline)
    with Receiver() as server:
        yield server
