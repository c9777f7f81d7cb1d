"""Every URL under /staff/, found by walking the URL resolver (not listed by hand), refuses
anonymous visitors (log-in redirect) and logged-in non-staff users (403), for GET and POST, and
writes nothing either way. A new staff view is covered the day its URL is added."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Account
from services.models import ModelProvider
from tests.factories import AccountFactory, ApiKeyFactory, process_make
from tests.routes import Route, all_routes

pytestmark = pytest.mark.django_db

# Staff URLs known today (accounts: 9, services: 8); the walk must find at least these, so it
# cannot pass by finding nothing. Raise it when staff pages are added.
KNOWN_STAFF_URLS = 17
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def _staff_routes() -> list[Route]:
    return [route for route in all_routes() if route.route.startswith("staff/")]


@pytest.fixture
def objects() -> dict[str, Any]:
    """Real rows for the converters to point at, so a view that forgot its guard would act on
    something (and the no-write assertion would catch it)."""
    target = AccountFactory(credits=100)
    key = ApiKeyFactory(account=target)
    process = process_make(target, state="completed", credits=5, key=key)
    provider = ModelProvider.objects.create(
        model_id="gpt-4o", base_url="https://llm.example.com/v1", api_key="sk-walk"
    )
    return {"account": target, "key": key, "process": process, "provider": provider}


def _url(route: Route, objects: dict[str, Any]) -> str:
    """A concrete URL for `route`: its parameters filled with the ids of real rows."""
    section = route.route.removeprefix("staff/").split("/", 1)[0]
    pk = {"accounts": "account", "keys": "key", "models": "provider"}.get(section)
    by_name = {
        "public_id": objects["process"].public_id,
        "service_id": "text_analyzer",
        "endpoint": "analyze",
        "pk": objects[pk].pk if pk else 1,
    }
    return route.url(**{name: str(by_name.get(name, "x")) for name in route.params})


_POST_DATA = {
    "amount": "5",
    "reason": "walk",
    "nonce": "n" * 24,
    "status": "disabled",
    "price": "0",
    "enabled": "on",
    "model_id": "m",
    "base_url": "https://evil.example.com/v1",
    "api_key": "sk-x",
}


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if _WRITE.match(q["sql"])]


def test_the_walk_finds_every_known_staff_url() -> None:
    routes = _staff_routes()
    assert len(routes) >= KNOWN_STAFF_URLS, [route.route for route in routes]
    names = {route.name for route in routes}
    assert {"staff-overview", "staff-accounts", "staff-audit", "staff-providers"} <= names


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_staff_url_sends_an_anonymous_visitor_to_log_in(
    method: str, objects: dict[str, Any]
) -> None:
    client = Client()
    login = reverse("account_login")
    for route in _staff_routes():
        url = _url(route, objects)
        with CaptureQueriesContext(connection) as queries:
            response = getattr(client, method)(url, _POST_DATA if method == "post" else None)
        assert response.status_code == 302, route.label
        assert response["Location"].startswith(login), route.label
        assert not _writes(queries), route.label


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_staff_url_is_forbidden_to_a_logged_in_non_staff_user(
    method: str, objects: dict[str, Any], page_client: Client, account: Account
) -> None:
    assert not account.owner.is_staff
    for route in _staff_routes():
        url = _url(route, objects)
        with CaptureQueriesContext(connection) as queries:
            response = getattr(page_client, method)(url, _POST_DATA if method == "post" else None)
        assert response.status_code in (403, 404), route.label
        assert not _writes(queries), route.label
    target = objects["account"]
    target.refresh_from_db()
    objects["key"].refresh_from_db()
    assert target.is_active and target.balance == 95
    assert objects["key"].revoked_at is None
    assert ModelProvider.objects.filter(pk=objects["provider"].pk).exists()
