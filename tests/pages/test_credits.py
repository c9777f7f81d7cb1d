"""The credits page: balance, test-mode top-ups, ledger history, low-balance alert email."""

from __future__ import annotations

import io
import secrets
from datetime import timedelta
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.alerts.actions import (
    account_low_balance_threshold_set,
    low_balance_check,
    low_balance_email_send,
)
from accounts.billing.actions import payment_fulfil, payment_test_topup
from accounts.ledger.actions import credits_add, credits_charge, credits_refund
from accounts.models import Account, LedgerEntry, Payment
from breact.errors import Forbidden
from services.models import Process
from tests.factories import AccountFactory, ApiKeyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def topups_in_test_mode(settings: Any) -> None:
    """These tests top up without Stripe: test mode, opted in (forced, as tests run without
    debug). The tests of what happens without it override this."""
    settings.BREACT_PAYMENTS_TEST_MODE = "force"


def _balance(account: Account) -> int:
    account.refresh_from_db()
    return account.balance


def _charge(account: Account, credits: int) -> LedgerEntry:
    process = Process.objects.create(
        public_id=f"prc_{secrets.token_urlsafe(12)}",
        account=account,
        service_id="text_analyzer",
        endpoint="analyze",
        credits=credits,
        deadline_at=timezone.now() + timedelta(minutes=10),
    )
    return credits_charge(process=process)


