"""The service catalogue and a page per service."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse


def catalogue(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def service_page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")
