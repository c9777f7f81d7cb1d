"""Concurrent executes over HTTP against the live server never overdraw an account."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from accounts.ledger.selectors import account_balance, ledger_total
from accounts.models import LedgerEntry
from services.models import Process
from tests.integration.live import EXECUTE_PATH, need_postgres, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CALLS = 40
AFFORDABLE = 10


def test_forty_concurrent_executes_on_credits_for_ten_charge_exactly_ten(live_stack, make_key):
    need_postgres()
    key = make_key(credits=AFFORDABLE)  # text_analyzer.analyze costs 1 credit
    start = threading.Barrier(CALLS)

    def call(n: int) -> httpx.Response:
        with live_stack.client(key.raw) as client:
            start.wait(timeout=30)  # every thread sends at once
            return client.post(EXECUTE_PATH, json={"text": f"Call number {n}."})

    with ThreadPoolExecutor(max_workers=CALLS) as pool:
        responses = list(pool.map(call, range(CALLS)))

    assert Counter(r.status_code for r in responses) == {202: AFFORDABLE, 402: CALLS - AFFORDABLE}
    for refused in (r for r in responses if r.status_code == 402):
        body = refused.json()
        assert body["error"] == "INSUFFICIENT_CREDITS"
        assert body["details"] == {"required": 1, "balance": 0}
    accepted = [r.json() for r in responses if r.status_code == 202]
    assert sorted(b["credits_remaining"] for b in accepted) == list(range(AFFORDABLE))
    assert len({b["process_id"] for b in accepted}) == AFFORDABLE

    processes = Process.objects.filter(account=key.account)
    wait_for(
        lambda: not processes.unfinished().exists(),
        timeout=30,
        what="the worker to finish the accepted processes",
    )
    assert processes.count() == AFFORDABLE
    assert set(processes.values_list("state", flat=True)) == {Process.State.COMPLETED}
    ledger = LedgerEntry.objects.filter(account=key.account)
    assert ledger.filter(kind=LedgerEntry.Kind.CHARGE).count() == AFFORDABLE
    assert not ledger.filter(kind=LedgerEntry.Kind.REFUND).exists()
    assert account_balance(account=key.account) == 0 == ledger_total(account=key.account)
