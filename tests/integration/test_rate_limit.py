"""Rate limits hold across two server processes that share Redis: a key's own, and an
account's over all its keys."""

from __future__ import annotations

import pytest

from accounts.ledger.selectors import account_balance, ledger_total
from accounts.models import Account
from services.models import Process
from tests.integration.live import EXECUTE_PATH, LiveStack, need_redis, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LIMIT = 7
REQUESTS = 16


@pytest.fixture(scope="module")
def second_server(live_stack, live_factory) -> LiveStack:
    """Another gunicorn with the main stack's environment: same database, Redis and broker."""
    need_redis()
    return live_factory.stack(
        "second", live_stack.env, live_stack.var_dir, with_worker=False, web_workers=1
    )


def test_limit_is_shared_by_two_servers(live_stack, second_server, make_key):
    # Per hour rather than per minute: the counter uses fixed windows, and a run of a second
    # straddles a window edge far less often in an hour-long window.
    key = make_key(credits=100, rate_limit=f"{LIMIT}/h")
    servers = [live_stack.client(key.raw), second_server.client(key.raw)]
    assert live_stack.url != second_server.url

    responses = [
        servers[n % 2].post(EXECUTE_PATH, json={"text": f"Request {n}."}) for n in range(REQUESTS)
    ]
    for client in servers:
        client.close()

    statuses = [r.status_code for r in responses]
    assert statuses == [202] * LIMIT + [429] * (REQUESTS - LIMIT)
    # One counter: each answer, whichever server gave it, sees the other server's hits.
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in responses[:LIMIT]] == list(
        range(LIMIT - 1, -1, -1)
    )
    for limited in responses[LIMIT:]:
        body = limited.json()
        assert body["error"] == "RATE_LIMIT_EXCEEDED"
        assert body["details"]["limit"] == LIMIT
        assert 1 <= int(limited.headers["Retry-After"]) <= 3600
        assert limited.headers["X-RateLimit-Limit"] == str(LIMIT)

    processes = Process.objects.filter(account=key.account)
    wait_for(lambda: not processes.unfinished().exists(), timeout=30, what="the processes")
    assert processes.count() == LIMIT
    # A 429 charges nothing.
    assert account_balance(account=key.account) == 100 - LIMIT == ledger_total(account=key.account)


ACCOUNT_LIMIT = 4


def test_an_accounts_limit_is_shared_by_its_keys_across_two_servers(
    live_stack, second_server, make_key
):
    first = make_key(credits=100)
    Account.objects.filter(pk=first.account.pk).update(rate_limit=f"{ACCOUNT_LIMIT}/h")
    keys = [first, make_key(account=first.account), make_key(account=first.account)]
    # Every key on both servers: six clients, used in turn.
    clients = [server.client(key.raw) for server in (live_stack, second_server) for key in keys]

    responses = [
        clients[n % len(clients)].post(EXECUTE_PATH, json={"text": f"Call {n}."})
        for n in range(REQUESTS)
    ]
    for client in clients:
        client.close()

    statuses = [r.status_code for r in responses]
    assert statuses == [202] * ACCOUNT_LIMIT + [429] * (REQUESTS - ACCOUNT_LIMIT)
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in responses[:ACCOUNT_LIMIT]] == list(
        range(ACCOUNT_LIMIT - 1, -1, -1)
    )
    for limited in responses[ACCOUNT_LIMIT:]:
        body = limited.json()
        assert body["error"] == "RATE_LIMIT_EXCEEDED"
        assert body["details"]["limit"] == ACCOUNT_LIMIT
        assert "this account" in body["message"]

    processes = Process.objects.filter(account=first.account)
    wait_for(lambda: not processes.unfinished().exists(), timeout=30, what="the processes")
    assert processes.count() == ACCOUNT_LIMIT
    assert account_balance(account=first.account) == 100 - ACCOUNT_LIMIT
    assert ledger_total(account=first.account) == 100 - ACCOUNT_LIMIT
