"""Accounts as their owners meet them: sign-up (with its grant), get-or-create, a user's account."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from accounts.ledger.actions import credits_add
from accounts.models import Account, LedgerEntry, User


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


@transaction.atomic
def account_sign_up(*, email: str, password: str) -> Account:
    """Create a user with this email and password, and their account with its sign-up grant
    (account_open), all in one transaction. The caller validates the password. Raises
    ValidationError({"email": …}) when a user with this email exists, whatever its case (also
    when a concurrent sign-up wins). The console's sign-up page goes through allauth, whose
    adapter calls account_open (accounts/signin/adapter.py)."""

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
    return account_open(user=user)


@transaction.atomic
def account_open(*, user: User) -> Account:
    """The new user's account, with the sign-up grant of settings.BREACT_SIGNUP_CREDITS credits
    through the ledger (reference "signup"), in one transaction."""
    account = Account.objects.create(owner=user)
    if settings.BREACT_SIGNUP_CREDITS > 0:
        credits_add(
            account=account,
            amount=settings.BREACT_SIGNUP_CREDITS,
            kind=LedgerEntry.Kind.GRANT,
            reference="signup",
        )
    return account


def account_for_user(*, user: User) -> Account:
    """The user's account, created (empty) when the user has none yet — e.g. a superuser made
    with createsuperuser opening the console. Pages call it for the logged-in user only."""
    account, _created = Account.objects.get_or_create(owner=user)
    return account


def request_account(request: HttpRequest) -> Account:
    """The signed-in user's account (created on first use). For views behind login_required or
    staff_required, which ran first."""
    assert isinstance(request.user, User)  # login_required ran first
    return account_for_user(user=request.user)
