"""allauth's account adapter for the console: our throttles around every password check, the
console's messages, and the account (with its sign-up grant) made with each new user."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from accounts.console.actions import account_open
from accounts.signin import throttles
from breact import throttle

LOGIN_FAILED = "Email or password is incorrect."
EMAIL_TAKEN = "An account with this email already exists. Log in or reset your password."


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "email_password_mismatch": LOGIN_FAILED,
        "email_taken": EMAIL_TAKEN,
    }

    def authenticate(self, request: HttpRequest, **credentials: Any) -> Any:
        """Check a password, throttled: each attempt is counted at once (atomically) for the
        address (BREACT_LOGIN_RATE_LIMIT) and for the client's network
        (BREACT_LOGIN_IP_RATE_LIMIT, higher); over either, it is refused before the password is
        checked (ValidationError code "throttled"). Only wrong passwords stay counted: a right
        one, or a refused attempt, is given back. So one account's wrong passwords lock that
        account only, never other people signing in from the same network, until the network
        itself sends many wrong ones. With the counter store down, nothing is checked
        (code "unavailable"). Log-in and re-authentication both come here."""
        email = throttles.normalize_email(str(credentials.get("email") or ""))
        try:
            counted = throttles.hits(
                request,
                email=email,
                account_scope=throttles.LOGIN_ACCOUNT,
                ip_scope=throttles.LOGIN_IP,
            )
        except throttles.ThrottleUnavailable:
            raise ValidationError(throttles.UNAVAILABLE, code="unavailable") from None
        refusal = throttles.login_refusal(*counted)
        if refusal is not None:
            for hit in counted:
                throttle.undo(hit)  # refused unheard: not a wrong password
            raise ValidationError(refusal, code="throttled")
        user = super().authenticate(request, **credentials)
        if user is not None and not user.is_active:
            user = None  # the same answer as a wrong password
        if user is not None:
            for hit in counted:
                throttle.undo(hit)
        return user

    @transaction.atomic
    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        """The new user with their account and its sign-up grant, all or nothing."""
        user.email = throttles.normalize_email(form.cleaned_data["email"])
        saved = super().save_user(request, user, form, commit=commit)
        if commit:
            account_open(user=saved)
        return saved
