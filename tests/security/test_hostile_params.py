"""Hostile values (NUL, a lone surrogate as sent on the wire, overlong, extreme dates, numbers
past any column, path tricks) in every path parameter of every route of the URL resolver, every
query parameter of the OpenAPI document, and every query parameter the console's pages use in
their own GET forms and links (found by reading the pages): never a 500; on the API, the error
envelope."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.ledger.actions import credits_add
from tests.factories import AccountFactory, ApiKeyFactory, UserFactory
from tests.routes import Route, all_routes

pytestmark = pytest.mark.django_db

# Already percent-encoded, as a client would put them in a URL.
HOSTILE = {
    "nul": "%00",
    "nul-inside": "abc%00def",
    "lone-surrogate": "%ED%A0%80",  # U+D800 in "UTF-8": what a client sends for a lone surrogate
    "invalid-utf8": "%FF%FE",
    "overlong": "x" * 3000,
    "date-min": "0001-01-01",
    "date-max": "9999-12-31",
    "date-zero": "0000-00-00",
    "superscript-digit": "%C2%B2",
    "huge-number": "9" * 40,
    "negative": "-1",
    "float": "1e309",
    "traversal": "..%2F..%2Fetc%2Fpasswd",
    "quote": "%27%22%3C%3E",
    "bom": "%EF%BB%BF",
}
API_PREFIX = "/api/v1/"


class _QueryNames(HTMLParser):
    """Names of the inputs of GET forms, and of the query parameters of links, on one page."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self._get_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self._get_form = (attributes.get("method") or "get").lower() == "get"
        elif tag in ("input", "select", "textarea") and self._get_form and attributes.get("name"):
            self.names.add(str(attributes["name"]))
        elif tag == "a" and "?" in (attributes.get("href") or ""):
            self.names.update(name for name, _ in parse_qsl(urlsplit(attributes["href"]).query))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._get_form = False


@pytest.fixture
def world(settings: Any) -> dict[str, Any]:
    """A staff user (sees every page) whose account owns one object of each kind."""
    settings.BREACT_POLL_RATE_LIMIT = "100000/m"
    settings.BREACT_DEFAULT_RATE_LIMIT = "100000/m"
    settings.BREACT_MAX_KEYS_PER_ACCOUNT = 100  # more keys than one page of the keys list
    user = UserFactory(is_staff=True, is_superuser=True)
    account = AccountFactory(owner=user, credits=1000)
    key = ApiKeyFactory(account=account)
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=key.raw)
    executed = api.post(
        "/api/v1/services/text_analyzer/analyze", {"text": "Some words."}, format="json"
    ).json()
    base = api.post("/api/v1/knowledge-bases", {"name": "Docs"}, format="json").json()
    document = api.post(
        f"/api/v1/knowledge-bases/{base['id']}/documents", {"content": "Notes."}, format="json"
    ).json()
    # More rows than one page of every list, so each pager renders its links (and so its
    # parameter is discovered below).
    for n in range(26):
        credits_add(account=account, amount=1, reference=f"battery-{n}")
    for _ in range(21):
        ApiKeyFactory(account=account)
        api.post("/api/v1/services/text_analyzer/analyze", {"text": "More words."}, format="json")
    page = Client()
    page.force_login(user)
    valid = {
        "process_id": executed["process_id"],
        "public_id": executed["process_id"],
        "kb_id": base["id"],
        "doc_id": document["id"],
        "pk": str(key.pk),
        "service_id": "text_analyzer",
        "endpoint": "analyze",
        "uidb64": "MQ",
        "token": "set-password",
        "object_id": str(account.pk),
        "app_label": "accounts",
    }
    return {
        "api": api,
        "page": page,
        "valid": valid,
        "token": executed["access_token"],
        "account_pk": str(account.pk),
    }


def _valid_values(route: Route, valid: dict[str, str], account_pk: str) -> dict[str, str]:
    """Real values for the route's parameters (a staff account page takes an account's pk)."""
    values = {name: valid.get(name, "1") for name in route.params}
    if "accounts/<int:pk>" in route.route:
        values["pk"] = account_pk
    return values


def _routes() -> list[Route]:
    return [r for r in all_routes() if not r.regex]


def _path_cases() -> list[tuple[Route, str]]:
    return [(route, param) for route in _routes() for param in route.params]


def _status(client: Any, method: str, url: str, *, api: bool) -> Any:
    if api:
        return getattr(client, method)(url, {} if method != "get" else None, format="json")
    return client.get(url)


def _assert_no_server_error(response: Any, url: str, *, api: bool) -> None:
    assert response.status_code < 500, f"{url} → {response.status_code}"
    if api and response.status_code >= 400:
        body = response.json()
        assert body["status"] == "error" and body["error"], url


def _methods(route: Route) -> list[str]:
    view_class = route.view_class
    if view_class is None:
        return ["get"]
    return [m for m in ("get", "post", "delete") if hasattr(view_class, m)] or ["get"]


@pytest.mark.parametrize(
    ("route", "param"), _path_cases(), ids=lambda value: getattr(value, "label", value)
)
def test_hostile_path_parameters_never_give_a_server_error(world, route, param):
    values = _valid_values(route, world["valid"], world["account_pk"])
    api = route.is_api
    client = world["api"] if api else world["page"]
    for label, hostile in HOSTILE.items():
        raw = {**values, param: "HOSTILE"}
        url = route.url(**raw).replace("HOSTILE", hostile)
        if route.name == "process-result":
            url += f"?access_token={world['token']}"
        for method in _methods(route) if api else ["get"]:
            response = _status(client, method, url, api=api)
            _assert_no_server_error(response, f"{method.upper()} {url} ({label})", api=api)


def _api_query_parameters(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (path, method, parameter["name"])
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query"
    ]


def test_hostile_query_parameters_of_the_api_never_give_a_server_error(world):
    document = world["api"].get("/api/v1/schema?format=json").json()
    cases = _api_query_parameters(document)
    assert {name for _, _, name in cases} >= {"from", "to", "service", "limit", "cursor"}
    valid = world["valid"]
    for path, method, name in cases:
        url = re.sub(r"\{(\w+)\}", lambda m: valid.get(m.group(1), "1"), path)
        for label, hostile in HOSTILE.items():
            query = f"{name}={hostile}"
            response = _status(world["api"], method, f"{url}?{query}", api=True)
            _assert_no_server_error(response, f"{method.upper()} {url}?{query} ({label})", api=True)


def _page_query_names(client: Client, url: str) -> set[str]:
    response = client.get(url)
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        return set()
    parser = _QueryNames()
    parser.feed(response.content.decode())
    return parser.names - {"csrfmiddlewaretoken"}


def test_hostile_query_parameters_of_the_pages_never_give_a_server_error(world):
    client, valid = world["page"], world["valid"]
    pages = [r for r in _routes() if not r.is_api and not r.route.startswith("admin/")]
    found: dict[str, set[str]] = {}
    for route in pages:
        url = route.url(**_valid_values(route, valid, world["account_pk"]))
        names = _page_query_names(client, url) | {"page"}
        found[route.label] = names
        for name in sorted(names):
            for label, hostile in HOSTILE.items():
                response = client.get(f"{url}?{name}={hostile}")
                _assert_no_server_error(response, f"{url}?{name}= ({label})", api=False)
    # The discovery found the filter forms' fields (not a hand-written list).
    assert {"from", "to", "key", "service", "status"} <= found["usage"]
    assert {"q"} <= found["staff-accounts"]
    assert {"account", "actor", "target"} <= found["staff-audit"]
    assert {"ledger_page", "processes_page", "keys_page"} <= found["staff-account"]
