"""The hot path's cache (breact/hot_cache.py): with Redis, the execute and the poll take the key
and endpoint rows from the server process's cache, and every change that could alter what they
decide reaches the very next call. Each test warms the cache with a call first, proves the cache
is used (no key or endpoint query), then makes the change through the product's own action and
checks the next call."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.keys.actions import api_key_revoke, api_key_roll, api_key_update
from accounts.ledger.selectors import account_balance
from accounts.models import ApiKey, LedgerEntry
from accounts.staff.actions import account_status_set
from services.models import Endpoint, Process
from services.staff.actions import endpoint_update
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _needs_redis() -> None:
    if not settings.REDIS_URL:
        pytest.skip("the hot-path cache needs REDIS_URL (its generation lives in Redis)")


@pytest.fixture
def warmed(key: ApiKey, client_for: Any, execute: Any) -> Any:
    """A client whose key and endpoint are in the cache: its second execute reads neither."""
    client = client_for(key)
    assert execute(client).status_code == 202
    with CaptureQueriesContext(connection) as queries:
        assert execute(client).status_code == 202
    assert not _row_reads(queries)
    return client


def _row_reads(queries: CaptureQueriesContext) -> list[str]:
    """The SELECTs of key or endpoint rows among the captured queries."""
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT")
        and ('FROM "accounts_apikey"' in q["sql"] or 'FROM "services_endpoint"' in q["sql"])
    ]


def test_a_revoked_key_fails_on_the_next_call(warmed, key, execute, assert_error):
    api_key_revoke(api_key=key)

    assert_error(execute(warmed), 401, "UNAUTHORIZED")


def test_a_rolled_key_fails_on_the_next_call(warmed, key, execute, assert_error):
    api_key_roll(api_key=key, grace=timedelta(0))

    assert_error(execute(warmed), 401, "UNAUTHORIZED")


def test_a_narrowed_scope_applies_on_the_next_call(warmed, key, execute, assert_error):
    api_key_update(api_key=key, name=key.name, scopes=["summary"], rate_limit="", spend_cap=None)

    assert_error(execute(warmed), 403, "FORBIDDEN")


def test_a_spend_cap_set_applies_on_the_next_call(warmed, key, execute, assert_error):
    spent = ApiKey.objects.get(pk=key.pk).credits_spent
    api_key_update(api_key=key, name=key.name, scopes=[], rate_limit="", spend_cap=spent)

    assert_error(execute(warmed), 402, "INSUFFICIENT_CREDITS")


def test_a_disabled_account_is_refused_on_the_next_call(warmed, key, execute, assert_error):
    staff = UserFactory(is_staff=True)
    account_status_set(account=key.account, status="disabled", actor=staff, reason="abuse")

    assert_error(execute(warmed), 403, "FORBIDDEN")


def test_a_deactivated_owner_is_refused_on_the_next_call(warmed, key, execute, assert_error):
    owner = key.account.owner
    owner.is_active = False
    owner.save()

    assert_error(execute(warmed), 403, "FORBIDDEN")


def test_a_price_change_is_charged_on_the_next_call(warmed, key, execute):
    endpoint = Endpoint.objects.get(service__service_id="text_analyzer", name="analyze")
    staff = UserFactory(is_staff=True)
    endpoint_update(
        endpoint=endpoint,
        price=7,
        enabled=True,
        service_enabled=True,
        actor=staff,
        reason="new price",
        ip=None,
    )
    before = account_balance(account=key.account)

    response = execute(warmed)

    assert response.status_code == 202
    assert response.json()["credits_charged"] == 7
    assert account_balance(account=key.account) == before - 7


def test_a_disabled_endpoint_is_refused_on_the_next_call(warmed, execute, assert_error):
    endpoint = Endpoint.objects.get(service__service_id="text_analyzer", name="analyze")
    endpoint_update(
        endpoint=endpoint,
        price=endpoint.price,
        enabled=False,
        service_enabled=True,
        actor=UserFactory(is_staff=True),
        reason="maintenance",
        ip=None,
    )

    assert_error(execute(warmed), 404, "SERVICE_NOT_FOUND")


def test_a_bulk_update_of_a_key_renews_the_generation(warmed, key, execute, assert_error):
    """Writes that bypass save() (queryset.update) count too."""
    ApiKey.objects.filter(pk=key.pk).update(scopes=["classifier"])

    assert_error(execute(warmed), 403, "FORBIDDEN")


def test_charges_do_not_renew_the_generation(warmed, key, execute):
    """Balance and spend counters change on every call: they never empty the cache."""
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert execute(warmed).status_code == 202

    assert not _row_reads(queries)
    assert Process.objects.filter(api_key=key).count() == 5
    assert LedgerEntry.objects.filter(api_key=key, kind="charge").count() == 5
