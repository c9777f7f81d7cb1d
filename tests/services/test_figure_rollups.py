"""Process outcomes and credits spent read from their daily rollups plus the live tail: the
same figures as a plain count of the rows, before, during and after the rollups, each row
counted once."""

from datetime import timedelta

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from accounts.ledger.actions import credits_refund
from accounts.models import LedgerEntry
from services.models import Process, ProcessDaily, RollupState, SpentDaily
from services.usage import actions as usage_actions
from services.usage.actions import outcomes_rollup, spent_rollup
from services.usage.figures import Outcomes, credits_spent, process_outcomes
from tests.factories import ApiKeyFactory, process_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def settled(monkeypatch):
    """Rows count as settled at once (the rollups otherwise leave the last seconds alone)."""
    monkeypatch.setattr(usage_actions, "ROLLUP_SETTLE_SECONDS", -60)


def backdate(process: Process, days: int) -> None:
    """Move a process and its ledger rows `days` back (the ledger is append-only: test only)."""
    moment = timezone.now() - timedelta(days=days)
    Process.objects.filter(pk=process.pk).update(created_at=moment)
    QuerySet(LedgerEntry).filter(process=process).update(created_at=moment)


def figures(**narrow):
    today = timezone.now().date()
    start = today - timedelta(days=10)
    by = ("day", "service_id", "api_key_id")
    return (
        process_outcomes(start=start, end=today, by=by, **narrow),
        credits_spent(start=start, end=today, by=by, **narrow),
    )


def plain_count(account):
    """The same figures counted in Python from the rows."""
    outcomes: dict = {}
    for p in Process.objects.filter(account=account, state__in=["completed", "error"]):
        key = (p.created_at.date(), p.service_id, p.api_key_id)
        failed = p.state == "error" or (p.result or {}).get("status") == "error"
        finished, fails = outcomes.get(key, (0, 0))
        outcomes[key] = (finished + 1, fails + int(failed))
    spent: dict = {}
    for e in LedgerEntry.objects.filter(account=account, kind__in=["charge", "refund"]):
        key = (e.created_at.date(), e.process.service_id, e.process.api_key_id)
        spent[key] = spent.get(key, 0) - e.amount
    return (
        {k: Outcomes(finished=f, failed=x) for k, (f, x) in outcomes.items()},
        {k: v for k, v in spent.items() if v},
    )


def test_rolled_up_figures_equal_the_rows_at_every_step(account, settled):
    key = ApiKeyFactory(account=account)
    made = [
        process_make(account, state="completed", key=key),
        process_make(account, state="completed", key=key, inner_error=True),
        process_make(account, state="error", key=key),
        process_make(account, state="completed", key=None, credits=3),
        process_make(account, state="completed", charged=False),
    ]
    backdate(made[0], 3)
    backdate(made[3], 1)
    credits_refund(process=made[2], reason="test")
    want = plain_count(account)
    assert sum(o.finished for o in want[0].values()) == 5
    assert figures(account_id=account.pk) == want  # all from the live tail

    assert outcomes_rollup() == 5
    assert spent_rollup() == 6  # the opening grant, 4 charges and a refund
    assert ProcessDaily.objects.count() > 0 and SpentDaily.objects.count() > 0
    assert figures(account_id=account.pk) == want  # all from the rollups
    assert figures(account_id=account.pk, api_key_id=key.pk) == (
        {k: v for k, v in want[0].items() if k[2] == key.pk},
        {k: v for k, v in want[1].items() if k[2] == key.pk},
    )

    # A refund of a call already rolled up: the tail cancels the rolled-up charge.
    credits_refund(process=made[0], reason="test")
    backdate_refund = timezone.now() - timedelta(days=3)
    QuerySet(LedgerEntry).filter(process=made[0], kind="refund").update(created_at=backdate_refund)
    want = plain_count(account)
    three_days_ago = backdate_refund.date()
    assert (three_days_ago, "text_analyzer", key.pk) in figures()[0]
    assert (three_days_ago, "text_analyzer", key.pk) not in figures()[1]  # nets to 0
    assert figures(account_id=account.pk) == want
    assert spent_rollup() == 1
    assert figures(account_id=account.pk) == want
    assert outcomes_rollup() == 0 and spent_rollup() == 0


def test_a_process_still_running_holds_the_watermark_until_it_finishes(account, settled):
    first = process_make(account, state="completed")
    running = process_make(account, state="running")
    last = process_make(account, state="error")

    assert outcomes_rollup() == 1
    assert RollupState.objects.get(name="processes").last_id == first.pk
    finished, failed = figures()[0], plain_count(account)[0]
    assert finished == failed  # the finished one after the running one comes from the tail

    Process.objects.filter(pk=running.pk).update(state="completed", finished_at=timezone.now())
    assert outcomes_rollup() == 2
    assert RollupState.objects.get(name="processes").last_id == last.pk
    assert figures()[0] == plain_count(account)[0]


def test_rows_younger_than_the_settle_time_wait_for_the_next_run(account):
    process_make(account, state="completed")
    assert outcomes_rollup() == 0
    assert spent_rollup() == 0
    assert ProcessDaily.objects.count() == 0
    assert figures()[0] == plain_count(account)[0]
