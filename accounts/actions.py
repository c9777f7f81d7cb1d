"""Writes on accounts, API keys and the credit ledger."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Account, ApiKey, AuditEvent, LedgerEntry, Payment, User, WebhookEvent
from accounts.rates import parse_rate
from breact.errors import BadRequest, Forbidden, InsufficientCredits
from services.webhooks import events as webhook_events

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
    actor: User | None = None,
    ip: str | None = None,
    counts_toward_cap: bool = True,
) -> tuple[ApiKey, str]:
    """Issue a key. Returns (row, raw key); the raw key is never stored, so it is shown once.
    Records an "api_key.create" audit event in the same transaction (`actor`/`ip`: who asked).

    Raises BadRequest when the account already holds BREACT_MAX_KEYS_PER_ACCOUNT usable keys
    (console keys not counted); the account row is locked while counting, so concurrent creates
    cannot pass the cap together. `counts_toward_cap=False` skips the check for keys that
    replace one (a roll) and the console key."""
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
    ip: str | None = None,
) -> LedgerEntry:
    """Add credits (grant, top-up or positive adjustment) and write the ledger row in one
    transaction. The UPDATE locks the account row until commit, so balance_after is exact.
    Records a "credits.<kind>" audit event (balance before/after) in the same transaction."""
    if amount <= 0:
        raise BadRequest("The amount must be a positive whole number of credits.")
    Account.objects.filter(pk=account.pk).update(balance=F("balance") + amount)
    balance = _balance(account.pk)
    account.balance = balance
    low_balance_watch(account_id=account.pk)
    entry = LedgerEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        balance_after=balance,
        reference=reference,
        actor=actor,
        reason=reason,
    )
    audit_record(
        action=f"credits.{kind}",
        target=entry,
        actor=actor,
        account=account,
        before={"balance": balance - amount},
        after={"balance": balance, "amount": amount, "reference": reference},
        reason=reason,
        ip=ip,
    )
    return entry


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
    low_balance_watch(account_id=account_pk)
    return LedgerEntry.objects.create(
        account_id=account_pk,
        kind=LedgerEntry.Kind.CHARGE,
        amount=-amount,
        balance_after=_balance(account_pk),
        reference=process.public_id,
        process=process,
        api_key_id=process.api_key_id,
    )


def credits_refund(
    *, process: Process, reason: str, actor: User | None = None
) -> LedgerEntry | None:
    """Give back what the process was charged, at most once (the ledger's unique constraint
    decides under concurrency). Returns None when there is nothing (more) to refund. `actor`:
    the staff user who refunded by hand (kept on the ledger row), None for automatic refunds."""
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
            low_balance_watch(account_id=process.account_id)
            return LedgerEntry.objects.create(
                account_id=process.account_id,
                kind=LedgerEntry.Kind.REFUND,
                amount=amount,
                balance_after=_balance(process.account_id),
                reference=process.public_id,
                process=process,
                api_key_id=process.api_key_id,
                actor=actor,
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
            key, _discarded = api_key_create(
                account=account, name="Console", counts_toward_cap=False
            )
            ApiKey.objects.filter(pk=key.pk).update(is_console=True)
            key.is_console = True
    return key


@transaction.atomic
def account_sign_up(*, email: str, password: str) -> Account:
    """Create a user with this email and password, their account, and the sign-up grant of
    settings.BREACT_SIGNUP_CREDITS credits through the ledger (reference "signup"), all in one
    transaction. The caller validates the password. Raises ValidationError({"email": …}) when a
    user with this email exists, whatever its case (also when a concurrent sign-up wins)."""
    from django.core.exceptions import ValidationError

    normalized = User.objects.normalize_email(email).strip().lower()
    taken = ValidationError(
        {"email": "An account with this email already exists. Log in or reset your password."},
        code="duplicate",
    )
    if User.objects.filter(email__iexact=normalized).exists():
        raise taken
    try:
        with transaction.atomic():
            user = User.objects.create_user(normalized, password=password)
    except IntegrityError:
        raise taken from None
    account = Account.objects.create(owner=user)
    if settings.BREACT_SIGNUP_CREDITS > 0:
        credits_add(
            account=account,
            amount=settings.BREACT_SIGNUP_CREDITS,
            kind=LedgerEntry.Kind.GRANT,
            reference="signup",
        )
    return account


# --- keys: roll; payments and top-ups; low-balance alert (console pages) -------------------


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
    from accounts.payments import TEST_MODE, credit_pack, topup_mode

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
    from accounts.payments import checkout_session_create, credit_pack

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
    import logging

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


def low_balance_watch(*, account_id: int) -> None:
    """Inside a transaction that changed the balance: schedule low_balance_check after commit
    when the balance may have crossed the alert threshold either way. One primary-key read of a
    row this transaction already updated; with no alert set and none pending (the common case)
    nothing is scheduled."""
    balance, threshold, alerted_at = (
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
    import logging

    from accounts.tasks import low_balance_email

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
        recipient_list=[account.owner.email],
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


def account_for_user(*, user: User) -> Account:
    """The user's account, created (empty) when the user has none yet — e.g. a superuser made
    with createsuperuser opening the console. Pages call it for the logged-in user only."""
    account, _created = Account.objects.get_or_create(owner=user)
    return account


def audit_record(
    *,
    action: str,
    target: Any,
    actor: User | None = None,
    account: Account | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    ip: str | None = None,
) -> AuditEvent:
    """Append one audit event. `target` is a model instance (type, id and repr are taken from
    it) or a (type, id) pair. Call it inside the transaction of the change it records, so the
    change and its record commit together."""
    if isinstance(target, tuple):
        target_type, target_id = str(target[0]), str(target[1])
        target_repr = ""
    else:
        target_type = target._meta.label_lower
        target_id = str(getattr(target, "public_id", None) or target.pk)
        target_repr = str(target)[:255]
    return AuditEvent.objects.create(
        actor=actor,
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        account=account,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        before=before,
        after=after,
        reason=reason,
        ip=ip,
    )


# --- audit of key and credit events (h16) ----------------------------------------------------


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


# --- staff: credit adjustments, refunds by hand, account status (h14) ------------------------

ADJUST_REFERENCE = "adjust:"


@transaction.atomic
def credits_adjust(
    *,
    account: Account,
    amount: int,
    actor: User,
    reason: str,
    nonce: str,
    ip: str | None = None,
) -> LedgerEntry | None:
    """A staff member's manual adjustment: +N adds credits, −N removes them, never below zero.

    Locks the account row (select_for_update; an IMMEDIATE transaction on SQLite), then looks
    for a ledger row with reference "adjust:<nonce>": when the same form was already applied
    (a double submit) it returns None and writes nothing. Otherwise one UPDATE of the balance
    (a removal is conditional on balance >= N), an "adjustment" ledger row with actor and
    reason, and one "credits.adjust" audit event (balance before/after, the nonce), all in this
    transaction. Raises BadRequest for a zero amount or a blank reason and InsufficientCredits
    when a removal would take the balance below zero (nothing written). The caller checks that
    `actor` is staff."""
    reason = reason.strip()
    if amount == 0:
        raise BadRequest("The adjustment must be a non-zero whole number of credits.")
    if not reason:
        raise BadRequest("An adjustment needs a reason.")
    reference = f"{ADJUST_REFERENCE}{nonce}"
    before = (
        Account.objects.select_for_update()
        .filter(pk=account.pk)
        .values_list("balance", flat=True)
        .get()
    )
    if LedgerEntry.objects.filter(
        account_id=account.pk, kind=LedgerEntry.Kind.ADJUSTMENT, reference=reference
    ).exists():
        return None
    changed = (
        Account.objects.filter(pk=account.pk)
        .filter(balance__gte=-amount if amount < 0 else 0)
        .update(balance=F("balance") + amount)
    )
    if not changed:
        raise InsufficientCredits(
            required=-amount,
            balance=int(before),
            message=f"The balance is {before} credits: removing {-amount} would take it "
            "below zero.",
        )
    balance = _balance(account.pk)
    account.balance = balance
    low_balance_watch(account_id=account.pk)
    entry = LedgerEntry.objects.create(
        account=account,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        amount=amount,
        balance_after=balance,
        reference=reference,
        actor=actor,
        reason=reason,
    )
    audit_record(
        action="credits.adjust",
        target=entry,
        actor=actor,
        account=account,
        before={"balance": int(before)},
        after={"balance": balance, "amount": amount, "nonce": nonce},
        reason=reason,
        ip=ip,
    )
    return entry


@transaction.atomic
def process_refund_by_staff(
    *, process: Process, actor: User, reason: str, ip: str | None = None
) -> LedgerEntry | None:
    """Refund a charged process by hand, at most once: credits_refund's ledger row is unique
    per process, so a second call (a double submit, or a refund the platform already made)
    returns None and writes nothing. The refund records one "credits.refund" audit event with
    the balance before and after, in the same transaction. Raises BadRequest for a blank reason
    or a process that was never charged. The caller checks that `actor` is staff."""
    reason = reason.strip()
    if not reason:
        raise BadRequest("A refund needs a reason.")
    if not LedgerEntry.objects.filter(process=process, kind=LedgerEntry.Kind.CHARGE).exists():
        raise BadRequest("This process was not charged, so there is nothing to refund.")
    entry = credits_refund(process=process, reason=reason, actor=actor)
    if entry is None:
        return None
    audit_record(
        action="credits.refund",
        target=entry,
        actor=actor,
        account=Account(pk=process.account_id),
        before={"balance": entry.balance_after - entry.amount},
        after={
            "balance": entry.balance_after,
            "amount": entry.amount,
            "process": process.public_id,
        },
        reason=reason,
        ip=ip,
    )
    return entry


@transaction.atomic
def account_status_set(
    *, account: Account, status: str, actor: User, reason: str, ip: str | None = None
) -> bool:
    """Disable or enable an account. Its keys are refused (403) or accepted again from the next
    request on: api_key_verify reads the status every time. One conditional UPDATE, so a repeat
    (a double submit) changes nothing, records nothing and returns False; a change records one
    "account.disable"/"account.enable" audit event with the status before and after. Raises
    BadRequest for an unknown status or a blank reason. The caller checks that `actor` is
    staff."""
    reason = reason.strip()
    if status not in Account.Status.values:
        raise BadRequest("Unknown account status.")
    if not reason:
        raise BadRequest("A status change needs a reason.")
    before = (
        Account.objects.select_for_update()
        .filter(pk=account.pk)
        .values_list("status", flat=True)
        .get()
    )
    if before == status:
        account.status = status
        return False
    Account.objects.filter(pk=account.pk, status=before).update(status=status)
    account.status = status
    audit_record(
        action="account.enable" if status == Account.Status.ACTIVE else "account.disable",
        target=account,
        actor=actor,
        account=account,
        before={"status": before},
        after={"status": status},
        reason=reason,
        ip=ip,
    )
    return True
