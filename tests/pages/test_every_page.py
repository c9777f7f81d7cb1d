"""Every page the console and staff serve, rendered for real: no template comment leaks into
the HTML (`{#` … `#}` only works on one line), and every page has the shared header."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.keys.actions import api_key_create, console_key_for
from accounts.models import Account
from services.catalogue.registry import all_services
from services.catalogue.selectors import endpoint_resolve
from services.execution import actions
from tests.factories import AccountFactory, UserFactory
from tests.routes import all_routes

pytestmark = pytest.mark.django_db

# Routes that are not HTML pages a browser shows (API, files, redirects, admin).
NOT_PAGES = ("api/", "admin/", "stripe/", "__")


def _values(staff: Any) -> dict[str, str]:
    """A real object of a staff user's account for each path parameter."""
    account = Account.objects.filter(owner=staff).first() or AccountFactory(owner=staff, credits=10)
    key, _raw = api_key_create(account=account, name="page key", actor=staff)
    resolved = endpoint_resolve(service_id="text_analyzer", endpoint="analyze")
    started = actions.process_start(
        api_key=console_key_for(account=account), resolved=resolved, params={"text": "Hi."}
    )
    return {
        "pk": str(key.pk),
        "public_id": started.process.public_id,
        "service_id": "text_analyzer",
    }


def page_urls(staff: Any) -> list[str]:
    """The GET URL of every page route, its parameters filled with the staff user's objects."""
    values = _values(staff)
    urls = []
    for route in all_routes():
        if route.regex or route.route.startswith(NOT_PAGES) or route.route.endswith(".csv"):
            continue
        if not set(route.params) <= set(values):
            continue
        urls.append(route.url(**{name: values[name] for name in route.params}))
    urls += [f"/services/{service_id}/" for service_id in all_services()]
    return sorted(set(urls))


def test_no_page_prints_a_template_comment():
    staff = UserFactory(is_staff=True)
    client = Client()
    client.force_login(staff)
    checked = []
    for url in page_urls(staff):
        response = client.get(url)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        html = response.content.decode()
        assert "{#" not in html and "#}" not in html, f"{url} prints a template comment"
        checked.append(url)
    for url in ("/login/", "/signup/", "/password-reset/"):
        html = Client().get(url).content.decode()
        assert "{#" not in html, f"{url} prints a template comment"
    assert {"/usage/", "/staff/audit/", "/keys/", "/staff/"} <= set(checked)
    assert len(checked) >= 20, checked


def test_api_docs_link_back_to_the_console(client):
    html = client.get("/api/docs").content.decode()

    assert '<a href="/"' in html and "Back to BReact Console" in html
    assert 'id="swagger-ui"' in html  # still the API reference below the link
