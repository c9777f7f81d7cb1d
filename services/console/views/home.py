"""The home page: balance, recent spend with a chart, recent processes, getting started."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.console.actions import request_account
from accounts.orgs.access import org_permission
from breact.http import HtmxHttpRequest
from services.console.snippets import API_KEY_ENV, curl_snippet, sdk_snippet
from services.execution.selectors import processes_recent
from services.usage.selectors import DayFigures, account_overview

# The call the getting-started snippets make: cheap, and on every platform's catalogue.
EXAMPLE_SERVICE, EXAMPLE_ENDPOINT = "text_analyzer", "analyze"
EXAMPLE_PARAMS: dict[str, Any] = {"text": "Hello world. Second sentence."}
PLACEHOLDER_KEY = "YOUR_API_KEY"

# Chart geometry (SVG user units): one slot per day, bars grow up from the baseline.
CHART_WIDTH, SLOT, BAR, BASELINE, BAR_SPACE = 280, 40, 24, 100, 80


def credits_chart(days: list[DayFigures]) -> list[dict[str, Any]]:
    """Bars for the inline SVG chart of credits spent per day, scaled to the busiest day."""
    peak = max((day.credits for day in days), default=0)
    today = timezone.localdate()
    bars = []
    for index, day in enumerate(days):
        value = max(day.credits, 0)
        height = round(value / peak * BAR_SPACE) if peak > 0 else 0
        if value > 0:
            height = max(height, 2)  # a small day stays visible
        x = index * SLOT + (SLOT - BAR) // 2
        bars.append(
            {
                "x": x,
                "y": BASELINE - height,
                "height": height,
                "width": BAR,
                "centre": x + BAR // 2,
                "value": day.credits,
                "calls": day.calls,
                "label": "Today" if day.day == today else day.day.strftime("%a"),
                "date": day.day,
            }
        )
    return bars


def snippets(base_url: str) -> dict[str, str]:
    """curl and Python SDK code for a first call; like every snippet of the console they read
    the key from the environment."""
    call: dict[str, Any] = {
        "base_url": base_url,
        "service_id": EXAMPLE_SERVICE,
        "endpoint": EXAMPLE_ENDPOINT,
        "params": EXAMPLE_PARAMS,
    }
    return {
        "env": f"export {API_KEY_ENV}={PLACEHOLDER_KEY}",
        "curl": curl_snippet(**call),
        "python": sdk_snippet(**call),
    }


@org_permission("console.view")
@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    # Users made outside the sign-up page (createsuperuser) get their account on first visit.
    account = request_account(request)
    overview = account_overview(account=account, now=timezone.now())
    processes = processes_recent(account=account, limit=10)
    context: dict[str, Any] = {
        "overview": overview,
        "chart": credits_chart(overview.days),
        "chart_width": CHART_WIDTH,
        "baseline": BASELINE,
        "processes": processes,
        # While a process is queued or running, the dashboard refreshes itself (htmx).
        "live": any(not process.is_finished for process in processes),
        "getting_started": not (overview.has_api_key and overview.has_calls),
    }
    if request.htmx:
        return render(request, "services/home.html#dashboard", context)
    context["snippets"] = snippets(request.build_absolute_uri("/").rstrip("/"))
    return render(request, "services/home.html", context)
