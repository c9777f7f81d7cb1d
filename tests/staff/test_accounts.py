"""Staff account pages: search, the account page, credit adjustments, refunds, disable/enable,
key revocation — access, audit rows, idempotency under a double submit."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.ledger.actions import (
    credits_adjust,
    credits_refund,
    process_refund_by_staff,
)
from accounts.ledger.selectors import account_balance, ledger_total
from accounts.models import Account, ApiKey, AuditEvent, LedgerEntry
from breact.errors import InsufficientCredits
from services.models import Process, RollupState, UsageLog
from services.usage.actions import usage_rollup
from services.usage.selectors import account_usage_summary
from tests.factories import (
    AccountFactory,
    ApiKeyFactory,
    UserFactory,
    charge_logged_calls,
    process_make,
)

pytestmark = pytest.mark.django_db


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def staff_user() -> Any:
    return UserFactory(is_staff=True)


@pytest.fixture
def staff_client(staff_user: Any) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def _nonce() -> str:
    return secrets.token_urlsafe(18)


def _adjust(client: Client, account: Account, **data: Any) -> Any:
    payload = {"amount": "50", "reason": "Goodwill, ticket 42", "nonce": _nonce(), **data}
    return client.post(reverse("staff-account-adjust", args=[account.pk]), payload)


def _audits(action: str | None = None) -> int:
    rows = AuditEvent.objects.all()
    return rows.filter(action=action).count() if action else rows.count()


def _api_status(raw_key: str) -> tuple[int, Any]:
    response = Client().get("/api/v1/account", HTTP_X_API_KEY=raw_key)
    return response.status_code, response.json()


def _messages(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def _books_balance(account: Account) -> None:
    assert account_balance(account=account) == ledger_total(account=account)


# --- access: every URL, GET and POST -----------------------------------------------------------


# Refusal of anonymous and non-staff users: tests/staff/test_staff_urls_refuse.py walks every
# staff URL.


def test_actions_refuse_get_for_staff(staff_client: Client, account: Account) -> None:
    response = staff_client.get(reverse("staff-account-adjust", args=[account.pk]))
    assert response.status_code == 405


def test_actions_need_the_csrf_token(staff_user: Any, account: Account) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    response = _adjust(client, account)
    assert response.status_code == 403
    assert account_balance(account=account) == 100
    assert _audits("credits.adjust") == 0


# --- search ------------------------------------------------------------------------------------


def test_search_by_email_is_case_insensitive_and_partial(staff_client: Client) -> None:
    alice = AccountFactory(owner__email="alice.smith@example.com", credits=30)
    bob = AccountFactory(owner__email="bob@example.org")

    response = staff_client.get(reverse("staff-accounts"), {"q": "ALICE.S"})

    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("staff-account", args=[alice.pk]) in body
    assert reverse("staff-account", args=[bob.pk]) not in body
    assert [a.pk for a, _n in response.context["rows"]] == [alice.pk]


def test_search_by_key_prefix_finds_the_keys_account(staff_client: Client) -> None:
    key = ApiKeyFactory()
    ApiKeyFactory()  # another account's key
    for query in (key.raw, key.raw[:12], key.prefix[:8]):
        response = staff_client.get(reverse("staff-accounts"), {"q": query})
        found = [a.pk for a, _n in response.context["rows"]]
        assert found == [key.account_id], query


def test_search_lists_balance_status_and_key_count(staff_client: Client) -> None:
    account = AccountFactory(owner__email="counted@example.com", credits=25)
    ApiKeyFactory(account=account)
    revoked = ApiKeyFactory(account=account)
    ApiKey.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())

    response = staff_client.get(reverse("staff-accounts"), {"q": "counted@"})

    assert response.context["rows"] == [(account, 2)]
    row = re.search(rf'<tr id="account-{account.pk}">(.*?)</tr>', response.content.decode(), re.S)
    assert row is not None
    assert "25" in row.group(1) and "Active" in row.group(1)


def test_search_without_match_shows_the_empty_state(staff_client: Client, account: Account) -> None:
    response = staff_client.get(reverse("staff-accounts"), {"q": "nobody-at-all"})
    assert response.status_code == 200
    assert 'id="accounts-empty"' in response.content.decode()
    assert "nobody-at-all" in response.content.decode()


def test_htmx_search_renders_only_the_results(staff_client: Client, account: Account) -> None:
    response = staff_client.get(
        reverse("staff-accounts"),
        {"q": account.owner.email},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="account-results",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="account-results"')
    assert "<html" not in body
    assert reverse("staff-account", args=[account.pk]) in body


def test_search_paginates(staff_client: Client) -> None:
    for n in range(27):
        AccountFactory(owner__email=f"paged{n}@example.com")
    first = staff_client.get(reverse("staff-accounts"), {"q": "paged"})
    second = staff_client.get(reverse("staff-accounts"), {"q": "paged", "page": "2"})
    assert len(first.context["rows"]) == 25
    assert len(second.context["rows"]) == 2
    assert "q=paged&amp;page=2" in first.content.decode()


# --- the account page --------------------------------------------------------------------------


def test_account_page_shows_balance_ledger_sum_keys_and_processes(
    staff_client: Client, account: Account
) -> None:
    key = ApiKeyFactory(account=account)
    revoked = ApiKeyFactory(account=account)
    ApiKey.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    failed = process_make(account, key=key)  # charged, failed, never refunded: needs a refund
    done = process_make(account, state="completed", credits=3)
    credits_refund(process=done, reason="test")

    response = staff_client.get(reverse("staff-account", args=[account.pk]))

    assert response.status_code == 200
    body = response.content.decode()
    assert response.context["balance"] == 93 == response.context["ledger_sum"]
    assert response.context["books_match"]
    assert key.masked in body and revoked.masked in body
    assert f'id="revoke-{key.pk}"' in body and f'id="revoke-{revoked.pk}"' not in body
    assert f'id="refund-{failed.public_id}"' in body
    assert f'id="refund-{done.public_id}"' not in body  # already refunded
    rows = {row["process"].pk: row for row in response.context["process_rows"]}
    assert rows[failed.pk]["needs_refund"] and not rows[done.pk]["refundable"]


def test_completed_with_inner_error_and_unrefunded_needs_a_refund(
    staff_client: Client, account: Account
) -> None:
    process = process_make(account, state="completed", inner_error=True)
    response = staff_client.get(reverse("staff-account", args=[account.pk]))
    (row,) = response.context["process_rows"]
    assert row["process"].pk == process.pk
    assert row["failed"] and row["needs_refund"]
    assert "Not refunded" in response.content.decode()


def test_account_page_highlights_a_balance_that_differs_from_the_ledger(
    staff_client: Client, account: Account
) -> None:
    Account.objects.filter(pk=account.pk).update(balance=130)
    response = staff_client.get(reverse("staff-account", args=[account.pk]))
    assert not response.context["books_match"]
    assert 'id="books-mismatch"' in response.content.decode()
    assert "+30" in response.content.decode()


def test_unknown_account_is_404(staff_client: Client) -> None:
    assert staff_client.get(reverse("staff-account", args=[999999])).status_code == 404


def test_ledger_is_paginated_newest_first_and_swappable(
    staff_client: Client, account: Account, staff_user: Any
) -> None:
    for n in range(30):
        credits_adjust(
            account=account, amount=1, actor=staff_user, reason=f"r{n}", nonce=f"nonce-{n:012d}"
        )
    url = reverse("staff-account", args=[account.pk])
    first = staff_client.get(url)
    entries = [entry for entry, _badge in first.context["ledger_rows"]]
    assert len(entries) == 25 and entries[0].reason == "r29"
    assert first.context["ledger"].next_url == "?ledger_page=2"

    second = staff_client.get(
        url, {"ledger_page": "2"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="account-ledger"
    )
    body = second.content.decode()
    assert body.lstrip().startswith('<div id="account-ledger"')
    assert body.count("<tr data-kind=") == 6  # 30 adjustments + the factory grant
    assert staff_user.email in body  # the actor of each adjustment


def test_processes_are_paginated(staff_client: Client, account: Account) -> None:
    for _ in range(23):
        process_make(account, charged=False)
    url = reverse("staff-account", args=[account.pk])
    first = staff_client.get(url)
    second = staff_client.get(url, {"processes_page": "2"})
    assert len(first.context["process_rows"]) == 20
    assert len(second.context["process_rows"]) == 3
    assert not second.context["processes"].next_url


def test_usage_summary_is_rollup_plus_live_tail_and_equals_the_log(account: Account) -> None:
    other = AccountFactory()
    now = timezone.now()

    def log(acc: Account, *, ago: timedelta, credits: int, status: int = 202, **kw: Any) -> None:
        UsageLog.objects.create(
            account=acc,
            method=kw.get("method", "POST"),
            route="/api/v1/services/x/y",
            service_id=kw.get("service", "text_analyzer"),
            endpoint="analyze",
            status_code=status,
            duration_ms=12,
            credits=credits,
            created_at=now - ago,
        )

    log(account, ago=timedelta(days=3), credits=5)
    log(account, ago=timedelta(days=2), credits=0, status=500)
    log(account, ago=timedelta(days=2), credits=4, service="summary")
    log(account, ago=timedelta(days=40), credits=100)  # outside the 30 days
    log(account, ago=timedelta(days=1), credits=0, method="GET")  # a poll, not a call
    log(other, ago=timedelta(days=1), credits=50)
    assert usage_rollup() == 6
    log(account, ago=timedelta(hours=1), credits=6)  # the live tail, past the watermark
    assert RollupState.objects.get(name="usage").last_id < UsageLog.objects.latest("id").id
    charge_logged_calls(account)  # the 202s' processes and charges, as the API writes them

    end = timezone.now().date()
    usage = account_usage_summary(account=account, start=end - timedelta(days=29), end=end)

    in_range = UsageLog.objects.filter(
        account=account, method="POST", created_at__gte=now - timedelta(days=29, hours=23)
    )
    assert usage.calls == in_range.count() == 4
    assert usage.credits == in_range.aggregate(s=Sum("credits"))["s"] == 15
    assert usage.errors == 1
    by_service = {row["service_id"]: row for row in usage.by_service}
    assert by_service["text_analyzer"]["calls"] == 3 and by_service["summary"]["credits"] == 4


def test_account_page_shows_the_usage_table(staff_client: Client, account: Account) -> None:
    UsageLog.objects.create(
        account=account,
        method="POST",
        route="/api/v1/services/summary/process",
        service_id="summary",
        endpoint="process",
        status_code=202,
        duration_ms=10,
        credits=9,
    )
    charge_logged_calls(account)
    response = staff_client.get(reverse("staff-account", args=[account.pk]))
    body = response.content.decode()
    assert 'data-service="summary"' in body
    assert re.search(r'id="usage-credits-total">9<', body)


# --- credit adjustments ------------------------------------------------------------------------


def test_positive_adjustment_adds_credits_with_ledger_and_audit_rows(
    staff_client: Client, account: Account, staff_user: Any
) -> None:
    response = _adjust(staff_client, account, amount="50", reason="Goodwill, ticket 42")

    assert response.status_code == 303
    assert account_balance(account=account) == 150
    entry = LedgerEntry.objects.get(account=account, kind="adjustment")
    assert (entry.amount, entry.balance_after, entry.actor, entry.reason) == (
        50,
        150,
        staff_user,
        "Goodwill, ticket 42",
    )
    event = AuditEvent.objects.get(action="credits.adjust")
    assert event.actor == staff_user and event.account_id == account.pk
    assert event.before == {"balance": 100}
    assert event.after["balance"] == 150 and event.reason == "Goodwill, ticket 42"
    assert event.ip == "127.0.0.1"
    _books_balance(account)


def test_negative_adjustment_removes_credits(
    staff_client: Client, account: Account, staff_user: Any
) -> None:
    audits = _audits()
    _adjust(staff_client, account, amount="-40", reason="Duplicate grant")

    assert account_balance(account=account) == 60
    entry = LedgerEntry.objects.get(account=account, kind="adjustment")
    assert (entry.amount, entry.balance_after, entry.actor) == (-40, 60, staff_user)
    assert _audits() == audits + 1
    event = AuditEvent.objects.get(action="credits.adjust")
    assert event.before == {"balance": 100} and event.after["balance"] == 60
    _books_balance(account)


def test_removing_more_than_the_balance_is_refused_and_writes_nothing(
    staff_client: Client, account: Account
) -> None:
    ledger, audits = LedgerEntry.objects.count(), _audits()

    response = _adjust(staff_client, account, amount="-101")

    assert response.status_code == 200
    assert "below zero" in str(response.context["adjust_form"].errors["amount"])
    assert 'aria-invalid="true"' in response.content.decode()
    assert account_balance(account=account) == 100
    assert LedgerEntry.objects.count() == ledger and _audits() == audits


def test_removing_the_whole_balance_is_allowed(staff_client: Client, account: Account) -> None:
    _adjust(staff_client, account, amount="-100")
    assert account_balance(account=account) == 0
    _books_balance(account)


@pytest.mark.parametrize(
    "data, field",
    [
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"amount": "0"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "1.5"}, "amount"),
        ({"amount": "99999999999999999999"}, "amount"),
        ({"nonce": ""}, "nonce"),
        ({"nonce": "short"}, "nonce"),
    ],
)
def test_bad_adjustment_input_is_a_form_error_and_writes_nothing(
    staff_client: Client, account: Account, data: dict[str, str], field: str
) -> None:
    ledger, audits = LedgerEntry.objects.count(), _audits()

    response = _adjust(staff_client, account, **data)

    assert response.status_code == 200
    assert field in response.context["adjust_form"].errors
    assert account_balance(account=account) == 100
    assert LedgerEntry.objects.count() == ledger and _audits() == audits


def test_double_submit_of_one_adjustment_applies_once(
    staff_client: Client, account: Account
) -> None:
    nonce = _nonce()
    first = _adjust(staff_client, account, amount="25", nonce=nonce)
    second = _adjust(staff_client, account, amount="25", nonce=nonce)

    assert first.status_code == second.status_code == 303
    assert account_balance(account=account) == 125
    assert LedgerEntry.objects.filter(kind="adjustment").count() == 1
    assert _audits("credits.adjust") == 1
    page = staff_client.get(second["Location"])
    assert any("already applied" in m for m in _messages(page))
    _books_balance(account)


def test_a_new_form_gets_a_new_nonce(staff_client: Client, account: Account) -> None:
    url = reverse("staff-account", args=[account.pk])
    first = staff_client.get(url).context["adjust_form"]["nonce"].value()
    second = staff_client.get(url).context["adjust_form"]["nonce"].value()
    assert first and second and first != second


def test_adjust_action_refuses_overdraw_with_insufficient_credits(
    account: Account, staff_user: Any
) -> None:
    with pytest.raises(InsufficientCredits):
        credits_adjust(account=account, amount=-500, actor=staff_user, reason="x", nonce=_nonce())
    assert account_balance(account=account) == 100
    assert _audits("credits.adjust") == 0


# --- refunds -----------------------------------------------------------------------------------


def _refund(client: Client, process: Process, **data: Any) -> Any:
    payload = {"reason": "Service outage", "account": process.account_id, **data}
    return client.post(reverse("staff-process-refund", args=[process.public_id]), payload)


def test_refund_gives_the_credits_back_once_with_ledger_and_audit_rows(
    staff_client: Client, account: Account, staff_user: Any
) -> None:
    key = ApiKeyFactory(account=account)
    process = process_make(account, key=key, credits=7)
    assert account_balance(account=account) == 93
    audits = _audits()

    first = _refund(staff_client, process)

    assert first.status_code == 303
    assert account_balance(account=account) == 100
    refund = LedgerEntry.objects.get(process=process, kind="refund")
    assert (refund.amount, refund.actor, refund.reason) == (7, staff_user, "Service outage")
    key.refresh_from_db()
    assert key.credits_spent == 0
    assert _audits() == audits + 1
    event = AuditEvent.objects.get(action="credits.refund")
    assert event.before == {"balance": 93} and event.after["balance"] == 100
    assert event.actor == staff_user and event.reason == "Service outage"

    second = _refund(staff_client, process)

    assert second.status_code == 303
    assert any("already refunded" in m for m in _messages(staff_client.get(second["Location"])))
    assert LedgerEntry.objects.filter(process=process, kind="refund").count() == 1
    assert account_balance(account=account) == 100
    assert _audits() == audits + 1
    _books_balance(account)


def test_refund_of_an_automatically_refunded_process_says_already_refunded(
    staff_client: Client, account: Account
) -> None:
    process = process_make(account)
    credits_refund(process=process, reason="Service error")
    audits = _audits()

    response = _refund(staff_client, process)

    assert any("already refunded" in m for m in _messages(staff_client.get(response["Location"])))
    assert LedgerEntry.objects.filter(process=process, kind="refund").count() == 1
    assert _audits() == audits


def test_refund_of_an_unknown_process_is_404(staff_client: Client, account: Account) -> None:
    response = staff_client.post(
        reverse("staff-process-refund", args=["proc_missing"]),
        {"reason": "x", "account": account.pk},
    )
    assert response.status_code == 404


def test_refund_through_another_accounts_page_is_404(
    staff_client: Client, account: Account
) -> None:
    process = process_make(account)
    other = AccountFactory()

    response = _refund(staff_client, process, account=other.pk)

    assert response.status_code == 404
    assert not LedgerEntry.objects.filter(kind="refund").exists()


def test_refund_without_reason_writes_nothing(staff_client: Client, account: Account) -> None:
    process = process_make(account)
    audits = _audits()
    response = _refund(staff_client, process, reason=" ")
    assert response.status_code == 303
    assert any("give a reason" in m for m in _messages(staff_client.get(response["Location"])))
    assert not LedgerEntry.objects.filter(kind="refund").exists()
    assert _audits() == audits


def test_refund_of_an_uncharged_process_is_refused(staff_client: Client, account: Account) -> None:
    process = process_make(account, charged=False)
    audits = _audits()
    response = _refund(staff_client, process)
    assert any("not charged" in m for m in _messages(staff_client.get(response["Location"])))
    assert not LedgerEntry.objects.filter(kind="refund").exists()
    assert _audits() == audits


def test_refund_action_returns_none_the_second_time(account: Account, staff_user: Any) -> None:
    process = process_make(account)
    assert process_refund_by_staff(process=process, actor=staff_user, reason="a") is not None
    assert process_refund_by_staff(process=process, actor=staff_user, reason="a") is None
    assert _audits("credits.refund") == 1


# --- disable / enable --------------------------------------------------------------------------


def _set_status(client: Client, account: Account, status: str, reason: str = "Abuse report") -> Any:
    return client.post(
        reverse("staff-account-status", args=[account.pk]), {"status": status, "reason": reason}
    )


def test_disabling_an_account_refuses_its_key_at_once_and_enabling_restores_it(
    staff_client: Client, account: Account, staff_user: Any
) -> None:
    key = ApiKeyFactory(account=account)
    assert _api_status(key.raw)[0] == 200
    audits = _audits()

    response = _set_status(staff_client, account, "disabled")

    assert response.status_code == 303
    status, body = _api_status(key.raw)
    assert status == 403 and body["error"] == "FORBIDDEN"
    assert _audits() == audits + 1
    event = AuditEvent.objects.get(action="account.disable")
    assert event.before == {"status": "active"} and event.after == {"status": "disabled"}
    assert event.actor == staff_user and event.reason == "Abuse report"

    _set_status(staff_client, account, "active", reason="Resolved")

    assert _api_status(key.raw)[0] == 200
    assert _audits() == audits + 2
    enabled = AuditEvent.objects.get(action="account.enable")
    assert enabled.before == {"status": "disabled"} and enabled.after == {"status": "active"}


def test_disabling_twice_records_one_change(staff_client: Client, account: Account) -> None:
    _set_status(staff_client, account, "disabled")
    second = _set_status(staff_client, account, "disabled")
    assert any("already disabled" in m for m in _messages(staff_client.get(second["Location"])))
    assert _audits("account.disable") == 1
    account.refresh_from_db()
    assert account.status == "disabled"


@pytest.mark.parametrize(
    "status, reason", [("disabled", ""), ("disabled", "  "), ("frozen", "x"), ("", "x")]
)
def test_bad_status_input_is_a_form_error(
    staff_client: Client, account: Account, status: str, reason: str
) -> None:
    audits = _audits()
    response = _set_status(staff_client, account, status, reason=reason)
    assert response.status_code == 200
    assert response.context["status_form"].errors
    account.refresh_from_db()
    assert account.status == "active"
    assert _audits() == audits


def test_account_page_shows_the_disabled_state(staff_client: Client, account: Account) -> None:
    Account.objects.filter(pk=account.pk).update(status="disabled")
    body = staff_client.get(reverse("staff-account", args=[account.pk])).content.decode()
    assert 'id="account-status-badge">Disabled' in body
    assert 'name="status" value="active"' in body


# --- key revocation ----------------------------------------------------------------------------


def _revoke(client: Client, key: ApiKey, reason: str = "Leaked on GitHub") -> Any:
    return client.post(reverse("staff-key-revoke", args=[key.pk]), {"reason": reason})


def test_revoking_a_key_refuses_it_at_once_with_one_audit_row(
    staff_client: Client, account: Account, staff_user: Any
) -> None:
    key = ApiKeyFactory(account=account)
    audits = _audits()

    response = _revoke(staff_client, key)

    assert response.status_code == 303
    assert response["Location"] == reverse("staff-account", args=[account.pk])
    assert _api_status(key.raw)[0] == 401
    assert _audits() == audits + 1
    event = AuditEvent.objects.get(action="api_key.revoke")
    assert event.actor == staff_user and event.reason == "Leaked on GitHub"
    assert event.account_id == account.pk and event.after["revoked_at"]

    second = _revoke(staff_client, key)

    assert any("already revoked" in m for m in _messages(staff_client.get(second["Location"])))
    assert _audits() == audits + 1


def test_revoking_without_reason_keeps_the_key(staff_client: Client, account: Account) -> None:
    key = ApiKeyFactory(account=account)
    _revoke(staff_client, key, reason="")
    assert _api_status(key.raw)[0] == 200
    assert _audits("api_key.revoke") == 0


def test_revoking_an_unknown_key_is_404(staff_client: Client) -> None:
    assert _revoke(staff_client, ApiKey(pk=987654)).status_code == 404


def test_the_console_key_is_not_revoked_here(staff_client: Client, account: Account) -> None:
    from accounts.keys.actions import console_key_for

    console = console_key_for(account=account)
    audits = _audits()
    _revoke(staff_client, console)
    console.refresh_from_db()
    assert console.revoked_at is None
    assert _audits() == audits


# --- races -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_of_one_adjustment_and_one_refund_apply_once() -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    staff = UserFactory(is_staff=True)
    account = AccountFactory(credits=100)
    process = process_make(account, credits=10)
    nonce, threads = _nonce(), 6
    start = threading.Barrier(threads)

    def submit(n: int) -> object:
        try:
            start.wait(timeout=30)
            if n % 2:
                return credits_adjust(
                    account=account, amount=-50, actor=staff, reason="race", nonce=nonce
                )
            return process_refund_by_staff(process=process, actor=staff, reason="race")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(submit, range(threads)))

    assert sum(r is not None for r in results[1::2]) == 1  # one adjustment
    assert sum(r is not None for r in results[0::2]) == 1  # one refund
    assert account_balance(account=account) == 100 - 10 + 10 - 50
    assert _audits("credits.adjust") == 1 and _audits("credits.refund") == 1
    _books_balance(account)
