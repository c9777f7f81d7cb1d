"""Response shapes of the API, for the OpenAPI schema (the views build plain dicts)."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    path = serializers.CharField()
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    status = serializers.CharField(default="error")
    error = serializers.CharField(help_text="Stable machine code, e.g. RATE_LIMIT_EXCEEDED.")
    message = serializers.CharField(help_text="What happened and what to do about it.")
    details = serializers.DictField(required=False)
    request_id = serializers.CharField()


class ExecuteAcceptedSerializer(serializers.Serializer):
    status = serializers.CharField(default="pending")
    process_id = serializers.CharField()
    access_token = serializers.CharField()
    service = serializers.CharField()
    endpoint = serializers.CharField()
    created_at = serializers.DateTimeField()
    credits_charged = serializers.IntegerField()
    credits_remaining = serializers.IntegerField()
    result_url = serializers.CharField()


class PollSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["pending", "completed", "error"])
    result = serializers.DictField(
        allow_null=True,
        help_text='When completed: {"status": "success"|"error", "result": ..., "error": ..., '
        '"metadata": {...}}',
    )
    error = serializers.CharField(allow_null=True)
    message = serializers.CharField(allow_null=True)
    service = serializers.CharField()
    endpoint = serializers.CharField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(required=False)
    expires_at = serializers.DateTimeField(required=False)
    process_info = serializers.DictField(allow_null=True)


class AccountKeySerializer(serializers.Serializer):
    name = serializers.CharField()
    prefix = serializers.CharField()
    last_four = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    spend_cap = serializers.IntegerField(allow_null=True)
    credits_spent = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)


class AccountSerializer(serializers.Serializer):
    email = serializers.EmailField()
    status = serializers.CharField()
    balance = serializers.IntegerField()
    key = AccountKeySerializer()
    limits = serializers.DictField()


def _usage_row_fields() -> dict[str, serializers.Field]:
    return {
        "date": serializers.DateField(),
        "service": serializers.CharField(),
        "calls": serializers.IntegerField(),
        "errors": serializers.IntegerField(),
        "credits": serializers.IntegerField(),
    }


UsageSerializer = inline_serializer(
    "Usage",
    {
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "totals": serializers.DictField(),
        "days": inline_serializer("UsageDay", _usage_row_fields(), many=True),
    },
)
