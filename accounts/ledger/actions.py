"""Writes on the credit ledger: add, charge, refund (automatic or by staff), staff adjustments.

Every balance change and its ledger row commit together (conditional UPDATEs, integer credits).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import F, Q

from accounts.alerts.actions import low_balance_watch
from accounts.audit.actions import audit_record
from accounts.models import Account, ApiKey, LedgerEntry, User
from breact.errors import BadRequest, InsufficientCredits

if TYPE_CHECKING:
    from services.models import Process


def _balance(account_pk: int) -> int:
    return int(Account.objects.filter(pk=account_pk).values_list("balance", flat=True).get())


def _entry_after_update(
    *, account: Account, kind: str, amount: int, reference: str, actor: User | None, reason: str
) -> LedgerEntry:
    """After this transaction's UPDATE of the balance by `amount`: the ledger row with the exact
    balance after (the row stays locked until commit), and the low-balance watch."""
    balance = _balance(account.pk)
    account.balance = balance
    low_balance_watch(account_id=account.pk)
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
    entry = _entry_after_update(
        account=account, kind=kind, amount=amount, reference=reference, actor=actor, reason=reason
    )
    balance = entry.balance_after
    audit_record(
        # One name per action: a staff adjustment is "credits.adjust" whichever path made it.
        action="credits.adjust" if kind == LedgerEntry.Kind.ADJUSTMENT else f"credits.{kind}",
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
    entry = _entry_after_update(
        account=account,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        amount=amount,
        reference=reference,
        actor=actor,
        reason=reason,
    )
    balance = entry.balance_after
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
