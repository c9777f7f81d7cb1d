"""Staff: find accounts, look into one, adjust credits, refund, disable, revoke keys."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse


def account_search(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def account_page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def account_adjust(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def account_status(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def key_revoke(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def process_refund(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")
