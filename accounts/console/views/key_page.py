"""One API key's own page: its calls, credits and errors, its recent requests, and editing its
name, services, rate limit and spend cap (audited)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods

from accounts.console.actions import request_account, request_membership
from accounts.console.views.keys import STATUS_BADGES, KeyCreateForm
from accounts.keys.actions import api_key_update
from accounts.keys.selectors import api_key_get, api_key_status
from accounts.models import ApiKey
from accounts.orgs.access import key_scope, org_permission
from breact.errors import BadRequest
from breact.http import HtmxHttpRequest, client_ip
from services.usage.selectors import usage_filtered, usage_totals

USAGE_DAYS = 30
RECENT_REQUESTS = 20


class KeyEditForm(KeyCreateForm):
    """The settings of an existing key: the create form's fields and checks, without expiry
    (an expiry is set when the key is made; roll the key to change it)."""

    def __init__(self, *args: Any, api_key: ApiKey, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["expires_in"], self.fields["expires_on"]
        self.fields["spend_cap"].help_text = (
            f"The most credits this key may ever spend; it has spent {api_key.credits_spent}, "
            "so the cap cannot be lower. Blank = no cap."
        )
        if not self.is_bound:
            self.initial = {
                "name": api_key.name,
                "scopes": list(api_key.scopes or []),
                "rate_limit": api_key.rate_limit,
                "spend_cap": api_key.spend_cap,
            }


def _usage(api_key: ApiKey) -> dict[str, Any]:
    """The key's figures over the last USAGE_DAYS days, from the usage page's selectors."""
    end = timezone.localdate()
    start = end - timedelta(days=USAGE_DAYS - 1)
    filters: dict[str, Any] = {
        "account": api_key.account,
        "start": start,
        "end": end,
        "api_key_id": api_key.pk,
    }
    return {
        "totals": usage_totals(**filters),
        "recent": list(usage_filtered(**filters)[:RECENT_REQUESTS]),
        "usage_days": USAGE_DAYS,
        "key_usage_url": reverse("usage")
        + "?"
        + urlencode({"from": start.isoformat(), "to": end.isoformat(), "key": str(api_key.pk)}),
    }


@org_permission("keys.view", "keys.manage")
@require_http_methods(["GET", "POST"])
def key_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET: the key, its usage and the edit form. POST: save the form through api_key_update
    (audited); a refused change (revoked meanwhile, cap below what was spent) is a form error.
    Another account's key, a console key and a missing one answer 404 alike."""
    account = request_account(request)
    key = api_key_get(account=account, pk=pk, created_by=key_scope(request))
    status = api_key_status(api_key=key)
    editable = status not in ("revoked", "expired")
    form = KeyEditForm(
        request.POST if request.method == "POST" else None, account=account, api_key=key
    )
    if request.method == "POST" and not editable:
        form.add_error(None, f"This key is {status}; it can no longer be changed.")
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            api_key_update(
                api_key=key,
                name=data["name"],
                scopes=list(data["scopes"]),
                rate_limit=data["rate_limit"],
                spend_cap=data["spend_cap"],
                actor=request_membership(request).user,
                ip=client_ip(request),
            )
        except BadRequest as exc:
            form.add_error("spend_cap" if "spend cap" in exc.message else None, exc.message)
        else:
            messages.success(request, f"Saved the settings of “{key.name}”.")
            return redirect("key-detail", pk=key.pk)
    badge, label = STATUS_BADGES[status]
    context = {
        "key": key,
        "status": status,
        "badge": badge,
        "status_label": label,
        "editable": editable,
        "form": form,
        **_usage(key),
    }
    return render(request, "accounts/key_detail.html", context, status=200)
