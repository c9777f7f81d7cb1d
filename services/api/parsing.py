"""Reading a JSON body: media type, size limit, strict UTF-8 JSON, bounded depth, an object at
the top."""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from breact.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def json_problem(value: Any, limit: int) -> str | None:
    """Why the parsed body cannot be accepted, or None: nesting deeper than `limit`, or a
    string (value or key) with a NUL or a lone surrogate, which no database stores as JSON."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return "a string contains a NUL character or an unpaired surrogate"
            continue
        if isinstance(item, dict):
            children: list[Any] = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return f"nested deeper than {limit} levels"
        stack.extend((child, depth + 1) for child in children)
    return None


JSON_MEDIA_TYPE = "application/json"


def check_json_media_type(request: HttpRequest) -> None:
    """Refuse a body that is not declared as UTF-8 JSON: UnsupportedMediaType (415) for another
    media type or charset. A request without a body needs no Content-Type."""
    declared = request.META.get("CONTENT_TYPE", "")
    media_type = request.content_type or ""
    if media_type.lower() != JSON_MEDIA_TYPE:
        shown = f"Content-Type {declared!r}" if declared else "no Content-Type"
        raise UnsupportedMediaType(
            f"The body must be JSON sent as Content-Type: {JSON_MEDIA_TYPE}; the request had "
            f"{shown}.",
            details={"supported": [JSON_MEDIA_TYPE]},
        )
    charset = (request.content_params or {}).get("charset")
    if charset is not None and charset.strip().strip('"').lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(
            f"JSON bodies must be UTF-8; the request declared charset={charset!r}. Send "
            f"Content-Type: {JSON_MEDIA_TYPE} (UTF-8 is the default).",
            details={"supported": [JSON_MEDIA_TYPE]},
        )


def json_object_from(request: HttpRequest) -> dict[str, Any]:
    """The body as a JSON object, or PayloadTooLarge / UnsupportedMediaType / BadRequest with a
    reason. An empty body is an empty object."""
    limit = settings.BREACT_MAX_BODY_BYTES
    too_large = PayloadTooLarge(
        f"The request body is over the limit of {limit} bytes.", details={"limit": limit}
    )
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise too_large
    try:
        raw = request.body
    except RequestDataTooBig:
        raise too_large from None
    if len(raw) > limit:
        raise too_large
    if not raw.strip():
        return {}
    check_json_media_type(request)
    if raw.startswith(b"\xef\xbb\xbf"):
        raise BadRequest(
            "The body starts with a byte order mark; send UTF-8 JSON without one.",
            details={"errors": [{"path": "$", "message": "byte order mark"}]},
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"The body is not UTF-8 (byte {exc.start}); JSON bodies must be UTF-8.",
            details={"errors": [{"path": "$", "message": "not UTF-8"}]},
        ) from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise BadRequest(
            "The JSON body is nested too deeply.",
            details={"errors": [{"path": "$", "message": "nested too deeply"}]},
        ) from None
    except ValueError as exc:
        raise BadRequest(
            f"The body is not valid JSON: {exc}.",
            details={"errors": [{"path": "$", "message": str(exc)}]},
        ) from None
    problem = json_problem(data, settings.BREACT_MAX_JSON_DEPTH)
    if problem:
        raise BadRequest(
            f"The JSON body cannot be accepted: {problem}.",
            details={"errors": [{"path": "$", "message": problem}]},
        )
    if not isinstance(data, dict):
        raise BadRequest(
            "The body must be a JSON object of the endpoint's parameters.",
            details={
                "errors": [
                    {"path": "$", "message": f"expected an object, got {type(data).__name__}"}
                ]
            },
        )
    return data
