"""Text that is only whitespace is no text: every endpoint that takes text refuses it like an
empty string, in the error envelope, before anything is charged or started (defect #16)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from accounts.ledger.selectors import account_balance
from accounts.models import LedgerEntry
from services.catalogue.registry import all_services
from services.models import Process

pytestmark = pytest.mark.django_db

BLANK = "   \n\t"

# (service, endpoint, the text parameter made blank, the error's path). Every endpoint of the
# catalogue is listed: a new one has to say here which of its parameters is its text.
CASES = [
    ("classifier", "process", "content", "content"),
    ("email_response", "analyze_thread", "email_thread[].content", "email_thread[0].content"),
    ("email_response", "generate_response", "email_thread[].content", "email_thread[0].content"),
    ("information_tracker", "process", "content", "content"),
    ("information_tracker", "extract_information", "text", "text"),
    ("knowledge_service", "process", "content", "content"),
    ("summary", "summarize", "text", "text"),
    ("target_analyzer", "process", "content", "content"),
    ("target_analyzer", "analyze_targets", "text", "text"),
    ("target_generator", "process", "content", "content"),
    ("text_analyzer", "analyze", "text", "text"),
    ("webscraper", "scrape", "url", "url"),
]


def _blanked(example: dict[str, Any], field: str) -> dict[str, Any]:
    """The endpoint's documented example with `field` (every message's, for "x[].y") blank."""
    params = copy.deepcopy(example)
    if "[]." in field:
        array, name = field.split("[].")
        for item in params[array]:
            item[name] = BLANK
    else:
        params[field] = BLANK
    return params


def test_every_endpoint_of_the_catalogue_has_a_case():
    endpoints = {(s.id, name) for s in all_services().values() for name in s.endpoints}

    assert endpoints == {(service, endpoint) for service, endpoint, _, _ in CASES}


@pytest.mark.parametrize(("service", "endpoint", "field", "path"), CASES)
def test_whitespace_only_text_is_refused_and_charges_nothing(
    keyed_client, key, assert_error, service, endpoint, field, path
):
    example = all_services()[service].endpoints[endpoint].example
    balance = account_balance(account=key.account)

    response = keyed_client.post(
        f"/api/v1/services/{service}/{endpoint}", _blanked(example, field), format="json"
    )

    body = assert_error(response, 400, "BAD_REQUEST")
    assert path in {error["path"] for error in body["details"]["errors"]}
    assert account_balance(account=key.account) == balance
    assert not LedgerEntry.objects.filter(account=key.account, kind="charge").exists()
    assert not Process.objects.exists()
