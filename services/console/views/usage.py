"""Usage: calls and credits by day, service and key; the request log; CSV export."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.console.actions import request_account
from accounts.orgs.access import org_permission
from breact.csv_export import csv_lines
from breact.dates import iso
from breact.http import HtmxHttpRequest
from services.console.charts import BarChart, bar_chart
from services.console.usage_forms import UsageFilterForm
from services.usage.figures import with_credits_net_of_refund
from services.usage.selectors import (
    usage_by_key,
    usage_by_service,
    usage_daily,
    usage_exists,
    usage_filtered,
    usage_log,
    usage_totals,
)

LOG_PAGE_SIZE = 50
EXPORT_CHUNK_SIZE = 2000
EXPORT_HEADER = (
    "time_utc",
    "method",
    "route",
    "service",
    "endpoint",
    "status",
    "error_code",
    "duration_ms",
    "credits",
    "key_name",
    "key_prefix",
    "process_id",
    "request_id",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).


class CountedPaginator(Paginator):
    """A Paginator told how many rows its list holds (the usage totals' request count, read
    from the rollups), instead of counting the request log again."""

    def __init__(self, object_list: Any, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self.known_count = count

    @property
    def count(self) -> int:
        return self.known_count


def usage_url() -> str:
    """The usage page's path."""
    return reverse("usage")


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _charts(daily: list[dict[str, Any]], start: date, end: date) -> tuple[BarChart, BarChart]:
    days = _days(start, end)
    services = sorted({row["service_id"] for row in daily})
    calls = {(row["day"], row["service_id"]): row["calls"] for row in daily}
    credits = {(row["day"], row["service_id"]): row["credits"] for row in daily}
    note = "The numbers are in the table “Calls and credits by day”."
    return (
        bar_chart(
            categories=days,
            series=services,
            values=calls,
            title="Calls per day",
            unit="calls",
            description=note,
            chart_id="usage-chart-calls",
            width=560,
            height=220,
        ),
        bar_chart(
            categories=days,
            series=services,
            values=credits,
            title="Credits per day",
            unit="credits",
            description=note,
            chart_id="usage-chart-credits",
            width=560,
            height=220,
        ),
    )


@org_permission("usage.view")
@require_GET
def usage(request: HtmxHttpRequest) -> HttpResponse:
    """The account's usage for the filters in the query string; an htmx request gets the
    results region only (plus the fields' errors, swapped out of band)."""
    account = request_account(request)
    form = UsageFilterForm(request.GET, account=account)
    context: dict[str, Any] = {
        "form": form,
        "has_usage": usage_exists(account=account),
        "usage_page_url": usage_url(),
    }
    if form.is_valid():
        filters = form.filters()
        daily = usage_daily(**filters)
        calls_chart, credits_chart = _charts(daily, filters["start"], filters["end"])
        log = usage_filtered(**filters).select_related("api_key")
        totals = usage_totals(**filters)
        paginator = CountedPaginator(log, LOG_PAGE_SIZE, count=totals["requests"])
        page = paginator.get_page(request.GET.get("page"))
        page.object_list = with_credits_net_of_refund(page.object_list)
        query = form.query()
        context.update(
            {
                "start": filters["start"],
                "end": filters["end"],
                "totals": totals,
                "daily": daily,
                "calls_chart": calls_chart,
                "credits_chart": credits_chart,
                "by_service": usage_by_service(**filters),
                "by_key": usage_by_key(**filters),
                "page_obj": page,
                "query": query,
                "export_url": f"{reverse('usage-export')}?{query.urlencode()}",
            }
        )
    template = "services/usage.html#results" if request.htmx else "services/usage.html"
    return render(request, template, context)


def _export_lines(rows: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    def cells() -> Iterator[list[Any]]:
        for row in rows:
            created_at, *rest, key_name, key_prefix, is_console, process_id, request_id = row
            if is_console:  # its prefix is never shown to users
                key_name, key_prefix = "Console (playground)", ""
            yield [
                iso(created_at, timespec="milliseconds"),
                *rest,
                key_name or "",
                key_prefix or "",
                process_id,
                request_id,
            ]

    return csv_lines(EXPORT_HEADER, cells())


@org_permission("usage.view")
@require_GET
def usage_export(request: HttpRequest) -> HttpResponseBase:
    """The filtered usage rows as CSV, streamed in chunks from the database (never all in
    memory). Invalid filters send the user back to the usage page, which shows the errors."""
    account = request_account(request)
    form = UsageFilterForm(request.GET, account=account)
    if not form.is_valid():
        return redirect(f"{usage_url()}?{request.GET.urlencode()}")
    filters = form.filters()
    rows = (
        usage_log(**filters)
        .values_list(  # type: ignore[misc]  # credits_spent: annotated by usage_log
            "created_at",
            "method",
            "route",
            "service_id",
            "endpoint",
            "status_code",
            "error_code",
            "duration_ms",
            "credits_spent",
            "api_key__name",
            "api_key__prefix",
            "api_key__is_console",
            "process_id",
            "request_id",
        )
        .iterator(chunk_size=EXPORT_CHUNK_SIZE)
    )
    response = StreamingHttpResponse(_export_lines(rows), content_type="text/csv; charset=utf-8")
    filename = f"breact-usage-{filters['start']:%Y-%m-%d}-to-{filters['end']:%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
