"""Schema violations read as short sentences, in the API envelope and the playground alike:
no regular expression, no JSON Schema internals."""

from __future__ import annotations

import pytest

from accounts.models import LedgerEntry
from services.models import Process

pytestmark = pytest.mark.django_db

SCRAPE = "/api/v1/services/webscraper/scrape"
ANALYZE = "/api/v1/services/text_analyzer/analyze"


def _errors(response) -> dict[str, str]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "BAD_REQUEST"
    return {e["path"]: e["message"] for e in body["details"]["errors"]}


def test_url_of_another_scheme_says_http_or_https(keyed_client):
    response = keyed_client.post(SCRAPE, {"url": "ftp://example"}, format="json")

    errors = _errors(response)
    assert errors == {"url": "must start with http:// or https://"}
    body = response.json()
    assert "url: must start with http:// or https://" in body["message"]
    assert "^[Hh]" not in response.content.decode()
    assert not Process.objects.exists()


def test_bad_email_sender_is_one_short_sentence(keyed_client):
    message = {
        "sender": "not an address",
        "recipient": "team@example.com",
        "subject": "Hello",
        "content": "Hello there.",
        "timestamp": "2026-01-05T10:00:00Z",
    }
    response = keyed_client.post(
        "/api/v1/services/email_response/analyze_thread",
        {"email_thread": [message]},
        format="json",
    )

    errors = _errors(response)
    assert errors == {
        "email_thread[0].sender": "must be an email address, or several separated by commas"
    }
    assert len(response.json()["message"]) < 160


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_empty_text_is_refused_and_charges_nothing(keyed_client, key, text):
    balance = key.account.balance

    response = keyed_client.post(ANALYZE, {"text": text}, format="json")

    assert _errors(response) == {"text": "must not be empty or only spaces"}
    key.account.refresh_from_db()
    assert key.account.balance == balance
    assert not LedgerEntry.objects.filter(account=key.account, kind="charge").exists()
    assert not Process.objects.exists()


@pytest.mark.parametrize(
    ("params", "path", "message"),
    [
        ({"text": "fine", "top_words": "ten"}, "top_words", "must be a whole number"),
        ({"text": "fine", "top_words": 500}, "top_words", "must be 100 or less"),
        ({"text": "fine", "top_words": -1}, "top_words", "must be 0 or more"),
        ({"text": 5}, "text", "must be text"),
    ],
)
def test_type_and_range_messages_are_sentences(keyed_client, params, path, message):
    response = keyed_client.post(ANALYZE, params, format="json")

    assert _errors(response)[path] == message
