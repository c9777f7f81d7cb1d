"""Fixtures for the accounts tests: bare processes to charge and refund."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import ApiKey
from services.models import Process


@pytest.fixture
def make_process(db: Any) -> Callable[..., Process]:
    """make_process(api_key, credits=1) -> a queued, uncharged Process of that key's account."""

    def make(api_key: ApiKey, credits: int = 1, **fields: Any) -> Process:
        return Process.objects.create(
            public_id=f"prc_{secrets.token_urlsafe(18)}",
            account_id=api_key.account_id,
            api_key=api_key,
            service_id="text_analyzer",
            endpoint="analyze",
            credits=credits,
            deadline_at=timezone.now() + timedelta(minutes=10),
            **fields,
        )

    return make
