"""Staff: endpoint prices and switches with their figures; model providers."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse


def service_list(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def endpoint_edit(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def provider_list(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def provider_create(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def provider_edit(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def provider_delete(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")
