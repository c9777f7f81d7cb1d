"""Migration 0008 on a database as 0007 left it: every account becomes an organisation named
after its owner, with its owner as Owner and its keys recorded as theirs; nothing is lost."""

from __future__ import annotations

import pytest

from tests.support import migrate_to, migrate_to_latest

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("accounts", "0007_ledger_verbose_name")]
AFTER = [("accounts", "0008_organisations")]


@pytest.fixture(autouse=True)
def _latest_schema_afterwards():
    """Every later test needs the whole schema back (the later migrations too)."""
    yield
    migrate_to_latest()


def test_every_account_becomes_an_organisation_with_its_owner_as_owner():
    old = migrate_to(BEFORE)
    User = old.get_model("accounts", "User")
    Account = old.get_model("accounts", "Account")
    ApiKey = old.get_model("accounts", "ApiKey")
    LedgerEntry = old.get_model("accounts", "LedgerEntry")
    accounts = []
    for n in range(3):
        user = User.objects.create(email=f"old{n}@example.com", password="!")
        account = Account.objects.create(owner=user, balance=10 * n)
        if n:
            LedgerEntry.objects.create(
                account=account, kind="grant", amount=10 * n, balance_after=10 * n
            )
        ApiKey.objects.create(
            account=account,
            name=f"k{n}",
            prefix=f"brk_old{n}",
            key_hash="0" * 64,
            last_four="abcd",
        )
        accounts.append(account.pk)
    loose = User.objects.create(email="no-account@example.com", password="!")

    new = migrate_to(AFTER)
    Account = new.get_model("accounts", "Account")
    Membership = new.get_model("accounts", "Membership")
    ApiKey = new.get_model("accounts", "ApiKey")
    LedgerEntry = new.get_model("accounts", "LedgerEntry")
    for n, pk in enumerate(accounts):
        account = Account.objects.get(pk=pk)
        assert account.name == f"old{n}@example.com"
        assert account.balance == 10 * n
        members = list(Membership.objects.filter(account=account).values_list("user_id", "role"))
        assert members == [(account.owner_id, "owner")]
        key = ApiKey.objects.get(account=account)
        assert key.created_by_id == account.owner_id
    assert LedgerEntry.objects.count() == 2
    assert not Membership.objects.filter(user_id=loose.pk).exists()

    # Down and up again gives the same organisations.
    migrate_to(BEFORE)
    migrate_to(AFTER)
    assert Membership.objects.count() == 3
