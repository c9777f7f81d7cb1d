"""REST API v1 of webhook endpoints: /api/v1/webhooks… (free; rate-limited as reads), and the
OpenAPI note of the per-call `webhook_url` extension of execute."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from breact.dates import iso
from services.api import serializers as out
from services.api.parsing import json_object_from
from services.api.resources import (
    ERRORS,
    PAGE_PARAMETERS,
    DeletedSerializer,
    StrictCharField,
    newest_first_page,
    page_serializer,
    validated,
)
from services.api.views import KeyedApiView
from services.webhooks import actions, selectors
from services.webhooks.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint

MAX_GRACE_SECONDS = 7 * 86_400

# --- input ------------------------------------------------------------------------------------


class EndpointCreateSerializer(serializers.Serializer):
    url = StrictCharField(max_length=2000, help_text="http(s) URL that receives the events.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        required=False,
        default=list,
        max_length=len(EVENT_TYPES),
        help_text="Event types to send; empty or left out = all.",
    )
    description = StrictCharField(max_length=200, allow_blank=True, required=False, default="")


class EndpointUpdateSerializer(serializers.Serializer):
    url = StrictCharField(max_length=2000, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        required=False,
        max_length=len(EVENT_TYPES),
    )
    description = StrictCharField(max_length=200, allow_blank=True, required=False)
    enabled = serializers.BooleanField(required=False)


class SecretRollSerializer(serializers.Serializer):
    grace_seconds = serializers.IntegerField(
        min_value=0,
        max_value=MAX_GRACE_SECONDS,
        default=86_400,
        help_text="How long the old secret still signs too (each delivery then carries two v1 "
        "signatures); 0 drops it now.",
    )


# --- output -----------------------------------------------------------------------------------


class EndpointSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="whe_…")
    url = serializers.CharField()
    description = serializers.CharField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES))
    enabled = serializers.BooleanField()
    disabled_reason = serializers.CharField()
    failing_since = serializers.DateTimeField(allow_null=True)
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="While in the future, the previous secret signs too."
    )
    created_at = serializers.DateTimeField()


class EndpointCreatedSerializer(EndpointSerializer):
    secret = serializers.CharField(help_text="whsec_…: shown this once; signs every delivery.")


class SecretRolledSerializer(serializers.Serializer):
    id = serializers.CharField()
    secret = serializers.CharField(help_text="The new secret, shown this once.")
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True)


class AttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    response_snippet = serializers.CharField()


class DeliverySerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The event's id (evt_…): one delivery per event.")
    event = serializers.CharField()
    state = serializers.ChoiceField(choices=WebhookDelivery.State.values)
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    tries = AttemptSerializer(many=True, help_text="The latest attempts, newest first.")


class ResendSerializer(serializers.Serializer):
    id = serializers.CharField()
    queued = serializers.BooleanField(help_text="False: it was still pending (already queued).")


EndpointPageSerializer = page_serializer("WebhookEndpointPage", EndpointSerializer)
DeliveryPageSerializer = page_serializer("WebhookDeliveryPage", DeliverySerializer)


def endpoint_body(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.public_id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events or []),
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": iso(endpoint.failing_since),
        "previous_secret_expires_at": iso(endpoint.previous_secret_expires_at),
        "created_at": iso(endpoint.created_at),
    }


def delivery_body(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.event.public_id,
        "event": delivery.event.type,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "delivered_at": iso(delivery.delivered_at),
        "created_at": iso(delivery.created_at),
        "tries": [
            {
                "number": attempt.number,
                "started_at": iso(attempt.started_at),
                "duration_ms": attempt.duration_ms,
                "status_code": attempt.status_code,
                "error": attempt.error,
                "response_snippet": attempt.response_snippet,
            }
            for attempt in list(delivery.tries.all())[: selectors.RECENT_ATTEMPTS]
        ],
    }


# --- views ------------------------------------------------------------------------------------


class WebhookApiView(KeyedApiView):
    @property
    def account_id(self) -> int:
        return int(self.request.auth.account_id)  # type: ignore[union-attr]

    def endpoint(self, webhook_id: str) -> WebhookEndpoint:
        return selectors.endpoint_get(account_id=self.account_id, public_id=webhook_id)

    def http_method_not_allowed(  # type: ignore[override]
        self, request: Request, *args: Any, **kwargs: Any
    ) -> Any:
        """A missing (or another account's) endpoint or delivery is 404 whatever the method,
        as for a missing id elsewhere; 405 only for one of your own."""
        if "webhook_id" in kwargs:
            endpoint = self.endpoint(kwargs["webhook_id"])
            if "event_id" in kwargs:
                selectors.delivery_get(endpoint=endpoint, event_id=kwargs["event_id"])
        return super().http_method_not_allowed(request, *args, **kwargs)

    def page(self, queryset: Any, body: Any) -> Response:
        return newest_first_page(self, queryset, body)


class WebhooksApi(WebhookApiView):
    @extend_schema(
        operation_id="webhooks_list",
        summary="List webhook endpoints",
        parameters=PAGE_PARAMETERS,
        responses={200: EndpointPageSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return self.page(selectors.endpoint_list(account_id=self.account_id), endpoint_body)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Register a webhook endpoint",
        description="Events are POSTed to `url` as JSON, signed in the `BReact-Signature` "
        'header (`t=<unix time>,v1=<hex HMAC-SHA256 of "t.body" with the secret>`). The '
        "`secret` is in this response only. Private, loopback and link-local addresses are "
        "refused. Event types: " + ", ".join(EVENT_TYPES) + ".",
        request=EndpointCreateSerializer,
        responses={201: EndpointCreatedSerializer, 413: out.ErrorSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = validated(EndpointCreateSerializer, json_object_from(request._request))
        with transaction.atomic():
            endpoint, secret = actions.endpoint_create(
                account_id=self.account_id,
                url=data["url"],
                events=data["events"],
                description=data["description"],
            )
        return Response({**endpoint_body(endpoint), "secret": secret}, status=201)


class WebhookDetailApi(WebhookApiView):
    @extend_schema(
        operation_id="webhooks_retrieve",
        summary="Get a webhook endpoint",
        responses={200: EndpointSerializer, **ERRORS},
    )
    def get(self, request: Request, webhook_id: str) -> Response:
        return Response(endpoint_body(self.endpoint(webhook_id)))

    @extend_schema(
        operation_id="webhooks_update",
        summary="Change a webhook endpoint",
        description="Any of url, events, description, enabled. Enabling a disabled endpoint "
        "clears its failure streak.",
        request=EndpointUpdateSerializer,
        responses={200: EndpointSerializer, 413: out.ErrorSerializer, **ERRORS},
    )
    def patch(self, request: Request, webhook_id: str) -> Response:
        endpoint = self.endpoint(webhook_id)
        data = validated(EndpointUpdateSerializer, json_object_from(request._request))
        with transaction.atomic():
            actions.endpoint_update(endpoint=endpoint, **data)
        return Response(endpoint_body(endpoint))

    @extend_schema(
        operation_id="webhooks_delete",
        summary="Delete a webhook endpoint and its delivery log",
        responses={200: DeletedSerializer, **ERRORS},
    )
    def delete(self, request: Request, webhook_id: str) -> Response:
        with transaction.atomic():
            actions.endpoint_delete(endpoint=self.endpoint(webhook_id))
        return Response({"id": webhook_id, "deleted": True})


class WebhookSecretRollApi(WebhookApiView):
    @extend_schema(
        operation_id="webhooks_roll_secret",
        summary="Roll the signing secret",
        description="A new secret, shown this once; the old one keeps signing for "
        "`grace_seconds` (default one day), so receivers can switch without a gap.",
        request=SecretRollSerializer,
        responses={200: SecretRolledSerializer, 413: out.ErrorSerializer, **ERRORS},
    )
    def post(self, request: Request, webhook_id: str) -> Response:
        endpoint = self.endpoint(webhook_id)
        data = validated(SecretRollSerializer, json_object_from(request._request))
        secret = actions.endpoint_secret_roll(
            endpoint=endpoint, grace=timedelta(seconds=data["grace_seconds"])
        )
        return Response(
            {
                "id": endpoint.public_id,
                "secret": secret,
                "previous_secret_expires_at": iso(endpoint.previous_secret_expires_at),
            }
        )


class WebhookTestApi(WebhookApiView):
    @extend_schema(
        operation_id="webhooks_test",
        summary="Send a test event",
        description="Queues a `test` event to this endpoint; see its deliveries for the answer.",
        request=None,
        responses={202: DeliverySerializer, **ERRORS},
    )
    def post(self, request: Request, webhook_id: str) -> Response:
        delivery = actions.test_event_send(endpoint=self.endpoint(webhook_id))
        return Response(delivery_body(delivery), status=202)


class WebhookDeliveriesApi(WebhookApiView):
    @extend_schema(
        operation_id="webhooks_deliveries",
        summary="Recent deliveries of a webhook endpoint",
        description="Newest first, each with its latest attempts (status code, time, the "
        "start of the answer).",
        parameters=PAGE_PARAMETERS,
        responses={200: DeliveryPageSerializer, **ERRORS},
    )
    def get(self, request: Request, webhook_id: str) -> Response:
        endpoint = self.endpoint(webhook_id)
        return self.page(selectors.delivery_list(endpoint=endpoint), delivery_body)


class WebhookResendApi(WebhookApiView):
    @extend_schema(
        operation_id="webhooks_resend",
        summary="Send a delivery again",
        request=None,
        responses={202: ResendSerializer, **ERRORS},
    )
    def post(self, request: Request, webhook_id: str, event_id: str) -> Response:
        delivery = selectors.delivery_get(endpoint=self.endpoint(webhook_id), event_id=event_id)
        with transaction.atomic():
            queued = actions.delivery_resend(delivery=delivery)
        return Response({"id": event_id, "queued": queued}, status=202)


# --- OpenAPI: the per-call webhook_url of execute ----------------------------------------------

WEBHOOK_URL_NOTE = (
    "\n\n**Extension** (not in the public BReact OS API): the body may also carry "
    "`webhook_url`, an http(s) URL that gets this call's `process.completed` or "
    "`process.failed` event, signed with the account's per-call secret (console: Webhooks). It "
    "is taken out before the body is validated against the schema above and never reaches the "
    "service; a private, loopback or link-local address is refused (400)."
)


def document_webhook_url(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (after the one that splits execute per endpoint):
    every execute operation's description documents the `webhook_url` extension. It is not a
    schema property: whether a URL is allowed depends on its address, which no schema says."""
    for path, operations in result.get("paths", {}).items():
        operation = operations.get("post")
        if path.startswith("/api/v1/services/") and operation is not None:
            operation["description"] = operation.get("description", "") + WEBHOOK_URL_NOTE
    return result
