"""Usage rollups: every request-log row counted once, by day, grain and status class."""

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from services.models import RollupState, UsageDaily, UsageLog
from services.usage.actions import usage_rollup

pytestmark = pytest.mark.django_db


def _log(account, **fields):
    defaults = {
        "account": account,
        "method": "POST",
        "route": "api/v1/services/<str:service_id>/<str:endpoint>",
        "service_id": "summary",
        "endpoint": "summarize",
        "status_code": 202,
        "duration_ms": 40,
        "credits": 2,
        "created_at": timezone.now() - timedelta(minutes=5),
    }
    defaults.update(fields)
    return UsageLog.objects.create(**defaults)


def test_rollup_counts_each_row_once_across_runs(account):
    for _ in range(3):
        _log(account)
    _log(account, status_code=402, credits=0, duration_ms=8)
    _log(account, method="GET", status_code=200, credits=0, duration_ms=3)

    assert usage_rollup() == 5
    assert usage_rollup() == 0
    _log(account)
    assert usage_rollup() == 1

    rows = UsageDaily.objects.filter(account_ref=account.pk)
    calls = rows.filter(kind="call", status_class=2).get()
    assert calls.requests == 4
    assert calls.credits == 8
    assert calls.duration_ms_sum == 160
    assert sum(calls.latency_buckets) == 4
    assert calls.latency_buckets[3] == 4  # 25 < 40 <= 50
    errors = rows.get(kind="call", status_class=4)
    assert (errors.requests, errors.credits) == (1, 0)
    assert rows.get(kind="read").requests == 1
    assert rows.aggregate(n=Sum("requests"))["n"] == UsageLog.objects.count()
    # The rows of all accounts and keys hold the same sums, grain by grain.
    everyone = UsageDaily.objects.filter(account_ref=UsageDaily.ALL_REFS, api_key_ref=-1)
    assert sorted(
        (r.kind, r.status_class, r.requests, r.credits, r.duration_ms_sum, r.latency_buckets)
        for r in everyone
    ) == sorted(
        (r.kind, r.status_class, r.requests, r.credits, r.duration_ms_sum, r.latency_buckets)
        for r in rows
    )
    assert RollupState.objects.get(name="usage").last_id == UsageLog.objects.latest("id").id


def test_rows_younger_than_the_settle_time_wait_for_the_next_run(account):
    _log(account, created_at=timezone.now())

    assert usage_rollup() == 0
    assert not UsageDaily.objects.exists()


def test_rollup_splits_days_and_batches(account):
    now = timezone.now()
    for days in (1, 1, 2):
        _log(account, created_at=now - timedelta(days=days))

    assert usage_rollup(batch=2) == 2
    assert usage_rollup(batch=2) == 1
    by_day = dict(UsageDaily.objects.filter(account_ref__gte=0).values_list("day", "requests"))
    assert sorted(by_day.values()) == [1, 2]
