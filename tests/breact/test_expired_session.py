"""An expired session during an htmx request or a form post sends the browser to the login page
(as a page, not swapped into a form) and, after logging in, back where the user was."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from services.models import Process

pytestmark = pytest.mark.django_db

HOST = "http://testserver"


def _login_target(url: str) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(url)
    return parts.path, parse_qs(parts.query)


@pytest.mark.parametrize(
    ("url", "page", "data"),
    [
        ("/keys/new/", "/keys/", {"name": "typed"}),
        ("/playground/run/", "/playground/?service=summary&endpoint=summarize", {"p.text": "x"}),
        ("/keys/1/revoke/", "/keys/", {}),
    ],
)
def test_htmx_post_without_a_session_gets_401_and_a_redirect_for_the_whole_page(url, page, data):
    response = Client().post(url, data, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=HOST + page)

    assert response.status_code == 401
    assert response.content == b""  # nothing to swap into the form
    path, query = _login_target(response["HX-Redirect"])
    assert path == "/login/"
    assert query == {"next": [page], "expired": ["1"]}


def test_form_post_without_a_session_returns_to_the_page_not_the_post_url():
    response = Client().post("/playground/run/", {}, HTTP_REFERER=HOST + "/playground/")

    assert response.status_code == 302
    path, query = _login_target(response["Location"])
    assert (path, query["next"]) == ("/login/", ["/playground/"])
    assert not Process.objects.exists()


def test_another_sites_current_url_is_not_a_return_address():
    response = Client().post(
        "/keys/new/", {}, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="https://evil.example/x"
    )

    assert _login_target(response["HX-Redirect"])[1]["next"] == ["/keys/new/"]


def test_plain_page_visit_keeps_djangos_redirect():
    response = Client().get("/usage/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/usage/"


def test_logging_in_from_the_expired_redirect_returns_to_the_page(account):
    account.owner.set_password("pw-for-the-test-123")
    account.owner.save()
    client = Client()
    expired = client.post(
        "/keys/new/", {}, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=HOST + "/keys/"
    )
    login_page = client.get(expired["HX-Redirect"])
    assert "Your session has expired" in login_page.content.decode()

    response = client.post(
        expired["HX-Redirect"],
        {"login": account.owner.email, "password": "pw-for-the-test-123", "next": "/keys/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/keys/"
