"""Security changes of an account, in the append-only audit log: second factors added, removed or
reset (recovery codes regenerated), passwords changed, set or reset, addresses verified."""

from __future__ import annotations

from typing import Any

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.audit.actions import audit_record
from accounts.models import Account, User
from breact.http import client_ip


def _record(action: str, *, request: HttpRequest | None, user: User, target: Any) -> None:
    audit_record(
        action=action,
        target=target,
        actor=user,
        account=Account.objects.filter(owner=user).first(),
        ip=client_ip(request) if request is not None else None,
    )


@receiver(mfa_signals.authenticator_added)
def _authenticator_added(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    authenticator = kwargs["authenticator"]
    _record(f"mfa.{authenticator.type}.add", request=request, user=user, target=authenticator)


@receiver(mfa_signals.authenticator_removed)
def _authenticator_removed(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    authenticator = kwargs["authenticator"]
    target = ("mfa.authenticator", authenticator.pk)  # the row is gone or going
    _record(f"mfa.{authenticator.type}.remove", request=request, user=user, target=target)


@receiver(mfa_signals.authenticator_reset)
def _authenticator_reset(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    authenticator = kwargs["authenticator"]
    _record(f"mfa.{authenticator.type}.reset", request=request, user=user, target=authenticator)


@receiver(account_signals.password_changed)
def _password_changed(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    _record("password.change", request=request, user=user, target=user)


@receiver(account_signals.password_set)
def _password_set(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    _record("password.set", request=request, user=user, target=user)


@receiver(account_signals.password_reset)
def _password_reset(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    _record("password.reset", request=request, user=user, target=user)


@receiver(account_signals.email_confirmed)
def _email_confirmed(sender: Any, request: HttpRequest, **kwargs: Any) -> None:
    address = kwargs["email_address"]
    _record("email.verify", request=request, user=address.user, target=address)
