"""The create_api_key and ensure_demo_user management commands."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.keys.selectors import api_key_verify
from accounts.ledger.selectors import ledger_total
from accounts.models import Account, ApiKey, LedgerEntry, User

pytestmark = pytest.mark.django_db


def _create_key(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _demo(*args: str) -> str:
    out = StringIO()
    call_command("ensure_demo_user", *args, stdout=out)
    return out.getvalue()


# --- create_api_key ---------------------------------------------------------------------------


def test_create_api_key_creates_user_account_grant_and_a_working_key():
    out, err = _create_key(
        "--email", "Ada@Example.com", "--credits", "100", "--name", "ci", "--rate-limit", "30/m"
    )

    raw = out.strip().splitlines()[-1]
    assert raw.startswith("brk_")
    key = api_key_verify(raw_key=raw)
    assert key.name == "ci"
    assert key.rate_limit == "30/m"
    assert key.account.owner.email == "ada@example.com"
    assert not key.account.owner.has_usable_password()
    assert key.account.balance == 100
    grant = LedgerEntry.objects.get(account=key.account)
    assert (grant.kind, grant.amount, grant.balance_after) == ("grant", 100, 100)
    assert ledger_total(account=key.account) == 100
    assert raw not in err  # the key goes to stdout only
    assert key.masked in err


def test_create_api_key_prints_the_key_alone_as_the_last_line():
    out, _ = _create_key("--email", "ada@example.com")

    last = out.rstrip("\n").split("\n")[-1]
    assert last == last.strip()
    assert " " not in last
    assert ApiKey.objects.get().prefix == last[: len(ApiKey.objects.get().prefix)]


def test_create_api_key_without_credits_writes_no_ledger_row():
    _create_key("--email", "ada@example.com")

    account = Account.objects.get(owner__email="ada@example.com")
    assert account.balance == 0
    assert not LedgerEntry.objects.filter(account=account).exists()


def test_second_call_for_the_same_email_adds_a_key_and_credits_to_the_same_account():
    first, _ = _create_key("--email", "ada@example.com", "--credits", "100", "--name", "one")
    second, _ = _create_key("--email", "ADA@example.com", "--credits", "50", "--name", "two")

    assert User.objects.count() == 1
    account = Account.objects.get()
    assert account.balance == 150 == ledger_total(account=account)
    assert sorted(account.api_keys.values_list("name", flat=True)) == ["one", "two"]
    first_key = api_key_verify(raw_key=first.strip().splitlines()[-1])
    second_key = api_key_verify(raw_key=second.strip().splitlines()[-1])
    assert first_key.pk != second_key.pk
    assert first_key.account_id == second_key.account_id == account.pk


def test_create_api_key_applies_scopes_spend_cap_and_expiry():
    out, _ = _create_key(
        "--email",
        "ada@example.com",
        "--scopes",
        "text_analyzer, summary,",
        "--spend-cap",
        "25",
        "--expires-in-days",
        "7",
    )

    key = api_key_verify(raw_key=out.strip().splitlines()[-1])
    assert key.scopes == ["summary", "text_analyzer"]
    assert key.spend_cap == 25
    assert key.expires_at is not None


@pytest.mark.parametrize("email", ["not-an-email", "ada@", "@example.com", ""])
def test_create_api_key_refuses_a_bad_email(email):
    with pytest.raises(CommandError):
        _create_key("--email", email, "--credits", "10")

    assert not User.objects.exists()
    assert not ApiKey.objects.exists()


def test_create_api_key_refuses_negative_credits():
    with pytest.raises(CommandError):
        _create_key("--email", "ada@example.com", "--credits", "-5")

    assert not User.objects.exists()


def test_create_api_key_refuses_a_bad_rate_limit_and_grants_nothing():
    with pytest.raises(CommandError):
        _create_key("--email", "ada@example.com", "--credits", "100", "--rate-limit", "lots")

    assert not ApiKey.objects.exists()
    assert not LedgerEntry.objects.exists()
    assert not User.objects.exists()


def test_create_api_key_at_the_key_cap_is_refused_and_grants_nothing(settings):
    settings.BREACT_MAX_KEYS_PER_ACCOUNT = 2
    for _ in range(2):
        _create_key("--email", "cap@example.com")

    with pytest.raises(CommandError, match="already has 2 active API keys"):
        _create_key("--email", "cap@example.com", "--credits", "50")

    account = Account.objects.get(owner__email="cap@example.com")
    assert ApiKey.objects.filter(account=account).count() == 2
    assert ledger_total(account=account) == 0


def test_create_api_key_refuses_a_non_positive_expiry():
    with pytest.raises(CommandError):
        _create_key("--email", "ada@example.com", "--expires-in-days", "0")

    assert not ApiKey.objects.exists()


# --- ensure_demo_user -------------------------------------------------------------------------


def test_ensure_demo_user_prints_a_working_password_once_then_never_again():
    first = _demo()
    password = next(
        line.split(":", 1)[1].strip() for line in first.splitlines() if "password:" in line
    )
    second = _demo()

    user = User.objects.get(email="demo@breact.local")
    assert user.is_staff and user.is_superuser
    assert user.check_password(password)
    assert password not in second
    assert "password:" not in second
    assert "demo@breact.local" in second
    assert User.objects.count() == 1


def test_ensure_demo_user_grants_credits_once():
    _demo()
    _demo()

    account = Account.objects.get(owner__email="demo@breact.local")
    assert account.balance == 1000 == ledger_total(account=account)
    assert LedgerEntry.objects.filter(account=account).count() == 1


def test_ensure_demo_user_with_a_mixed_case_email_is_idempotent():
    first = _demo("--email", "Demo@Example.com")
    second = _demo("--email", "Demo@Example.com")

    assert "password:" in first
    assert "password:" not in second
    assert User.objects.filter(email="demo@example.com").count() == 1


def test_reset_demo_user_prints_a_new_working_password():
    first = _demo()
    old = next(line.split(":", 1)[1].strip() for line in first.splitlines() if "password:" in line)
    out = StringIO()
    call_command("reset_demo_user", stdout=out)
    new = next(
        line.split(":", 1)[1].strip() for line in out.getvalue().splitlines() if "password:" in line
    )

    user = User.objects.get(email="demo@breact.local")
    assert new != old
    assert user.check_password(new)
    assert not user.check_password(old)
    assert LedgerEntry.objects.filter(account__owner=user).count() == 1  # no second grant
