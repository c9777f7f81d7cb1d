"""Every route of the project, discovered from the URL resolver (not listed by hand), for the
tests that must cover each one: object access across accounts, and hostile parameter values."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

WRITE_METHODS = ("post", "put", "patch", "delete")
_PLACEHOLDER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


@dataclass(frozen=True)
class Route:
    """One URL pattern: its full route ("api/v1/knowledge-bases/<str:kb_id>"), name, view and
    path parameters ({name: converter name}); `regex` when it is a regular expression."""

    route: str
    name: str
    view: Any
    params: dict[str, str] = field(default_factory=dict)
    regex: bool = False

    @property
    def label(self) -> str:
        return self.name or self.route

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    def url(self, **values: str) -> str:
        """The path with each parameter replaced by `values[name]`, percent-encoded."""
        assert not self.regex, f"{self.label} is a regular expression"
        return "/" + _PLACEHOLDER.sub(
            lambda m: quote(str(values[m.group("name")]), safe=""), self.route
        )

    @property
    def view_class(self) -> Any:
        return getattr(self.view, "view_class", None) or getattr(self.view, "cls", None)


def _walk(patterns: list[Any], prefix: str, regex: bool) -> Iterator[Route]:
    for entry in patterns:
        pattern = entry.pattern
        is_regex = regex or isinstance(pattern, RegexPattern)
        text = str(pattern)
        if isinstance(pattern, RegexPattern):
            text = text.lstrip("^").rstrip("$")
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + text, is_regex)
        elif isinstance(entry, URLPattern):
            route = prefix + text
            if is_regex:
                params = {name: "regex" for name in re.compile(route).groupindex}
            else:
                params = {
                    m.group("name"): m.group("converter") or "str"
                    for m in _PLACEHOLDER.finditer(route)
                }
            assert isinstance(pattern, (RoutePattern, RegexPattern))
            yield Route(
                route=route,
                name=entry.name or "",
                view=entry.callback,
                params=params,
                regex=is_regex,
            )


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns, "", False))
