"""Forms of the staff account pages: search, credit adjustment, status, key revoke, refund."""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.core.validators import RegexValidator

from accounts.models import Account

# An adjustment moves at most this many credits either way (far below BigIntegerField's bound).
ADJUST_MAX = 1_000_000_000
REASON_MAX = 1000
REASON_HELP = "Kept forever in the ledger and the audit log; say why, e.g. a ticket number."


def nonce_new() -> str:
    """A fresh idempotency token for a staff form: one submit applies, a repeat does nothing."""
    return secrets.token_urlsafe(18)


class ReasonField(forms.CharField):
    """A required, stripped, non-blank reason."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Reason")
        kwargs.setdefault("help_text", REASON_HELP)
        kwargs.setdefault(
            "error_messages", {"required": "Give a reason; it is kept in the audit log."}
        )
        super().__init__(max_length=REASON_MAX, strip=True, **kwargs)


class AccountSearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=254,
        strip=True,
        label="Email or key prefix",
        help_text="Part of an email address, or a key such as brk_AbCd1234… (its first 12 "
        "characters are matched).",
    )


class CreditAdjustForm(forms.Form):
    amount = forms.IntegerField(
        min_value=-ADJUST_MAX,
        max_value=ADJUST_MAX,
        label="Credits",
        help_text="A whole number: +N adds credits, −N removes them (never below zero).",
    )
    reason = ReasonField()
    nonce = forms.CharField(
        widget=forms.HiddenInput,
        max_length=64,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]{16,64}$")],
        error_messages={"required": "The form expired; reload the page and try again."},
    )

    def clean_amount(self) -> int:
        amount = int(self.cleaned_data["amount"])
        if amount == 0:
            raise forms.ValidationError("Enter a number of credits other than zero.")
        return amount


class AccountStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Account.Status.choices, widget=forms.HiddenInput)
    reason = ReasonField()


class ReasonForm(forms.Form):
    """A key revoke or a process refund: only the reason (the row is in the URL)."""

    reason = ReasonField()
