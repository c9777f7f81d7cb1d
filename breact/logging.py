"""Log lines: one per request (and one per process, written by the worker), readable by
default, one JSON object per line with BREACT_LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse

request_logger = logging.getLogger("breact.request")

# Fields a log call may pass in `extra`; the JSON formatter writes those present.
FIELDS = (
    "request_id",
    "method",
    "path",
    "route",
    "status",
    "account",
    "key_prefix",
    "service",
    "endpoint",
    "process_id",
    "outcome",
    "error",
    "duration_ms",
)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the known
    fields present, and the exception text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None and value != "":
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class RequestLogMiddleware:
    """Writes one line per request to the "breact.request" logger after the response: the
    request id, account, key prefix, service, outcome (status class, or the error code) and
    duration. The path is logged without its query string (it may carry an access token)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        if not request_logger.isEnabledFor(logging.INFO) or request.path == "/metrics":
            return response
        duration_ms = int((time.perf_counter() - started) * 1000)
        api_key = getattr(request, "api_key", None)
        usage = getattr(request, "usage", {}) or {}
        match = getattr(request, "resolver_match", None)
        error = getattr(request, "error_code", "") or ""
        outcome = error or ("ok" if response.status_code < 400 else f"{response.status_code}")
        request_id = getattr(request, "request_id", "")
        fields = {
            "request_id": request_id,
            "method": request.method,
            "path": request.path,
            "route": "/" + match.route if match is not None and match.route else "",
            "status": response.status_code,
            "account": api_key.account_id if api_key is not None else None,
            "key_prefix": api_key.prefix if api_key is not None else "",
            "service": usage.get("service_id", ""),
            "endpoint": usage.get("endpoint", ""),
            "process_id": usage.get("process_id", ""),
            "outcome": outcome,
            "duration_ms": duration_ms,
        }
        who = f" account={fields['account']} key={fields['key_prefix']}" if api_key else ""
        request_logger.info(
            "%s %s %s %dms %s%s",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            request_id,
            who,
            extra=fields,
        )
        return response
