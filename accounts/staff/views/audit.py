"""Staff: the audit log (filter, CSV) and the reconciliation of balances and ledgers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.audit.selectors import audit_actions_recorded, audit_events_filtered
from accounts.ledger.reconciliation import KIND_LABELS, reconcile
from accounts.models import AuditEvent
from breact.csv_export import csv_lines
from breact.dates import iso
from breact.forms import BoundedDateField
from breact.http import HtmxHttpRequest

PAGE_SIZE = 50
EXPORT_CHUNK_SIZE = 2000
# The actions the platform records, offered in the filter even before any happened; names that
# appear in the log (e.g. from newer staff pages) are added to the list.
KNOWN_ACTIONS = (
    "account.disable",
    "account.enable",
    "api_key.create",
    "api_key.revoke",
    "api_key.roll",
    "api_key.update",
    "credits.adjust",
    "credits.grant",
    "credits.refund",
    "credits.topup",
    "endpoint.update",
    "model_provider.create",
    "model_provider.delete",
    "model_provider.update",
    "payment.paid",
)
EXPORT_HEADER = (
    "time_utc",
    "actor_email",
    "action",
    "account_id",
    "account_email",
    "target_type",
    "target_id",
    "target",
    "before",
    "after",
    "reason",
    "ip",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FILTER_NAMES = ("from", "to", "actor", "action", "account", "target")


class AuditFilterForm(forms.Form):
    """The audit page's filters, bound to request.GET; every field is optional."""

    actor = forms.CharField(
        required=False,
        max_length=254,
        label="Actor",
        help_text="Part of the email of who acted.",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    action = forms.ChoiceField(required=False, label="Action")
    account = forms.CharField(
        required=False,
        max_length=254,
        label="Account",
        help_text="An account id, or part of its owner's email.",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    target = forms.CharField(
        required=False,
        max_length=255,
        label="Target",
        help_text="Part of its type, id or name, or type:id.",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )

    def __init__(self, data: QueryDict) -> None:
        super().__init__(data)
        # "from" is a Python keyword: the date fields are added under their GET names.
        self.fields["from"] = BoundedDateField(required=False, label="From")
        self.fields["to"] = BoundedDateField(
            required=False, label="To", help_text="Whole days in UTC, both included."
        )
        self.order_fields(list(FILTER_NAMES))
        action_field = self.fields["action"]
        assert isinstance(action_field, forms.ChoiceField)
        names = sorted(set(KNOWN_ACTIONS) | set(audit_actions_recorded()))
        action_field.choices = [("", "Any action"), *((name, name) for name in names)]
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("aria-describedby", f"errors-{name}")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end and start > end:
            self.add_error("from", "The start date must not be after the end date.")
        for name in ("actor", "account", "target"):
            if name in cleaned:
                cleaned[name] = str(cleaned[name] or "").strip()
        return cleaned

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"

    def filters(self) -> dict[str, Any]:
        """The keyword arguments of audit_events_filtered; only once is_valid()."""
        data = self.cleaned_data
        start: date | None = data.get("from")
        end: date | None = data.get("to")
        return {
            "start": datetime.combine(start, time.min, tzinfo=UTC) if start else None,
            "end": datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC) if end else None,
            "actor": data.get("actor") or "",
            "action": data.get("action") or "",
            "account": data.get("account") or "",
            "target": data.get("target") or "",
        }

    def query(self) -> QueryDict:
        """The filters in use as GET parameters (pagination and export links)."""
        query = QueryDict(mutable=True)
        for name in FILTER_NAMES:
            value = str(self.data.get(name, "")).strip()
            if value:
                query[name] = value
        return query

    @property
    def active(self) -> bool:
        return bool(self.query())


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Change:
    """One key of an event's before/after: `before`/`after` are compact JSON, "" when absent."""

    key: str
    before: str
    after: str

    @property
    def kind(self) -> str:
        if not self.before:
            return "added"
        if not self.after:
            return "removed"
        return "changed" if self.before != self.after else "same"


def audit_changes(before: Any, after: Any) -> list[Change]:
    """The keys that differ between before and after (added, removed or changed), in key order;
    keys whose value stayed the same are left out. Non-dict values count as one key "value"."""
    old = before if isinstance(before, dict) else ({} if before is None else {"value": before})
    new = after if isinstance(after, dict) else ({} if after is None else {"value": after})
    changes = []
    for key in sorted(set(old) | set(new)):
        was = compact_json(old[key]) if key in old else ""
        now = compact_json(new[key]) if key in new else ""
        if was != now:
            changes.append(Change(str(key), was, now))
    return changes


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    changes: list[Change]


@require_GET
def audit_log(request: HtmxHttpRequest) -> HttpResponse:
    """The audit log for the filters in the query string, newest first, 50 a page; an htmx
    request gets the results region only (plus the fields' errors, swapped out of band)."""
    form = AuditFilterForm(request.GET)
    context: dict[str, Any] = {"form": form, "audit_url": reverse("staff-audit")}
    if form.is_valid():
        page = Paginator(audit_events_filtered(**form.filters()), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        query = form.query()
        context.update(
            {
                "page_obj": page,
                "rows": [AuditRow(e, audit_changes(e.before, e.after)) for e in page.object_list],
                "query": query,
                "export_url": f"{reverse('staff-audit-export')}?{query.urlencode()}",
            }
        )
    template = "staff/audit.html#results" if request.htmx else "staff/audit.html"
    return render(request, template, context)


def _export_lines(rows: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    def cells() -> Iterator[list[Any]]:
        for created_at, *rest, before, after, reason, ip in rows:
            yield [
                iso(created_at, timespec="milliseconds"),
                *(cell if cell is not None else "" for cell in rest),
                compact_json(before) if before is not None else "",
                compact_json(after) if after is not None else "",
                reason,
                ip or "",
            ]

    return csv_lines(EXPORT_HEADER, cells())


@require_GET
def audit_export(request: HtmxHttpRequest) -> HttpResponseBase:
    """The filtered audit events as CSV, newest first, streamed in chunks from the database
    (never all in memory). Invalid filters send the user back to the page with the errors."""
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return redirect(f"{reverse('staff-audit')}?{request.GET.urlencode()}")
    rows = (
        audit_events_filtered(**form.filters())
        .select_related(None)
        .values_list(
            "created_at",
            "actor_email",
            "action",
            "account_id",
            "account__owner__email",
            "target_type",
            "target_id",
            "target_repr",
            "before",
            "after",
            "reason",
            "ip",
        )
        .iterator(chunk_size=EXPORT_CHUNK_SIZE)
    )
    response = StreamingHttpResponse(_export_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="breact-audit-log.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def reconciliation(request: HtmxHttpRequest) -> HttpResponse:
    """Run the reconciliation (reads only) and show whether the books balance, with every
    mismatch and the time it took. ?chain=0 skips the per-row balance_after chain check."""
    chain = request.GET.get("chain") != "0"
    report = reconcile(chain=chain)
    context = {
        "report": report,
        "chain": chain,
        "errors": [m for m in report.mismatches if m.severity == "error"],
        "warnings": [m for m in report.mismatches if m.severity == "warning"],
        "counts": sorted(
            (KIND_LABELS.get(kind, kind), kind, n) for kind, n in report.counts.items()
        ),
    }
    template = "staff/reconciliation.html#report" if request.htmx else "staff/reconciliation.html"
    return render(request, template, context)
