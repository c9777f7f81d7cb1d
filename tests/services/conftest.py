"""Fixtures for the services tests: a registered test service and a recording task queue."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from accounts.models import ApiKey
from services.catalogue import registry
from services.catalogue.actions import services_sync
from services.catalogue.registry import ServiceDefinition
from services.catalogue.selectors import ResolvedEndpoint, endpoint_resolve
from services.execution.actions import Started, process_start
from services.tasks import run_process
from tests.services import fake_service


@pytest.fixture
def fake_service_definition(settings: Any) -> Iterator[ServiceDefinition]:
    """Registers tests/services/fake_service.py beside the built-in services."""
    registry._load.cache_clear()
    settings.BREACT_EXTRA_SERVICE_MODULES = ["tests.services.fake_service"]
    fake_service.CALLS.clear()
    yield fake_service.SERVICE
    fake_service.CALLS.clear()
    registry._load.cache_clear()


@pytest.fixture
def handler_calls(fake_service_definition: ServiceDefinition) -> list[dict[str, Any]]:
    return fake_service.CALLS


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Replaces the broker: records every run_process.apply_async (args, kwargs) instead."""
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def record(*args: Any, **kwargs: Any) -> None:
        calls.append((args, kwargs))

    monkeypatch.setattr(run_process, "apply_async", record)
    return calls


@pytest.fixture
def resolved(fake_service_definition: ServiceDefinition, db: Any) -> ResolvedEndpoint:
    services_sync()  # as `manage.py sync_catalogue` does on deploy
    return endpoint_resolve(service_id="fake_echo", endpoint="echo")


@pytest.fixture
def start(resolved: ResolvedEndpoint, enqueued: list[Any], key: ApiKey) -> Callable[..., Started]:
    """start(text=..., mode=..., api_key=key) -> Started, with the broker recorded."""

    def _start(api_key: ApiKey | None = None, **params: Any) -> Started:
        params.setdefault("text", "hello")
        return process_start(api_key=api_key or key, resolved=resolved, params=params)

    return _start
