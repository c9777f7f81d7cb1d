"""Request ids: echo the client's X-Request-ID or make one, on every response."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_for(request: HttpRequest) -> str:
    """The request's id, made on first use."""
    existing = getattr(request, "request_id", None)
    if existing:
        return str(existing)
    sent = request.headers.get("X-Request-ID", "")
    request_id = sent if _SAFE_REQUEST_ID.match(sent) else f"req_{uuid.uuid4().hex}"
    request.request_id = request_id  # type: ignore[attr-defined]
    return request_id


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
