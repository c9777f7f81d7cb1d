"""API keys: list, create (shown once), revoke, roll."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.console.actions import request_account, request_membership
from accounts.keys.actions import api_key_create, api_key_revoke, api_key_roll
from accounts.keys.selectors import api_key_get, api_key_status, api_keys_listed
from accounts.models import Account, ApiKey, User
from accounts.orgs.access import key_scope, org_permission
from accounts.rates import parse_rate
from accounts.signin.selectors import verification_refusal
from breact.errors import BadRequest
from breact.forms import BoundedDateField
from breact.http import HtmxHttpRequest, client_ip
from services.catalogue.selectors import service_catalogue
from services.usage.selectors import calls_by_key

PAGE_SIZE = 20
# The largest spend cap a form accepts (far below the column's bigint bound).
SPEND_CAP_MAX = 1_000_000_000_000
CALLS_WINDOW = timedelta(days=7)

EXPIRY_CHOICES = [
    ("", "Never"),
    ("7", "In 7 days"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In 1 year"),
    ("date", "On a date (below)"),
]
GRACE_CHOICES = [
    ("none", "None: refuse the old key now"),
    ("1h", "1 hour"),
    ("24h", "24 hours"),
    ("7d", "7 days"),
]
GRACE_PERIODS = {
    "none": timedelta(0),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
STATUS_BADGES = {
    "active": ("badge-ok", "Active"),
    "expires_soon": ("badge-warn", "Expires soon"),
    "expired": ("badge-danger", "Expired"),
    "revoked": ("badge-danger", "Revoked"),
}


def account_execute_rate(account: Account) -> str:
    """The execute rate a key of this account gets when it has none of its own."""
    return account.rate_limit or settings.BREACT_DEFAULT_RATE_LIMIT


class KeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="Where the key is used, e.g. “production server”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    expires_in = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")
    expires_on = BoundedDateField(
        required=False,
        label="Expiry date",
        help_text="With “On a date”: the key stops working at the end of this day (UTC).",
    )
    scopes = forms.MultipleChoiceField(
        required=False,
        label="Services",
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to allow every service.",
    )
    rate_limit = forms.CharField(
        required=False,
        max_length=32,
        label="Rate limit",
        help_text="Execute calls such as 30/m, 1000/h or 10/5s. Blank = the account's.",
    )
    spend_cap = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=SPEND_CAP_MAX,
        label="Spend cap (credits)",
        help_text="The most credits this key may ever spend. Blank = no cap.",
    )

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self.account_rate = account_execute_rate(account)
        self.fields["scopes"].choices = [  # type: ignore[attr-defined]
            (definition.id, f"{definition.name} ({definition.id})")
            for definition, _endpoints in service_catalogue()
        ]
        self.fields["rate_limit"].help_text = (
            f"Execute calls such as 30/m, 1000/h or 10/5s; at most your account's "
            f"{self.account_rate}. Blank = {self.account_rate}."
        )

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if not name:
            raise forms.ValidationError("Give the key a name.")
        return name

    def clean_rate_limit(self) -> str:
        rate = str(self.cleaned_data.get("rate_limit") or "").strip()
        if not rate:
            return ""
        try:
            count, seconds = parse_rate(rate)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        account_count, account_seconds = parse_rate(self.account_rate)
        # Requests per second, compared exactly: count/seconds <= account_count/account_seconds.
        if count * account_seconds > account_count * seconds:
            raise forms.ValidationError(
                f"{rate} is faster than your account's limit of {self.account_rate}; "
                "a key can only be slower."
            )
        return rate

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        preset, on = data.get("expires_in") or "", data.get("expires_on")
        expires_at: datetime | None = None
        if preset == "date" or (on and not preset):
            if not on:
                self.add_error("expires_on", "Pick the date the key should stop working.")
            elif on <= timezone.localdate():
                self.add_error("expires_on", "Pick a date after today.")
            else:
                expires_at = end_of_day(on)
        elif preset:
            if on:
                self.add_error("expires_on", "Choose either a preset or a date, not both.")
            else:
                expires_at = timezone.now() + timedelta(days=int(preset))
        data["expires_at"] = expires_at
        return data


def end_of_day(day: date) -> datetime:
    return datetime.combine(
        day + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone()
    )


class KeyRollForm(forms.Form):
    grace = forms.ChoiceField(
        choices=GRACE_CHOICES,
        initial="24h",
        widget=forms.RadioSelect,
        label="Keep the old key working for",
    )


@dataclass(frozen=True)
class KeyRow:
    key: ApiKey
    status: str
    badge: str
    status_label: str
    calls: int

    @property
    def usable(self) -> bool:
        return self.status in ("active", "expires_soon")


def _key_rows(account: Account, keys: list[ApiKey]) -> list[KeyRow]:
    now = timezone.now()
    calls = calls_by_key(account=account, key_ids=[k.pk for k in keys], since=now - CALLS_WINDOW)
    rows = []
    for key in keys:
        status = api_key_status(api_key=key, now=now)
        badge, label = STATUS_BADGES[status]
        rows.append(KeyRow(key, status, badge, label, calls.get(key.pk, 0)))
    return rows


def _list_context(request: HttpRequest, account: Account) -> dict[str, Any]:
    page = Paginator(
        api_keys_listed(account=account, created_by=key_scope(request)), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return {
        "page": page,
        "rows": _key_rows(account, list(page.object_list)),
        "account_rate": account_execute_rate(account),
    }


@org_permission("keys.view")
@require_GET
def key_list(request: HtmxHttpRequest) -> HttpResponse:
    account = request_account(request)
    template = "accounts/keys.html#key-table" if request.htmx else "accounts/keys.html"
    return render(request, template, _list_context(request, account))


def _key_once(
    request: HtmxHttpRequest, *, api_key: ApiKey, raw_key: str, rolled: ApiKey | None = None
) -> HttpResponse:
    """The one response that carries the raw key: rendered in reply to the POST, never stored,
    never in the session or a redirect; the view is never_cache."""
    context = {"api_key": api_key, "raw_key": raw_key, "rolled": rolled}
    template = (
        "accounts/keys_created.html#key-once" if request.htmx else "accounts/keys_created.html"
    )
    return render(request, template, context)


@never_cache
@org_permission("keys.manage")
@require_http_methods(["GET", "POST"])
def key_create(request: HtmxHttpRequest) -> HttpResponse:
    """Create a key; refused (403, with a button to resend the link) until the signed-in
    member's email address is verified."""
    account = request_account(request)
    template = "accounts/keys_new.html#key-form" if request.htmx else "accounts/keys_new.html"
    assert isinstance(request.user, User)  # org_permission ran first
    refusal = verification_refusal(user=request.user)
    if refusal is not None:
        status = 403 if request.method == "POST" else 200
        return render(request, template, {"verification_refusal": refusal}, status=status)
    if request.method == "POST":
        form = KeyCreateForm(request.POST, account=account)
        if form.is_valid():
            data = form.cleaned_data
            try:
                key, raw_key = api_key_create(
                    account=account,
                    name=data["name"],
                    scopes=list(data["scopes"]),
                    expires_at=data["expires_at"],
                    rate_limit=data["rate_limit"],
                    spend_cap=data["spend_cap"],
                    actor=request_membership(request).user,
                    ip=client_ip(request),
                )
            except BadRequest as exc:  # the account is at its key cap
                form.add_error(None, exc.message)
            else:
                return _key_once(request, api_key=key, raw_key=raw_key)
    else:
        form = KeyCreateForm(account=account)
    return render(request, template, {"form": form})