# --- login, CSRF -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, method",
    [
        ("credits", "get"),
        ("credits-topup", "post"),
        ("credits-topup-done", "get"),
        ("credits-alert", "post"),
    ],
)
def test_credit_pages_require_login(name, method):
    response = getattr(Client(), method)(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_credit_posts_enforce_csrf(account):
    client = Client(enforce_csrf_checks=True)
    client.force_login(account.owner)
    assert client.post(reverse("credits-topup"), {"pack": "starter"}).status_code == 403
    assert client.post(reverse("credits-alert"), {"threshold": "5"}).status_code == 403
    account.refresh_from_db()
    assert account.balance == 100 and account.low_balance_threshold == 0
    assert not Payment.objects.exists()


@pytest.mark.parametrize("name", ["credits-topup", "credits-alert"])
def test_credit_forms_refuse_get(page_client, name):
    assert page_client.get(reverse(name)).status_code == 405


# --- page and test-mode top-up -----------------------------------------------------------------


def test_credits_page_shows_balance_packs_and_the_test_mode_label(page_client):
    response = page_client.get(reverse("credits"))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<span id="balance-value">100</span>' in html
    assert "Test mode: no payment is taken" in html
    for pack in ("starter", "growth", "scale"):
        assert f'id="pack-{pack}"' in html
    assert "10.00 EUR" in html


def test_test_mode_top_up_credits_the_pack_once(page_client, account):
    response = page_client.post(reverse("credits-topup"), {"pack": "starter"})
    assert response.status_code == 303
    assert response["Location"] == reverse("credits")
    assert _balance(account) == 1100
    payment = Payment.objects.get(account=account)
    assert payment.provider == Payment.Provider.TEST and payment.status == Payment.Status.PAID
    entry = LedgerEntry.objects.get(account=account, kind=LedgerEntry.Kind.TOPUP)
    assert entry.amount == 1000 and entry.reference == f"payment:{payment.pk}"
    assert payment_fulfil(payment=payment) is None  # credited once, whatever happens
    assert _balance(account) == 1100
    page = page_client.get(reverse("credits")).content.decode()
    assert "Added 1000 credits" in page and "no payment was taken" in page


# --- test mode is an explicit opt-in ------------------------------------------------------------


@pytest.fixture
def no_payment_provider(settings: Any) -> None:
    """Neither Stripe nor test mode: a deployment that forgot its payment settings."""
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = ""
    settings.BREACT_PAYMENTS_TEST_MODE = "off"


def test_without_stripe_or_test_mode_the_page_says_top_ups_are_not_configured(
    page_client, no_payment_provider
):
    response = page_client.get(reverse("credits"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="topups-off"' in html and "Top-ups are not configured" in html
    assert 'id="test-mode-banner"' not in html
    assert 'id="buy-starter"' not in html


def test_without_stripe_or_test_mode_a_top_up_adds_nothing(
    page_client, account, no_payment_provider
):
    response = page_client.post(reverse("credits-topup"), {"pack": "starter"})

    assert response.status_code == 503
    assert 'id="topup-error"' in response.content.decode()
    assert _balance(account) == 100
    assert not Payment.objects.exists()
    with pytest.raises(Forbidden):
        payment_test_topup(account=account, pack_id="starter")
    assert _balance(account) == 100


@pytest.mark.parametrize(
    ("mode", "debug", "credited"),
    [("on", True, True), ("on", False, False), ("force", False, True), ("off", True, False)],
)
def test_test_mode_needs_debug_unless_forced(page_client, account, settings, mode, debug, credited):
    settings.BREACT_PAYMENTS_TEST_MODE = mode
    settings.DEBUG = debug

    page = page_client.get(reverse("credits")).content.decode()
    page_client.post(reverse("credits-topup"), {"pack": "starter"})

    assert ('id="test-mode-banner"' in page) is credited
    assert _balance(account) == (1100 if credited else 100)


def test_stripe_takes_precedence_over_test_mode(settings):
    from accounts.billing.payments import topup_mode

    settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET = "sk_test_1", "whsec_1"
    assert topup_mode() == "stripe"
    settings.STRIPE_WEBHOOK_SECRET = ""
    assert topup_mode() == "test"


@pytest.mark.parametrize(
    ("mode", "debug", "deploy_ids", "plain_ids"),
    [
        ("force", False, {"breact.W001"}, set()),
        ("on", True, {"breact.W001"}, set()),
        ("on", False, {"breact.W002"}, {"breact.W002"}),
        ("off", False, set(), set()),
    ],
)
def test_system_checks_warn_about_test_mode(settings, mode, debug, deploy_ids, plain_ids):
    settings.BREACT_PAYMENTS_TEST_MODE = mode
    settings.DEBUG = debug

    deploy = {m.id for m in run_checks(include_deployment_checks=True)}
    plain = {m.id for m in run_checks()}

    assert deploy & {"breact.W001", "breact.W002"} == deploy_ids
    assert plain & {"breact.W001", "breact.W002"} == plain_ids


def test_check_deploy_command_shows_the_test_mode_warning(settings):
    settings.BREACT_PAYMENTS_TEST_MODE = "force"
    out, err = io.StringIO(), io.StringIO()

    call_command("check", "--deploy", stdout=out, stderr=err)

    assert "(breact.W001) Test-mode top-ups are on" in out.getvalue() + err.getvalue()


def test_staff_overview_says_top_ups_run_in_test_mode(account, settings):
    account.owner.is_staff = True
    account.owner.save()
    client = Client()
    client.force_login(account.owner)

    on = client.get(reverse("staff-overview")).content.decode()
    settings.BREACT_PAYMENTS_TEST_MODE = "off"
    off = client.get(reverse("staff-overview")).content.decode()

    assert 'id="staff-test-mode-banner"' in on and "without paying" in on
    assert 'id="staff-test-mode-banner"' not in off and 'id="staff-topups-off"' in off


def test_a_test_mode_top_up_is_labelled_in_the_ledger(page_client, account):
    page_client.post(reverse("credits-topup"), {"pack": "starter"})

    entry = LedgerEntry.objects.get(account=account, kind=LedgerEntry.Kind.TOPUP)
    assert entry.reason.startswith("Test mode top-up")
    assert "Test mode top-up" in page_client.get(reverse("credits")).content.decode()


@pytest.mark.parametrize("data", [{"pack": "platinum"}, {"pack": ""}, {}])
def test_top_up_with_an_unknown_pack_shows_an_error_and_writes_nothing(page_client, account, data):
    response = page_client.post(reverse("credits-topup"), data)
    assert response.status_code == 200
    assert 'id="topup-error"' in response.content.decode()
    assert _balance(account) == 100
    assert not Payment.objects.exists()


def test_custom_credit_packs_come_from_settings(page_client, settings):
    settings.BREACT_CREDIT_PACKS = (
        '[{"id": "tiny", "name": "Tiny", "credits": 7, "price_cents": 99, "currency": "usd"}]'
    )
    html = page_client.get(reverse("credits")).content.decode()
    assert 'id="pack-tiny"' in html and "0.99 USD" in html and 'id="pack-starter"' not in html


# --- ledger history ------------------------------------------------------------------------------


def test_ledger_lists_only_my_entries_newest_first(page_client, account):
    credits_add(account=account, amount=5, kind=LedgerEntry.Kind.ADJUSTMENT, reason="goodwill")
    credits_add(account=AccountFactory(), amount=777, reason="not mine")
    response = page_client.get(reverse("credits"))
    rows = [entry for entry, _badge in response.context["ledger_rows"]]
    assert [entry.amount for entry in rows] == [5, 100]
    assert "goodwill" in response.content.decode() and "not mine" not in response.content.decode()


def test_ledger_filters_by_kind(page_client, account):
    credits_add(account=account, amount=5, kind=LedgerEntry.Kind.ADJUSTMENT)
    page_client.post(reverse("credits-topup"), {"pack": "starter"})
    _charge(account, 3)
    response = page_client.get(reverse("credits"), {"kind": "topup"})
    kinds = {entry.kind for entry, _badge in response.context["ledger_rows"]}
    assert kinds == {"topup"}
    assert '<option value="topup" selected>' in response.content.decode()
    charges = page_client.get(reverse("credits"), {"kind": "charge"}).context["ledger_rows"]
    assert [entry.amount for entry, _badge in charges] == [-3]
    # An unknown kind shows everything instead of failing.
    everything = page_client.get(reverse("credits"), {"kind": "bogus"}).context["ledger_rows"]
    assert len(everything) == 4


def test_ledger_filter_with_no_rows_shows_an_empty_state(page_client):
    html = page_client.get(reverse("credits"), {"kind": "refund"}).content.decode()
    assert 'id="ledger-empty"' in html and "No refund entries" in html


def test_ledger_paginates_by_25_and_keeps_the_filter_in_page_links(page_client, account):
    for _ in range(30):
        credits_add(account=account, amount=1, kind=LedgerEntry.Kind.ADJUSTMENT)
    first = page_client.get(reverse("credits"), {"kind": "adjustment"})
    assert len(first.context["ledger_rows"]) == 25
    assert "?kind=adjustment&amp;page=2" in first.content.decode()
    second = page_client.get(reverse("credits"), {"kind": "adjustment", "page": 2})
    assert len(second.context["ledger_rows"]) == 5
    assert "Page 2 of 2" in second.content.decode()


def test_ledger_over_htmx_returns_only_the_table(page_client):
    response = page_client.get(reverse("credits"), {"kind": "grant"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="ledger"' in html and 'id="packs"' not in html
    assert 'data-kind="grant"' in html


# --- low-balance alert setting -----------------------------------------------------------------


def test_alert_threshold_is_saved(page_client, account):
    response = page_client.post(reverse("credits-alert"), {"threshold": "50"})
    assert response.status_code == 303
    account.refresh_from_db()
    assert account.low_balance_threshold == 50
    html = page_client.get(reverse("credits")).content.decode()
    assert "below 50 credits" in html and 'value="50"' in html


@pytest.mark.parametrize("value", ["-1", "abc", "", "1.5", "99999999999"])
def test_bad_alert_threshold_shows_the_error_and_keeps_the_old_one(page_client, account, value):
    Account.objects.filter(pk=account.pk).update(low_balance_threshold=20)
    response = page_client.post(reverse("credits-alert"), {"threshold": value})
    assert response.status_code == 200
    assert response.context["alert_form"].errors["threshold"]
    assert 'class="errorlist' in response.content.decode()
    account.refresh_from_db()
    assert account.low_balance_threshold == 20


def test_alert_over_htmx_returns_only_the_form(page_client, account):
    bad = page_client.post(reverse("credits-alert"), {"threshold": "-3"}, HTTP_HX_REQUEST="true")
    assert "<html" not in bad.content.decode() and 'id="alert-form"' in bad.content.decode()
    good = page_client.post(reverse("credits-alert"), {"threshold": "0"}, HTTP_HX_REQUEST="true")
    html = good.content.decode()
    assert "<html" not in html and 'id="alert-saved"' in html and "is off" in html


# --- low-balance email -------------------------------------------------------------------------


@pytest.fixture
def run_on_commit(eager_worker: None, django_capture_on_commit_callbacks: Any) -> Any:
    """Run on-commit work (the check, then the Celery email task, eagerly) at once."""

    def run(function: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return run


def test_low_balance_email_is_sent_once_per_crossing(account, mailoutbox, run_on_commit):
    run_on_commit(account_low_balance_threshold_set, account=account, threshold=50)
    assert mailoutbox == []  # 100 is not below 50
    run_on_commit(_charge, account, 30)  # 70
    assert mailoutbox == []
    run_on_commit(_charge, account, 30)  # 40: crosses
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == [account.owner.email]
    assert "below 50 credits" in email.subject
    assert "is 40 credits" in email.body and "/credits/" in email.body
    run_on_commit(_charge, account, 10)  # 30: still below, no second email
    assert len(mailoutbox) == 1
    run_on_commit(credits_add, account=account, amount=100, kind=LedgerEntry.Kind.TOPUP)  # 130
    account.refresh_from_db()
    assert account.low_balance_alerted_at is None  # recovered: armed again
    assert len(mailoutbox) == 1
    run_on_commit(_charge, account, 90)  # 40: a new crossing
    assert len(mailoutbox) == 2


def test_a_refund_that_recovers_the_balance_re_arms_the_alert(account, mailoutbox, run_on_commit):
    run_on_commit(account_low_balance_threshold_set, account=account, threshold=50)
    key = ApiKeyFactory(account=account)
    process = Process.objects.create(
        public_id="prc_refund_me",
        account=account,
        api_key=key,
        service_id="text_analyzer",
        endpoint="analyze",
        credits=60,
        deadline_at=timezone.now() + timedelta(minutes=10),
    )
    run_on_commit(credits_charge, process=process)  # 40
    assert len(mailoutbox) == 1
    run_on_commit(credits_refund, process=process, reason="failed")  # 100
    account.refresh_from_db()
    assert account.low_balance_alerted_at is None


def test_setting_a_threshold_above_the_balance_emails_once(account, mailoutbox, run_on_commit):
    run_on_commit(account_low_balance_threshold_set, account=account, threshold=500)
    assert len(mailoutbox) == 1
    run_on_commit(account_low_balance_threshold_set, account=account, threshold=500)
    assert len(mailoutbox) == 1  # unchanged threshold: the same crossing
    run_on_commit(low_balance_check, account_id=account.pk)  # a later check: still the same
    assert len(mailoutbox) == 1


def test_no_email_when_the_alert_is_off(account, mailoutbox, run_on_commit):
    run_on_commit(_charge, account, 99)
    assert mailoutbox == []
    account.refresh_from_db()
    assert account.low_balance_alerted_at is None


def test_saving_the_alert_on_the_page_emails_when_already_below(
    page_client, account, mailoutbox, run_on_commit
):
    response = run_on_commit(page_client.post, reverse("credits-alert"), {"threshold": "1000"})
    assert response.status_code == 303
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [account.owner.email]


def test_an_unreachable_broker_releases_the_alert_for_a_later_check(
    account, monkeypatch, django_capture_on_commit_callbacks
):
    from accounts.alerts.tasks import low_balance_email

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(low_balance_email, "apply_async", refuse)
    Account.objects.filter(pk=account.pk).update(low_balance_threshold=500)
    with django_capture_on_commit_callbacks(execute=True):
        assert low_balance_check(account_id=account.pk) is True
    account.refresh_from_db()
    assert account.low_balance_alerted_at is None


def test_the_email_is_skipped_when_the_balance_recovered_before_it_was_sent(account, mailoutbox):
    Account.objects.filter(pk=account.pk).update(low_balance_threshold=500)
    assert low_balance_email_send(account_id=account.pk) is False
    assert mailoutbox == []


def test_a_charge_without_an_alert_schedules_no_after_commit_work(
    account, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _charge(account, 1)
    assert callbacks == []
    Account.objects.filter(pk=account.pk).update(low_balance_threshold=500)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _charge(account, 1)
    assert len(callbacks) == 1  # newly below the threshold: the check runs after commit
