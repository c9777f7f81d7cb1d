"""The request log's Redis buffer (services/usage/actions.py): with BREACT_USAGE_LOG_BUFFER on,
an API call appends its row to a stream and the fold moves it into UsageLog exactly once, also
when a fold dies half-way, when its key or account was deleted meanwhile, and when Redis refuses
the append. Pages and the usage API never lag behind the caller's own calls."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import ApiKey
from services.models import UsageLog
from services.usage.actions import USAGE_STREAM, usage_log_fold, usage_log_fold_all
from tests.factories import AccountFactory, ApiKeyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _buffered(settings: Any) -> None:
    if not settings.REDIS_URL:
        pytest.skip("the request-log buffer is a Redis stream")
    settings.BREACT_USAGE_LOG_BUFFER = True


def _buffered_entries() -> int:
    client = cache.client  # type: ignore[attr-defined]
    return int(client.get_client(write=True).xlen(client.make_key(USAGE_STREAM)))


def test_a_call_is_buffered_then_folded_once_with_its_fields(keyed_client, key, execute):
    answer = execute(keyed_client)
    assert answer.status_code == 202

    assert not UsageLog.objects.exists()
    assert _buffered_entries() == 1
    assert usage_log_fold() == 1
    assert usage_log_fold() == 0

    row = UsageLog.objects.get()
    assert (row.api_key_id, row.account_id, row.method, row.status_code, row.credits) == (
        key.pk,
        key.account_id,
        "POST",
        202,
        1,
    )
    assert (row.service_id, row.endpoint, row.process_id) == (
        "text_analyzer",
        "analyze",
        answer.json()["process_id"],
    )
    assert row.request_id == answer["X-Request-ID"] and row.stream_id
    assert _buffered_entries() == 0


def test_a_fold_that_dies_before_trimming_adds_nothing_the_second_time(
    keyed_client, execute, monkeypatch
):
    for _ in range(3):
        execute(keyed_client)
    redis_class = type(cache.client.get_client(write=True))  # type: ignore[attr-defined]
    original = redis_class.xdel
    monkeypatch.setattr(redis_class, "xdel", lambda *a, **k: (_ for _ in ()).throw(OSError()))

    with pytest.raises(OSError):
        usage_log_fold()
    assert UsageLog.objects.count() == 3 and _buffered_entries() == 3

    monkeypatch.setattr(redis_class, "xdel", original)
    assert usage_log_fold() == 3

    assert UsageLog.objects.count() == 3
    assert _buffered_entries() == 0


def test_rows_of_a_deleted_key_stay_without_it_and_of_a_deleted_account_go_with_it(execute):
    kept, gone = ApiKeyFactory(), ApiKeyFactory(account=AccountFactory())  # no ledger: deletable
    for api_key in (kept, gone):
        client = Client(HTTP_X_API_KEY=api_key.raw)
        assert client.get("/api/v1/account").status_code == 200
    ApiKey.objects.filter(pk=kept.pk).delete()
    gone.account.delete()

    usage_log_fold_all()

    row = UsageLog.objects.get()
    assert (row.account_id, row.api_key_id) == (kept.account_id, None)


def test_a_refused_append_writes_the_row_directly(keyed_client, execute, monkeypatch):
    redis_class = type(cache.client.get_client(write=True))  # type: ignore[attr-defined]
    monkeypatch.setattr(redis_class, "xadd", lambda *a, **k: (_ for _ in ()).throw(OSError()))

    assert execute(keyed_client).status_code == 202

    assert UsageLog.objects.count() == 1


def test_the_usage_api_counts_the_callers_own_calls_at_once(keyed_client, execute):
    for _ in range(2):
        execute(keyed_client)

    body = keyed_client.get("/api/v1/usage").json()

    assert body["totals"]["calls"] == 2


def test_a_console_page_shows_the_callers_own_calls_at_once(key, execute, client_for):
    execute(client_for(key))
    page = Client()
    page.force_login(key.account.owner)

    html = page.get("/usage/").content.decode()

    assert UsageLog.objects.count() == 1
    assert "text_analyzer" in html
