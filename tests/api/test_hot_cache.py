"""The hot path's cache (breact/hot_cache.py): with Redis, the execute and the poll take the key
and endpoint rows from the server process's cache, and every change that could alter what they
decide reaches the very next call. Each test warms the cache with a call first, proves the cache
is used (no key or endpoint query), then makes the change through the product's own action and
checks the next call. A key whose row is cached is authenticated and rate-limited in one Redis
round trip (accounts/auth.py): the tests at the end pin that its answers are the counted path's."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

import accounts.keys.selectors
from accounts.auth import AUTH_FAILURE_SCOPE
from accounts.keys.actions import PREFIX_LENGTH, api_key_revoke, api_key_roll, api_key_update
from accounts.keys.selectors import KEY_ROWS
from accounts.ledger.selectors import account_balance
from accounts.models import Account, ApiKey, LedgerEntry, User
from accounts.staff.actions import account_status_set
from breact import hot_cache, throttle
from services.models import Endpoint, Process
from services.staff.actions import endpoint_update
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _needs_redis() -> None:
    if not settings.REDIS_URL:
        pytest.skip("the hot-path cache needs REDIS_URL (its generation lives in Redis)")


def _warm(client: Any, execute: Any) -> Any:
    assert execute(client).status_code == 202
    with CaptureQueriesContext(connection) as queries:
        assert execute(client).status_code == 202
    assert not _row_reads(queries)
    return client


@pytest.fixture
def warmed(key: ApiKey, client_for: Any, execute: Any) -> Any:
    """A client whose key and endpoint are in the cache: its second execute reads neither."""
    return _warm(client_for(key), execute)


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


# --- one round trip for a cached key (accounts/auth.py) -----------------------------------------
# A key whose row this process holds, and that passes it now, is authenticated and rate-limited
# in one Redis script that confirms the cache's generation; whatever changed elsewhere must
# still reach its very next call, and the failed-authentication and rate-limit answers must be
# those of the counted path (two round trips: count the attempt, then give it back with the
# rate limit).

CLIENT_NETWORK = "127.0.0.1"  # the test client's REMOTE_ADDR
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After")


def _failures() -> int:
    """The client network's failed-authentication count in this window."""
    key = throttle._cache_key(
        AUTH_FAILURE_SCOPE, CLIENT_NETWORK, settings.BREACT_AUTH_FAILURE_RATE_LIMIT
    )[0]
    return int(cache.get(key) or 0)


def _generation() -> Any:
    return cache.client.get_client(write=True).get(hot_cache.generation_key())  # type: ignore[attr-defined]


