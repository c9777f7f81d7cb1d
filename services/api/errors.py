"""The one error handler: every failure on /api/ becomes the contract's error envelope."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf

from breact.errors import (
    BadRequest,
    BReactError,
    Forbidden,
    MissingApiKey,
    NotFound,
    PayloadTooLarge,
    RateLimitExceeded,
    Unauthorized,
    UnsupportedMediaType,
)
from breact.middleware import request_id_for

logger = logging.getLogger("breact.api")


class MethodNotAllowed(BReactError):
    code = "METHOD_NOT_ALLOWED"
    status = 405


class InternalError(BReactError):
    code = "INTERNAL_ERROR"
    status = 500
    default_message = "Something went wrong on our side. The request id identifies it in our logs."


def error_response(request: HttpRequest, error: BReactError) -> JsonResponse:
    """The envelope for `error`; also notes the code on the request for the usage log."""
    request_id = request_id_for(request)
    request.error_code = error.code  # type: ignore[attr-defined]
    body: dict[str, Any] = {
        "status": "error",
        "error": error.code,
        "message": error.message,
        "request_id": request_id,
    }
    if error.details is not None:
        body["details"] = error.details
    response = JsonResponse(
        body, status=error.status, content_type="application/json; charset=utf-8"
    )
    for name, value in error.headers.items():
        response[name] = value
    if error.status == 401:
        response["WWW-Authenticate"] = 'ApiKey header="x-api-key"'
    return response


def as_breact_error(exc: Exception) -> BReactError:
    """Translate any exception raised while serving an API request."""
    if isinstance(exc, BReactError):
        return exc
    if isinstance(exc, Ratelimited):  # a PermissionDenied subclass: must come first
        return RateLimitExceeded("Rate limit exceeded.")
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, drf.NotAuthenticated):
        return MissingApiKey()
    if isinstance(exc, drf.AuthenticationFailed):
        return Unauthorized()
    if isinstance(exc, (drf.PermissionDenied, DjangoPermissionDenied)):
        return Forbidden()
    if isinstance(exc, (Http404, drf.NotFound)):
        return NotFound()
    if isinstance(exc, drf.MethodNotAllowed):
        return MethodNotAllowed(str(exc.detail))
    if isinstance(exc, drf.ValidationError):
        return BadRequest(details={"errors": _flatten(exc.detail)})
    if isinstance(exc, drf.UnsupportedMediaType):
        return UnsupportedMediaType(str(exc.detail))
    if isinstance(exc, (drf.ParseError, drf.NotAcceptable)):
        return BadRequest(str(exc.detail))
    if isinstance(exc, drf.Throttled):
        return RateLimitExceeded(str(exc.detail))
    return InternalError()


def _flatten(detail: Any, path: str = "") -> list[dict[str, str]]:
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            out.extend(_flatten(value, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(detail, list):
        return [item for value in detail for item in _flatten(value, path)]
    return [{"path": path or "$", "message": str(detail)}]


def exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse:
    """DRF's EXCEPTION_HANDLER."""
    error = as_breact_error(exc)
    if isinstance(error, InternalError):
        logger.error("Unhandled error in API view", exc_info=exc)
    request = context["request"]
    return error_response(getattr(request, "_request", request), error)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return error_response(request, PayloadTooLarge())
        return error_response(request, BadRequest())
    return defaults.bad_request(request, exception or Exception())


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return error_response(request, Forbidden())
    if isinstance(exception, Ratelimited):
        response = render(request, "429.html", status=429)
        response["Retry-After"] = "60"
        return response
    return defaults.permission_denied(request, exception or Exception())


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return error_response(
            request, NotFound(f"There is no API route {request.method} {request.path}.")
        )
    return defaults.page_not_found(request, exception or Exception())


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return error_response(request, InternalError())
    return defaults.server_error(request)
