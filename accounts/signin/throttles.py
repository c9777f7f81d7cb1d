"""The sign-in throttles (breact.throttle counters), shared by log-in, re-authentication,
sign-up and password reset."""

from __future__ import annotations

import math

from django.conf import settings
from django.http import HttpRequest

from breact import throttle
from breact.throttle import Hit, ThrottleUnavailable

UNAVAILABLE = (
    "This is unavailable for a moment: a part of the server is down. Nothing was changed; "
    "try again in a minute."
)
LOGIN_ACCOUNT = "login-account"  # wrong passwords for one address, from anywhere
LOGIN_IP = "login-ip"  # wrong passwords from one client network, for any address
RESET_ACCOUNT = "password-reset-account"  # reset mails to one address
RESET_IP = "password-reset-ip"  # reset mails asked for from one client network
SIGNUP_IP = "signup-ip"  # accounts created from one client network


def normalize_email(email: str) -> str:
    """The form in which emails are stored: trimmed, lower case."""
    return email.strip().lower()


def minutes(seconds: int) -> str:
    count = max(math.ceil(seconds / 60), 1)
    return f"{count} minute{'s' if count != 1 else ''}"


def hits(request: HttpRequest, *, email: str, account_scope: str, ip_scope: str) -> list[Hit]:
    """Count this attempt for the address (BREACT_LOGIN_RATE_LIMIT) and for the client's
    network (BREACT_LOGIN_IP_RATE_LIMIT). Raises ThrottleUnavailable (counting nothing) when
    the cache is down."""
    account_hit = throttle.hit(account_scope, email, settings.BREACT_LOGIN_RATE_LIMIT)
    try:
        ip_hit = throttle.hit(
            ip_scope, throttle.client_network(request), settings.BREACT_LOGIN_IP_RATE_LIMIT
        )
    except ThrottleUnavailable:
        throttle.undo(account_hit)
        raise
    return [account_hit, ip_hit]


def login_refusal(account_hit: Hit, ip_hit: Hit) -> str | None:
    """Why this attempt is refused before its password is checked, or None."""
    if ip_hit.over:
        # Many wrong passwords from this network, for any accounts: credential stuffing.
        # A password reset would not help here, so none is offered.
        return f"Too many failed log-ins from your network. Try again in {minutes(ip_hit.reset)}."
    if account_hit.over:
        # A completed password reset clears this account's counter (views.PasswordResetFromKey).
        return (
            "Too many failed attempts to log in to this account. "
            f"Try again in {minutes(account_hit.reset)}, or reset your password."
        )
    return None


def signups_exhausted(request: HttpRequest) -> bool:
    """Count this sign-up against its client network (BREACT_SIGNUP_RATE_LIMIT); True when
    over. Raises ThrottleUnavailable when the cache is down."""
    signup = throttle.hit(
        SIGNUP_IP, throttle.client_network(request), settings.BREACT_SIGNUP_RATE_LIMIT
    )
    return signup.over


def login_lock_clear(email: str) -> None:
    """A new password lifts the log-in lock of its account, as the locked-out message says."""
    throttle.clear(LOGIN_ACCOUNT, normalize_email(email), settings.BREACT_LOGIN_RATE_LIMIT)


__all__ = ["ThrottleUnavailable"]
