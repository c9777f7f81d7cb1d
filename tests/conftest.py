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
def _fast_password_hasher(settings: Any) -> None:
    """Password hashing is deliberately slow; tests only need it to work."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
