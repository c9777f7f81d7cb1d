"""Reads for sign-in security: is a user's email verified, and what protects their account."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.http import HttpRequest

from accounts.models import User

NOT_VERIFIED = (
    "Verify your email address first: we sent a link to {email} when you signed up. "
    "Creating API keys and buying credits open once it is verified."
)


def email_verified(*, user: User) -> bool:
    """True when the user's own email address (User.email) is a verified EmailAddress."""
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def user_has_second_factor(*, user: User) -> bool:
    """True when the user signs in with an authenticator app or a passkey (recovery codes alone
    do not count)."""
    return Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).exists()


def verification_refusal(*, user: User) -> str | None:
    """Why this user may not create API keys or pay yet, or None when they may."""
    if email_verified(user=user):
        return None
    return NOT_VERIFIED.format(email=user.email)


def security_overview(*, request: HttpRequest, user: User) -> dict[str, Any]:
    """What the Account security page shows: verification, second factors, sessions."""
    authenticators = list(Authenticator.objects.filter(user=user).order_by("created_at"))
    totp = next((a for a in authenticators if a.type == Authenticator.Type.TOTP), None)
    recovery = next(
        (a for a in authenticators if a.type == Authenticator.Type.RECOVERY_CODES), None
    )
    passkeys = [a for a in authenticators if a.type == Authenticator.Type.WEBAUTHN]
    unused_codes = len(recovery.wrap().get_unused_codes()) if recovery else 0
    sessions = sorted(UserSession.objects.purge_and_list(user), key=lambda s: s.created_at)
    return {
        "email_verified": email_verified(user=user),
        "totp": totp,
        "recovery": recovery,
        "unused_codes": unused_codes,
        "passkeys": [
            {"pk": p.pk, "name": p.wrap().name, "created_at": p.created_at} for p in passkeys
        ],
        "sessions": sessions,
        "current_session_key": request.session.session_key,
    }
