"""The low-balance alert: watch balance changes, claim one email per crossing, send it."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Account
from breact.errors import BadRequest
from services.webhooks import events as webhook_events


def low_balance_watch(
    *, account_id: int, state: tuple[int, int, datetime | None] | None = None
) -> None:
    """Inside a transaction that changed the balance (or right after a statement that did):
    schedule low_balance_check after commit when the balance may have crossed the alert
    threshold either way. `state` is (balance, threshold, alert mark) when the caller read them
    with its write; else one primary-key read of a row this transaction already updated. With
    no alert set and none pending (the common case) nothing is scheduled."""
    balance, threshold, alerted_at = state or (
        Account.objects.filter(pk=account_id)
        .values_list("balance", "low_balance_threshold", "low_balance_alerted_at")
        .get()
    )
    if (alerted_at is None) == (balance < threshold):  # newly below, or recovered
        transaction.on_commit(lambda: low_balance_check(account_id=account_id), robust=True)


def low_balance_check(*, account_id: int) -> bool:
    """Claim and send the low-balance email once per crossing: when the balance is below a
    non-zero threshold and no alert is recorded, one conditional UPDATE sets
    low_balance_alerted_at and the email task is enqueued after commit; when the balance is
    back at or above the threshold (or the alert is off) the mark is cleared, arming the next
    crossing. Scheduled after commit by low_balance_watch (charges, top-ups, grants, refunds)
    and by a threshold change; reads first so a no-op writes nothing. Returns whether an alert
    was claimed."""
    state = (
        Account.objects.filter(pk=account_id)
        .values("balance", "low_balance_threshold", "low_balance_alerted_at")
        .first()
    )
    if state is None:
        return False
    below = state["balance"] < state["low_balance_threshold"]
    if not below and state["low_balance_alerted_at"] is not None:
        Account.objects.filter(
            pk=account_id,
            low_balance_alerted_at__isnull=False,
            balance__gte=F("low_balance_threshold"),
        ).update(low_balance_alerted_at=None)
        return False
    if not below or state["low_balance_alerted_at"] is not None:
        return False
    with transaction.atomic():
        claimed = Account.objects.filter(
            pk=account_id,
            low_balance_alerted_at__isnull=True,
            low_balance_threshold__gt=0,
            balance__lt=F("low_balance_threshold"),
        ).update(low_balance_alerted_at=timezone.now())
        if claimed:
            transaction.on_commit(lambda: _low_balance_enqueue(account_id), robust=True)
            webhook_events.credits_low(account_id=account_id)
    return bool(claimed)


def _low_balance_enqueue(account_id: int) -> None:

    from accounts.alerts.tasks import low_balance_email

    try:
        low_balance_email.apply_async(args=(account_id,), retry=False)
    except Exception:  # broker down: release the claim so the next check tries again
        logging.getLogger(__name__).exception("Could not enqueue the low-balance email")
        Account.objects.filter(pk=account_id).update(low_balance_alerted_at=None)


def low_balance_email_send(*, account_id: int) -> bool:
    """Email the owner that the balance is below their threshold (the Celery task calls this).
    Skipped when the alert was cleared meanwhile (balance recovered). Returns whether sent."""
    from django.core.mail import send_mail
    from django.template.loader import render_to_string
    from django.urls import reverse

    account = Account.objects.select_related("owner").filter(pk=account_id).first()
    if account is None or account.low_balance_alerted_at is None:
        return False
    context = {
        "account": account,
        "credits_url": settings.BREACT_PUBLIC_URL + reverse("credits"),
    }
    send_mail(
        subject=f"Your BReact balance is below {account.low_balance_threshold} credits",
        message=render_to_string("accounts/credits_low_balance_email.txt", context),
        from_email=None,
        recipient_list=[account.contact_email],
    )
    return True


@transaction.atomic
def account_low_balance_threshold_set(*, account: Account, threshold: int) -> None:
    """Save the low-balance threshold (0 = off). A changed threshold starts afresh: the alert
    mark is cleared and the balance checked after commit, so a balance already below the new
    threshold is emailed about once. The caller validates threshold >= 0."""
    if threshold < 0:
        raise BadRequest("The threshold cannot be negative.")
    changed = (
        Account.objects.filter(pk=account.pk)
        .exclude(low_balance_threshold=threshold)
        .update(low_balance_threshold=threshold, low_balance_alerted_at=None)
    )
    account.low_balance_threshold = threshold
    if changed:
        account.low_balance_alerted_at = None
        transaction.on_commit(lambda: low_balance_check(account_id=account.pk), robust=True)
