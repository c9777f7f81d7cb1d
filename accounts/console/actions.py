"""Accounts as their members meet them: sign-up (with its grant), get-or-create, the current
organisation of a request."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from accounts.ledger.actions import credits_add
from accounts.models import Account, LedgerEntry, Membership, User
from accounts.orgs.actions import NoOrganisation, org_for_new_member
from accounts.orgs.selectors import memberships_of_user


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
    account = Account.objects.filter(owner=user, deleted_at__isnull=True).first()
    if account is None:
        return account_for_user(user=user), True
    return account, created


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
    """The new user's organisation (with them as Owner) and its sign-up grant of
    settings.BREACT_SIGNUP_CREDITS credits through the ledger (reference "signup"), in one
    transaction."""
    account = org_for_new_member(user=user).account
    if settings.BREACT_SIGNUP_CREDITS > 0:
        credits_add(
            account=account,
            amount=settings.BREACT_SIGNUP_CREDITS,
            kind=LedgerEntry.Kind.GRANT,
            reference="signup",
        )
    return account


def account_for_user(*, user: User) -> Account:
    """The user's first organisation, created (empty, with them as Owner) when they belong to
    none yet — e.g. a superuser made with createsuperuser opening the console. Raises
    NoOrganisation for a user who left the organisation made for them."""
    membership = memberships_of_user(user=user).first() or org_for_new_member(user=user)
    return membership.account


ORG_SESSION_KEY = "breact_org"


def request_membership(request: HttpRequest) -> Membership:
    """The signed-in user's membership of the current organisation: the one chosen in this
    session (org switcher) if they still belong to it, else their first; a user without any
    gets their own organisation on first use. Cached on the request. For views behind
    login_required (org_permission runs it first); raises NoOrganisation (a 403)."""
    cached = getattr(request, "_org_membership", None)
    if isinstance(cached, Membership):
        return cached
    assert isinstance(request.user, User)  # login_required ran first
    memberships = memberships_of_user(user=request.user)
    wanted = request.session.get(ORG_SESSION_KEY)
    membership = (memberships.filter(account_id=wanted).first() if wanted else None) or (
        memberships.first()
    )
    if membership is None:
        try:
            membership = org_for_new_member(user=request.user)
        except NoOrganisation as exc:
            raise PermissionDenied(exc.message) from None
    if wanted is not None and wanted != membership.account_id:
        # The chosen organisation is gone (left, removed, deleted): fall back to the first. The
        # default itself is not written, so a plain page view never saves the session.
        del request.session[ORG_SESSION_KEY]
    request._org_membership = membership  # type: ignore[attr-defined,unused-ignore]
    return membership


def request_account(request: HttpRequest) -> Account:
    """The current organisation of the signed-in user (see request_membership). For views behind
    login_required or staff_required, which ran first."""
    return request_membership(request).account
