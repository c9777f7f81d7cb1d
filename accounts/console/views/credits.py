"""Credits: balance, top-ups (Stripe Checkout or test mode), ledger history, low-balance alert."""

from __future__ import annotations

import logging
from typing import Any

import stripe
from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.alerts.actions import account_low_balance_threshold_set
from accounts.billing.actions import payment_checkout_start, payment_test_topup, stripe_event_apply
from accounts.billing.payments import (
    OFF,
    STRIPE,
    TEST_MODE,
    PaymentProviderError,
    credit_pack,
    credit_packs,
    stripe_event_verify,
    topup_mode,
)
from accounts.billing.selectors import payment_get
from accounts.console.actions import request_account
from accounts.ledger.selectors import account_balance, ledger_entries
from accounts.models import Account, LedgerEntry, Payment, User
from accounts.orgs.access import org_permission
from accounts.signin.selectors import verification_refusal
from breact.http import HtmxHttpRequest, see_other

logger = logging.getLogger(__name__)

LEDGER_PAGE_SIZE = 25
TOPUPS_OFF = "Nothing was added: top-ups are not configured on this server."
THRESHOLD_MAX = 2_147_483_647  # PositiveIntegerField's upper bound on every database
KIND_BADGES = {
    "grant": "badge-ok",
    "topup": "badge-ok",
    "refund": "badge-ok",
    "charge": "",
    "adjustment": "badge-warn",
}


class AlertForm(forms.Form):
    threshold = forms.IntegerField(
        min_value=0,
        max_value=THRESHOLD_MAX,
        label="Email me when my balance falls below",
        help_text="In credits; 0 turns the alert off. One email each time the balance crosses it.",
    )


def _ledger_kind(request: HttpRequest) -> str:
    kind = request.GET.get("kind", "")
    return kind if kind in LedgerEntry.Kind.values else ""


def _ledger_context(request: HttpRequest, account: Account) -> dict[str, Any]:
    kind = _ledger_kind(request)
    page = Paginator(ledger_entries(account=account, kind=kind or None), LEDGER_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = f"kind={kind}&" if kind else ""
    return {
        "ledger_page": page,
        "ledger_rows": [(entry, KIND_BADGES.get(entry.kind, "")) for entry in page.object_list],
        "kind": kind,
        "kinds": LedgerEntry.Kind.choices,
        "page_query": query,
    }


def _page_context(
    request: HttpRequest,
    account: Account,
    *,
    alert_form: AlertForm | None = None,
    topup_error: str = "",
) -> dict[str, Any]:
    mode = topup_mode()
    return {
        "balance": account_balance(account=account),
        "account": account,
        "packs": credit_packs(),
        "stripe": mode == STRIPE,
        "test_mode": mode == TEST_MODE,
        "topups_off": mode == OFF,
        "topup_error": topup_error,
        "alert_form": alert_form or AlertForm(initial={"threshold": account.low_balance_threshold}),
        "checkout_cancelled": request.GET.get("checkout") == "cancelled",
        "verification_refusal": verification_refusal(user=_member(request)),
        **_ledger_context(request, account),
    }


def _member(request: HttpRequest) -> User:
    """The signed-in member: who pays must have a verified address (org_permission ran)."""
    assert isinstance(request.user, User)
    return request.user


@org_permission("credits.view")
@require_GET
def credits_page(request: HtmxHttpRequest) -> HttpResponse:
    account = request_account(request)
    if request.htmx:  # the ledger filter and pagination swap only the table
        return render(request, "accounts/credits.html#ledger", _ledger_context(request, account))
    return render(request, "accounts/credits.html", _page_context(request, account))


@org_permission("credits.buy")
@require_POST
def credits_topup(request: HtmxHttpRequest) -> HttpResponse:
    account = request_account(request)
    pack_id = request.POST.get("pack", "")
    pack = credit_pack(pack_id)
    mode = topup_mode()
    if mode == OFF:
        context = _page_context(request, account, topup_error=TOPUPS_OFF)
        return render(request, "accounts/credits.html", context, status=503)
    if verification_refusal(user=_member(request)) is not None:
        # No payment before the address is verified; the page says so beside the packs.
        return render(request, "accounts/credits.html", _page_context(request, account), status=403)
    if pack is None:
        context = _page_context(request, account, topup_error="Choose one of the credit packs.")
        return render(request, "accounts/credits.html", context)
    if mode == STRIPE:
        base = settings.BREACT_PUBLIC_URL
        try:
            _payment, url = payment_checkout_start(
                account=account,
                pack_id=pack.id,
                success_url=base
                + reverse("credits-topup-done")
                + "?session_id={CHECKOUT_SESSION_ID}",
                cancel_url=base + reverse("credits") + "?checkout=cancelled",
            )
        except PaymentProviderError as exc:
            logger.warning("Stripe Checkout failed for account %s: %r", account.pk, exc.__cause__)
            messages.error(request, str(exc))
            return see_other(reverse("credits"))
        return see_other(url)
    entry = payment_test_topup(account=account, pack_id=pack.id)
    messages.success(
        request,
        f"Added {pack.credits} credits ({pack.name}). Test mode: no payment was taken. "
        f"Balance: {entry.balance_after} credits.",
    )
    return see_other(reverse("credits"))


@never_cache
@org_permission("credits.buy")
@require_GET
def credits_topup_done(request: HtmxHttpRequest) -> HttpResponse:
    """Stripe's success_url: the payment's state, polled until the webhook confirms it."""
    account = request_account(request)
    session_id = request.GET.get("session_id", "")
    payment = payment_get(account=account, provider_reference=session_id) if session_id else None
    context = {
        "payment": payment,
        "pending": payment is not None and payment.status == Payment.Status.PENDING,
        "balance": account_balance(account=account),
        "session_id": session_id,
    }
    if request.htmx:
        return render(request, "accounts/credits_topup_done.html#payment-status", context)
    return render(request, "accounts/credits_topup_done.html", context)


@org_permission("credits.buy")
@require_POST
def credits_alert(request: HtmxHttpRequest) -> HttpResponse:
    account = request_account(request)
    form = AlertForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            return render(request, "accounts/credits.html#alert", {"alert_form": form})
        return render(
            request, "accounts/credits.html", _page_context(request, account, alert_form=form)
        )
    threshold = form.cleaned_data["threshold"]
    account_low_balance_threshold_set(account=account, threshold=threshold)
    if threshold:
        messages.success(
            request, f"Saved: we'll email you when your balance falls below {threshold} credits."
        )
    else:
        messages.success(request, "Saved: the low-balance email is off.")
    if request.htmx:
        context = {"alert_form": AlertForm(initial={"threshold": threshold}), "alert_saved": True}
        return render(request, "accounts/credits.html#alert", context)
    return see_other(reverse("credits"))


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's events: the signature is checked with the stripe package, each event id is
    applied once, and the answer is quick (no network calls)."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        return JsonResponse({"error": "Stripe is not configured."}, status=404)
    try:
        event = stripe_event_verify(
            payload=request.body, sig_header=request.headers.get("Stripe-Signature", "")
        )
    except (ValueError, stripe.SignatureVerificationError) as exc:
        logger.warning("Refused a Stripe webhook: %s", exc)
        return JsonResponse({"error": "Invalid signature or payload."}, status=400)
    # An error here rolls the event record back too, and the 500 makes Stripe retry.
    outcome = stripe_event_apply(event_id=event.id, event_type=event.type, data_object=event.object)
    logger.info("Stripe event %s (%s): %s", event.id, event.type, outcome)
    return JsonResponse({"received": True, "outcome": outcome})
