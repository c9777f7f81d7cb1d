"""The API keys pages: list, create (the raw key shown exactly once), revoke, roll."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.keys.actions import api_key_roll, console_key_for
from accounts.models import Account, ApiKey
from services.models import UsageLog
from tests.factories import AccountFactory, ApiKeyFactory

pytestmark = pytest.mark.django_db

RAW_KEY = re.compile(r"brk_[A-Za-z0-9]{40}")


def _api_status(raw_key: str) -> int:
    return Client().get("/api/v1/account", HTTP_X_API_KEY=raw_key).status_code


def _create(page_client: Client, **data: Any) -> Any:
    return page_client.post(reverse("key-create"), {"name": "ci", **data})


def _raw_key_from(response: Any) -> str:
    found = RAW_KEY.findall(response.content.decode())
    assert len(set(found)) == 1, found
    return str(found[0])


def _log(key: ApiKey, *, days_ago: float = 0, method: str = "POST", service: str = "summary"):
    return UsageLog.objects.create(
        api_key=key,
        account_id=key.account_id,
        method=method,
        route="/api/v1/services/x/y",
        service_id=service,
        endpoint="process" if service else "",
        status_code=202,
        duration_ms=5,
        created_at=timezone.now() - timedelta(days=days_ago),
    )


# --- login, ownership, CSRF --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, args, method",
    [
        ("keys", [], "get"),
        ("key-create", [], "get"),
        ("key-create", [], "post"),
        ("key-revoke", [1], "get"),
        ("key-revoke", [1], "post"),
        ("key-roll", [1], "get"),
        ("key-roll", [1], "post"),
    ],
)
def test_key_pages_require_login(name, args, method):
    url = reverse(name, args=args)
    response = getattr(Client(), method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("name", ["key-revoke", "key-roll"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_accounts_key_answers_404_and_stays_usable(page_client, name, method):
    other = ApiKeyFactory()
    response = getattr(page_client, method)(reverse(name, args=[other.pk]), {"grace": "none"})
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None and other.expires_at is None
    assert ApiKey.objects.filter(account=other.account).count() == 1


@pytest.mark.parametrize("name", ["key-revoke", "key-roll"])
def test_console_and_missing_keys_answer_404(page_client, account, name):
    console = console_key_for(account=account)
    assert page_client.get(reverse(name, args=[console.pk])).status_code == 404
    assert page_client.post(reverse(name, args=[console.pk]), {"grace": "none"}).status_code == 404
    assert page_client.get(reverse(name, args=[999_999])).status_code == 404
    console.refresh_from_db()
    assert console.revoked_at is None


def test_key_posts_enforce_csrf(account):
    key = ApiKeyFactory(account=account)
    client = Client(enforce_csrf_checks=True)
    client.force_login(account.owner)
    assert client.post(reverse("key-create"), {"name": "x"}).status_code == 403
    assert client.post(reverse("key-revoke", args=[key.pk])).status_code == 403
    assert client.post(reverse("key-roll", args=[key.pk]), {"grace": "none"}).status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None
    assert ApiKey.objects.filter(account=account).count() == 1


def test_create_form_post_with_the_page_csrf_token_succeeds(account):
    client = Client(enforce_csrf_checks=True)
    client.force_login(account.owner)
    page = client.get(reverse("key-create"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token
    response = client.post(
        reverse("key-create"), {"name": "x", "csrfmiddlewaretoken": token.group(1)}
    )
    assert response.status_code == 200
    assert ApiKey.objects.filter(account=account, name="x").exists()


# --- list ------------------------------------------------------------------------------------


def test_keys_page_lists_own_keys_masked_but_not_console_or_other_accounts_keys(
    page_client, account
):
    mine = ApiKeyFactory(account=account, name="production server")
    console = console_key_for(account=account)
    theirs = ApiKeyFactory(name="someone else's")
    response = page_client.get(reverse("keys"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "production server" in html
    assert f"{mine.prefix}…{mine.last_four}" in html
    assert mine.raw not in html  # type: ignore[attr-defined]
    assert console.prefix not in html
    assert theirs.prefix not in html and "someone else" not in html


def test_keys_page_counts_each_keys_service_calls_of_the_last_7_days(
    page_client, account, django_assert_max_num_queries
):
    busy, idle = ApiKeyFactory(account=account), ApiKeyFactory(account=account)
    for _ in range(3):
        _log(busy, days_ago=1)
    _log(busy, days_ago=8)  # too old
    _log(busy, method="GET", service="")  # a poll or account read is not a call
    response = page_client.get(reverse("keys"))
    rows = response.context["rows"]
    calls = {row.key.pk: row.calls for row in rows}
    assert calls == {busy.pk: 3, idle.pk: 0}


def test_keys_page_shows_a_status_badge_per_key(page_client, account):
    now = timezone.now()
    ApiKeyFactory(account=account, name="fine")
    ApiKeyFactory(account=account, name="soon", expires_at=now + timedelta(days=2))
    ApiKeyFactory(account=account, name="later", expires_at=now + timedelta(days=30))
    expired = ApiKeyFactory(account=account, name="old", expires_at=now + timedelta(days=1))
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=now - timedelta(hours=1))
    revoked = ApiKeyFactory(account=account, name="gone")
    ApiKey.objects.filter(pk=revoked.pk).update(revoked_at=now)
    response = page_client.get(reverse("keys"))
    statuses = {row.key.name: row.status for row in response.context["rows"]}
    assert statuses == {
        "fine": "active",
        "soon": "expires_soon",
        "later": "active",
        "old": "expired",
        "gone": "revoked",
    }
    html = response.content.decode()
    assert 'data-status="revoked"' in html and "Expires soon" in html
    # Revoked and expired keys offer neither roll nor revoke.
    assert f'id="key-revoke-{revoked.pk}"' not in html
    assert f'id="key-roll-{expired.pk}"' not in html


def test_keys_page_paginates(page_client, account, settings):
    settings.BREACT_MAX_KEYS_PER_ACCOUNT = 30
    for index in range(23):
        ApiKeyFactory(account=account, name=f"k{index:02d}")
    first = page_client.get(reverse("keys"))
    assert len(first.context["rows"]) == 20
    assert "?page=2" in first.content.decode()
    second = page_client.get(reverse("keys"), {"page": 2})
    assert [row.key.name for row in second.context["rows"]] == ["k02", "k01", "k00"]


def test_keys_page_htmx_returns_only_the_table(page_client, account):
    ApiKeyFactory(account=account, name="partial")
    response = page_client.get(reverse("keys"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="key-table"' in html and "partial" in html


def test_keys_page_without_keys_shows_an_empty_state(page_client):
    response = page_client.get(reverse("keys"))
    assert 'id="keys-empty"' in response.content.decode()


# --- create ----------------------------------------------------------------------------------


def test_create_form_offers_the_catalogue_services_as_scopes(page_client):
    response = page_client.get(reverse("key-create"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="key-create-form"' in html
    assert 'name="scopes" value="summary"' in html
    assert 'name="scopes" value="text_analyzer"' in html


def test_created_key_is_shown_once_on_a_never_cached_page(page_client, account):
    response = _create(page_client, name="laptop")
    assert response.status_code == 200  # rendered in the POST response, no redirect
    raw = _raw_key_from(response)
    html = response.content.decode()
    cache_control = response["Cache-Control"]
    for directive in ("no-cache", "no-store", "must-revalidate", "private"):
        assert directive in cache_control
    assert 'hx-history="false"' in html
    assert 'data-copy="#new-key"' in html
    assert "won't be shown again" in html
    key = ApiKey.objects.get(account=account, name="laptop")
    assert raw.startswith(key.prefix) and raw.endswith(key.last_four)
    assert raw not in str(ApiKey.objects.filter(pk=key.pk).values().get())
    # Nothing later shows it: not the list, not the form, not a reload, not the session.
    for url in (reverse("keys"), reverse("key-create"), reverse("key-roll", args=[key.pk])):
        assert raw not in page_client.get(url).content.decode()
    assert raw not in str(dict(page_client.session.items()))


def test_created_key_works_against_the_api(page_client, account):
    raw = _raw_key_from(_create(page_client))
    response = Client().get("/api/v1/account", HTTP_X_API_KEY=raw)
    assert response.status_code == 200
    assert response.json()["email"] == account.owner.email


def test_create_stores_expiry_scopes_rate_limit_and_spend_cap(page_client, account):
    before = timezone.now()
    _create(
        page_client,
        name="scoped",
        expires_in="30",
        scopes=["summary", "text_analyzer"],
        rate_limit="30/m",
        spend_cap="250",
    )
    key = ApiKey.objects.get(account=account, name="scoped")
    assert key.scopes == ["summary", "text_analyzer"]
    assert key.rate_limit == "30/m" and key.spend_cap == 250
    assert key.expires_at is not None
    assert before + timedelta(days=30) <= key.expires_at <= timezone.now() + timedelta(days=30)


def test_create_with_a_date_expires_at_the_end_of_that_day(page_client, account):
    day = timezone.localdate() + timedelta(days=3)
    _create(page_client, name="dated", expires_in="date", expires_on=day.isoformat())
    key = ApiKey.objects.get(account=account, name="dated")
    assert key.expires_at is not None
    assert timezone.localtime(key.expires_at).date() == day + timedelta(days=1)
    assert timezone.localtime(key.expires_at).hour == 0


def test_create_accepts_a_key_rate_equal_to_the_accounts(page_client, account):
    # The default account rate is 60/m; 1/s is the same number of requests per second.
    response = _create(page_client, name="same speed", rate_limit="1/s")
    assert response.status_code == 200
    assert ApiKey.objects.get(account=account, name="same speed").rate_limit == "1/s"


def test_create_compares_against_the_accounts_own_rate(page_client, account):
    Account.objects.filter(pk=account.pk).update(rate_limit="120/m")
    ok = _create(page_client, name="two a second", rate_limit="2/s")
    assert ApiKey.objects.filter(name="two a second").exists(), ok.content
    refused = _create(page_client, name="three a second", rate_limit="3/s")
    assert "faster than your account" in refused.content.decode()
    assert not ApiKey.objects.filter(name="three a second").exists()


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"rate_limit": "lots"}, "rate_limit", "is not a rate"),
        ({"rate_limit": "0/m"}, "rate_limit", "at least one request"),
        ({"rate_limit": "100/s"}, "rate_limit", "faster than your account"),
        ({"spend_cap": "0"}, "spend_cap", "greater than or equal to 1"),
        ({"spend_cap": "-5"}, "spend_cap", "greater than or equal to 1"),
        ({"name": "   "}, "name", ""),
        ({"expires_in": "date"}, "expires_on", "Pick the date"),
        ({"expires_on": "2000-01-01"}, "expires_on", "after today"),
        ({"expires_in": "7", "expires_on": "2999-01-01"}, "expires_on", "not both"),
        ({"expires_in": "5"}, "expires_in", "not one of the available choices"),
        ({"scopes": ["no_such_service"]}, "scopes", "not one of the available choices"),
    ],
)
def test_create_with_bad_input_shows_the_error_and_writes_nothing(
    page_client, account, data, field, message
):
    response = _create(page_client, **data)
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors
    assert message in " ".join(form.errors[field])
    html = response.content.decode()
    assert 'class="errorlist' in html
    assert not RAW_KEY.search(html)
    assert not ApiKey.objects.filter(account=account).exists()


def test_create_over_htmx_answers_with_partials(page_client, account):
    bad = page_client.post(
        reverse("key-create"), {"name": "x", "spend_cap": "0"}, HTTP_HX_REQUEST="true"
    )
    assert "<html" not in bad.content.decode()
    assert 'id="key-create-form"' in bad.content.decode()
    good = page_client.post(reverse("key-create"), {"name": "x"}, HTTP_HX_REQUEST="true")
    html = good.content.decode()
    assert "<html" not in html
    assert 'id="key-once"' in html and 'hx-history="false"' in html
    assert "no-store" in good["Cache-Control"]
    assert ApiKey.objects.filter(account=account).count() == 1


# --- revoke ----------------------------------------------------------------------------------


def test_revoke_asks_for_confirmation_first(page_client, account):
    key = ApiKeyFactory(account=account, name="ci box")
    response = page_client.get(reverse("key-revoke", args=[key.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="key-revoke-form"' in html and key.masked in html
    key.refresh_from_db()
    assert key.revoked_at is None


def test_revoked_key_is_refused_by_the_api(page_client, account):
    key = ApiKeyFactory(account=account)
    assert _api_status(key.raw) == 200  # type: ignore[attr-defined]
    response = page_client.post(reverse("key-revoke", args=[key.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("keys")
    assert "Revoked" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert _api_status(key.raw) == 401  # type: ignore[attr-defined]


def test_revoke_over_htmx_returns_the_table_with_the_message(page_client, account):
    key = ApiKeyFactory(account=account, name="htmx key")
    response = page_client.post(reverse("key-revoke", args=[key.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html and 'id="key-table"' in html
    assert "Revoked" in html and 'data-status="revoked"' in html


# --- roll ------------------------------------------------------------------------------------


def test_roll_page_offers_the_grace_periods(page_client, account):
    key = ApiKeyFactory(account=account)
    html = page_client.get(reverse("key-roll", args=[key.pk])).content.decode()
    for value in ("none", "1h", "24h", "7d"):
        assert f'value="{value}"' in html
    assert ApiKey.objects.filter(account=account).count() == 1


def test_roll_with_grace_keeps_the_old_key_until_it_expires(page_client, account):
    old = ApiKeyFactory(
        account=account, name="server", scopes=["summary"], rate_limit="30/m", spend_cap=500
    )
    before = timezone.now()
    response = page_client.post(reverse("key-roll", args=[old.pk]), {"grace": "24h"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert 'hx-history="false"' in response.content.decode()
    raw = _raw_key_from(response)
    new = ApiKey.objects.exclude(pk=old.pk).get(account=account)
    assert (new.name, new.scopes, new.rate_limit, new.spend_cap) == (
        "server",
        ["summary"],
        "30/m",
        500,
    )
    old.refresh_from_db()
    assert old.revoked_at is None and old.expires_at is not None
    assert before + timedelta(hours=24) <= old.expires_at <= timezone.now() + timedelta(hours=24)
    assert _api_status(raw) == 200
    assert _api_status(old.raw) == 200  # type: ignore[attr-defined]
    ApiKey.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _api_status(old.raw) == 401  # type: ignore[attr-defined]
    assert _api_status(raw) == 200
    assert raw not in page_client.get(reverse("keys")).content.decode()


def test_roll_without_grace_revokes_the_old_key_now(page_client, account):
    old = ApiKeyFactory(account=account)
    response = page_client.post(reverse("key-roll", args=[old.pk]), {"grace": "none"})
    raw = _raw_key_from(response)
    assert _api_status(old.raw) == 401  # type: ignore[attr-defined]
    assert _api_status(raw) == 200


def test_roll_of_a_revoked_key_is_refused(page_client, account):
    old = ApiKeyFactory(account=account)
    ApiKey.objects.filter(pk=old.pk).update(revoked_at=timezone.now())
    response = page_client.post(reverse("key-roll", args=[old.pk]), {"grace": "1h"}, follow=True)
    assert "cannot be rolled" in response.content.decode()
    assert ApiKey.objects.filter(account=account).count() == 1


def test_roll_with_an_unknown_grace_period_shows_an_error(page_client, account):
    old = ApiKeyFactory(account=account)
    response = page_client.post(reverse("key-roll", args=[old.pk]), {"grace": "forever"})
    assert response.status_code == 200
    assert "grace" in response.context["form"].errors
    assert ApiKey.objects.filter(account=account).count() == 1


def test_roll_never_extends_an_earlier_expiry():
    soon = timezone.now() + timedelta(hours=2)
    old = ApiKeyFactory(expires_at=soon)
    new, _raw = api_key_roll(api_key=old, grace=timedelta(days=7))
    old.refresh_from_db()
    assert old.expires_at == soon
    assert new.expires_at == soon  # the replacement keeps the key's expiry


def test_roll_of_another_accounts_key_leaves_my_keys_alone(page_client, account):
    mine = ApiKeyFactory(account=account)
    other = ApiKeyFactory(account=AccountFactory())
    assert (
        page_client.post(reverse("key-roll", args=[other.pk]), {"grace": "none"}).status_code == 404
    )
    assert ApiKey.objects.filter(account=account).count() == 1
    mine.refresh_from_db()
    assert mine.revoked_at is None


# --- the cap on keys per account ----------------------------------------------------------------


def test_create_at_the_key_cap_shows_a_clear_error_and_makes_no_key(page_client, account, settings):
    settings.BREACT_MAX_KEYS_PER_ACCOUNT = 3
    for _ in range(3):
        assert RAW_KEY.search(_create(page_client).content.decode())

    response = _create(page_client, name="one too many")

    html = response.content.decode()
    assert response.status_code == 200
    assert "already has 3 active API keys, the most allowed (3)" in html
    assert "Revoke a key" in html
    assert not RAW_KEY.search(html)
    assert ApiKey.objects.filter(account=account, is_console=False).count() == 3


def test_revoked_expired_and_console_keys_leave_room_under_the_cap(page_client, account, settings):
    settings.BREACT_MAX_KEYS_PER_ACCOUNT = 2
    console_key_for(account=account)
    revoked = ApiKeyFactory(account=account)
    page_client.post(reverse("key-revoke", args=[revoked.pk]))
    expired = ApiKeyFactory(account=account)
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))

    statuses = [bool(RAW_KEY.search(_create(page_client).content.decode())) for _ in range(3)]

    assert statuses == [True, True, False]


def test_a_roll_at_the_key_cap_still_replaces_the_key(page_client, account, settings):
    settings.BREACT_MAX_KEYS_PER_ACCOUNT = 1
    key = ApiKeyFactory(account=account)

    response = page_client.post(reverse("key-roll", args=[key.pk]), {"grace": "1h"})

    assert RAW_KEY.search(response.content.decode())
