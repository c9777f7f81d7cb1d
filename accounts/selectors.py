"""Reads on accounts, API keys and the ledger."""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta

from django.db.models import QuerySet, Sum
from django.utils import timezone

from accounts.actions import KEY_LENGTH, KEY_PREFIX, PREFIX_LENGTH, api_key_hash
from accounts.models import Account, ApiKey, AuditEvent, LedgerEntry, Payment
from breact.errors import Forbidden, Unauthorized
from breact.params import ascii_int

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


# --- staff: account search and drill-down (h14) -----------------------------------------------


def accounts_search(*, query: str = "") -> QuerySet[Account]:
    """Accounts for the staff search, newest first, with their owners. A query starting with
    the key prefix ("brk_") matches the accounts holding a key whose prefix starts with its
    first PREFIX_LENGTH characters (a whole pasted key works too; unique prefix index); a
    number also matches the account id; anything else matches emails case-insensitively by
    substring. Blank lists every account. The caller checks that the user is staff."""
    from django.db.models import Q

    rows = Account.objects.select_related("owner").order_by("-created_at", "-id")
    query = query.strip()
    if not query:
        return rows
    if query.lower().startswith(KEY_PREFIX):
        holders = ApiKey.objects.filter(
            prefix__startswith=KEY_PREFIX + query[len(KEY_PREFIX) : PREFIX_LENGTH]
        ).values("account_id")
        return rows.filter(pk__in=holders)
    match = Q(owner__email__icontains=query)
    account_id = ascii_int(query)
    if account_id is not None:
        match |= Q(pk=account_id)
    return rows.filter(match)


def api_key_counts(*, account_ids: list[int]) -> dict[int, int]:
    """Keys (console keys excluded, revoked and expired included) per account, for the given
    accounts, in one grouped query. Accounts without keys are absent."""
    from django.db.models import Count

    if not account_ids:
        return {}
    rows = (
        ApiKey.objects.filter(account_id__in=account_ids, is_console=False)
        .values("account_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {int(row["account_id"]): int(row["n"]) for row in rows}


def account_for_staff(*, pk: int) -> Account:
    """Any account by id with its owner, else Http404. Staff only: the caller checks."""
    from django.http import Http404

    account = Account.objects.select_related("owner").filter(pk=pk).first()
    if account is None:
        raise Http404("No such account.")
    return account


def api_keys_of_account(*, account: Account) -> QuerySet[ApiKey]:
    """Every key of the account for staff, newest first: revoked, expired and console keys
    included."""
    return ApiKey.objects.filter(account=account).order_by("-created_at", "-id")


def ledger_for_staff(*, account: Account) -> QuerySet[LedgerEntry]:
    """The account's ledger, newest first, with actor, process and key (one query per page)."""
    return ledger_entries(account=account).select_related("actor", "process", "api_key")


# --- staff: the audit log (h16) ---------------------------------------------------------------


def audit_events_filtered(
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    actor: str = "",
    action: str = "",
    account: str = "",
    target: str = "",
) -> QuerySet[AuditEvent]:
    """Audit events matching the staff audit page's filters, newest first, with their account's
    owner: created in [start, end); the actor's email contains `actor`; exactly `action`;
    `account` is an account id (digits) or part of its owner's email; `target` is part of the
    target's type, id or description, or "type:id". Served by the created_at, (action,
    created_at) and (account, created_at) indexes. Staff only: the caller checks."""
    from django.db.models import Q

    events = AuditEvent.objects.select_related("account__owner").order_by("-created_at", "-id")
    if start is not None:
        events = events.filter(created_at__gte=start)
    if end is not None:
        events = events.filter(created_at__lt=end)
    if actor:
        events = events.filter(actor_email__icontains=actor)
    if action:
        events = events.filter(action=action)
    if account:
        account_id = ascii_int(account)  # an id that fits a bigint
        if account_id is not None:
            events = events.filter(account_id=account_id)
        else:
            events = events.filter(account__owner__email__icontains=account)
    if target:
        kind, sep, ident = target.partition(":")
        if sep and kind and ident:
            events = events.filter(target_type__icontains=kind, target_id__icontains=ident)
        else:
            events = events.filter(
                Q(target_type__icontains=target)
                | Q(target_id__icontains=target)
                | Q(target_repr__icontains=target)
            )
    return events


AUDIT_ACTIONS_CACHE_SECONDS = 300


def audit_actions_recorded() -> list[str]:
    """The distinct action names in the audit log, sorted; cached for a few minutes (a walk of
    the (action, created_at) index), read straight from the database when the cache is down."""
    from django.core.cache import cache

    def read() -> list[str]:
        names = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
        return sorted(set(names))

    try:
        names = cache.get_or_set("staff:audit-actions", read, AUDIT_ACTIONS_CACHE_SECONDS)
    except Exception:  # the cache (Redis) is unreachable: the page still works
        names = read()
    return list(names or [])
