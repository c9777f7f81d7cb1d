"""Writes on accounts, API keys and the credit ledger."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Account, ApiKey, LedgerEntry, User
from accounts.rates import parse_rate
from breact.errors import BadRequest, InsufficientCredits

if TYPE_CHECKING:
    from services.models import Process

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


@transaction.atomic
def account_get_or_create(*, email: str) -> tuple[Account, bool]:
    """The account of the user with this email, creating user and account when missing.

    Returns (account, created). A new user gets an unusable password until they set one.
    """
    normalized = User.objects.normalize_email(email).lower()
    user = User.objects.filter(email=normalized).first()
    created = False
    if user is None:
        user = User.objects.create_user(normalized, password=None)
        created = True
    account, account_created = Account.objects.get_or_create(owner=user)
    return account, created or account_created


def api_key_create(
    *,
    account: Account,
    name: str,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
    rate_limit: str = "",
    spend_cap: int | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key. Returns (row, raw key); the raw key is never stored, so it is shown once."""
    if rate_limit:
        validate_rate(rate_limit)
    if spend_cap is not None and spend_cap < 0:
        raise BadRequest("The spend cap cannot be negative.")
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
                )
            return key, raw_key
        except IntegrityError:  # prefix collision: draw again
            continue
    raise RuntimeError("Could not draw a unique API key prefix.")


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key; the next request with it is refused. Revoking twice keeps the first time."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
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


def validate_rate(rate: str) -> str:
    """A rate such as 60/m, 1000/h or 10/5s; raises BadRequest otherwise."""
    try:
        parse_rate(rate)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return rate


def _balance(account_pk: int) -> int:
    return int(Account.objects.filter(pk=account_pk).values_list("balance", flat=True).get())


@transaction.atomic
def credits_add(
    *,
    account: Account,
    amount: int,
    kind: str = LedgerEntry.Kind.GRANT,
    reference: str = "",
    actor: User | None = None,
    reason: str = "",
) -> LedgerEntry:
    """Add credits (grant, top-up or positive adjustment) and write the ledger row in one
    transaction. The UPDATE locks the account row until commit, so balance_after is exact."""
    if amount <= 0:
        raise BadRequest("The amount must be a positive whole number of credits.")
    Account.objects.filter(pk=account.pk).update(balance=F("balance") + amount)
    balance = _balance(account.pk)
    account.balance = balance
    return LedgerEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        balance_after=balance,
        reference=reference,
        actor=actor,
        reason=reason,
    )


@transaction.atomic
def credits_charge(*, process: Process) -> LedgerEntry:
    """Take the process's price from its account (and its key's spend cap) or raise
    InsufficientCredits. One conditional UPDATE each, so concurrent charges never overdraw;
    the ledger's unique constraint makes a second charge of the same process fail."""
    amount = process.credits
    account_pk = process.account_id
    updated = Account.objects.filter(pk=account_pk, balance__gte=amount).update(
        balance=F("balance") - amount
    )
    if not updated:
        raise InsufficientCredits(required=amount, balance=_balance(account_pk))
    if process.api_key_id is not None:
        within_cap = (
            ApiKey.objects.filter(pk=process.api_key_id)
            .filter(Q(spend_cap__isnull=True) | Q(spend_cap__gte=F("credits_spent") + amount))
            .update(credits_spent=F("credits_spent") + amount)
        )
        if not within_cap:
            cap, spent = ApiKey.objects.values_list("spend_cap", "credits_spent").get(
                pk=process.api_key_id
            )
            # Raising rolls back the account UPDATE above with the transaction.
            raise InsufficientCredits(
                required=amount,
                balance=max(int(cap or 0) - int(spent), 0),
                message=f"This key's spend cap of {cap} credits is reached "
                f"({spent} spent); raise the cap or use another key.",
            )
    return LedgerEntry.objects.create(
        account_id=account_pk,
        kind=LedgerEntry.Kind.CHARGE,
        amount=-amount,
        balance_after=_balance(account_pk),
        reference=process.public_id,
        process=process,
        api_key_id=process.api_key_id,
    )


def credits_refund(*, process: Process, reason: str) -> LedgerEntry | None:
    """Give back what the process was charged, at most once (the ledger's unique constraint
    decides under concurrency). Returns None when there is nothing (more) to refund."""
    charge = LedgerEntry.objects.filter(process=process, kind=LedgerEntry.Kind.CHARGE).first()
    if charge is None:
        return None
    amount = -charge.amount
    try:
        with transaction.atomic():
            Account.objects.filter(pk=process.account_id).update(balance=F("balance") + amount)
            if process.api_key_id is not None:
                ApiKey.objects.filter(pk=process.api_key_id).update(
                    credits_spent=F("credits_spent") - amount
                )
            return LedgerEntry.objects.create(
                account_id=process.account_id,
                kind=LedgerEntry.Kind.REFUND,
                amount=amount,
                balance_after=_balance(process.account_id),
                reference=process.public_id,
                process=process,
                api_key_id=process.api_key_id,
                reason=reason,
            )
    except IntegrityError:
        return None


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
            key, _discarded = api_key_create(account=account, name="Console")
            ApiKey.objects.filter(pk=key.pk).update(is_console=True)
            key.is_console = True
    return key
