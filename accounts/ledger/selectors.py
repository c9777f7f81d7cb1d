"""Reads on balances and the ledger."""

from __future__ import annotations

from django.db.models import QuerySet, Sum

from accounts.models import Account, LedgerEntry


def account_balance(*, account: Account) -> int:
    return int(Account.objects.filter(pk=account.pk).values_list("balance", flat=True).get())


def ledger_total(*, account: Account) -> int:
    """The sum of the account's ledger; equals the balance when the books are right."""
    total = LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"]
    return int(total or 0)


def ledger_entries(*, account: Account, kind: str | None = None) -> QuerySet[LedgerEntry]:
    """The account's ledger, newest first (index on account, -created_at), optionally one kind."""
    rows = LedgerEntry.objects.filter(account=account).order_by("-created_at", "-id")
    if kind:
        rows = rows.filter(kind=kind)
    return rows


def ledger_for_staff(*, account: Account) -> QuerySet[LedgerEntry]:
    """The account's ledger, newest first, with actor, process and key (one query per page)."""
    return ledger_entries(account=account).select_related("actor", "process", "api_key")
