"""The demo staff user that `make run` creates, so a first-time user can sign in at once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction

from accounts.console.actions import account_get_or_create
from accounts.ledger.actions import credits_add
from accounts.models import User
from accounts.signin.actions import email_mark_verified

DEMO_EMAIL = "demo@breact.local"
DEMO_CREDITS = 1000


@dataclass(frozen=True)
class DemoUser:
    email: str
    password: str | None  # set only when it was just created or reset


def demo_email(email: str = DEMO_EMAIL) -> str:
    """Stored emails are normalised and lower-cased; look up the same form."""
    return User.objects.normalize_email(email).lower()


def demo_user_ensure(email: str = DEMO_EMAIL) -> DemoUser:
    """Create the demo staff user (superuser, with an account and DEMO_CREDITS credits) when it
    does not exist; its password is returned only then. All or nothing: a user created without
    its password shown could never sign in."""
    email = demo_email(email)
    if User.objects.filter(email=email).exists():
        return DemoUser(email=email, password=None)
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        user = User.objects.create_superuser(email, password)
        email_mark_verified(user=user)  # the operator's own address: nothing to prove
        account, _ = account_get_or_create(email=email)
        credits_add(
            account=account, amount=DEMO_CREDITS, reference="demo", reason="Demo account credits."
        )
    return DemoUser(email=email, password=password)


def demo_user_reset_password(email: str = DEMO_EMAIL) -> DemoUser:
    """Give the demo user a new random password (creating the user if missing)."""
    created = demo_user_ensure(email)
    if created.password:
        return created
    password = secrets.token_urlsafe(12)
    user = User.objects.get(email=created.email)
    user.set_password(password)
    user.save(update_fields=["password"])
    return DemoUser(email=created.email, password=password)
