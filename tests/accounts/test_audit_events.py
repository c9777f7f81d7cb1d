"""Key and credit events outside staff pages are written to the append-only audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.audit.actions import audit_record
from accounts.billing.actions import payment_test_topup
from accounts.console.actions import account_sign_up
from accounts.keys.actions import api_key_create, api_key_revoke, api_key_roll
from accounts.ledger.actions import credits_add, credits_charge, credits_refund
from accounts.models import AuditEvent, LedgerEntry, Payment
from services.models import Process
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# --- keys -------------------------------------------------------------------------------------


def test_creating_a_key_records_its_settings_but_never_its_secret(account):
    user = account.owner
    expires = timezone.now() + timedelta(days=30)

    key, raw = api_key_create(
        account=account,
        name="ci",
        scopes=["text_service", "email_response"],
        rate_limit="30/m",
        spend_cap=50,
        expires_at=expires,
        actor=user,
        ip="203.0.113.9",
    )

    [event] = events("api_key.create")
    assert event.target_type == "accounts.apikey"
    assert event.target_id == str(key.pk)
    assert event.account_id == account.pk
    assert event.actor == user and event.actor_email == user.email
    assert event.ip == "203.0.113.9"
    assert event.before is None
    assert event.after == {
        "name": "ci",
        "prefix": key.prefix,
        "scopes": ["email_response", "text_service"],
        "rate_limit": "30/m",
        "spend_cap": 50,
        "expires_at": expires.isoformat(),
    }
    assert raw not in str(event.after) and key.key_hash not in str(event.after)


def test_revoking_a_key_records_one_event_however_often_it_is_revoked(account):
    key, _raw = api_key_create(account=account, name="old")

    api_key_revoke(api_key=key, actor=account.owner, ip="127.0.0.1", reason="leaked")
    api_key_revoke(api_key=key, actor=account.owner)

    [event] = events("api_key.revoke")
    assert event.target_id == str(key.pk)
    assert event.account_id == account.pk
    assert event.reason == "leaked"
    assert event.before == {"revoked_at": None}
    assert event.after == {"revoked_at": key.revoked_at.isoformat()}


def test_rolling_a_key_with_grace_records_the_new_key_and_the_old_keys_new_expiry(account):
    old, _raw = api_key_create(account=account, name="prod", scopes=["text_service"])

    new, _raw = api_key_roll(api_key=old, grace=timedelta(hours=1), actor=account.owner)

    [roll] = events("api_key.roll")
    assert roll.target_id == str(old.pk)
    assert roll.actor == account.owner
    assert roll.before == {"expires_at": None, "revoked_at": None}
    assert roll.after["expires_at"] == old.expires_at.isoformat()
    assert roll.after["grace_seconds"] == 3600
    assert roll.after["replaced_by"] == {"id": new.pk, "prefix": new.prefix}
    created = events("api_key.create")
    assert [e.target_id for e in created] == [str(old.pk), str(new.pk)]
    assert created[1].actor == account.owner
    assert events("api_key.revoke") == []


def test_rolling_a_key_without_grace_also_records_its_revocation(account):
    old, _raw = api_key_create(account=account, name="prod")

    api_key_roll(api_key=old, grace=timedelta(0), actor=account.owner)

    [revoke] = events("api_key.revoke")
    assert revoke.target_id == str(old.pk) and revoke.actor == account.owner
    [roll] = events("api_key.roll")
    assert roll.after["revoked_at"] == old.revoked_at.isoformat()


# --- credits ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "action"),
    # An adjustment has one audit name whichever path made it: the staff page's "credits.adjust".
    [("grant", "credits.grant"), ("topup", "credits.topup"), ("adjustment", "credits.adjust")],
)
def test_adding_credits_records_the_balance_before_and_after_by_kind(kind, action):
    account = AccountFactory(credits=40)
    staff = UserFactory(is_staff=True)

    entry = credits_add(
        account=account,
        amount=15,
        kind=kind,
        reference=f"{kind}-ref",
        actor=staff,
        reason="goodwill",
        ip="10.0.0.1",
    )

    event = AuditEvent.objects.filter(action=action).latest("id")
    assert event.target_type == "accounts.ledgerentry"
    assert event.target_id == str(entry.pk)
    assert event.account_id == account.pk
    assert event.actor == staff
    assert event.before == {"balance": 40}
    assert event.after == {"balance": 55, "amount": 15, "reference": f"{kind}-ref"}
    assert event.reason == "goodwill" and event.ip == "10.0.0.1"


def test_sign_up_grant_is_recorded_as_a_credit_grant(settings):
    settings.BREACT_SIGNUP_CREDITS = 25

    account = account_sign_up(email="new@example.com", password="a long enough pass phrase")

    [event] = events("credits.grant")
    assert event.account_id == account.pk
    assert event.actor is None
    assert event.after == {"balance": 25, "amount": 25, "reference": "signup"}


def test_a_test_mode_top_up_records_the_top_up_and_the_paid_payment(account, settings):
    settings.BREACT_PAYMENTS_TEST_MODE = "force"
    entry = payment_test_topup(account=account, pack_id=first_pack_id())

    payment = Payment.objects.get()
    [topup] = events("credits.topup")
    assert topup.target_id == str(entry.pk)
    assert topup.before == {"balance": 100}
    assert topup.after["balance"] == 100 + payment.credits
    [paid] = events("payment.paid")
    assert paid.target_type == "accounts.payment" and paid.target_id == str(payment.pk)
    assert paid.account_id == account.pk
    assert paid.before == {"status": "pending"}
    assert paid.after["status"] == "paid"
    assert paid.after["credits"] == payment.credits
    assert paid.after["amount_cents"] == payment.amount_cents
    assert paid.after["ledger_entry"] == entry.pk


def first_pack_id() -> str:
    from accounts.billing.payments import credit_packs

    return credit_packs()[0].id


def test_a_failed_change_leaves_no_audit_event(account):
    before = AuditEvent.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        credits_add(account=account, amount=5, reference="rolled back")
        raise RuntimeError("the surrounding transaction fails")

    assert AuditEvent.objects.count() == before
    assert not LedgerEntry.objects.filter(reference="rolled back").exists()


def test_per_call_charges_and_automatic_refunds_are_not_audited_row_by_row(account):
    process = Process.objects.create(
        public_id="prc_audit_test",
        account=account,
        service_id="text_service",
        endpoint="summarize",
        credits=3,
        deadline_at=timezone.now() + timedelta(minutes=5),
    )
    before = AuditEvent.objects.count()

    credits_charge(process=process)
    credits_refund(process=process, reason="Service error")

    assert AuditEvent.objects.count() == before
    assert LedgerEntry.objects.filter(process=process).count() == 2


# --- through the console pages ----------------------------------------------------------------


def test_console_key_pages_record_the_owner_and_ip_as_actor(page_client, account):
    response = page_client.post(
        reverse("key-create"), {"name": "from the console"}, REMOTE_ADDR="198.51.100.7"
    )
    assert response.status_code == 200
    [created] = events("api_key.create")
    key_id = int(created.target_id)
    assert created.actor == account.owner and created.ip == "198.51.100.7"

    page_client.post(reverse("key-roll", args=[key_id]), {"grace": "1h"})
    page_client.post(reverse("key-revoke", args=[key_id]))

    [roll] = events("api_key.roll")
    [revoke] = events("api_key.revoke")
    assert roll.target_id == revoke.target_id == str(key_id)
    assert roll.actor == revoke.actor == account.owner
    assert revoke.ip == "127.0.0.1"


def test_console_test_top_up_records_the_top_up_and_payment(page_client, account, settings):
    settings.STRIPE_SECRET_KEY = ""  # test mode: the pack is credited at once
    settings.BREACT_PAYMENTS_TEST_MODE = "force"

    response = page_client.post(reverse("credits-topup"), {"pack": first_pack_id()})

    assert response.status_code == 303
    assert len(events("credits.topup")) == 1
    assert len(events("payment.paid")) == 1
    assert events("payment.paid")[0].account_id == account.pk


# --- append-only ------------------------------------------------------------------------------


def test_an_audit_event_cannot_be_changed_or_deleted_through_the_model(account):
    event = audit_record(action="credits.adjust", target=account, account=account, reason="x")

    event.reason = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()

    event.refresh_from_db()
    assert event.reason == "x"
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_ledger_and_audit_rows_refuse_bulk_updates_and_deletes(account):
    from accounts.models import AuditEvent, LedgerEntry

    with pytest.raises(ValueError, match="append-only"):
        LedgerEntry.objects.filter(account=account).update(amount=1)
    with pytest.raises(ValueError, match="append-only"):
        LedgerEntry.objects.filter(account=account).delete()
    with pytest.raises(ValueError, match="append-only"):
        AuditEvent.objects.all().update(reason="x")
    with pytest.raises(ValueError, match="append-only"):
        AuditEvent.objects.all().delete()
    assert LedgerEntry.objects.filter(account=account).count() == 1
