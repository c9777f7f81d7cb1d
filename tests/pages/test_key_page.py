"""A key's own page: its calls, credits and errors, recent requests, and editing its settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.keys.actions import api_key_revoke
from accounts.models import ApiKey, AuditEvent
from services.models import UsageLog
from tests.factories import AccountFactory, ApiKeyFactory, charge_logged_calls

pytestmark = pytest.mark.django_db


def _log(account: Any, key: ApiKey, **fields: Any) -> UsageLog:
    values: dict[str, Any] = {
        "method": "POST",
        "route": "api/v1/services/summary/<str:endpoint>",
        "service_id": "summary",
        "endpoint": "summarize",
        "status_code": 202,
        "duration_ms": 5,
        "credits": 2,
        "process_id": "",
        "error_code": "",
        "created_at": timezone.now(),
    }
    values.update(fields)
    return UsageLog.objects.create(account=account, api_key=key, **values)


def _form(key: ApiKey, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": key.name,
        "scopes": list(key.scopes),
        "rate_limit": key.rate_limit,
        "spend_cap": key.spend_cap or "",
    }
    data.update(changes)
    return data


def test_key_page_shows_its_own_calls_credits_and_errors(page_client: Client, account: Any):
    key = ApiKeyFactory(account=account, name="server")
    other_key = ApiKeyFactory(account=account, name="laptop")
    first = _log(account, key)
    _log(account, key, status_code=402, error_code="INSUFFICIENT_CREDITS", credits=0)
    _log(account, key, method="GET", route="api/v1/services/result/<str:process_id>", credits=0)
    _log(account, other_key, credits=9)
    _log(account, key, created_at=timezone.now() - timedelta(days=40))
    charge_logged_calls(account)  # credits spent come from the ledger's charges
    first.refresh_from_db()

    response = page_client.get(f"/keys/{key.pk}/")
    html = response.content.decode()

    assert response.status_code == 200
    assert response.context["totals"] == {"requests": 3, "calls": 2, "errors": 1, "credits": 2}
    assert 'id="key-calls">2<' in html and 'id="key-credits">2<' in html
    assert 'id="key-errors">1<' in html
    assert f'href="/playground/runs/{first.process_id}/"' in html
    assert "summary · summarize (result poll)" in html
    assert f"&amp;key={key.pk}" in html


def test_keys_list_links_to_each_key_page(page_client: Client, account: Any):
    key = ApiKeyFactory(account=account)

    html = page_client.get("/keys/").content.decode()

    assert f'href="/keys/{key.pk}/"' in html


@pytest.mark.parametrize("whose", ["other", "console", "missing"])
def test_another_accounts_key_a_console_key_and_a_missing_key_answer_404(
    page_client: Client, account: Any, whose: str
):
    from accounts.keys.actions import console_key_for

    if whose == "other":
        pk = ApiKeyFactory(account=AccountFactory()).pk
    elif whose == "console":
        pk = console_key_for(account=account).pk
    else:
        pk = 999_999
    assert page_client.get(f"/keys/{pk}/").status_code == 404
    assert page_client.post(f"/keys/{pk}/", {"name": "x"}).status_code == 404


def test_anonymous_is_sent_to_login(client: Client, account: Any):
    key = ApiKeyFactory(account=account)

    response = client.get(f"/keys/{key.pk}/")

    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_editing_saves_and_is_audited(page_client: Client, account: Any):
    key = ApiKeyFactory(account=account, name="old")

    response = page_client.post(
        f"/keys/{key.pk}/",
        _form(key, name="new name", scopes=["summary"], rate_limit="5/m", spend_cap="40"),
    )

    assert response.status_code == 302 and response["Location"] == f"/keys/{key.pk}/"
    key.refresh_from_db()
    assert (key.name, key.scopes, key.rate_limit, key.spend_cap) == (
        "new name",
        ["summary"],
        "5/m",
        40,
    )
    event = AuditEvent.objects.get(action="api_key.update")
    assert event.actor == account.owner and event.after["name"] == "new name"
    page = page_client.get(f"/keys/{key.pk}/").content.decode()
    assert "Saved the settings" in page


def test_cap_below_spent_is_a_form_error(page_client: Client, account: Any):
    key = ApiKeyFactory(account=account, spend_cap=100)
    ApiKey.objects.filter(pk=key.pk).update(credits_spent=30)

    response = page_client.post(f"/keys/{key.pk}/", _form(key, spend_cap="10"))
    html = response.content.decode()

    assert response.status_code == 200
    assert "already spent 30" in html and 'aria-invalid="true"' in html
    key.refresh_from_db()
    assert key.spend_cap == 100
    assert not AuditEvent.objects.filter(action="api_key.update").exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"rate_limit": "lots"}, "rate_limit"),
        ({"scopes": ["nope"]}, "scopes"),
    ],
)
def test_bad_input_is_a_form_error_not_a_500(
    page_client: Client, account: Any, changes: dict[str, Any], field: str
):
    key = ApiKeyFactory(account=account)

    response = page_client.post(f"/keys/{key.pk}/", _form(key, **changes))

    assert response.status_code == 200
    assert response.context["form"].errors[field]


def test_a_revoked_key_shows_its_usage_but_no_form(page_client: Client, account: Any):
    key = ApiKeyFactory(account=account)
    api_key_revoke(api_key=key)

    html = page_client.get(f"/keys/{key.pk}/").content.decode()
    posted = page_client.post(f"/keys/{key.pk}/", _form(key, name="again"))

    assert 'id="key-not-editable"' in html and 'id="key-edit-form"' not in html
    assert posted.status_code == 200
    key.refresh_from_db()
    assert key.name != "again"
