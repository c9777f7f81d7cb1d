"""Writes for sign-in security: the verification mail, and a verified address for users the
operator vouches for (the demo user)."""

from __future__ import annotations

from allauth.account.internal.flows.email_verification import (
    send_verification_email_for_user,
)
from allauth.account.models import EmailAddress
from django.http import HttpRequest

from accounts.models import User


def verification_mail_send(*, request: HttpRequest, user: User) -> bool:
    """Send the verification link to the user's address through EMAIL_BACKEND; False when one
    was sent too recently (ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN), which allauth then skips."""
    return send_verification_email_for_user(request, user)


def email_mark_verified(*, user: User) -> EmailAddress:
    """The user's address as their verified, primary EmailAddress (created when missing)."""
    address, _created = EmailAddress.objects.update_or_create(
        user=user,
        email=user.email,
        defaults={"verified": True, "primary": True},
    )
    return address
