"""Reads on accounts, API keys and the ledger."""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta

from django.db.models import QuerySet, Sum
from django.utils import timezone

from accounts.actions import KEY_LENGTH, KEY_PREFIX, PREFIX_LENGTH, api_key_hash
from accounts.models import Account, ApiKey, LedgerEntry, Payment
from breact.errors import Forbidden, Unauthorized

_KEY_SHAPE = re.compile(rf"^{KEY_PREFIX}[A-Za-z0-9]{{{KEY_LENGTH - len(KEY_PREFIX)}}}$")


def api_key_verify(*, raw_key: str) -> ApiKey:
    """The usable key for `raw_key`, with its account, in one indexed query.

    Raises Unauthorized (one message for malformed, unknown, revoked and expired keys) or
    Forbidden when the key is fine but its account is disabled.
    """
    if not _KEY_SHAPE.match(raw_key):
        raise Unauthorized()
    key = (
        ApiKey.objects.select_related("account", "account__owner")
        .filter(prefix=raw_key[:PREFIX_LENGTH])
        .first()
    )
    # Hash even when no row matched, so timing does not tell a known prefix from an unknown one.
    expected = key.key_hash if key is not None else "0" * 64
    if not hmac.compare_digest(expected, api_key_hash(raw_key)) or key is None:
        raise Unauthorized()
    if key.revoked_at is not None or (
        key.expires_at is not None and key.expires_at <= timezone.now()
    ):
        raise Unauthorized()
    if not key.account.is_active or not key.account.owner.is_active:
        raise Forbidden("This account is disabled. Contact support to enable it.")
    return key


def account_balance(*, account: Account) -> int:
    return int(Account.objects.filter(pk=account.pk).values_list("balance", flat=True).get())


def ledger_total(*, account: Account) -> int:
    """The sum of the account's ledger; equals the balance when the books are right."""
    total = LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"]
    return int(total or 0)


# --- console pages: keys, ledger, payments ----------------------------------------------------

KEY_EXPIRES_SOON = timedelta(days=7)


def api_keys_listed(*, account: Account) -> QuerySet[ApiKey]:
    """The account's own keys for the keys page, newest first; console keys never appear."""
    return ApiKey.objects.filter(account=account, is_console=False).order_by("-created_at", "-id")


def api_key_get(*, account: Account, pk: int) -> ApiKey:
    """The account's non-console key `pk`, else Http404: missing, another account's and
    console keys answer alike. This is the permission check of every key page."""
    from django.http import Http404

    key = api_keys_listed(account=account).filter(pk=pk).first()
    if key is None:
        raise Http404("No such API key.")
    return key


def api_key_status(*, api_key: ApiKey, now: datetime | None = None) -> str:
    """The key's state: revoked, expired, expires_soon (within KEY_EXPIRES_SOON) or active."""
    now = now or timezone.now()
    if api_key.revoked_at is not None:
        return "revoked"
    if api_key.expires_at is not None:
        if api_key.expires_at <= now:
            return "expired"
        if api_key.expires_at - now <= KEY_EXPIRES_SOON:
            return "expires_soon"
    return "active"


def ledger_entries(*, account: Account, kind: str | None = None) -> QuerySet[LedgerEntry]:
    """The account's ledger, newest first (index on account, -created_at), optionally one kind."""
    rows = LedgerEntry.objects.filter(account=account).order_by("-created_at", "-id")
    if kind:
        rows = rows.filter(kind=kind)
    return rows


def payment_get(*, account: Account, provider_reference: str) -> Payment:
    """The account's payment with this provider reference (a Checkout session id), else
    Http404 for missing and another account's alike."""
    from django.http import Http404

    payment = Payment.objects.filter(account=account, provider_reference=provider_reference).first()
    if payment is None:
        raise Http404("No such payment.")
    return payment
