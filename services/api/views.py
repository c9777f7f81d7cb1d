"""REST API v1 views: thin; each parses input, calls one action or selector, shapes output."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.ledger.selectors import account_balance
from accounts.models import ApiKey
from breact.dates import iso
from breact.errors import BadRequest, Forbidden, ServiceNotFound, ServiceUnavailable
from breact.forms import DATE_MAX, DATE_MIN, DateRangeFilterForm
from breact.middleware import request_id_for
from services.api import serializers as out
from services.api.parsing import json_object_from
from services.api.ratelimit import (
    EXECUTE,
    READ,
    execute_rate,
    rate_limit_check,
    rate_limit_counters,
    rate_limit_hit,
)
from services.api.schema import DATE_PARAMETER, SERVICE_ID_PARAMETER
from services.catalogue.registry import EndpointDefinition, ServiceDefinition
from services.catalogue.selectors import endpoint_resolve, service_catalogue
from services.execution.actions import call_start
from services.execution.selectors import poll_body, process_for_poll
from services.models import Endpoint
from services.usage.actions import usage_log_fold_all
from services.usage.selectors import usage_by_day_and_service
from services.workers import describe_age, runner_status


def _django(request: Request) -> HttpRequest:
    return request._request


def _key(request: Request) -> ApiKey:
    """The authenticated key (ApiKeyAuthentication puts it on request.auth)."""
    assert isinstance(request.auth, ApiKey)
    return request.auth


class KeyedApiView(APIView):
    """An API view behind an API key and its rate limit; adds the rate-limit headers. The
    failed-authentication hit of the request's good key is given back with the rate-limit hit,
    in one round trip (accounts.auth). On a hot-path view whose key row the process holds, the
    authentication counts the rate limits in its own round trip already (`rate_limit_counters`)
    and leaves the hits on `request.rate_hits`: they are checked here, not counted again."""

    rate_group = READ
    defers_auth_give_back = True

    def rate_limit_counters(self, api_key: ApiKey) -> list[tuple[str, str, str]]:
        return rate_limit_counters(api_key=api_key, group=self.rate_group)

    def check_throttles(self, request: Request) -> None:
        counted = getattr(_django(request), "rate_hits", None)
        if counted is not None:
            state = rate_limit_check(api_key=_key(request), group=self.rate_group, hits=counted)
        else:
            state = rate_limit_hit(
                api_key=_key(request),
                group=self.rate_group,
                give_back=getattr(_django(request), "auth_attempt", None),
            )
        _django(request).rate_state = state  # type: ignore[attr-defined]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        state = getattr(_django(request), "rate_state", None)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        return response


def service_summary(
    definition: ServiceDefinition,
    endpoints: list[tuple[EndpointDefinition, Endpoint]],
    *,
    full: bool,
) -> dict[str, Any]:
    service_row = endpoints[0][1].service
    return {
        "id": definition.id,
        "name": definition.name,
        "description": definition.description,
        "version": definition.version,
        "author": definition.author,
        "path": f"/api/v1/services/{definition.id}",
        "status": "active",
        "aliases": list(definition.aliases),
        "endpoints": {
            e.name: {
                "name": e.name,
                "description": e.description,
                "method": "POST",
                "is_async": True,
                "credits": row.price,
                "parameters": e.parameters(),
                "returns": e.returns,
                **({"input_schema": e.input_schema, "example": e.example} if full else {}),
            }
            for e, row in endpoints
        },
        "config": definition.config,
        "error": None,
        "created_at": iso(service_row.created_at),
        "updated_at": iso(service_row.updated_at),
    }


class ServiceListApi(KeyedApiView):
    @extend_schema(
        operation_id="services_list",
        summary="List services",
        description="Every enabled service, keyed by service id, with endpoints, parameters and "
        "price in credits.",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                definition.id: service_summary(definition, endpoints, full=False)
                for definition, endpoints in service_catalogue()
            }
        )


class ServiceDetailApi(KeyedApiView):
    @extend_schema(
        operation_id="services_retrieve",
        summary="Get one service",
        description="The service as in the list, plus each endpoint's full JSON Schema.",
        responses={200: OpenApiTypes.OBJECT, 404: out.ErrorSerializer},
    )
    def get(self, request: Request, service_id: str) -> Response:
        for definition, endpoints in service_catalogue():
            if service_id == definition.id or service_id in definition.aliases:
                return Response(service_summary(definition, endpoints, full=True))
        raise ServiceNotFound(
            f"There is no enabled service {service_id!r}. GET /api/v1/services lists them."
        )


class ServiceExecuteApi(KeyedApiView):
    rate_group = EXECUTE
    hot_path = True  # key and endpoint rows from the process's cache (breact.hot_cache)

    @extend_schema(
        operation_id="services_execute",
        summary="Execute a service endpoint",
        description="Validates the body against the endpoint's JSON Schema, charges its price, "
        "and queues the work. Poll `result_url` (or use the SDK) for the result. An optional "
        "`Idempotency-Key` header makes retries safe.",
        request=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)
        ],
        responses={
            202: out.ExecuteAcceptedSerializer,
            400: out.ErrorSerializer,
            402: out.ErrorSerializer,
            404: out.ErrorSerializer,
            409: out.ErrorSerializer,
            413: out.ErrorSerializer,
            422: out.ErrorSerializer,
            429: out.ErrorSerializer,
            503: out.ErrorSerializer,
        },
    )
    def post(self, request: Request, service_id: str, endpoint: str) -> Response:
        api_key = _key(request)
        resolved = endpoint_resolve(
            service_id=service_id,
            endpoint=endpoint,
            generation=getattr(_django(request), "hot_cache_generation", None),
        )
        usage: dict[str, Any] = {
            "service_id": resolved.service.id,
            "endpoint": resolved.endpoint.name,
        }
        _django(request).usage = usage  # type: ignore[attr-defined]
        if not api_key.allows_service(resolved.service.id):
            raise Forbidden(f"This API key may not call the {resolved.service.id!r} service.")
        params = json_object_from(_django(request))
        idempotency_key = request.headers.get("Idempotency-Key") or None
        outcome = call_start(
            api_key=api_key,
            resolved=resolved,
            params=params,
            idempotency_key=idempotency_key,
            request_id=request_id_for(_django(request)),
        )
        usage["process_id"] = outcome.body.get("process_id", "")
        usage["credits"] = 0 if outcome.replayed else int(outcome.body.get("credits_charged", 0))
        response = Response(outcome.body, status=outcome.status)
        response["X-Credits-Remaining"] = str(outcome.body.get("credits_remaining", ""))
        if outcome.status == 202 and outcome.body.get("result_url"):
            # The body keeps the contract's relative `result_url`; the header gives the URL a
            # client can call as it is (the usual Location of a 202 Accepted).
            response["Location"] = request.build_absolute_uri(outcome.body["result_url"])
        if outcome.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class ProcessResultApi(KeyedApiView):
    hot_path = True  # the key from the process's cache (breact.hot_cache)

    @extend_schema(
        operation_id="process_result",
        summary="Poll a process",
        description="Pending, completed (the service's result) or error. Results are deleted "
        f"{settings.BREACT_RESULT_TTL} s after they are ready; afterwards this answers 404.",
        parameters=[
            OpenApiParameter(
                "access_token",
                {"type": "string", "minLength": 1, "maxLength": 128},
                OpenApiParameter.QUERY,
                required=True,
                description="The access_token of the execute response.",
            )
        ],
        responses={200: out.PollSerializer, 404: out.ErrorSerializer},
    )
    def get(self, request: Request, process_id: str) -> Response:
        process = process_for_poll(
            account=_key(request).account,
            public_id=process_id,
            token=request.query_params.get("access_token"),
        )
        _django(request).usage = {  # type: ignore[attr-defined]
            "service_id": process.service_id,
            "endpoint": process.endpoint,
            "process_id": process.public_id,
        }
        return Response(poll_body(process))


class AccountApi(KeyedApiView):
    @extend_schema(
        operation_id="account_retrieve",
        summary="The calling key's account",
        responses={200: out.AccountSerializer},
    )
    def get(self, request: Request) -> Response:
        key = _key(request)
        account = key.account
        return Response(
            {
                "email": account.contact_email,
                "status": account.status,
                "balance": account_balance(account=account),
                "key": {
                    "name": key.name,
                    "prefix": key.prefix,
                    "last_four": key.last_four,
                    "scopes": key.scopes,
                    "spend_cap": key.spend_cap,
                    "credits_spent": key.credits_spent,
                    "created_at": iso(key.created_at),
                    "expires_at": iso(key.expires_at),
                },
                "limits": {
                    "execute": execute_rate(key),
                    "read": settings.BREACT_POLL_RATE_LIMIT,
                    "result_ttl_seconds": settings.BREACT_RESULT_TTL,
                    "max_body_bytes": settings.BREACT_MAX_BODY_BYTES,
                },
            }
        )


class UsageQueryForm(DateRangeFilterForm):
    """The usage endpoint's query: the console's date range (same bounds, default and limit)
    and an optional service id."""

    service = forms.CharField(required=False, max_length=64)


def form_errors(form: forms.Form) -> BadRequest:
    """The form's errors as BAD_REQUEST, one {path, message} per error."""
    errors = [
        {"path": name if name != "__all__" else "$", "message": str(message)}
        for name, messages in form.errors.items()
        for message in messages
    ]
    return BadRequest(
        "The query is not valid: " + "; ".join(f"{e['path']}: {e['message']}" for e in errors),
        details={"errors": errors},
    )


