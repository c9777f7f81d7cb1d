"""Fixtures for the API client tests: envelope checks, keyed clients, executes, a still clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis.connection
from django.conf import settings
from django.http import HttpResponse
from rest_framework.test import APIClient

from accounts.models import ApiKey
from services.catalogue.actions import services_sync
from services.execution.actions import process_run
from services.models import Endpoint, Process

EXECUTE_URL = "/api/v1/services/text_analyzer/analyze"


@pytest.fixture
def assert_error() -> Callable[..., dict[str, Any]]:
    """assert_error(response, status, code) -> body, after checking the contract's envelope."""

    def check(response: HttpResponse, status: int, code: str) -> dict[str, Any]:
        assert response.status_code == status, response.content
        assert response["Content-Type"].startswith("application/json")
        body = response.json()
        assert body["status"] == "error"
        assert body["error"] == code
        assert isinstance(body["message"], str)
        assert body["message"].strip()
        assert body["request_id"]
        assert body["request_id"] == response["X-Request-ID"]
        assert "Traceback" not in response.content.decode()
        return body

    return check


@pytest.fixture
def client_for() -> Callable[[ApiKey], APIClient]:
    """client_for(key) -> an APIClient sending that key in x-api-key."""

    def make(key: ApiKey) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=key.raw)  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture
def execute() -> Callable[..., HttpResponse]:
    """execute(client, body={"text": ...}, raw=None, **extra) -> the response of a POST to
    text_analyzer.analyze; `raw` sends a string body as-is with a JSON content type."""

    def post(
        client: APIClient,
        body: Any = None,
        *,
        raw: str | bytes | None = None,
        url: str = EXECUTE_URL,
        **extra: Any,
    ) -> HttpResponse:
        if raw is not None:
            return client.post(url, data=raw, content_type="application/json", **extra)
        payload = {"text": "One. Two three."} if body is None else body
        return client.post(url, payload, format="json", **extra)

    return post


@pytest.fixture
def poll() -> Callable[..., HttpResponse]:
    """poll(client, process_id, token) -> the poll response; token None sends none."""

    def get(client: APIClient, process_id: str, token: str | None) -> HttpResponse:
        url = f"/api/v1/services/result/{process_id}"
        if token is not None:
            url += f"?access_token={token}"
        return client.get(url)

    return get


@pytest.fixture
def run_process() -> Callable[[str], Process]:
    """run_process(public_id) runs the worker's job in-process and returns the fresh row."""

    def run(public_id: str) -> Process:
        process = Process.objects.get(public_id=public_id)
        process_run(process_pk=process.pk)
        process.refresh_from_db()
        return process

    return run


@pytest.fixture
def analyze_endpoint(db: Any) -> Endpoint:
    """The text_analyzer.analyze endpoint row (price, enabled), synced from the registry."""
    services_sync()
    return Endpoint.objects.select_related("service").get(
        service__service_id="text_analyzer", name="analyze"
    )


@pytest.fixture
def redis_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """A one-item list counting what redis-py sends: one command, or one pipeline or script
    call, is one round trip."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: the round trips counted are Redis's")
    sent = [0]
    original = redis.connection.AbstractConnection.send_packed_command

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        sent[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    yield sent
