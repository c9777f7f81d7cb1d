"""Liveness and readiness probes beside /api/v1/health (which keeps its body for the SDK)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from breact.errors import ServiceUnavailable
from services.api import serializers as out
from services.api.views import _check_broker, _check_cache, _check_database
from services.workers import describe_age, runner_status


class LivenessApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="health_live",
        summary="Liveness: this web process answers",
        description="200 whenever the process can answer a request; touches no database, cache "
        "or broker, so an outage of those never gets healthy web processes restarted.",
        responses={
            200: inline_serializer(
                "Liveness", {"status": serializers.ChoiceField(choices=["alive"])}
            )
        },
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "alive"})


class ReadinessApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="health_ready",
        summary="Readiness: this instance can take executes",
        description="200 when the database, cache and broker answer and a worker has sent a "
        "heartbeat in the last BREACT_READY_WORKER_SECONDS; else 503 (error envelope, "
        "`details.checks` says which failed). Load balancers route by it.",
        responses={
            200: inline_serializer(
                "Readiness",
                {
                    "status": serializers.ChoiceField(choices=["ready"]),
                    "checks": serializers.DictField(child=serializers.CharField()),
                },
            ),
            503: out.ErrorSerializer,
        },
    )
    def get(self, request: Request) -> Response:
        checks = {"database": _check_database(), "cache": _check_cache(), "broker": _check_broker()}
        if checks["database"] == "ok":
            runner = runner_status()
            seen = runner.worker_seen_seconds
            fresh = seen is not None and seen <= settings.BREACT_READY_WORKER_SECONDS
            checks["worker"] = "ok" if fresh else f"missing: {describe_age(seen)}"
        else:
            checks["worker"] = "unknown: the database is unreachable"
        if not all(value == "ok" for value in checks.values()):
            failing = ", ".join(name for name, value in checks.items() if value != "ok")
            error = ServiceUnavailable(f"Not ready: {failing}.")
            error.details = {"checks": checks}
            raise error
        return Response({"status": "ready", "checks": checks})
