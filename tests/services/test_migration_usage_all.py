"""Migration 0011 on a database as 0010 left it: the per-account UsageDaily rows already rolled
up get their rows of all accounts and keys, so platform-wide figures keep the whole history."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support import migrate_to, migrate_to_latest

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("services", "0010_figure_rollups")]
AFTER = [("services", "0011_usage_daily_all_accounts")]


@pytest.fixture(autouse=True)
def _latest_schema_afterwards():
    """Every later test needs the whole schema back (the later migrations too)."""
    yield
    migrate_to_latest()


def test_rows_of_all_accounts_are_summed_from_the_rolled_up_rows():
    old = migrate_to(BEFORE)
    UsageDaily = old.get_model("services", "UsageDaily")
    day = date(2026, 3, 1)
    grain = {"day": day, "service_id": "summary", "endpoint": "summarize", "kind": "call"}
    for account, key, status_class, requests in ((1, 11, 2, 3), (2, 21, 2, 4), (2, 0, 4, 1)):
        buckets = [0] * 12
        buckets[account] = requests
        UsageDaily.objects.create(
            **grain,
            account_ref=account,
            api_key_ref=key,
            status_class=status_class,
            requests=requests,
            credits=2 * requests,
            duration_ms_sum=10 * requests,
            latency_buckets=buckets,
        )

    new = migrate_to(AFTER)
    UsageDaily = new.get_model("services", "UsageDaily")
    everyone = {
        row.status_class: row for row in UsageDaily.objects.filter(account_ref=-1, api_key_ref=-1)
    }
    assert sorted(everyone) == [2, 4]
    ok = everyone[2]
    assert (ok.requests, ok.credits, ok.duration_ms_sum) == (7, 14, 70)
    assert ok.latency_buckets == [0, 3, 4] + [0] * 9
    assert everyone[4].requests == 1
    assert UsageDaily.objects.filter(account_ref__gte=0).count() == 3

    migrate_to(BEFORE)  # reversing removes them
    assert not UsageDaily.objects.filter(account_ref=-1).exists()
