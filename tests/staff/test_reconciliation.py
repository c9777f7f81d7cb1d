"""Reconciliation: the page and `manage.py reconcile` find planted mismatches; clean books pass."""

from __future__ import annotations

import io
import json
import secrets
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.audit.actions import audit_record
from accounts.ledger.actions import credits_charge, credits_refund
from accounts.ledger.reconciliation import reconcile
from accounts.models import Account, LedgerEntry
from services.execution.actions import process_complete, process_fail
from services.models import Process
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    return client


def make_process(
    account: Account, *, credits: int = 4, state: str = "running", deadline_in: int = 300
) -> Process:
    """A process charged like process_start does (charge in the same step), left `state`."""
    process = Process.objects.create(
        public_id=f"prc_{secrets.token_urlsafe(9)}",
        account=account,
        service_id="text_service",
        endpoint="summarize",
        credits=credits,
        state=state,
        deadline_at=timezone.now() + timedelta(seconds=deadline_in),
    )
    if credits:
        credits_charge(process=process)
    return process


def succeed(process: Process) -> Process:
    process_complete(process=process, inner={"status": "success", "result": {"ok": True}})
    process.refresh_from_db()
    return process


def service_error(process: Process) -> Process:
    process_complete(
        process=process,
        inner={"status": "error", "result": None, "error": "bad input"},
        refund_reason="Service error: bad input",
    )
    process.refresh_from_db()
    return process


