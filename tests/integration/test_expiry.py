"""Results expire BREACT_RESULT_TTL seconds after they are ready, enforced on every read."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import LedgerEntry
from services.models import Process
from tests.integration.live import EXECUTE_PATH, LiveStack, poll_until_finished

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TTL = 2


@pytest.fixture(scope="module")
def short_ttl(live_env, live_factory, tmp_path_factory) -> LiveStack:
    """Its own server and worker with BREACT_RESULT_TTL=2 and no beat (so no periodic purge).
    Its broker is a folder of its own: the shared worker must not take these tasks."""
    var_dir = tmp_path_factory.mktemp("ttl-var")
    env = live_env.child_env(var_dir, BREACT_RESULT_TTL=str(TTL), CELERY_BROKER_URL="embedded://")
    return live_factory.stack("ttl", env, var_dir, web_workers=1, concurrency=1)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_completed_result_is_readable_before_the_ttl_and_gone_after(short_ttl, make_key):
    key = make_key(credits=5)
    client = short_ttl.client(key.raw)
    accepted = client.post(EXECUTE_PATH, json={"text": "Short lived."})
    assert accepted.status_code == 202, accepted.text
    result_url = accepted.json()["result_url"]

    ready = poll_until_finished(client, result_url)

    assert ready["status"] == "completed"
    assert ready["result"]["result"]["word_count"] == 2
    expires_at = _moment(ready["expires_at"])
    assert expires_at - _moment(ready["completed_at"]) == timedelta(seconds=TTL)

    # Past the expiry by the server's own clock (same machine), the same poll is a 404.
    time.sleep(max((expires_at - datetime.now(UTC)).total_seconds(), 0) + 0.3)
    gone = client.get(result_url)
    client.close()

    assert gone.status_code == 404
    assert gone.json()["error"] == "NOT_FOUND"
    process = Process.objects.get(public_id=accepted.json()["process_id"])
    assert process.purged_at is None  # refused on read, not by a purge
    assert LedgerEntry.objects.filter(process=process, kind=LedgerEntry.Kind.CHARGE).exists()
