"""The service catalogue and a page per service."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET
from django_htmx.http import push_url

from accounts.orgs.access import org_permission
from breact.http import HtmxHttpRequest
from services.catalogue.registry import EndpointDefinition, ServiceDefinition, find_service
from services.catalogue.selectors import service_catalogue
from services.console import forms, snippets
from services.console.examples import example_result
from services.models import Endpoint

SEARCH_MAX_LENGTH = 100


Catalogue = list[tuple[ServiceDefinition, list[tuple[EndpointDefinition, Endpoint]]]]


def api_base_url(request: HttpRequest) -> str:
    """The server's own base URL, as the browser reached it, for the snippets."""
    return request.build_absolute_uri("/").rstrip("/")


def catalogue_search(entries: Catalogue, query: str) -> Catalogue:
    """The entries whose id, aliases, name, description or endpoint names contain every word
    of `query`, case-insensitively."""
    words = query.casefold().split()
    if not words:
        return entries
    found = []
    for service, endpoints in entries:
        haystack = " ".join(
            [
                service.id,
                *service.aliases,
                service.name,
                service.description,
                *(endpoint.name for endpoint, _row in endpoints),
            ]
        ).casefold()
        if all(word in haystack for word in words):
            found.append((service, endpoints))
    return found


@org_permission("console.view")
@require_GET
def catalogue(request: HtmxHttpRequest) -> HttpResponse:
    """Every enabled service with its endpoints and prices, filtered by `q`; an htmx request
    (the live search) gets the list only."""
    query = request.GET.get("q", "").strip()[:SEARCH_MAX_LENGTH]
    entries = service_catalogue()
    context = {
        "query": query,
        "services": catalogue_search(entries, query),
        "total": len(entries),
    }
    if request.htmx:
        # The address bar keeps the search, so a reload or a shared link shows the same list.
        return push_url(
            render(request, "services/catalogue.html#service-list", context),
            request.get_full_path(),
        )
    return render(request, "services/catalogue.html", context)


@dataclass(frozen=True)
class EndpointDoc:
    """What a service page shows for one endpoint."""

    definition: EndpointDefinition
    price: int
    parameters: list[forms.ParameterRow]
    example_request: str
    example_response: str
    returns: str
    curl: str
    sdk: str
    playground_url: str

    @property
    def name(self) -> str:
        return self.definition.name


def example_response(endpoint: EndpointDefinition) -> dict[str, Any]:
    """The shape of a completed call's result (what the SDK returns, and `result` of the poll
    response): the service output as `returns` describes it, with its metadata."""
    return {
        "status": "success",
        "result": example_result(endpoint),
        "error": None,
        "metadata": {
            "model": "local/…",
            "processing_time": 0.012,
            "created_at": "2025-01-01T12:00:00Z",
        },
    }


def endpoint_doc(
    request: HttpRequest, service: ServiceDefinition, endpoint: EndpointDefinition, row: Endpoint
) -> EndpointDoc:
    base = api_base_url(request)
    call: dict[str, Any] = {
        "service_id": service.id,
        "endpoint": endpoint.name,
        "params": endpoint.example,
    }
    query = urlencode({"service": service.id, "endpoint": endpoint.name})
    return EndpointDoc(
        definition=endpoint,
        price=row.price,
        parameters=forms.parameter_rows(endpoint.input_schema),
        example_request=snippets.json_body(endpoint.example),
        example_response=json.dumps(example_response(endpoint), indent=2, ensure_ascii=False),
        returns=str(endpoint.returns.get("description", "")),
        curl=snippets.curl_snippet(base_url=base, **call),
        sdk=snippets.sdk_snippet(base_url=base, **call),
        playground_url=f"{reverse('playground')}?{query}",
    )


@org_permission("console.view")
@require_GET
def service_page(request: HttpRequest, service_id: str) -> HttpResponse:
    """One enabled service (by id or alias): per endpoint its price, parameter table, examples
    and snippets. Unknown and disabled services answer 404."""
    definition = find_service(service_id)
    entry = next(
        (item for item in service_catalogue() if definition and item[0].id == definition.id),
        None,
    )
    if entry is None:
        raise Http404("No such service.")
    service, endpoints = entry
    context = {
        "service": service,
        "endpoints": [endpoint_doc(request, service, e, row) for e, row in endpoints],
        "result_ttl": settings.BREACT_RESULT_TTL,
    }
    return render(request, "services/service_page.html", context)