class UsageApi(KeyedApiView):
    @extend_schema(
        operation_id="usage_retrieve",
        summary="The account's usage by day and service",
        description="Calls, errors and credits per day and service, from `from` to `to` (whole "
        f"UTC days, both included; dates from {DATE_MIN} to {DATE_MAX}). Without `to`: today; "
        f"without `from`: {UsageQueryForm.default_days} days up to `to`. At most "
        f"{UsageQueryForm.max_days} days.",
        parameters=[
            OpenApiParameter("from", DATE_PARAMETER, OpenApiParameter.QUERY),
            OpenApiParameter("to", DATE_PARAMETER, OpenApiParameter.QUERY),
            OpenApiParameter("service", SERVICE_ID_PARAMETER, OpenApiParameter.QUERY),
        ],
        responses={200: out.UsageSerializer},
    )
    def get(self, request: Request) -> Response:
        empty = [name for name in ("from", "to", "service") if request.query_params.get(name) == ""]
        if empty:  # the console's forms send empty fields; an API client leaves them out
            raise BadRequest(
                f"{', '.join(empty)} must not be empty; leave a parameter out to use its default.",
                details={"errors": [{"path": name, "message": "empty"} for name in empty]},
            )
        form = UsageQueryForm(request.query_params, today=timezone.now().date())
        if not form.is_valid():
            raise form_errors(form)
        usage_log_fold_all()  # the caller's own calls so far, even if not folded by beat yet
        start, end = form.cleaned_data["from"], form.cleaned_data["to"]
        rows = usage_by_day_and_service(
            account=_key(request).account,
            start=start,
            end=end,
            service_id=form.cleaned_data["service"] or None,
        )
        return Response(
            {
                "from": start.isoformat(),
                "to": end.isoformat(),
                "totals": {
                    "calls": sum(r["calls"] for r in rows),
                    "errors": sum(r["errors"] for r in rows),
                    "credits": sum(r["credits"] for r in rows),
                },
                "days": rows,
            }
        )


class HealthApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="health",
        summary="Health of the database, cache, job queue, workers and beat",
        description=(
            "200 with `status` `ok`, or `degraded` when no worker or no beat has sent a "
            "heartbeat lately (executes are refused meanwhile; `queue` says how many processes "
            "wait and for how long). 503 when the database, cache or broker fails."
        ),
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.ChoiceField(choices=["ok", "degraded"]),
                    "checks": serializers.DictField(child=serializers.CharField()),
                    "workers": serializers.IntegerField(),
                    "queue": inline_serializer(
                        "HealthQueue",
                        {
                            "queued": serializers.IntegerField(),
                            "oldest_queued_seconds": serializers.FloatField(allow_null=True),
                        },
                    ),
                },
            ),
            503: out.ErrorSerializer,
        },
    )
    def get(self, request: Request) -> Response:
        checks = {"database": _check_database(), "cache": _check_cache(), "broker": _check_broker()}
        if not all(value == "ok" for value in checks.values()):
            failing = ", ".join(name for name, value in checks.items() if value != "ok")
            error = ServiceUnavailable(f"Unhealthy: {failing}.")
            error.details = {"checks": checks}
            raise error
        runner = runner_status()
        checks["worker"] = (
            "ok" if runner.worker_ok else f"missing: {describe_age(runner.worker_seen_seconds)}"
        )
        checks["beat"] = (
            "ok" if runner.beat_ok else f"missing: {describe_age(runner.beat_seen_seconds)}"
        )
        degraded = not (runner.worker_ok and runner.beat_ok)
        return Response(
            {
                "status": "degraded" if degraded else "ok",
                "checks": checks,
                "workers": runner.workers_alive,
                "queue": {
                    "queued": runner.queued,
                    "oldest_queued_seconds": runner.oldest_queued_seconds,
                },
            }
        )


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def _check_cache() -> str:
    from django.core.cache import cache

    try:
        cache.set("health-check", "ok", 5)
        return "ok" if cache.get("health-check") == "ok" else "error: read back failed"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def _check_broker() -> str:
    from breact.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"
