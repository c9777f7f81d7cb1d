"""Staff: endpoint prices and switches with their figures; model providers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import AuditEvent
from breact.http import HtmxHttpRequest, client_ip
from services.catalogue.registry import all_services
from services.catalogue.selectors import endpoint_rows
from services.models import LATENCY_BUCKETS_MS, Endpoint, ModelProvider
from services.staff.actions import (
    EndpointChanged,
    ModelIdTaken,
    endpoint_update,
    model_provider_create,
    model_provider_delete,
    model_provider_update,
)
from services.staff.endpoints import (
    EndpointFigures,
    endpoint_figures,
    provider_routes_from_settings,
)
from services.staff.forms import EndpointEditForm, ModelProviderStaffForm, ServiceFiguresForm

HISTORY_SIZE = 10
PROVIDER_ACTIONS = ["model_provider.create", "model_provider.update", "model_provider.delete"]


@dataclass
class EndpointRow:
    """One line of the services page: the endpoint's row and its figures for the range."""

    endpoint: Endpoint
    figures: EndpointFigures
    in_catalogue: bool

    @property
    def live(self) -> bool:
        return self.endpoint.enabled and self.endpoint.service.enabled

    @property
    def p50(self) -> float | None:
        return self.figures.percentiles[0]

    @property
    def p95(self) -> float | None:
        return self.figures.percentiles[1]

    @property
    def p99(self) -> float | None:
        return self.figures.percentiles[2]


def _sort_key(name: str) -> Any:
    def value(row: EndpointRow) -> tuple[bool, float]:
        number = row.p95 if name == "p95" else getattr(row.figures, name)
        # Rows without a figure go last; the rest by the figure, largest first.
        return (number is None, -(number or 0))

    return value


@require_GET
def service_list(request: HtmxHttpRequest) -> HttpResponse:
    """Every endpoint of every service (enabled or not) with its price and switches, and for
    the date range: calls, credits, 4xx and 5xx shares, process failure rate and latency. An
    htmx request gets the results region only."""
    rows_by_key = endpoint_rows()
    service_ids = sorted({service_id for service_id, _ in rows_by_key})
    form = ServiceFiguresForm(request.GET, service_ids=service_ids)
    context: dict[str, Any] = {"form": form, "bounds": LATENCY_BUCKETS_MS}
    if form.is_valid():
        start, end = form.cleaned_data["from"], form.cleaned_data["to"]
        figures = endpoint_figures(start=start, end=end)
        catalogue = {(s.id, name) for s in all_services().values() for name in s.endpoints}
        service = form.cleaned_data.get("service") or ""
        rows = [
            EndpointRow(
                endpoint=row,
                figures=figures.get(key) or EndpointFigures(service_id=key[0], endpoint=key[1]),
                in_catalogue=key in catalogue,
            )
            for key, row in sorted(rows_by_key.items())
            if not service or key[0] == service
        ]
        sort = form.cleaned_data.get("sort") or ""
        if sort:
            rows.sort(key=_sort_key(sort))
        totals = EndpointFigures(service_id="", endpoint="")
        for row in rows:
            item = row.figures
            totals.calls += item.calls
            totals.credits += item.credits
            totals.calls_4xx += item.calls_4xx
            totals.calls_5xx += item.calls_5xx
            totals.duration_ms_sum += item.duration_ms_sum
            totals.processes_finished += item.processes_finished
            totals.processes_failed += item.processes_failed
            totals.latency_buckets = [
                a + b for a, b in zip(totals.latency_buckets, item.latency_buckets, strict=True)
            ]
        context.update({"start": start, "end": end, "rows": rows, "totals": totals})
    template = "staff/services.html#results" if request.htmx else "staff/services.html"
    return render(request, template, context)


def _endpoint(service_id: str, endpoint: str) -> Endpoint:
    return get_object_or_404(
        Endpoint.objects.select_related("service"), service__service_id=service_id, name=endpoint
    )


