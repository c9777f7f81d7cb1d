"""One usage row per API request: key, account, route, service, status, error code, duration.

With the Redis buffer on (BREACT_USAGE_LOG_BUFFER), rows reach the database when beat folds the
stream, every second. So that a signed-in user's pages never lag behind their own calls, a GET of
a console or staff page folds what is buffered first (one Redis round trip when nothing is)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from services.usage.actions import usage_log_fold_all, usage_log_record

API_PREFIX = "/api/v1/"
NOT_LOGGED = ("/api/v1/health", "/api/v1/schema")


class UsageLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            if request.method == "GET" and request.user.is_authenticated:
                usage_log_fold_all()
            return self.get_response(request)
        if request.path.startswith(NOT_LOGGED):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        api_key = getattr(request, "api_key", None)
        usage = getattr(request, "usage", {})
        match = getattr(request, "resolver_match", None)
        usage_log_record(
            api_key=api_key,
            account_id=api_key.account_id if api_key is not None else None,
            method=request.method or "",
            route=(match.route if match else request.path)[:255],
            service_id=usage.get("service_id", ""),
            endpoint=usage.get("endpoint", ""),
            process_id=usage.get("process_id", ""),
            status_code=response.status_code,
            error_code=getattr(request, "error_code", ""),
            duration_ms=int((time.perf_counter() - started) * 1000),
            credits=usage.get("credits", 0),
            request_id=getattr(request, "request_id", ""),
        )
        return response
