"""The console's own 404, 403 (CSRF), 429 and 500 pages when debug is off; the API keeps its
error envelope."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing_urls(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.pages.error_urls"


def test_an_unknown_page_gets_the_consoles_404(page_client, settings):
    settings.DEBUG = False

    response = page_client.get("/no/such/page/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "This page does not exist" in html
    assert 'data-status="404"' in html
    assert "Go to your home page" in html  # signed in: a way back
    assert "Traceback" not in html and "Django" not in html


def test_a_visitor_on_a_missing_page_is_offered_the_login(settings):
    settings.DEBUG = False

    html = Client().get("/no/such/page/").content.decode()

    assert "This page does not exist" in html
    assert 'href="/login/"' in html


def test_a_form_posted_without_its_csrf_token_gets_the_expired_form_page(settings):
    settings.DEBUG = False
    client = Client(enforce_csrf_checks=True)

    response = client.post("/login/", {"email": "a@example.com", "password": "x"})

    assert response.status_code == 403
    html = response.content.decode()
    assert "This form has expired" in html
    assert "Nothing was changed" in html


def test_a_bug_gets_the_consoles_500_page(failing_urls):
    response = Client(raise_request_exception=False).get("/broken/")

    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert "a bug" not in html and "Traceback" not in html


def test_a_throttled_page_gets_429(failing_urls):
    response = Client().get("/throttled/")

    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert "Too many requests" in response.content.decode()


def test_the_api_keeps_its_envelope_for_the_same_failures(failing_urls):
    missing = Client().get("/api/v1/nothing-here")
    broken = Client(raise_request_exception=False).get("/api/v1/broken")

    assert missing.status_code == 404
    assert missing.json()["error"] == "NOT_FOUND"
    assert broken.status_code == 500
    assert broken.json()["error"] == "INTERNAL_ERROR"
