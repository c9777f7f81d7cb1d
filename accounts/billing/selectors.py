"""Reads on payments."""

from __future__ import annotations

from django.http import Http404

from accounts.models import Account, Payment


def payment_get(*, account: Account, provider_reference: str) -> Payment:
    """The account's payment with this provider reference (a Checkout session id), else
    Http404 for missing and another account's alike."""

    payment = Payment.objects.filter(account=account, provider_reference=provider_reference).first()
    if payment is None:
        raise Http404("No such payment.")
    return payment
