"""Shared fixtures: a clean cache per test, an API client, keys with credits."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import ApiKey
from tests.factories import AccountFactory, ApiKeyFactory

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip locally when a server is missing; in CI a missing server is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must not skip integration tests)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


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
