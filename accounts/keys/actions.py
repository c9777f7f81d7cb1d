"""Writes on API keys: issue, revoke, roll, record use; the console key.

Each change is audited (accounts.audit) in the transaction that makes it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit.actions import audit_record
from accounts.models import Account, ApiKey, User
from accounts.rates import parse_rate
from breact.errors import BadRequest

KEY_PREFIX = "brk_"


_ALPHABET = string.ascii_letters + string.digits


PREFIX_RANDOM_CHARS = 8  # public, indexed: "brk_" + 8 chars


SECRET_CHARS = 32  # 32 base-62 characters ≈ 190 bits from `secrets`


KEY_LENGTH = len(KEY_PREFIX) + PREFIX_RANDOM_CHARS + SECRET_CHARS


PREFIX_LENGTH = len(KEY_PREFIX) + PREFIX_RANDOM_CHARS


def api_key_hash(raw_key: str) -> str:
    """HMAC-SHA-256 of the full key under the server's key-hash secret (hex)."""
    secret = settings.BREACT_API_KEY_HASH_SECRET.encode()
    return hmac.new(secret, raw_key.encode(), hashlib.sha256).hexdigest()


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def api_key_create(
    *,
    account: Account,
    name: str,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
    rate_limit: str = "",
    spend_cap: int | None = None,
    actor: User | None = None,
    ip: str | None = None,
    counts_toward_cap: bool = True,
    created_by: User | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key. Returns (row, raw key); the raw key is never stored, so it is shown once.
    Records an "api_key.create" audit event in the same transaction (`actor`/`ip`: who asked).

    Raises BadRequest when the account already holds BREACT_MAX_KEYS_PER_ACCOUNT usable keys
    (console keys not counted); the account row is locked while counting, so concurrent creates
    cannot pass the cap together. `counts_toward_cap=False` skips the check for keys that
    replace one (a roll) and the console key. The key belongs to `created_by` (default: the
    actor)."""
    if rate_limit:
        validate_rate(rate_limit)
    if spend_cap is not None and spend_cap < 0:
        raise BadRequest("The spend cap cannot be negative.")
    with transaction.atomic():
        if counts_toward_cap:
            api_key_room_check(account=account)
        return _api_key_insert(
            account=account,
            name=name,
            scopes=scopes,
            expires_at=expires_at,
            rate_limit=rate_limit,
            spend_cap=spend_cap,
            actor=actor,
            ip=ip,
            created_by=created_by or actor,
        )


def api_key_room_check(*, account: Account) -> None:
    """Inside a transaction: lock the account row and raise BadRequest when it holds
    BREACT_MAX_KEYS_PER_ACCOUNT usable keys (console keys not counted)."""
    Account.objects.select_for_update().filter(pk=account.pk).first()
    cap = settings.BREACT_MAX_KEYS_PER_ACCOUNT
    usable = ApiKey.objects.usable().filter(account=account, is_console=False).count()
    if usable >= cap:
        raise BadRequest(
            f"This account already has {usable} active API keys, the most allowed ({cap}). "
            "Revoke a key you no longer use, then create the new one.",
            details={"active_keys": usable, "max_keys": cap},
        )


def _api_key_insert(
    *,
    account: Account,
    name: str,
    scopes: list[str] | None,
    expires_at: datetime | None,
    rate_limit: str,
    spend_cap: int | None,
    actor: User | None,
    ip: str | None,
    created_by: User | None = None,
) -> tuple[ApiKey, str]:
    for _ in range(5):
        prefix = KEY_PREFIX + _random(PREFIX_RANDOM_CHARS)
        raw_key = prefix + _random(SECRET_CHARS)
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    account=account,
                    name=name or "default",
                    prefix=prefix,
                    key_hash=api_key_hash(raw_key),
                    last_four=raw_key[-4:],
                    scopes=sorted(set(scopes or [])),
                    expires_at=expires_at,
                    rate_limit=rate_limit,
                    spend_cap=spend_cap,
                    created_by=created_by,
                )
                audit_record(
                    action="api_key.create",
                    target=key,
                    actor=actor,
                    account=account,
                    after=_api_key_audit_state(key),
                    ip=ip,
                )
            return key, raw_key
        except IntegrityError:  # prefix collision: draw again
            continue
    raise RuntimeError("Could not draw a unique API key prefix.")


@transaction.atomic
def api_key_revoke(
    *, api_key: ApiKey, actor: User | None = None, ip: str | None = None, reason: str = ""
) -> ApiKey:
    """Revoke a key; the next request with it is refused. Revoking twice keeps the first time.
    The revocation that takes effect records an "api_key.revoke" audit event in the same
    transaction; a repeated revoke records nothing."""
    revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    api_key.refresh_from_db(fields=["revoked_at"])
    if revoked:
        audit_record(
            action="api_key.revoke",
            target=api_key,
            actor=actor,
            account=Account(pk=api_key.account_id),
            before={"revoked_at": None},
            after={"revoked_at": _audit_time(api_key.revoked_at)},
            reason=reason,
            ip=ip,
        )
    return api_key


def api_key_touch(*, api_key: ApiKey, every_seconds: int = 60) -> None:
    """Record use of a key, at most one write per key per `every_seconds`."""
    now = timezone.now()
    threshold = now - timedelta(seconds=every_seconds)
    if api_key.last_used_at is not None and api_key.last_used_at >= threshold:
        return  # recorded recently: no write on the hot path
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=threshold)
    ).update(last_used_at=now)
    api_key.last_used_at = now  # a cached key (breact.hot_cache) skips the write next time too


def validate_rate(rate: str) -> str:
    """A rate such as 60/m, 1000/h or 10/5s; raises BadRequest otherwise."""
    try:
        parse_rate(rate)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return rate


def console_key_for(*, account: Account) -> ApiKey:
    """The account's console key, made on first use: console runs (the playground) go through
    the same execute path as the API with it. Its secret is discarded at once, so it can never
    authenticate an HTTP request."""
    key = ApiKey.objects.filter(account=account, is_console=True).first()
    if key is not None:
        return key
    with transaction.atomic():
        Account.objects.select_for_update().filter(pk=account.pk).first()
        key = ApiKey.objects.filter(account=account, is_console=True).first()
        if key is None:
            key, _discarded = api_key_create(
                account=account, name="Console", counts_toward_cap=False
            )
            ApiKey.objects.filter(pk=key.pk).update(is_console=True)
            key.is_console = True
    return key


@transaction.atomic
def api_key_roll(
    *, api_key: ApiKey, grace: timedelta, actor: User | None = None, ip: str | None = None
) -> tuple[ApiKey, str]:
    """Issue a replacement for `api_key` with the same name, scopes, expiry, rate limit and
    spend cap (its spend counter starts at zero). The old key stays valid for `grace` and is
    then refused (an earlier expiry it already had is kept); with a zero grace it is revoked
    at once. Returns (new row, raw key): the raw key is never stored.

    Locks the old key's row, so two concurrent rolls cannot both extend it. Raises BadRequest
    when the old key is already revoked or expired. The caller checks that the key is the
    user's own and not a console key. Audited: "api_key.create" for the new key, (with no
    grace) "api_key.revoke" and "api_key.roll" for the old one, in the same transaction.
    """
    old = ApiKey.objects.select_for_update().usable().filter(pk=api_key.pk).first()
    if old is None:
        raise BadRequest("This key is revoked or expired, so it cannot be rolled; make a new one.")
    new_key, raw_key = api_key_create(
        account=old.account,
        name=old.name,
        scopes=list(old.scopes or []),
        expires_at=old.expires_at,
        rate_limit=old.rate_limit,
        spend_cap=old.spend_cap,
        actor=actor,
        ip=ip,
        counts_toward_cap=False,  # a replacement: the old key ends after its grace
        created_by=old.created_by,  # stays the same member's key
    )
    if grace <= timedelta(0):
        api_key_revoke(api_key=old, actor=actor, ip=ip)
    else:
        ends = timezone.now() + grace
        ApiKey.objects.filter(pk=old.pk).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=ends)
        ).update(expires_at=ends)
    api_key.refresh_from_db(fields=["expires_at", "revoked_at"])
    audit_record(
        action="api_key.roll",
        target=api_key,
        actor=actor,
        account=Account(pk=old.account_id),
        before={"expires_at": _audit_time(old.expires_at), "revoked_at": None},
        after={
            "expires_at": _audit_time(api_key.expires_at),
            "revoked_at": _audit_time(api_key.revoked_at),
            "grace_seconds": int(grace.total_seconds()),
            "replaced_by": {"id": new_key.pk, "prefix": new_key.prefix},
        },
        ip=ip,
    )
    return new_key, raw_key


def _audit_time(moment: datetime | None) -> str | None:
    """A time as ISO 8601 for an audit event's JSON, or None."""
    return moment.isoformat() if moment is not None else None


