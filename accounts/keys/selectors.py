"""Reads on API keys: verify a raw key, the console's and staff's key lists, a key's state."""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta

from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.keys.actions import KEY_LENGTH, KEY_PREFIX, PREFIX_LENGTH, api_key_hash
from accounts.models import Account, ApiKey, User
from breact.errors import Forbidden, Unauthorized
from breact.hot_cache import HotCache

_KEY_SHAPE = re.compile(rf"^{KEY_PREFIX}[A-Za-z0-9]{{{KEY_LENGTH - len(KEY_PREFIX)}}}$")


KEY_ROWS = HotCache("api keys")


def _key_row(prefix: str) -> ApiKey | None:
    return (
        ApiKey.objects.select_related("account", "account__owner", "created_by")
        .filter(prefix=prefix)
        .first()
    )


def _prefix_of(raw_key: str) -> str:
    if not _KEY_SHAPE.match(raw_key):
        raise Unauthorized()
    return raw_key[:PREFIX_LENGTH]


def api_key_check(*, key: ApiKey | None, raw_key: str) -> ApiKey:
    """`key` (the row of `raw_key`'s prefix, None when there is none) when `raw_key` is its
    secret and it is usable now: not revoked, not expired, its account and owner active.

    Raises Unauthorized (one message for unknown, wrong, revoked and expired keys) or Forbidden
    when the key is fine but its account is disabled. Every check of `api_key_verify`, and of
    the hot path's cached row (accounts.auth)."""
    # Hash even when no row matched, so timing does not tell a known prefix from an unknown one.
    expected = key.key_hash if key is not None else "0" * 64
    if not hmac.compare_digest(expected, api_key_hash(raw_key)) or key is None:
        raise Unauthorized()
    if key.revoked_at is not None or (
        key.expires_at is not None and key.expires_at <= timezone.now()
    ):
        raise Unauthorized()
    owner = key.account.owner
    if not key.account.is_active or (owner is not None and not owner.is_active):
        raise Forbidden("This account is disabled. Contact support to enable it.")
    return key


def api_key_verify(*, raw_key: str, generation: str | None = None) -> ApiKey:
    """The usable key for `raw_key`, with its account, in one indexed query, or none when the
    hot-path cache holds the row for `generation` (breact.hot_cache: the generation changes on
    every revoke, roll, limit, scope or account change, so a revoked key fails at once).

    Raises Unauthorized (one message for malformed, unknown, revoked and expired keys) or
    Forbidden when the key is fine but its account is disabled (api_key_check). With a
    generation, the key returned is the cached row, shared by the process's threads: read-only
    (api_key_touch updates its last use), and its balance and spend counter may be behind, so
    only the execute and the poll use it (they read those in their own statements).
    """
    prefix = _prefix_of(raw_key)
    key = KEY_ROWS.get_or_load(prefix, generation, lambda: _key_row(prefix))
    return api_key_check(key=key, raw_key=raw_key)


def api_key_cached(*, raw_key: str) -> tuple[ApiKey, str] | None:
    """The process's cached row for `raw_key` and the generation it was cached for, when the
    cache holds a fresh one (breact.hot_cache) that passes every check of api_key_check now;
    else None. No I/O: the caller trusts the row only once Redis confirms that generation is
    still the current one (accounts.auth). The row is shared, as in api_key_verify."""
    if not _KEY_SHAPE.match(raw_key):
        return None
    cached = KEY_ROWS.peek(raw_key[:PREFIX_LENGTH])
    if cached is None or cached[1] is None:
        return None
    generation, key = cached
    try:
        api_key_check(key=key, raw_key=raw_key)
    except (Unauthorized, Forbidden):
        return None
    return key, generation


KEY_EXPIRES_SOON = timedelta(days=7)


def api_keys_listed(*, account: Account, created_by: User | None = None) -> QuerySet[ApiKey]:
    """The account's own keys for the keys page, newest first; console keys never appear.
    With `created_by`, only that member's keys (what a Developer sees)."""
    keys = ApiKey.objects.filter(account=account, is_console=False)
    if created_by is not None:
        keys = keys.filter(created_by=created_by)
    return keys.order_by("-created_at", "-id")


def api_key_get(*, account: Account, pk: int, created_by: User | None = None) -> ApiKey:
    """The account's non-console key `pk` (with `created_by`: that member's), else Http404:
    missing, another account's, another member's and console keys answer alike. This is the
    object check of every key page (the role check is the view's org_permission)."""

    key = api_keys_listed(account=account, created_by=created_by).filter(pk=pk).first()
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


def api_key_counts(*, account_ids: list[int]) -> dict[int, int]:
    """Keys (console keys excluded, revoked and expired included) per account, for the given
    accounts, in one grouped query. Accounts without keys are absent."""

    if not account_ids:
        return {}
    rows = (
        ApiKey.objects.filter(account_id__in=account_ids, is_console=False)
        .values("account_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {int(row["account_id"]): int(row["n"]) for row in rows}


def api_keys_of_account(*, account: Account) -> QuerySet[ApiKey]:
    """Every key of the account for staff, newest first: revoked, expired and console keys
    included."""
    return ApiKey.objects.filter(account=account).order_by("-created_at", "-id")
