"""Process events survive a cache that lost its keys or cannot be reached between the execute
and the end of the process: the per-call `webhook_url` and the account's endpoints still get
their delivery."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from django.core.cache import cache

from services.execution.actions import process_run
from services.models import Process
from services.tasks import run_process
from services.webhooks import actions, events, signing

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The broker, replaced: the ids of the processes an execute queued, run by the test."""
    pks: list[int] = []
    monkeypatch.setattr(run_process, "apply_async", lambda args, **_: pks.append(args[0]))
    return pks


def _execute(client: Any, capture: Any, body: dict[str, Any]) -> Process:
    with capture(execute=True):
        answer = client.post("/api/v1/services/text_analyzer/analyze", body, format="json")
    assert answer.status_code == 202, answer.content
    return Process.objects.get(public_id=answer.json()["process_id"])


def _verifies(received: Any, secret: str) -> bool:
    header = received.headers[signing.SIGNATURE_HEADER]
    return signing.verify(secret=secret, header=header, body=received.raw)


def test_a_flushed_cache_does_not_lose_the_per_call_delivery(
    receiver, keyed_client, key, queued, eager_worker, django_capture_on_commit_callbacks
):
    per_call = actions.per_call_secret(account_id=key.account_id)
    receiver.secrets = [per_call]
    process = _execute(
        keyed_client,
        django_capture_on_commit_callbacks,
        {"text": "Call me back.", "webhook_url": receiver.url},
    )
    assert queued == [process.pk]

    cache.clear()  # Redis restarted (or was flushed) while the process waited
    # Another event of the account caches its flag again: no endpoints (0).
    assert actions._account_has_endpoints(key.account_id) is False
    assert cache.get(actions.FLAG_KEY.format(key.account_id)) == 0

    with django_capture_on_commit_callbacks(execute=True):
        process_run(process_pk=process.pk)

    (got,) = receiver.received
    assert got.verified and got.body["event"] == "process.completed"
    assert got.body["process_id"] == process.public_id


def test_an_unreachable_cache_still_delivers_to_the_endpoint_and_the_per_call_url(
    receiver, keyed_client, key, queued, eager_worker, django_capture_on_commit_callbacks, request
):
    _, endpoint_secret = actions.endpoint_create(
        account_id=key.account_id, url=receiver.url, events=None
    )
    per_call = actions.per_call_secret(account_id=key.account_id)
    receiver.secrets = [endpoint_secret, per_call]
    process = _execute(
        keyed_client,
        django_capture_on_commit_callbacks,
        {"text": "Call me back.", "webhook_url": receiver.url + "?per-call"},
    )

    request.getfixturevalue("cache_down")  # the cache goes down before the process finishes
    with pytest.raises(redis.exceptions.ConnectionError):
        cache.get_many(["any"])

    with django_capture_on_commit_callbacks(execute=True):
        process_run(process_pk=process.pk)

    assert len(receiver.succeeded()) == 2
    assert sorted(_verifies(r, per_call) for r in receiver.received) == [False, True]
    assert sorted(_verifies(r, endpoint_secret) for r in receiver.received) == [False, True]
    assert {r.body["process_id"] for r in receiver.received} == {process.public_id}


def test_a_flag_stored_late_by_a_worker_cannot_hide_a_new_endpoint(
    receiver, key, eager_worker, django_capture_on_commit_callbacks
):
    # A worker recording another event of the account asked the database just before the
    # endpoint below was committed (no endpoint: 0) ...
    with django_capture_on_commit_callbacks(execute=True):
        endpoint, secret = actions.endpoint_create(
            account_id=key.account_id, url=receiver.url, events=None
        )
    # ... and stores that answer only now.
    actions._flag_store(key.account_id, 0)

    assert actions._targets(key.account_id, "process.completed", None) == ([endpoint], None)
    receiver.secrets = [secret]
    with django_capture_on_commit_callbacks(execute=True):
        events.credits_low(account_id=key.account_id)
    (got,) = receiver.received
    assert got.verified and got.body["event"] == "credits.low"
