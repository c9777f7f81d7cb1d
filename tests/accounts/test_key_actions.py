"""Editing a key's settings: one conditional update, audited with before and after."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.keys.actions import api_key_revoke, api_key_update
from accounts.models import ApiKey, AuditEvent
from breact.errors import BadRequest
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db


def _update(key: ApiKey, **changes: object) -> ApiKey:
    values = {"name": key.name, "scopes": key.scopes, "rate_limit": key.rate_limit}
    values["spend_cap"] = key.spend_cap
    values.update(changes)
    return api_key_update(api_key=key, **values)  # type: ignore[arg-type]


def test_update_changes_the_settings_and_audits_before_and_after(account):
    key = ApiKeyFactory(account=account, name="old")

    api_key_update(
        api_key=key,
        name=" new ",
        scopes=["summary"],
        rate_limit="10/m",
        spend_cap=50,
        actor=account.owner,
        ip="127.0.0.1",
    )

    key.refresh_from_db()
    assert (key.name, key.scopes, key.rate_limit, key.spend_cap) == ("new", ["summary"], "10/m", 50)
    event = AuditEvent.objects.get(action="api_key.update")
    assert event.actor == account.owner and event.account_id == account.pk
    assert event.target_id == str(key.pk) and event.ip == "127.0.0.1"
    assert event.before["name"] == "old" and event.before["spend_cap"] is None
    assert event.after["name"] == "new" and event.after["scopes"] == ["summary"]
    assert event.after["rate_limit"] == "10/m" and event.after["spend_cap"] == 50
    assert "key_hash" not in event.after


def test_saving_without_changes_records_nothing(account):
    key = ApiKeyFactory(account=account)

    _update(key)

    assert not AuditEvent.objects.filter(action="api_key.update").exists()


def test_cap_below_what_the_key_spent_is_refused_and_nothing_changes(account):
    key = ApiKeyFactory(account=account, spend_cap=100)
    ApiKey.objects.filter(pk=key.pk).update(credits_spent=30)

    with pytest.raises(BadRequest, match="already spent 30"):
        _update(key, spend_cap=29, name="renamed")

    key.refresh_from_db()
    assert key.spend_cap == 100 and key.name != "renamed"
    _update(key, spend_cap=30)
    key.refresh_from_db()
    assert key.spend_cap == 30


def test_a_revoked_key_cannot_be_changed(account):
    key = ApiKeyFactory(account=account)
    api_key_revoke(api_key=key)

    with pytest.raises(BadRequest, match="revoked"):
        _update(key, name="again")

    assert not AuditEvent.objects.filter(action="api_key.update").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"name": "  "}, "name"), ({"rate_limit": "fast"}, "fast"), ({"spend_cap": -1}, "negative")],
)
def test_bad_settings_are_refused(account, changes, message):
    key = ApiKeyFactory(account=account)

    with pytest.raises(BadRequest, match=message):
        _update(key, **changes)


def test_removing_the_cap_and_scopes_is_allowed(account):
    key = ApiKeyFactory(account=account, spend_cap=10, scopes=["summary"])

    _update(key, spend_cap=None, scopes=[])

    key.refresh_from_db()
    assert key.spend_cap is None and key.scopes == []
    assert key.revoked_at is None and key.created_at <= timezone.now()
