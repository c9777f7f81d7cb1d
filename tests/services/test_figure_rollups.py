"""Process outcomes and credits spent read from their daily rollups plus the live tail: the
same figures as a plain count of the rows, before, during and after the rollups, each row
counted once."""

from datetime import timedelta

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from accounts.ledger.actions import credits_add, credits_refund
from accounts.models import LedgerEntry
from services.models import LedgerDaily, Process, ProcessDaily, RollupState
from services.staff import selectors as staff_selectors
from services.usage import actions as usage_actions
from services.usage.actions import ledger_rollup, outcomes_rollup
from services.usage.figures import (
    Flows,
    Outcomes,
    credits_spent,
    ledger_flows,
    process_outcomes,
    top_spenders,
)
from tests.factories import AccountFactory, ApiKeyFactory, process_make

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


def platform_wide():
    """Outcomes and credits spent per day and service over every account and key."""
    today = timezone.now().date()
    start = today - timedelta(days=10)
    by = ("day", "service_id")
    return (
        process_outcomes(start=start, end=today, by=by),
        credits_spent(start=start, end=today, by=by),
    )


def by_service(want):
    """plain_count's figures summed over keys: per day and service."""
    outcomes: dict = {}
    for (day, service, _), o in want[0].items():
        finished, failed = outcomes.get((day, service), (0, 0))
        outcomes[(day, service)] = (finished + o.finished, failed + o.failed)
    spent: dict = {}
    for (day, service, _), credits in want[1].items():
        spent[(day, service)] = spent.get((day, service), 0) + credits
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

    assert platform_wide() == by_service(want)
    assert outcomes_rollup() == 5
    assert ledger_rollup() == 6  # the opening grant, 4 charges and a refund
    assert ProcessDaily.objects.count() > 0 and LedgerDaily.objects.count() > 0
    assert figures(account_id=account.pk) == want  # all from the rollups
    assert platform_wide() == by_service(want)  # from the rows of all accounts and keys
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
    assert ledger_rollup() == 1
    assert figures(account_id=account.pk) == want
    assert outcomes_rollup() == 0 and ledger_rollup() == 0


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
    assert ledger_rollup() == 0
    assert ProcessDaily.objects.count() == 0
    assert figures()[0] == plain_count(account)[0]


def plain_flows(accounts):
    """Credits sold, consumed and refunded per day and account, summed in Python from the
    ledger rows (grants and adjustments in none of them)."""
    flows: dict = {}
    for e in LedgerEntry.objects.filter(account__in=accounts):
        key = (e.created_at.date(), e.account_id)
        sold, consumed, refunded = flows.get(key, (0, 0, 0))
        if e.kind == "topup":
            sold += e.amount
        elif e.kind == "charge":
            consumed -= e.amount
        elif e.kind == "refund":
            refunded += e.amount
        flows[key] = (sold, consumed, refunded)
    return {k: Flows(*v) for k, v in flows.items() if v != (0, 0, 0)}


def test_ledger_flows_and_the_staff_figures_equal_the_ledger_rows(account, settled):
    other = AccountFactory()
    credits_add(account=account, amount=500, kind="topup", reference="pay-1")
    credits_add(account=other, amount=50, kind="topup", reference="pay-2")
    credits_add(account=other, amount=7, kind="adjustment", reason="goodwill")
    charged = [process_make(account, state="completed") for _ in range(3)]
    process_make(other, state="completed")
    credits_refund(process=charged[1], reason="test")
    backdate(charged[0], 2)
    today = timezone.now().date()
    start = today - timedelta(days=10)

    def read():
        flows = ledger_flows(start=start, end=today, by=("day", "account_id"))
        mine = {k: v for k, v in flows.items() if k[1] in (account.pk, other.pk)}
        by_day = staff_selectors.ledger_flows_by_day(start=start, end=today)
        top = staff_selectors.top_accounts_by_consumption(start=start, end=today)
        return mine, by_day, [(t.account_id, t.charged, t.refunded) for t in top]

    want = plain_flows([account, other])
    assert sum(f.sold for f in want.values()) == 550
    live = read()
    assert live[0] == want
    for day, flows in live[1].items():
        day_flows = [f for (d, _), f in want.items() if d == day]
        assert flows.sold == sum(f.sold for f in day_flows)
        assert flows.consumed == sum(f.consumed for f in day_flows)
        assert flows.refunded == sum(f.refunded for f in day_flows)

    def total(account_id, field):
        return sum(getattr(f, field) for (_, a), f in want.items() if a == account_id)

    assert live[2] == [
        (a.pk, total(a.pk, "consumed"), total(a.pk, "refunded")) for a in (account, other)
    ]

    while ledger_rollup():
        pass
    assert LedgerDaily.objects.filter(sold__gt=0).exists()
    assert read() == live  # the same figures from the rollup


def plain_ranking(accounts, limit):
    """The accounts that spent the most (charges net of refunds, above 0), summed in Python from
    the ledger rows: (account id, spent), most first, ties by id."""
    spent = {a.pk: 0 for a in accounts}
    for e in LedgerEntry.objects.filter(account__in=accounts, kind__in=["charge", "refund"]):
        spent[e.account_id] -= e.amount
    ranked = sorted(((a, s) for a, s in spent.items() if s > 0), key=lambda a_s: (-a_s[1], a_s[0]))
    return ranked[:limit]


def test_the_top_spenders_are_ranked_over_rollup_and_tail_as_the_rows_say(settled):
    accounts = [AccountFactory(credits=1_000) for _ in range(5)]
    first, second, third, fourth, fifth = accounts
    for account, calls in ((first, 3), (second, 2), (third, 1), (fifth, 1)):
        for _ in range(calls):
            process_make(account, state="completed")
    while ledger_rollup():
        pass
    # Past the watermark: the second overtakes the first, the first gets a refund, the fourth
    # starts spending and the fifth's only charge is refunded (it leaves the ranking).
    for _ in range(2):
        process_make(second, state="completed")
    refunded = process_make(first, state="completed")
    credits_refund(process=refunded, reason="test")
    process_make(fourth, state="completed", credits=25)
    credits_refund(process=Process.objects.get(account=fifth), reason="test")

    today = timezone.now().date()
    start = today - timedelta(days=10)

    def ranking(limit):
        return [(a, f.spent) for a, f in top_spenders(start=start, end=today, limit=limit)]

    assert ranking(1) == plain_ranking(accounts, 1) == [(second.pk, 4 * 7)]
    for limit in (2, 3, 5):
        assert ranking(limit) == plain_ranking(accounts, limit)
    assert [a for a, _ in ranking(5)] == [second.pk, fourth.pk, first.pk, third.pk]
    while ledger_rollup():
        pass
    for limit in (1, 2, 3, 5):
        assert ranking(limit) == plain_ranking(accounts, limit)  # the same from the rollup alone
