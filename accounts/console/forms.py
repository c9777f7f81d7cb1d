"""Forms of the sign-up, log-in and password-reset pages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.core.exceptions import ValidationError

from accounts.models import User


def normalize_email(email: str) -> str:
    """The form in which emails are stored: trimmed, lower case."""
    return User.objects.normalize_email(email).strip().lower()


class SignupForm(forms.Form):
    email = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters; not a common password, not all digits, "
        "not too like your email.",
    )
    password2 = forms.CharField(
        label="Confirm password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        email = normalize_email(self.cleaned_data["email"])
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(
                "An account with this email already exists. Log in or reset your password.",
                code="duplicate",
            )
        return email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password1 = cleaned.get("password1")
        password2 = cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords do not match.")
        if password1:
            try:
                # The similarity check compares the password with the email.
                password_validation.validate_password(
                    password1, user=User(email=cleaned.get("email", ""))
                )
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class LoginForm(forms.Form):
    email = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])


class PasswordResetForm(DjangoPasswordResetForm):
    """Django's form, also for active users who never set a password (accounts made with
    `create_api_key`): proving they own the address is how they set their first one."""

    def get_users(self, email: str) -> Iterable[Any]:
        return User.objects.filter(email__iexact=normalize_email(email), is_active=True)
