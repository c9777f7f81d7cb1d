"""Reads on accounts, API keys and the ledger."""

from __future__ import annotations

import hmac
import re

from django.db.models import Sum
from django.utils import timezone

from accounts.actions import KEY_LENGTH, KEY_PREFIX, PREFIX_LENGTH, api_key_hash
from accounts.models import Account, ApiKey, LedgerEntry
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
