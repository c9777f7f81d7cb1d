"""What the v1 API's resource views share (knowledge bases, webhooks): strict string input,
body validation into the contract's BAD_REQUEST, newest-first cursor pages and their OpenAPI
parameters, the delete answer and the usual error responses."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from breact.errors import BadRequest
from breact.params import ascii_int
from services.api import serializers as out


class StrictCharField(serializers.CharField):
    """A string and nothing else: DRF's CharField would turn 0 or true into "0" or "True"."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return str(super().to_internal_value(data))


def validated(serializer_class: type[serializers.Serializer], data: dict[str, Any]) -> Any:
    """The serializer's validated data, or BadRequest listing each {path, message}."""
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return serializer.validated_data
    errors = [
        {"path": field, "message": str(message)}
        for field, messages in serializer.errors.items()
        for message in messages
    ]
    raise BadRequest(
        "The body is not valid: " + "; ".join(f"{e['path']}: {e['message']}" for e in errors),
        details={"errors": errors},
    )


def page_serializer(name: str, item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    return type(
        name,
        (serializers.Serializer,),
        {
            "results": item(many=True),
            "next": serializers.URLField(allow_null=True, help_text="The next page, or null."),
            "previous": serializers.URLField(allow_null=True),
        },
    )


class DeletedSerializer(serializers.Serializer):
    id = serializers.CharField()
    deleted = serializers.BooleanField(default=True)


MAX_CURSOR_CHARS = 200


class NewestFirst(CursorPagination):
    """Cursor pages, newest first: `limit` (1–100, default 20) and the opaque `cursor`. A
    `limit` that is not such a number, or a cursor this API did not hand out, is BAD_REQUEST."""

    ordering = ("-created_at", "-id")
    page_size = 20
    page_size_query_param = "limit"
    max_page_size = 100

    def get_page_size(self, request: Any) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = ascii_int(raw)
        if size is None or not 1 <= size <= self.max_page_size:
            raise BadRequest(
                f"limit must be a whole number from 1 to {self.max_page_size}.",
                details={"errors": [{"path": "limit", "message": "expected 1 to 100"}]},
            )
        return size

    def decode_cursor(self, request: Any) -> Any:
        raw = request.query_params.get(self.cursor_query_param) or ""
        if len(raw) > MAX_CURSOR_CHARS:
            raise BadRequest(
                f"cursor is longer than {MAX_CURSOR_CHARS} characters; use a page's next or "
                "previous link.",
                details={"errors": [{"path": "cursor", "message": "too long"}]},
            )
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise BadRequest(
                "cursor is not one this API handed out; use a page's next or previous link.",
                details={"errors": [{"path": "cursor", "message": "invalid cursor"}]},
            ) from None


def newest_first_page(view: Any, queryset: Any, body: Any) -> Response:
    """One NewestFirst page of `queryset` for `view`'s request, each item shaped by `body`."""
    paginator = NewestFirst()
    items = paginator.paginate_queryset(queryset, view.request, view=view) or []
    return paginator.get_paginated_response([body(item) for item in items])


PAGE_PARAMETERS = [
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": NewestFirst.max_page_size},
        OpenApiParameter.QUERY,
        description=f"Items per page, 1 to {NewestFirst.max_page_size} (default "
        f"{NewestFirst.page_size}).",
    ),
    OpenApiParameter(
        "cursor",
        {"type": "string", "maxLength": MAX_CURSOR_CHARS},
        OpenApiParameter.QUERY,
        description="From a previous page's next/previous link.",
    ),
]
ERRORS = {
    400: out.ErrorSerializer,
    403: out.ErrorSerializer,
    404: out.ErrorSerializer,
    429: out.ErrorSerializer,
}
