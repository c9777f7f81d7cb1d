"""Console pages of webhooks: the endpoint list with a form to add one (secret shown once), and
a page per endpoint with its deliveries, resend, a test event, enable/disable, roll, delete."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.console.actions import request_account
from accounts.models import Account
from accounts.orgs.access import org_permission
from breact.errors import BadRequest, NotFound
from breact.http import HtmxHttpRequest
from services.webhooks import actions, selectors
from services.webhooks.models import EVENT_TYPES, WebhookEndpoint

DELIVERIES_SHOWN = 50
GRACE_CHOICES = [("0", "None: drop the old secret now"), ("3600", "1 hour"), ("86400", "24 hours")]


def _account(request: HttpRequest) -> Account:
    return request_account(request)


def _endpoint(request: HttpRequest, public_id: str) -> WebhookEndpoint:
    """The user's own endpoint, or 404 (missing and not theirs alike)."""
    try:
        return selectors.endpoint_get(account_id=_account(request).pk, public_id=public_id)
    except NotFound:
        raise Http404("No such webhook endpoint.") from None


def endpoint_action(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """A POST action on the user's own endpoint: logged in, owner-checked (404 otherwise, for
    every method), and a GET is sent to the endpoint's page."""

    @org_permission("webhooks.view", "webhooks.manage")
    @require_http_methods(["GET", "POST"])
    @wraps(view)
    def wrapper(request: HtmxHttpRequest, public_id: str, **kwargs: Any) -> HttpResponse:
        endpoint = _endpoint(request, public_id)
        if request.method == "GET":
            return redirect("webhook-detail", public_id)
        return view(request, endpoint, **kwargs)

    return wrapper


class EndpointForm(forms.Form):
    url = forms.CharField(
        max_length=2000,
        label="URL",
        help_text="An http(s) address that answers 2xx; private and loopback addresses are "
        "refused.",
    )
    events = forms.MultipleChoiceField(
        choices=[(e, e) for e in EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to get every event.",
    )
    description = forms.CharField(max_length=200, required=False)


class RollForm(forms.Form):
    grace = forms.ChoiceField(choices=GRACE_CHOICES, initial="86400", label="Old secret signs for")


def _secret_once(
    request: HtmxHttpRequest, endpoint: WebhookEndpoint, secret: str, *, rolled: bool
) -> HttpResponse:
    """The one response that carries a secret (never_cache views, never stored elsewhere)."""
    return render(
        request,
        "webhooks/secret_once.html",
        {"endpoint": endpoint, "secret": secret, "rolled": rolled},
    )


@never_cache
@org_permission("webhooks.view", "webhooks.manage")
@require_http_methods(["GET", "POST"])
def webhook_list(request: HtmxHttpRequest) -> HttpResponse:
    account = _account(request)
    form = EndpointForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                endpoint, secret = actions.endpoint_create(
                    account_id=account.pk,
                    url=data["url"],
                    events=list(data["events"]),
                    description=data["description"],
                )
        except BadRequest as exc:
            form.add_error("url", exc.message.removeprefix("url: "))
        else:
            return _secret_once(request, endpoint, secret, rolled=False)
    context = {
        "form": form,
        "endpoints": list(selectors.endpoint_list(account_id=account.pk)),
        "per_call_secret": actions.per_call_secret(account_id=account.pk),
    }
    return render(request, "webhooks/list.html", context)


def _detail_context(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "deliveries": list(selectors.delivery_list(endpoint=endpoint)[:DELIVERIES_SHOWN]),
        "roll_form": RollForm(),
    }


@org_permission("webhooks.view")
@require_GET
def webhook_detail(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    endpoint = _endpoint(request, public_id)
    template = "webhooks/detail.html#deliveries" if request.htmx else "webhooks/detail.html"
    return render(request, template, _detail_context(endpoint))


@endpoint_action
def webhook_toggle(request: HtmxHttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
    with transaction.atomic():
        actions.endpoint_update(endpoint=endpoint, enabled=not endpoint.enabled)
    messages.success(request, "Enabled." if endpoint.enabled else "Disabled: no events are sent.")
    return redirect("webhook-detail", endpoint.public_id)


@endpoint_action
def webhook_delete(request: HtmxHttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
    with transaction.atomic():
        actions.endpoint_delete(endpoint=endpoint)
    messages.success(request, f"Deleted the endpoint {endpoint.url}.")
    return redirect("webhooks")


@never_cache
@endpoint_action
def webhook_roll(request: HtmxHttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
    form = RollForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how long the old secret keeps signing.")
        return redirect("webhook-detail", endpoint.public_id)
    grace = timedelta(seconds=int(form.cleaned_data["grace"]))
    secret = actions.endpoint_secret_roll(endpoint=endpoint, grace=grace)
    return _secret_once(request, endpoint, secret, rolled=True)


@endpoint_action
def webhook_test(request: HtmxHttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
    actions.test_event_send(endpoint=endpoint)
    messages.success(request, "A test event was queued; its delivery shows below.")
    if request.htmx:
        return render(request, "webhooks/detail.html#deliveries", _detail_context(endpoint))
    return redirect("webhook-detail", endpoint.public_id)


@endpoint_action
def webhook_resend(
    request: HtmxHttpRequest, endpoint: WebhookEndpoint, event_id: str
) -> HttpResponse:
    try:
        delivery = selectors.delivery_get(endpoint=endpoint, event_id=event_id)
    except NotFound:
        raise Http404("No such delivery.") from None
    with transaction.atomic():
        queued = actions.delivery_resend(delivery=delivery)
    if queued:
        messages.success(request, f"{event_id} is queued to be sent again.")
    else:
        messages.info(request, f"{event_id} is still pending: it will be sent.")
    if request.htmx:
        return render(request, "webhooks/detail.html#deliveries", _detail_context(endpoint))
    return redirect("webhook-detail", endpoint.public_id)
