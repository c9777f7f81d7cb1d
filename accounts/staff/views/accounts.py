"""Staff: find accounts, look into one, adjust credits, refund, disable, revoke keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.keys.actions import api_key_revoke
from accounts.keys.selectors import api_key_counts, api_key_status, api_keys_of_account
from accounts.ledger.actions import credits_adjust, process_refund_by_staff
from accounts.ledger.selectors import ledger_for_staff, ledger_total
from accounts.models import Account, ApiKey, User
from accounts.orgs.selectors import members_of
from accounts.staff.actions import account_status_set
from accounts.staff.forms import (
    AccountSearchForm,
    AccountStatusForm,
    CreditAdjustForm,
    ReasonForm,
    nonce_new,
)
from accounts.staff.selectors import account_for_staff, accounts_search
from breact.errors import BadRequest, InsufficientCredits
from breact.http import HtmxHttpRequest, client_ip, see_other
from breact.params import ascii_int
from services.console.charts import bar_chart
from services.execution.selectors import (
    process_for_staff,
    process_ledger_kinds,
    processes_for_staff,
)
from services.usage.figures import process_failed
from services.usage.selectors import account_usage_summary

SEARCH_PAGE_SIZE = 25
KEYS_PAGE_SIZE = 20
LEDGER_PAGE_SIZE = 25
PROCESSES_PAGE_SIZE = 20
USAGE_DAYS = 30

KEY_BADGES = {
    "active": ("badge-ok", "Active"),
    "expires_soon": ("badge-warn", "Expires soon"),
    "expired": ("badge-danger", "Expired"),
    "revoked": ("badge-danger", "Revoked"),
}
LEDGER_BADGES = {
    "grant": "badge-ok",
    "topup": "badge-ok",
    "refund": "badge-ok",
    "charge": "",
    "adjustment": "badge-warn",
}
PROCESS_BADGES = {"completed": "badge-ok", "error": "badge-danger", "running": "badge-warn"}
# The account page's regions that htmx swaps on their own (pagination), by element id.
REGIONS = {"account-keys": "keys", "account-ledger": "ledger", "account-processes": "processes"}


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # breact.staff guards every staff URL
    return request.user


# Past this page number a link is stale or forged: the list shows its first page.
MAX_PAGE_NUMBER = 1_000_000


def _page_number(request: HttpRequest, param: str) -> int:
    number = ascii_int(request.GET.get(param, "1")) or 1
    return number if number <= MAX_PAGE_NUMBER else 1


def _page_url(request: HttpRequest, param: str, number: int) -> str:
    query = request.GET.copy()
    query[param] = str(number)
    return "?" + query.urlencode()


@dataclass(frozen=True)
class Window:
    """One page of a long list without a COUNT: page_size + 1 rows tell whether there is more."""

    rows: list[Any]
    number: int
    previous_url: str | None
    next_url: str | None

    @property
    def has_other_pages(self) -> bool:
        return bool(self.previous_url or self.next_url)


def _window(request: HttpRequest, rows: QuerySet[Any], *, param: str, size: int) -> Window:
    number = _page_number(request, param)
    offset = (number - 1) * size
    items = list(rows[offset : offset + size + 1])
    if not items and number > 1:  # past the end (a stale link): show the first page
        number, items = 1, list(rows[: size + 1])
    return Window(
        rows=items[:size],
        number=number,
        previous_url=_page_url(request, param, number - 1) if number > 1 else None,
        next_url=_page_url(request, param, number + 1) if len(items) > size else None,
    )


# --- search ----------------------------------------------------------------------------------


@require_GET
def account_search(request: HtmxHttpRequest) -> HttpResponse:
    form = AccountSearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    page = Paginator(accounts_search(query=query), SEARCH_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    counts = api_key_counts(account_ids=[account.pk for account in page.object_list])
    context = {
        "form": form,
        "query": query,
        "page": page,
        "rows": [(account, counts.get(account.pk, 0)) for account in page.object_list],
        "page_query": urlencode({"q": query}) + "&" if query else "",
    }
    if request.htmx and request.htmx.target == "account-results":
        return render(request, "staff/accounts.html#results", context)
    return render(request, "staff/accounts.html", context)


# --- the account page ------------------------------------------------------------------------


def _key_rows(request: HttpRequest, account: Account) -> dict[str, Any]:
    page = Paginator(api_keys_of_account(account=account), KEYS_PAGE_SIZE).get_page(
        request.GET.get("keys_page")
    )
    now = timezone.now()
    rows = []
    for key in page.object_list:
        status = api_key_status(api_key=key, now=now)
        badge, label = KEY_BADGES[status]
        rows.append(
            {
                "key": key,
                "status": status,
                "badge": badge,
                "label": label,
                "revocable": status in ("active", "expires_soon") and not key.is_console,
            }
        )
    return {
        "keys_page": page,
        "key_rows": rows,
        "keys_prev_url": _page_url(request, "keys_page", page.number - 1)
        if page.has_previous()
        else None,
        "keys_next_url": _page_url(request, "keys_page", page.number + 1)
        if page.has_next()
        else None,
    }


def _ledger_rows(request: HttpRequest, account: Account) -> dict[str, Any]:
    window = _window(
        request, ledger_for_staff(account=account), param="ledger_page", size=LEDGER_PAGE_SIZE
    )
    return {
        "ledger": window,
        "ledger_rows": [(entry, LEDGER_BADGES.get(entry.kind, "")) for entry in window.rows],
    }


def _process_rows(request: HttpRequest, account: Account) -> dict[str, Any]:
    window = _window(
        request,
        processes_for_staff(account=account),
        param="processes_page",
        size=PROCESSES_PAGE_SIZE,
    )
    ledger = process_ledger_kinds(process_ids=[process.pk for process in window.rows])
    rows = []
    for process in window.rows:
        kinds = ledger.get(process.pk, set())
        charged, refunded = "charge" in kinds, "refund" in kinds
        failed = process_failed(process)
        refundable = charged and not refunded
        rows.append(
            {
                "process": process,
                "charged": charged,
                "refunded": refunded,
                "badge": PROCESS_BADGES.get(process.state, ""),
                "failed": failed,
                "refundable": refundable,
                # A failed call keeps its credits only when the automatic refund did not happen.
                "needs_refund": refundable and failed and process.is_finished,
            }
        )
    return {"processes": window, "process_rows": rows}


def _usage(account: Account) -> dict[str, Any]:
    end = timezone.now().astimezone(UTC).date()
    start = end - timedelta(days=USAGE_DAYS - 1)
    usage = account_usage_summary(account=account, start=start, end=end)
    services = [row["service_id"] for row in usage.by_service]
    chart = bar_chart(
        categories=[start + timedelta(days=n) for n in range(USAGE_DAYS)],
        series=services,
        values=usage.by_day,
        title="Credits spent per day and service",
        unit="credits",
        chart_id="account-usage-chart",
        description=f"{usage.credits} credits over {usage.calls} calls in {USAGE_DAYS} days.",
    )
    return {"usage": usage, "usage_chart": chart, "usage_days": USAGE_DAYS}


def _account_context(
    request: HttpRequest,
    account: Account,
    *,
    adjust_form: CreditAdjustForm | None = None,
    status_form: AccountStatusForm | None = None,
) -> dict[str, Any]:
    balance = account.balance
    ledger_sum = ledger_total(account=account)
    return {
        "account": account,
        "owner": account.owner,
        "members": list(members_of(account=account)),
        "balance": balance,
        "ledger_sum": ledger_sum,
        "books_match": balance == ledger_sum,
        "books_difference": f"{balance - ledger_sum:+d}",
        "adjust_form": adjust_form or CreditAdjustForm(initial={"nonce": nonce_new()}),
        "status_form": status_form or AccountStatusForm(),
        "next_status": Account.Status.DISABLED if account.is_active else Account.Status.ACTIVE,
        **_key_rows(request, account),
        **_ledger_rows(request, account),
        **_process_rows(request, account),
        **_usage(account),
    }


def _account_page(request: HttpRequest, account: Account, **forms: Any) -> HttpResponse:
    return render(request, "staff/account.html", _account_context(request, account, **forms))


@require_GET
def account_page(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    account = account_for_staff(pk=pk)
    region = REGIONS.get(request.htmx.target or "") if request.htmx else None
    if region == "keys":
        return render(
            request, "staff/account.html#keys", {"account": account, **_key_rows(request, account)}
        )
    if region == "ledger":
        return render(request, "staff/account.html#ledger", _ledger_rows(request, account))
    if region == "processes":
        context = {"account": account, **_process_rows(request, account)}
        return render(request, "staff/account.html#processes", context)
    return _account_page(request, account)


# --- actions ---------------------------------------------------------------------------------


def _account_url(account_id: int) -> str:
    # No #fragment: the page opens at the top, where the flash message says what happened.
    return reverse("staff-account", args=[account_id])


@require_POST
def account_adjust(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    account = account_for_staff(pk=pk)
    form = CreditAdjustForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            entry = credits_adjust(
                account=account,
                amount=data["amount"],
                actor=_actor(request),
                reason=data["reason"],
                nonce=data["nonce"],
                ip=client_ip(request),
            )
        except InsufficientCredits as exc:
            form.add_error("amount", exc.message)
        except BadRequest as exc:
            form.add_error(None, exc.message)
        else:
            if entry is None:
                messages.info(
                    request, "This adjustment was already applied (the form was sent twice)."
                )
            else:
                messages.success(
                    request,
                    f"Adjusted by {entry.amount:+d} credits. Balance: {entry.balance_after}.",
                )
            return see_other(_account_url(account.pk))
    account.refresh_from_db()
    return _account_page(request, account, adjust_form=form)


@require_POST
def account_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    account = account_for_staff(pk=pk)
    form = AccountStatusForm(request.POST)
    if not form.is_valid():
        return _account_page(request, account, status_form=form)
    status = form.cleaned_data["status"]
    changed = account_status_set(
        account=account,
        status=status,
        actor=_actor(request),
        reason=form.cleaned_data["reason"],
        ip=client_ip(request),
    )
    label = "disabled: its keys are refused" if status == "disabled" else "enabled"
    if changed:
        messages.success(request, f"{account.contact_email} is {label}.")
    else:
        messages.info(
            request,
            f"{account.contact_email} was already {status}; nothing changed.",
        )
    return see_other(_account_url(account.pk))


@require_POST
def key_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    key = ApiKey.objects.filter(pk=pk).first()
    if key is None:
        raise Http404("No such API key.")
    url = _account_url(key.account_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"“{key.name}” was not revoked: give a reason.")
        return see_other(url)
    if key.is_console:
        messages.error(
            request,
            "This is the account's console key (playground); disable the account instead.",
        )
        return see_other(url)
    if key.revoked_at is not None:
        messages.info(request, f"“{key.name}” ({key.masked}) was already revoked.")
        return see_other(url)
    api_key_revoke(
        api_key=key,
        actor=_actor(request),
        ip=client_ip(request),
        reason=form.cleaned_data["reason"],
    )
    messages.success(request, f"Revoked “{key.name}” ({key.masked}): it is refused from now on.")
    return see_other(url)


@require_POST
def process_refund(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    process = process_for_staff(public_id=public_id)
    # The form names the account it was shown on: a mismatch is a stale or forged form.
    if request.POST.get("account", "") != str(process.account_id):
        raise Http404("No such process on this account.")
    url = _account_url(process.account_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Process {public_id} was not refunded: give a reason.")
        return see_other(url)
    try:
        entry = process_refund_by_staff(
            process=process,
            actor=_actor(request),
            reason=form.cleaned_data["reason"],
            ip=client_ip(request),
        )
    except BadRequest as exc:
        messages.error(request, exc.message)
        return see_other(url)
    if entry is None:
        messages.info(request, f"Process {public_id} was already refunded; nothing changed.")
    else:
        messages.success(
            request,
            f"Refunded {entry.amount} credits for process {public_id}. "
            f"Balance: {entry.balance_after}.",
        )
    return see_other(url)