@require_http_methods(["GET", "POST"])
def endpoint_edit(request: HtmxHttpRequest, service_id: str, endpoint: str) -> HttpResponse:
    """An endpoint's price and switch and its service's switch, with a reason; the change is
    audited and applies from the next API call. Submitting the stored values changes nothing."""
    row = _endpoint(service_id, endpoint)
    initial = {"price": row.price, "enabled": row.enabled, "service_enabled": row.service.enabled}
    form = EndpointEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            event = endpoint_update(
                endpoint=row,
                price=data["price"],
                enabled=data["enabled"],
                service_enabled=data["service_enabled"],
                actor=request.user,
                reason=data["reason"],
                ip=client_ip(request),
            )
        except EndpointChanged:
            messages.error(
                request, "Someone changed this endpoint meanwhile. Check the values and save again."
            )
            return redirect("staff-endpoint-edit", service_id=service_id, endpoint=endpoint)
        if event is None:
            messages.info(request, f"{row} already had these values; nothing changed.")
        else:
            messages.success(request, f"{row} saved; the next API call uses the new values.")
        return redirect(
            reverse("staff-services") + f"#endpoint-{row.service.service_id}-{row.name}"
        )
    history = AuditEvent.objects.filter(
        action="endpoint.update", target_type=Endpoint._meta.label_lower, target_id=str(row.pk)
    ).order_by("-created_at", "-id")[:HISTORY_SIZE]
    return render(
        request, "staff/endpoint_edit.html", {"endpoint": row, "form": form, "history": history}
    )


@require_GET
def provider_list(request: HtmxHttpRequest) -> HttpResponse:
    """The model provider rows and, read-only, the routes of the BREACT_MODEL_PROVIDERS
    setting (rows win for the same model id). Keys are never shown, only whether one is set."""
    providers = list(ModelProvider.objects.order_by("model_id"))
    routes, settings_error = provider_routes_from_settings()
    enabled_rows = {p.model_id for p in providers if p.enabled}
    history = AuditEvent.objects.filter(action__in=PROVIDER_ACTIONS).order_by("-created_at", "-id")[
        :HISTORY_SIZE
    ]
    return render(
        request,
        "staff/providers.html",
        {
            "providers": providers,
            "routes": routes,
            "settings_error": settings_error,
            "overridden": enabled_rows,
            "history": history,
        },
    )


def _provider_fields(form: ModelProviderStaffForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "model_id": data["model_id"],
        "base_url": data["base_url"],
        "upstream_model": data.get("upstream_model") or "",
        "timeout_seconds": data["timeout_seconds"],
        "enabled": bool(data.get("enabled")),
    }


TAKEN = "Another provider row already answers this model id."


@require_http_methods(["GET", "POST"])
def provider_create(request: HtmxHttpRequest) -> HttpResponse:
    """Add a model provider; audited (whether a key was given, never the key)."""
    form = ModelProviderStaffForm(request.POST or None, initial={"enabled": True})
    if request.method == "POST" and form.is_valid():
        try:
            provider = model_provider_create(
                **_provider_fields(form),
                api_key=form.new_api_key() or "",
                actor=request.user,
                reason=form.cleaned_data.get("reason") or "",
                ip=client_ip(request),
            )
        except ModelIdTaken:
            form.add_error("model_id", TAKEN)
        else:
            messages.success(request, f"Model provider {provider.model_id} added.")
            return redirect("staff-providers")
    return render(request, "staff/provider_form.html", {"form": form, "provider": None})


@require_http_methods(["GET", "POST"])
def provider_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Change a model provider; the key field is write-only (blank keeps the stored key)."""
    provider = get_object_or_404(ModelProvider, pk=pk)
    # Validation writes the typed values on the instance; the page names the stored row.
    stored = {"model_id": provider.model_id, "key_set": bool(provider.api_key)}
    form = ModelProviderStaffForm(request.POST or None, instance=provider)
    if request.method == "POST" and form.is_valid():
        try:
            event = model_provider_update(
                provider=provider,
                **_provider_fields(form),
                api_key=form.new_api_key(),
                actor=request.user,
                reason=form.cleaned_data.get("reason") or "",
                ip=client_ip(request),
            )
        except ModelProvider.DoesNotExist as exc:
            raise Http404("This model provider was deleted.") from exc
        except ModelIdTaken:
            form.add_error("model_id", TAKEN)
        else:
            model_id = form.cleaned_data["model_id"]
            if event is None:
                messages.info(request, f"Model provider {model_id} already had these values.")
            else:
                messages.success(request, f"Model provider {model_id} saved.")
            return redirect("staff-providers")
    return render(
        request, "staff/provider_form.html", {"form": form, "provider": provider, **stored}
    )


@require_POST
def provider_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete a model provider; audited. A second submit finds it gone and changes nothing."""
    reason = str(request.POST.get("reason", "")).strip()[:500]
    event = model_provider_delete(
        provider_id=pk, actor=request.user, reason=reason, ip=client_ip(request)
    )
    if event is None:
        messages.info(request, "That model provider was already deleted.")
    else:
        model_id = (event.before or {}).get("model_id", "")
        messages.success(request, f"Model provider {model_id} deleted.")
    return redirect("staff-providers")