@org_permission("keys.manage")
@require_http_methods(["GET", "POST"])
def key_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    account = request_account(request)
    key = api_key_get(account=account, pk=pk, created_by=key_scope(request))
    if request.method == "POST":
        already = key.revoked_at is not None
        api_key_revoke(api_key=key, actor=request_membership(request).user, ip=client_ip(request))
        if already:
            messages.info(request, f"“{key.name}” was already revoked.")
        else:
            messages.success(
                request, f"Revoked “{key.name}” ({key.masked}). Requests with it are refused."
            )
        if request.htmx:
            return render(request, "accounts/keys.html#key-table", _list_context(request, account))
        return redirect("keys")
    return render(request, "accounts/keys_revoke.html", {"key": key})


@never_cache
@org_permission("keys.manage")
@require_http_methods(["GET", "POST"])
def key_roll(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    account = request_account(request)
    key = api_key_get(account=account, pk=pk, created_by=key_scope(request))
    status = api_key_status(api_key=key)
    if status in ("revoked", "expired"):
        messages.error(
            request, f"“{key.name}” is {status}, so it cannot be rolled; create a new key."
        )
        return redirect("keys")
    form = KeyRollForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            new_key, raw_key = api_key_roll(
                api_key=key,
                grace=GRACE_PERIODS[form.cleaned_data["grace"]],
                actor=request_membership(request).user,
                ip=client_ip(request),
            )
        except BadRequest as exc:  # revoked by a concurrent request meanwhile
            messages.error(request, exc.message)
            return redirect("keys")
        return _key_once(request, api_key=new_key, raw_key=raw_key, rolled=key)
    return render(request, "accounts/keys_roll.html", {"key": key, "form": form})