def _changed_on_another_server(sql: str, params: list[Any]) -> None:
    """What another server process's write looks like from here: the row changes behind this
    process's back (no signal, no on-commit hook runs here) and a new generation is written to
    Redis, as breact.hot_cache.generation_renew does there."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    cache.client.get_client(write=True).set(hot_cache.generation_key(), "another-server")  # type: ignore[attr-defined]


def _timed(call: Any, round_trips: list[int]) -> tuple[Any, int]:
    """The response of `call()` and the Redis round trips it took."""
    before = round_trips[0]
    response = call()
    return response, round_trips[0] - before


@pytest.mark.parametrize("change", ["key revoked", "account disabled", "owner deactivated"])
def test_a_change_on_another_server_refuses_the_very_next_call_of_a_cached_key(
    still_rate_clock, warmed, key, execute, poll, assert_error, change
):
    started = execute(warmed).json()
    model, column, value, row_id, status, code = {
        "key revoked": (ApiKey, "revoked_at", timezone.now(), key.pk, 401, "UNAUTHORIZED"),
        "account disabled": (Account, "status", "disabled", key.account_id, 403, "FORBIDDEN"),
        "owner deactivated": (User, "is_active", False, key.account.owner_id, 403, "FORBIDDEN"),
    }[change]
    _changed_on_another_server(
        f"UPDATE {model._meta.db_table} SET {column} = %s WHERE id = %s", [value, row_id]
    )

    assert_error(execute(warmed), status, code)
    assert_error(poll(warmed, started["process_id"], started["access_token"]), status, code)
    # As on the counted path: a revoked key is a failed attempt, a disabled account is not.
    assert _failures() == (2 if status == 401 else 0)


def test_a_cached_key_is_refused_once_it_expires_though_nothing_renews_the_generation(
    still_rate_clock, make_key, client_for, execute, assert_error, monkeypatch
):
    key = make_key(expires_at=timezone.now() + timedelta(hours=1))
    client = _warm(client_for(key), execute)
    generation = _generation()
    later = timezone.now() + timedelta(hours=2)
    monkeypatch.setattr(accounts.keys.selectors, "timezone", SimpleNamespace(now=lambda: later))

    assert_error(execute(client), 401, "UNAUTHORIZED")
    assert _generation() == generation
    assert _failures() == 1


def test_a_moved_generation_costs_a_good_key_one_more_round_trip_once(
    warmed, execute, redis_round_trips
):
    """Any change anywhere moves the generation: the next call checks its key against the
    database and counts its rate limit apart (two round trips), and is cached again."""
    _changed_on_another_server("SELECT %s", [1])

    moved = _timed(lambda: execute(warmed), redis_round_trips)
    again = _timed(lambda: execute(warmed), redis_round_trips)

    assert [(r.status_code, n) for r, n in (moved, again)] == [(202, 2), (202, 1)]
    assert _failures() == 0


def _answer(response: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    """What a client sees, but the request id."""
    body = {k: v for k, v in response.json().items() if k != "request_id"}
    return response.status_code, body, {h: response[h] for h in RATE_HEADERS if h in response}


@pytest.mark.parametrize("limited", ["account", "key", "poll"])
def test_rate_limit_answers_are_the_same_whether_the_key_row_is_cached_or_not(
    still_rate_clock, make_key, client_for, execute, poll, settings, redis_round_trips, limited
):
    key = make_key(rate_limit="2/m" if limited == "key" else "")
    if limited == "account":
        Account.objects.filter(pk=key.account_id).update(rate_limit="2/m")
    if limited == "poll":
        settings.BREACT_POLL_RATE_LIMIT = "2/m"
    client = client_for(key)
    if limited == "poll":
        started = execute(client).json()
        call = lambda: poll(client, started["process_id"], started["access_token"])  # noqa: E731
    else:
        call = lambda: execute(client)  # noqa: E731

    def counted(*, cached: bool) -> tuple[Any, int]:
        if not cached:
            KEY_ROWS.clear()
        return _timed(call, redis_round_trips)

    calls = [counted(cached=False), counted(cached=True), counted(cached=True)]
    calls.append(counted(cached=False))

    assert [n for _, n in calls] == [2, 1, 1, 2]  # counted path, cached path
    first, second, fast_refusal, slow_refusal = (_answer(r) for r, _ in calls)
    assert [first[0], second[0]] == [200 if limited == "poll" else 202] * 2
    assert [first[2]["X-RateLimit-Remaining"], second[2]["X-RateLimit-Remaining"]] == ["1", "0"]
    assert first[2]["X-RateLimit-Reset"] == second[2]["X-RateLimit-Reset"]
    assert fast_refusal[0] == 429
    assert fast_refusal == slow_refusal
    assert set(fast_refusal[2]) == set(RATE_HEADERS)


def test_a_locked_out_network_is_refused_with_a_cached_good_key_and_nothing_counted(
    still_rate_clock, warmed, key, execute, poll, assert_error, settings, redis_round_trips
):
    settings.BREACT_AUTH_FAILURE_RATE_LIMIT = "3/m"
    wrong = APIClient()
    wrong.credentials(HTTP_X_API_KEY="brk_" + "H" * 40)  # type: ignore[attr-defined]
    assert [execute(wrong).status_code for _ in range(3)] == [401] * 3
    account_counter = throttle._cache_key(
        "account-execute", str(key.account_id), settings.BREACT_DEFAULT_RATE_LIMIT
    )[0]
    executes_counted = cache.get(account_counter)
    balance = account_balance(account=key.account)

    cached, round_trips = _timed(lambda: execute(warmed), redis_round_trips)
    KEY_ROWS.clear()
    counted = execute(warmed)

    body = assert_error(cached, 429, "RATE_LIMIT_EXCEEDED")
    assert "failed authentication attempts" in body["message"]
    assert round_trips == 1
    assert _answer(cached) == _answer(counted)
    assert _failures() == 3
    assert cache.get(account_counter) == executes_counted
    assert account_balance(account=key.account) == balance


@pytest.mark.parametrize("prefix", ["unknown", "the cached key's"])
def test_a_wrong_key_on_the_hot_path_counts_as_a_failed_attempt(
    still_rate_clock, warmed, key, execute, assert_error, prefix
):
    secret = "J" * (len(key.raw) - PREFIX_LENGTH)
    wrong = APIClient()
    raw = ("brk_" + "J" * 40) if prefix == "unknown" else key.raw[:PREFIX_LENGTH] + secret
    wrong.credentials(HTTP_X_API_KEY=raw)  # type: ignore[attr-defined]

    for attempts in (1, 2):
        assert_error(execute(wrong), 401, "UNAUTHORIZED")
        assert _failures() == attempts
    assert execute(warmed).status_code == 202
    assert _failures() == 2


def test_a_cache_outage_answers_503_to_a_cached_key_and_charges_nothing(
    warmed, key, execute, assert_error, request
):
    processes = Process.objects.count()
    balance = account_balance(account=key.account)
    request.getfixturevalue("cache_down")

    assert_error(execute(warmed), 503, "SERVICE_UNAVAILABLE")
    assert Process.objects.count() == processes
    assert account_balance(account=key.account) == balance
