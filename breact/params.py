"""The one check every path and query value passes before a view sees it: no NUL, no lone
surrogate, nothing overlong (no database stores the first two; none of our ids or filters is
near the limit). API requests get the error envelope (404 for a path, 400 for a query value),
pages a 404 or a 400 page that names the parameter."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from breact.errors import BadRequest, NotFound

# A path segment longer than this names nothing (ids are ~30 characters).
MAX_PATH_SEGMENT_CHARS = 255
# A query value or name longer than this is refused (filters, tokens and cursors are far shorter).
MAX_QUERY_VALUE_CHARS = 1024

# "Has a character that is not whitespace", spelled out so that Python (str.strip, re's \s) and
# ECMA regular expressions (OpenAPI clients, JSON Schema tools) agree on what is blank.
NOT_BLANK_PATTERN = (
    r"[^\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
)

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ASCII_INT = re.compile(r"[0-9]{1,18}")


def value_problem(value: str, *, limit: int = MAX_QUERY_VALUE_CHARS) -> str | None:
    """Why `value` cannot reach the database, or None."""
    match = _UNSTORABLE.search(value)
    if match:
        return (
            "contains a NUL character"
            if match.group() == "\x00"
            else "contains an unpaired surrogate"
        )
    if len(value) > limit:
        return f"is longer than {limit} characters"
    return None


def ascii_int(value: str) -> int | None:
    """`value` as an int when it is 1 to 18 ASCII digits (fits a bigint), else None.
    str.isdigit() is not enough: it is true for "²", which int() refuses."""
    return int(value) if _ASCII_INT.fullmatch(value) else None


def path_problem(path: str) -> str | None:
    for segment in path.split("/"):
        problem = value_problem(segment, limit=MAX_PATH_SEGMENT_CHARS)
        if problem:
            return f"a path segment {problem}"
    return None


def query_problems(request: HttpRequest) -> list[dict[str, str]]:
    """{path, message} for each query parameter (name or value) that cannot be used."""
    errors = []
    for name, values in request.GET.lists():
        problem = value_problem(name) or next(
            (p for p in map(value_problem, values) if p is not None), None
        )
        if problem:
            shown = name if value_problem(name) is None else ""
            errors.append({"path": shown, "message": f"The query parameter {problem}."})
    return errors


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


class InputGuardMiddleware:
    """Refuses unusable path and query values before any view or database sees them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if path_problem(request.path):
            if _is_api(request):
                from services.api.errors import error_response

                return error_response(
                    request, NotFound("There is no such resource: the path cannot name one.")
                )
            raise Http404("The path cannot name a page.")
        errors = query_problems(request)
        if errors:
            if _is_api(request):
                from services.api.errors import error_response

                message = " ".join(
                    f"{e['path']}: {e['message']}" if e["path"] else e["message"] for e in errors
                )
                return error_response(
                    request,
                    BadRequest(
                        f"The query string cannot be used. {message}", details={"errors": errors}
                    ),
                )
            return render(request, "bad_request.html", {"errors": errors}, status=400)
        return self.get_response(request)