def run_command(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("reconcile", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def kinds(report: Any) -> set[tuple[str, int | None, str | None]]:
    return {(m.kind, m.account, m.process) for m in report.mismatches}


def raw(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def healthy_books() -> list[Account]:
    """Accounts with grants, a successful call, a platform failure and a service error, all
    refunded as they should be."""
    a = AccountFactory(credits=50)
    b = AccountFactory(credits=20)
    succeed(make_process(a))
    process_fail(process=make_process(a), message="worker died")
    service_error(make_process(b, credits=2))
    make_process(b, credits=0, state="completed")  # free: no charge, no refund
    make_process(b, credits=3, state="queued")  # charged, not due yet
    return [a, b]


# --- access -----------------------------------------------------------------------------------


# Refusal of anonymous and non-staff users: tests/staff/test_staff_urls_refuse.py walks every
# staff URL.


def test_the_page_only_answers_get(staff_client):
    assert staff_client.post(reverse("staff-reconciliation")).status_code == 405


# --- clean books ------------------------------------------------------------------------------


def test_clean_books_balance_on_the_page_and_in_the_command(staff_client):
    healthy_books()

    response = staff_client.get(reverse("staff-reconciliation"))
    code, out = run_command()

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="recon-balanced"' in html and "The books balance." in html
    assert 'id="recon-mismatches"' not in html
    assert 'id="recon-seconds"' in html
    report = response.context["report"]
    assert report.accounts_checked == 2  # the staff user has no account
    assert report.processes_checked == 5
    assert code == 0
    assert "The books balance." in out


def test_a_real_api_call_and_its_charge_reconcile(run_endpoint, key):
    body = run_endpoint(
        "email_response",
        "analyze_thread",
        {
            "email_thread": [
                {
                    "sender": "Maria <maria@client.example>",
                    "recipient": "sam@agency.example",
                    "subject": "Timeline",
                    "content": "Hi Sam, could you send the timeline by Friday? Thanks, Maria",
                    "timestamp": "2025-03-03T09:00:00Z",
                }
            ]
        },
    )
    assert body["status"] == "completed"

    report = reconcile()

    assert report.balanced and report.mismatches == []
    assert report.processes_checked == 1
    assert LedgerEntry.objects.filter(kind="charge").count() == 1


def test_an_empty_database_reconciles_with_exit_code_zero():
    code, out = run_command("--json")

    assert code == 0
    data = json.loads(out)
    assert data["balanced"] is True and data["mismatches"] == []


# --- planted mismatches -----------------------------------------------------------------------


def test_a_balance_changed_by_raw_sql_is_found_on_the_page_and_fails_the_command(staff_client):
    good, bad = healthy_books()
    before = Account.objects.get(pk=bad.pk).balance

    raw("UPDATE accounts_account SET balance = balance + 5 WHERE id = %s", [bad.pk])

    response = staff_client.get(reverse("staff-reconciliation"))
    html = response.content.decode()
    assert 'id="recon-unbalanced"' in html
    assert f'data-kind="balance" data-account="{bad.pk}"' in html
    assert bad.owner.email in html
    code, out = run_command()
    assert code == 1
    assert f"ERROR balance account={bad.pk}" in out
    assert f"expected={before} actual={before + 5}" in out
    code, out = run_command("--json")
    assert code == 1
    data = json.loads(out)
    assert data["balanced"] is False
    [mismatch] = data["mismatches"]
    assert mismatch == {
        "kind": "balance",
        "severity": "error",
        "account": bad.pk,
        "process": None,
        "expected": before,
        "actual": before + 5,
        "detail": mismatch["detail"],
        "account_email": bad.owner.email,
    }
    assert good.pk not in {m["account"] for m in data["mismatches"]}


def test_the_command_raises_command_error_with_exit_code_one():
    account = AccountFactory(credits=10)
    raw("UPDATE accounts_account SET balance = balance + 5 WHERE id = %s", [account.pk])

    with pytest.raises(CommandError) as raised:
        call_command("reconcile", stdout=io.StringIO())

    assert raised.value.returncode == 1


def test_a_refund_deleted_by_raw_sql_is_a_missing_refund_of_the_errored_process():
    account = AccountFactory(credits=30)
    failed = make_process(account, credits=6)
    process_fail(process=failed, message="The worker running this process stopped.")
    refund = LedgerEntry.objects.get(process=failed, kind="refund")

    raw("DELETE FROM accounts_ledgerentry WHERE id = %s", [refund.pk])
    report = reconcile()

    assert ("refund_missing", account.pk, failed.public_id) in kinds(report)
    [missing] = [m for m in report.mismatches if m.kind == "refund_missing"]
    assert missing.expected == 6 and missing.actual is None
    # The balance still holds the refunded credits, which the ledger no longer shows.
    assert ("balance", account.pk, None) in kinds(report)
    assert run_command()[0] == 1


def test_a_service_error_without_refund_is_a_missing_refund():
    account = AccountFactory(credits=30)
    process = service_error(make_process(account, credits=2))
    refund = LedgerEntry.objects.get(process=process, kind="refund")
    raw("DELETE FROM accounts_ledgerentry WHERE id = %s", [refund.pk])
    raw("UPDATE accounts_account SET balance = balance - 2 WHERE id = %s", [account.pk])

    report = reconcile()

    assert kinds(report) == {("refund_missing", account.pk, process.public_id)}


def test_a_refund_of_a_successful_process_is_a_mismatch():
    account = AccountFactory(credits=30)
    process = succeed(make_process(account, credits=5))

    credits_refund(process=process, reason="refunded without telling anyone")
    report = reconcile()

    [mismatch] = report.mismatches
    assert (mismatch.kind, mismatch.account, mismatch.process) == (
        "refund_unexpected",
        account.pk,
        process.public_id,
    )
    assert mismatch.actual == 5
    assert run_command()[0] == 1


@pytest.mark.parametrize("target", ["ledger", "process"])
def test_a_staff_refund_of_a_successful_process_recorded_in_the_audit_log_is_fine(target):
    account = AccountFactory(credits=30)
    staff = UserFactory(is_staff=True)
    process = succeed(make_process(account, credits=5))

    entry = credits_refund(process=process, reason="customer complaint", actor=staff)
    audit_record(
        action="credits.refund" if target == "ledger" else "process.refund",
        target=entry if target == "ledger" else process,
        actor=staff,
        account=account,
        reason="customer complaint",
    )
    report = reconcile()

    assert report.balanced and report.mismatches == []


def test_a_charge_changed_by_raw_sql_is_a_wrong_charge():
    account = AccountFactory(credits=30)
    process = succeed(make_process(account, credits=4))
    charge = LedgerEntry.objects.get(process=process, kind="charge")

    raw("UPDATE accounts_ledgerentry SET amount = -3 WHERE id = %s", [charge.pk])
    report = reconcile()

    assert ("charge_amount", account.pk, process.public_id) in kinds(report)
    assert ("balance", account.pk, None) in kinds(report)


def test_a_deleted_charge_is_a_missing_charge():
    account = AccountFactory(credits=30)
    process = succeed(make_process(account, credits=4))

    raw("DELETE FROM accounts_ledgerentry WHERE process_id = %s", [process.pk])
    report = reconcile()

    assert ("charge_missing", account.pk, process.public_id) in kinds(report)


def test_a_broken_balance_after_chain_is_found_and_can_be_skipped():
    account = AccountFactory(credits=30)
    succeed(make_process(account, credits=4))
    succeed(make_process(account, credits=4))
    middle = LedgerEntry.objects.filter(account=account).order_by("id")[1]

    raw("UPDATE accounts_ledgerentry SET balance_after = 99 WHERE id = %s", [middle.pk])

    report = reconcile()
    [mismatch] = report.mismatches
    assert (mismatch.kind, mismatch.expected, mismatch.actual) == ("ledger_chain", 26, 99)
    assert report.ledger_rows_checked == 3
    assert reconcile(chain=False).balanced
    assert run_command("--no-chain")[0] == 0


def test_a_stuck_process_is_a_warning_that_fails_only_strict_runs(staff_client):
    account = AccountFactory(credits=30)
    stuck = make_process(account, credits=2, state="running", deadline_in=-60)

    report = reconcile()
    response = staff_client.get(reverse("staff-reconciliation"))

    assert report.balanced
    assert kinds(report) == {("stuck", account.pk, stuck.public_id)}
    html = response.content.decode()
    assert 'id="recon-balanced"' in html and 'id="recon-warnings"' in html
    assert stuck.public_id in html
    assert run_command()[0] == 0
    assert run_command("--strict")[0] == 1


def test_mismatches_in_later_chunks_are_found_and_every_row_is_checked():
    accounts = [AccountFactory(credits=n + 1) for n in range(7)]
    processes = [succeed(make_process(a, credits=1)) for a in accounts]
    last = accounts[-1]
    credits_refund(process=processes[-1], reason="x")
    raw("UPDATE accounts_account SET balance = balance + 1 WHERE id = %s", [last.pk])

    report = reconcile(chunk_size=2)

    assert report.accounts_checked == 7
    assert report.processes_checked == 7
    assert kinds(report) == {
        ("balance", last.pk, None),
        ("refund_unexpected", last.pk, processes[-1].public_id),
    }


def test_the_number_of_queries_does_not_grow_with_the_accounts(
    django_assert_num_queries, django_assert_max_num_queries
):
    for _ in range(3):
        succeed(make_process(AccountFactory(credits=10), credits=1))
    with django_assert_max_num_queries(10) as few:
        reconcile()
    for _ in range(20):
        succeed(make_process(AccountFactory(credits=10), credits=1))

    with django_assert_num_queries(len(few.captured_queries)):
        report = reconcile()

    assert report.accounts_checked == 23 and report.balanced


def test_the_list_is_capped_but_every_mismatch_is_counted():
    for _ in range(5):
        account = AccountFactory(credits=3)
        raw("UPDATE accounts_account SET balance = balance + 1 WHERE id = %s", [account.pk])

    report = reconcile(limit=2)

    assert len(report.mismatches) == 2
    assert report.counts == {"balance": 5}
    assert report.truncated == 3
    assert report.errors == 5


def test_run_again_with_htmx_returns_only_the_report(staff_client):
    healthy_books()

    response = staff_client.get(reverse("staff-reconciliation"), HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="recon-balanced"' in html
    assert "<html" not in html and "<h1>" not in html