def _api_key_audit_state(key: ApiKey) -> dict[str, Any]:
    """What an audit event keeps of a key: its settings, never its secret or hash."""
    return {
        "name": key.name,
        "prefix": key.prefix,
        "scopes": list(key.scopes or []),
        "rate_limit": key.rate_limit,
        "spend_cap": key.spend_cap,
        "expires_at": _audit_time(key.expires_at),
    }


@transaction.atomic
def api_key_update(
    *,
    api_key: ApiKey,
    name: str,
    scopes: list[str],
    rate_limit: str,
    spend_cap: int | None,
    actor: User | None = None,
    ip: str | None = None,
) -> ApiKey:
    """Set the key's name, scopes (empty = every service), rate limit ("" = the account's) and
    spend cap (None = no cap). One conditional UPDATE: refused with BadRequest when the key is
    revoked, or the cap is below what the key has already spent (both read at the moment of
    the write, so a concurrent charge or revoke cannot slip past). Records an "api_key.update"
    audit event with the settings before and after, in the same transaction, when anything
    changed; a save without changes records nothing. The caller has checked ownership."""
    name = name.strip()
    if not name:
        raise BadRequest("Give the key a name.")
    if rate_limit:
        validate_rate(rate_limit)
    if spend_cap is not None and spend_cap < 0:
        raise BadRequest("The spend cap cannot be negative.")
    before = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    state_before = _api_key_audit_state(before)
    rows = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True)
    if spend_cap is not None:
        rows = rows.filter(Q(credits_spent__lte=spend_cap))
    updated = rows.update(
        name=name, scopes=list(scopes), rate_limit=rate_limit, spend_cap=spend_cap
    )
    if not updated:
        if before.revoked_at is not None:
            raise BadRequest("This key is revoked; a revoked key cannot be changed.")
        raise BadRequest(
            f"This key has already spent {before.credits_spent} credits; the spend cap cannot "
            "be lower than that.",
            details={"credits_spent": before.credits_spent},
        )
    api_key.refresh_from_db()
    state_after = _api_key_audit_state(api_key)
    if state_after != state_before:
        audit_record(
            action="api_key.update",
            target=api_key,
            actor=actor,
            account=Account(pk=api_key.account_id),
            before=state_before,
            after=state_after,
            ip=ip,
        )
    return api_key
