"""Staff: the billing overview (sold, consumed, refunded; revenue; services; top accounts)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django import forms
from django.http import HttpResponse, HttpResponseBadRequest, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.billing.payments import topup_mode
from breact.csv_export import csv_lines
from breact.forms import DateRangeFilterForm
from breact.http import HtmxHttpRequest
from services.console.charts import BarChart, bar_chart
from services.staff.selectors import (
    GRANULARITIES,
    RECENT_CALL_DAYS,
    Granularity,
    StaffOverview,
    credit_flows_by_period,
    service_calls,
    staff_overview,
    top_accounts_by_consumption,
)

QUICK_RANGES = (
    (7, "Last 7 days"),
    (30, "Last 30 days"),
    (90, "Last 90 days"),
    (365, "Last 365 days"),
)
GRANULARITY_LABELS = {"day": "Day", "week": "Week (from Monday)", "month": "Month"}
# The tables of the CSV export (`?table=`): the per-period credits (default), the services and
# the top accounts, each over the same range.
EXPORT_TABLES = ("periods", "services", "accounts")
# Series of the credits chart, in drawing order.
FLOW_SERIES = ("Sold", "Consumed", "Refunded")


class OverviewForm(DateRangeFilterForm):
    """Bound to request.GET: `from`/`to` (whole UTC days, both included; empty = the last 30
    days up to today) and `granularity` (day, week or month; default day). Writes the defaults
    back into the data so the inputs show the range in use."""

    granularity = forms.ChoiceField(
        required=False,
        label="Per",
        choices=[(name, GRANULARITY_LABELS[name]) for name in GRANULARITIES],
    )

    def __init__(self, data: QueryDict | dict[str, Any] | None, *, today: date) -> None:
        super().__init__(data, today=today)
        self.order_fields(["from", "to", "granularity"])
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("aria-describedby", f"errors-{name}")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        cleaned["granularity"] = cleaned.get("granularity") or "day"
        if not self.values.get("granularity"):
            self.values["granularity"] = cleaned["granularity"]
        return cleaned

    @property
    def range(self) -> tuple[date, date, Granularity]:
        """(start, end, granularity); only once is_valid()."""
        data = self.cleaned_data
        return data["from"], data["to"], data["granularity"]

    def query(self, **overrides: str) -> QueryDict:
        """The range in use as GET parameters, with `overrides` (for links)."""
        query = QueryDict(mutable=True)
        for name in ("from", "to", "granularity"):
            value = overrides.get(name, self.values.get(name))
            if value:
                query[name] = value
        for name, value in overrides.items():
            if name not in query:
                query[name] = value
        return query


def _today() -> date:
    return timezone.now().date()


def _period_label(granularity: Granularity) -> Any:
    if granularity == "month":
        return lambda day: f"{day:%b %Y}"
    return lambda day: f"{day:%b} {day.day}"


def _charts(data: StaffOverview) -> tuple[BarChart, BarChart]:
    categories = [period.start for period, _ in data.periods]
    flows: dict[tuple[Any, str], int] = {}
    calls: dict[tuple[Any, str], int] = {}
    for period, figures in data.periods:
        flows[(period.start, "Sold")] = figures.sold
        flows[(period.start, "Consumed")] = figures.consumed
        flows[(period.start, "Refunded")] = figures.refunded
        calls[(period.start, "Calls")] = figures.calls
    x_label = {"day": "Day (UTC)", "week": "Week from (UTC)", "month": "Month (UTC)"}
    note = "The numbers are in the table “Credits per period”."
    common: dict[str, Any] = {
        "categories": categories,
        "x_label": x_label[data.granularity],
        "category_label": _period_label(data.granularity),
        "description": note,
        "width": 720,
        "height": 240,
    }
    return (
        bar_chart(
            series=FLOW_SERIES,
            values=flows,
            title="Credits sold, consumed and refunded",
            unit="credits",
            stacked=False,
            chart_id="overview-chart-credits",
            **common,
        ),
        bar_chart(
            series=("Calls",),
            values=calls,
            title="Execute calls",
            unit="calls",
            chart_id="overview-chart-calls",
            **common,
        ),
    )


@require_GET
def overview(request: HtmxHttpRequest) -> HttpResponse:
    """Credits sold / consumed / refunded per period, revenue by provider, active accounts,
    calls and failure rates per service, top accounts and accounts short of credits, for the
    range in the query string. Figures come from services.staff.selectors (rollups, never a
    scan of the request log). An htmx request gets the results region only."""
    today = _today()
    form = OverviewForm(request.GET, today=today)
    page_url = reverse("staff-overview")
    context: dict[str, Any] = {"form": form, "page_url": page_url, "topup_mode": topup_mode()}
    if form.is_valid():
        start, end, granularity = form.range
        data = staff_overview(start=start, end=end, granularity=granularity, today=today)
        credits_chart, calls_chart = _charts(data)
        export_url = reverse("staff-overview-export")
        context.update(
            {
                "data": data,
                "credits_chart": credits_chart,
                "calls_chart": calls_chart,
                "export_urls": {
                    name: f"{export_url}?{form.query(table=name).urlencode()}"
                    for name in EXPORT_TABLES
                },
                "quick_ranges": [
                    (
                        label,
                        form.query(
                            **{
                                "from": (today - timedelta(days=days - 1)).isoformat(),
                                "to": today.isoformat(),
                            }
                        ).urlencode(),
                    )
                    for days, label in QUICK_RANGES
                ],
                "recent_days": RECENT_CALL_DAYS,
            }
        )
    template = "staff/overview.html#results" if request.htmx else "staff/overview.html"
    return render(request, template, context)


def _export_rows(
    table: str, start: date, end: date, granularity: Granularity
) -> tuple[tuple[str, ...], Iterable[Iterable[Any]]]:
    header: tuple[str, ...]
    if table == "services":
        header = (
            "service",
            "calls",
            "ok",
            "client_errors_4xx",
            "server_errors_5xx",
            "client_error_rate",
            "server_error_rate",
            "credits",
            "processes_finished",
            "processes_failed",
            "process_failure_rate",
        )
        return header, (
            (
                row.service_id,
                row.calls,
                row.ok,
                row.client_errors,
                row.server_errors,
                f"{row.client_error_rate:.4f}",
                f"{row.server_error_rate:.4f}",
                row.credits,
                row.processes_finished,
                row.processes_failed,
                f"{row.process_failure_rate:.4f}",
            )
            for row in service_calls(start=start, end=end)
        )
    if table == "accounts":
        top = top_accounts_by_consumption(start=start, end=end)
        header = ("account_id", "email", "charged", "refunded", "net_consumed", "balance")
        return header, (
            (row.account_id, row.email, row.charged, row.refunded, row.net, row.balance)
            for row in top
        )
    periods = credit_flows_by_period(start=start, end=end, granularity=granularity)
    header = ("period_start", "period_end", "sold", "consumed", "refunded", "net_consumed", "calls")
    return header, (
        (
            period.start.isoformat(),
            period.end.isoformat(),
            flows.sold,
            flows.consumed,
            flows.refunded,
            flows.net_consumed,
            flows.calls,
        )
        for period, flows in periods
    )


@require_GET
def overview_export(request: HtmxHttpRequest) -> HttpResponseBase:
    """One table of the overview as CSV, streamed, for the same range: `?table=periods`
    (default: credits sold/consumed/refunded and calls per period), `services` (calls, 4xx,
    5xx, credits and process failures per service) or `accounts` (top accounts by
    consumption). Invalid dates send staff back to the overview, which shows the errors; an
    unknown table is a 400."""
    table = request.GET.get("table") or "periods"
    if table not in EXPORT_TABLES:
        return HttpResponseBadRequest(
            f"Unknown table {table!r}: use one of {', '.join(EXPORT_TABLES)}.",
            content_type="text/plain; charset=utf-8",
        )
    form = OverviewForm(request.GET, today=_today())
    if not form.is_valid():
        return redirect(f"{reverse('staff-overview')}?{request.GET.urlencode()}")
    start, end, granularity = form.range
    header, rows = _export_rows(table, start, end, granularity)
    response = StreamingHttpResponse(
        csv_lines(header, rows), content_type="text/csv; charset=utf-8"
    )
    suffix = f"-{granularity}" if table == "periods" else ""
    filename = f"breact-{table}{suffix}-{start:%Y-%m-%d}-to-{end:%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
