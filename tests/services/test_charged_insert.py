"""The execute's one-statement charge (services/execution/charged_insert.py) against the rule it
stands for, accounts.ledger.actions.credits_charge: the same rows, the same balance and spend
counter, nothing at all written when it refuses, and concurrent charges that never overdraw."""

from __future__ import annotations

import secrets
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.ledger.actions import credits_charge
from accounts.ledger.selectors import account_balance, ledger_total
from accounts.models import ApiKey, LedgerEntry
from services.execution.charged_insert import _insert_select, insert_params, process_insert_charged
from services.models import Process


@pytest.fixture(autouse=True)
def _postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("one statement with data-modifying CTEs is PostgreSQL's")


def _process(key: ApiKey, credits: int = 3) -> Process:
    now = timezone.now()
    return Process(
        public_id=f"prc_{secrets.token_urlsafe(18)}",
        account_id=key.account_id,
        api_key=key,
        service_id="text_analyzer",
        endpoint="analyze",
        params={"text": "One."},
        token_hash="0" * 64,
        credits=credits,
        created_at=now,
        deadline_at=now + timedelta(minutes=10),
    )


def _entry_fields(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "amount": entry.amount,
        "balance_after": entry.balance_after,
        "reference": entry.reference,
        "api_key_id": entry.api_key_id,
        "actor_id": entry.actor_id,
        "reason": entry.reason,
    }


@pytest.mark.django_db
def test_it_writes_what_credits_charge_writes(make_key):
    by_rule, by_statement = make_key(credits=10), make_key(credits=10)
    ruled = _process(by_rule)
    ruled.save()
    rule_entry = credits_charge(process=ruled)

    stated = _process(by_statement)
    charged = process_insert_charged(stated)

    assert charged is not None
    statement_entry = LedgerEntry.objects.get(process_id=charged.process_pk)
    stored = Process.objects.get(pk=charged.process_pk)
    assert charged.balance == 7 == account_balance(account=by_statement.account)
    assert _entry_fields(statement_entry) == {
        **_entry_fields(rule_entry),
        "reference": stated.public_id,
        "api_key_id": by_statement.pk,
    }
    assert ledger_total(account=by_statement.account) == 7
    assert ApiKey.objects.get(pk=by_statement.pk).credits_spent == 3
    assert (stored.public_id, stored.state, stored.credits, stored.params) == (
        stated.public_id,
        Process.State.QUEUED,
        3,
        {"text": "One."},
    )


@pytest.mark.django_db
def test_short_of_credits_it_writes_nothing(make_key):
    key = make_key(credits=2)

    assert process_insert_charged(_process(key, credits=3)) is None

    assert Process.objects.count() == 0
    assert LedgerEntry.objects.filter(kind="charge").count() == 0
    assert account_balance(account=key.account) == 2
    assert ApiKey.objects.get(pk=key.pk).credits_spent == 0


@pytest.mark.django_db
def test_a_key_with_a_spend_cap_is_left_to_credits_charge(make_key):
    key = make_key(credits=10, spend_cap=100)

    assert process_insert_charged(_process(key)) is None

    assert Process.objects.count() == 0
    assert account_balance(account=key.account) == 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_charges_never_overdraw(make_key):
    """Twelve threads, each on its own connection, charge 3 credits from 20: exactly six are
    written, the balance ends at 2 and the ledger agrees."""
    key = make_key(credits=20)
    results: list[Any] = []
    barrier = threading.Barrier(12)

    def charge() -> None:
        try:
            barrier.wait()
            results.append(process_insert_charged(_process(key)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=charge) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len([r for r in results if r is not None]) == 6
    assert account_balance(account=key.account) == 2 == ledger_total(account=key.account)
    assert ApiKey.objects.get(pk=key.pk).credits_spent == 18
    assert Process.objects.count() == 6


def _comparable(params: list[Any]) -> list[Any]:
    """Django wraps JSON values (psycopg's Jsonb), which compare by identity: by their data."""
    return [getattr(value, "obj", value) for value in params]


@pytest.mark.django_db
def test_the_statement_compiled_once_takes_the_parameters_djangos_insert_would(
    make_key, monkeypatch
):
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)  # auto_now columns: one instant for both
    key = make_key(credits=10)
    process = _process(key)
    _, by_django = _insert_select(process, "TRUE")
    assert _comparable(insert_params(process)) == _comparable(by_django)

    inline = {"balance_after": RawSQL("(SELECT 1)", []), "process_id": RawSQL("(SELECT 1)", [])}
    fields = dict(account_id=key.account_id, kind=LedgerEntry.Kind.CHARGE, amount=-3,
                  reference=process.public_id, api_key_id=key.pk)  # fmt: skip
    _, entry_by_django = _insert_select(LedgerEntry(**fields, **inline), "TRUE")
    entry_params = insert_params(LedgerEntry(**fields), inline=frozenset(inline))
    assert _comparable(entry_params) == _comparable(entry_by_django)
    assert len(entry_params) == len(LedgerEntry._meta.concrete_fields) - 1 - len(inline)
