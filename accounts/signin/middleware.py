"""A cache outage on the console's pages: 503 "unavailable for a moment", not a 500.

Our throttles already refuse with 503 when the cache is down (breact.throttle); allauth keeps a
few counters of its own in the cache (the verification-mail cooldown, re-authentication,
second-factor codes used once), which raise instead. Those pages answer like ours."""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis.exceptions
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django_redis.exceptions import ConnectionInterrupted

logger = logging.getLogger(__name__)

CACHE_ERRORS = (
    ConnectionInterrupted,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


class CacheOutageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, CACHE_ERRORS) or request.path.startswith("/api/"):
            return None
        logger.warning("Cache unreachable on %s %s: %r", request.method, request.path, exception)
        return render(request, "503.html", status=503)
