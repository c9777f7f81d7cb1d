"""Template filters of the history pages: a request-log row in words."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

API = "api/v1/"
# Routes without a service, as people name them (the route patterns are the API's own).
ROUTE_LABELS = {
    "services": "List services",
    "services/<str:service_id>": "Service details",
    "services/<str:service_id>/<str:endpoint>": "Call of an unknown service",
    "services/result/<str:process_id>": "Result poll",
    "account": "Account",
    "usage": "Usage",
    "knowledge-bases": "Knowledge bases",
    "knowledge-bases/<str:kb_id>": "Knowledge base",
    "knowledge-bases/<str:kb_id>/documents": "Knowledge-base documents",
    "knowledge-bases/<str:kb_id>/documents/<str:doc_id>": "Knowledge-base document",
}
RESULT_ROUTE = "services/result/"


@register.filter
def request_label(row: Any) -> str:
    """ "summary · summarize" for a call of a service, "summary · summarize (result poll)" for a
    poll of its result, else what the route is for ("Knowledge bases"); the route as a last
    resort."""
    route = str(getattr(row, "route", "") or "")
    inner = route.removeprefix("/").removeprefix(API)
    service_id = getattr(row, "service_id", "")
    if service_id:
        call = f"{service_id} · {row.endpoint}" if getattr(row, "endpoint", "") else service_id
        return f"{call} (result poll)" if inner.startswith(RESULT_ROUTE) else call
    return ROUTE_LABELS.get(inner, route)
