"""The playground: run an endpoint from a generated form, watch it, copy the call."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse


def playground(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def playground_run(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def run_status(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")
