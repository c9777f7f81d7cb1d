"""Writes on payments: test-mode top-ups, Stripe Checkout start, webhook events, fulfilment."""

from __future__ import annotations

import logging
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit.actions import audit_record
from accounts.billing.payments import TEST_MODE, checkout_session_create, credit_pack, topup_mode
from accounts.ledger.actions import credits_add
from accounts.models import Account, LedgerEntry, Payment, WebhookEvent
from breact.errors import BadRequest, Forbidden
from services.webhooks import events as webhook_events


def payment_fulfil(*, payment: Payment) -> LedgerEntry | None:
    """Credit a pending payment: one conditional UPDATE pending → paid, then a top-up ledger
    row with reference "payment:<id>" in the same transaction. Idempotent: a payment that is
    no longer pending (or whose top-up exists: the ledger's unique constraint) returns None.
    Test-mode top-ups and Stripe webhooks both credit through here."""
    try:
        with transaction.atomic():
            claimed = Payment.objects.filter(pk=payment.pk, status=Payment.Status.PENDING).update(
                status=Payment.Status.PAID, paid_at=timezone.now()
            )
            if not claimed:
                return None
            account = Account.objects.get(pk=payment.account_id)
            entry = credits_add(
                account=account,
                amount=payment.credits,
                kind=LedgerEntry.Kind.TOPUP,
                reference=f"payment:{payment.pk}",
                reason=f"{payment.get_provider_display()} top-up: pack {payment.pack_id}",
            )
            payment.status = Payment.Status.PAID  # as claimed above; its repr goes in the event
            audit_record(
                action="payment.paid",
                target=payment,
                account=account,
                before={"status": Payment.Status.PENDING.value},
                after={
                    "status": Payment.Status.PAID.value,
                    "provider": payment.provider,
                    "pack_id": payment.pack_id,
                    "credits": payment.credits,
                    "amount_cents": payment.amount_cents,
                    "currency": payment.currency,
                    "ledger_entry": entry.pk,
                },
            )
            webhook_events.payment_succeeded(payment=payment)
    except IntegrityError:  # already credited under this reference
        return None
    payment.refresh_from_db(fields=["status", "paid_at"])
    return entry


def payment_fail(*, payment: Payment) -> bool:
    """Mark a pending payment failed (checkout expired or an async payment failed). A paid
    payment stays paid. Returns whether it changed."""
    failed = Payment.objects.filter(pk=payment.pk, status=Payment.Status.PENDING).update(
        status=Payment.Status.FAILED
    )
    return bool(failed)


@transaction.atomic
def payment_test_topup(*, account: Account, pack_id: str) -> LedgerEntry:
    """Test mode (Stripe not configured, BREACT_PAYMENTS_TEST_MODE in effect): record a
    Payment(provider=test) for the pack and fulfil it at once; no money moves. Raises Forbidden
    when test mode is not in effect and BadRequest for an unknown pack."""

    if topup_mode() != TEST_MODE:
        raise Forbidden("Test-mode top-ups are not enabled on this server.")
    pack = credit_pack(pack_id)
    if pack is None:
        raise BadRequest("There is no credit pack with this id.")
    payment = Payment.objects.create(
        account=account,
        provider=Payment.Provider.TEST,
        provider_reference=f"test_{secrets.token_urlsafe(18)}",
        pack_id=pack.id,
        credits=pack.credits,
        amount_cents=pack.price_cents,
        currency=pack.currency,
    )
    entry = payment_fulfil(payment=payment)
    if entry is None:  # cannot happen: the payment was made pending just above
        raise RuntimeError(f"Test payment {payment.pk} was not credited.")
    account.balance = entry.balance_after
    return entry


def payment_checkout_start(
    *, account: Account, pack_id: str, success_url: str, cancel_url: str
) -> tuple[Payment, str]:
    """Start a Stripe Checkout for the pack: create the session (a network call, made outside
    any transaction) and record a pending Payment under its session id. Returns (payment,
    checkout url). Credits arrive later through the webhook (stripe_event_apply). Raises
    BadRequest for an unknown pack and payments.PaymentProviderError when Stripe fails."""

    pack = credit_pack(pack_id)
    if pack is None:
        raise BadRequest("There is no credit pack with this id.")
    session = checkout_session_create(
        account=account, pack=pack, success_url=success_url, cancel_url=cancel_url
    )
    payment = Payment.objects.create(
        account=account,
        provider=Payment.Provider.STRIPE,
        provider_reference=session.id,
        pack_id=pack.id,
        credits=pack.credits,
        amount_cents=pack.price_cents,
        currency=pack.currency,
    )
    return payment, session.url


STRIPE_PAID_EVENTS = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}


STRIPE_FAILED_EVENTS = {"checkout.session.expired", "checkout.session.async_payment_failed"}


@transaction.atomic
def stripe_event_apply(*, event_id: str, event_type: str, data_object: dict[str, object]) -> str:
    """Apply a verified Stripe event once: record WebhookEvent(stripe, event_id) — a redelivered
    id does nothing — and, for a paid Checkout Session, fulfil its Payment; for an expired or
    failed one, mark it failed. Recording and crediting share one transaction, so an error
    rolls both back and Stripe's retry is processed afresh. Returns what happened (for logs)."""

    try:
        with transaction.atomic():
            WebhookEvent.objects.create(provider="stripe", event_id=event_id, event_type=event_type)
    except IntegrityError:
        return "duplicate"
    if event_type not in STRIPE_PAID_EVENTS | STRIPE_FAILED_EVENTS:
        return "ignored"
    payment = Payment.objects.filter(
        provider=Payment.Provider.STRIPE, provider_reference=str(data_object.get("id", ""))
    ).first()
    if payment is None:
        return "unknown session"
    if event_type in STRIPE_FAILED_EVENTS:
        return "failed" if payment_fail(payment=payment) else "unchanged"
    if data_object.get("payment_status") != "paid":
        return "not paid yet"  # async methods: async_payment_succeeded follows
    amount, currency = data_object.get("amount_total"), str(data_object.get("currency") or "")
    if amount != payment.amount_cents or currency.lower() != payment.currency:
        logging.getLogger(__name__).error(
            "Stripe session %s paid %s %s, expected %s %s: not credited",
            payment.provider_reference,
            amount,
            currency,
            payment.amount_cents,
            payment.currency,
        )
        return "amount mismatch"
    return "credited" if payment_fulfil(payment=payment) is not None else "already credited"
