"""Business rules of API keys and the credit ledger (accounts.keys and accounts.ledger)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.keys import actions
from accounts.keys.actions import (
    KEY_LENGTH,
    PREFIX_LENGTH,
    api_key_create,
    api_key_hash,
    api_key_revoke,
)
from accounts.keys.selectors import api_key_verify
from accounts.ledger.actions import credits_add, credits_charge, credits_refund
from accounts.ledger.selectors import account_balance, ledger_total
from accounts.models import Account, ApiKey, LedgerEntry
from breact.errors import BadRequest, Forbidden, InsufficientCredits, Unauthorized
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db


def _spent(key: ApiKey) -> int:
    key.refresh_from_db(fields=["credits_spent"])
    return key.credits_spent


# --- api_key_create -------------------------------------------------------------------------


def test_created_key_has_the_brk_prefix_and_full_length():
    key, raw = api_key_create(account=AccountFactory(), name="ci")

    assert raw.startswith("brk_")
    assert len(raw) == KEY_LENGTH == 44
    assert raw[4:].isalnum() and raw.isascii()
    assert key.prefix == raw[:PREFIX_LENGTH]
    assert key.last_four == raw[-4:]
    assert key.masked == f"{raw[:PREFIX_LENGTH]}…{raw[-4:]}"
    assert key.name == "ci"


def test_created_key_stores_only_an_hmac_and_the_raw_key_is_in_no_column():
    key, raw = api_key_create(account=AccountFactory(), name="ci")
    secret_part = raw[PREFIX_LENGTH:]

    row = ApiKey.objects.filter(pk=key.pk).values().get()
    assert row["key_hash"] == api_key_hash(raw)
    assert len(row["key_hash"]) == 64
    for column, value in row.items():
        assert raw not in str(value), column
        assert secret_part not in str(value), column


def test_created_keys_have_distinct_prefixes_and_secrets(settings):
    settings.BREACT_MAX_KEYS_PER_ACCOUNT = 30
    account = AccountFactory()
    created = [api_key_create(account=account, name=f"k{i}") for i in range(30)]

    assert len({key.prefix for key, _ in created}) == 30
    assert len({raw for _, raw in created}) == 30


def test_a_prefix_collision_draws_a_new_prefix(monkeypatch):
    account = AccountFactory()
    draws = iter(["AAAAAAAA", "s" * 32, "AAAAAAAA", "t" * 32, "BBBBBBBB", "u" * 32])
    monkeypatch.setattr(actions, "_random", lambda length: next(draws))

    first, _ = api_key_create(account=account, name="one")
    second, raw = api_key_create(account=account, name="two")

    assert first.prefix == "brk_AAAAAAAA"
    assert second.prefix == "brk_BBBBBBBB"
    assert raw == "brk_BBBBBBBB" + "u" * 32
    assert ApiKey.objects.filter(account=account).count() == 2


def test_key_creation_gives_up_after_repeated_prefix_collisions(monkeypatch):
    account = AccountFactory()
    api_key_create(account=account, name="taken")
    taken = ApiKey.objects.get(account=account).prefix[len("brk_") :]
    monkeypatch.setattr(actions, "_random", lambda length: taken if length == 8 else "x" * length)

    with pytest.raises(RuntimeError):
        api_key_create(account=account, name="never")

    assert ApiKey.objects.filter(account=account).count() == 1


@pytest.mark.parametrize("rate", ["lots", "60", "60/x", "60/M", "60/m/x", " 60/m", "0/m", "-5/m"])
def test_key_with_a_bad_rate_string_is_refused(rate):
    account = AccountFactory()

    with pytest.raises(BadRequest):
        api_key_create(account=account, name="ci", rate_limit=rate)

    assert not ApiKey.objects.filter(account=account).exists()


@pytest.mark.parametrize("rate", ["60/m", "1000/h", "10/5s", "5/d"])
def test_key_with_a_good_rate_string_is_created(rate):
    key, _ = api_key_create(account=AccountFactory(), name="ci", rate_limit=rate)

    assert ApiKey.objects.get(pk=key.pk).rate_limit == rate


def test_key_with_a_negative_spend_cap_is_refused():
    account = AccountFactory()

    with pytest.raises(BadRequest):
        api_key_create(account=account, name="ci", spend_cap=-1)

    assert not ApiKey.objects.filter(account=account).exists()


def test_key_scopes_are_stored_sorted_and_deduplicated():
    key, _ = api_key_create(
        account=AccountFactory(), name="ci", scopes=["summary", "text_analyzer", "summary"]
    )

    assert key.scopes == ["summary", "text_analyzer"]
    assert key.allows_service("summary")
    assert not key.allows_service("translate")


# --- api_key_verify ---------------------------------------------------------------------------


def test_valid_key_verifies_in_exactly_one_query(make_key, django_assert_num_queries):
    issued = make_key()

    with django_assert_num_queries(1):
        key = api_key_verify(raw_key=issued.raw)
        owner_email = key.account.owner.email  # already loaded: no further query

    assert key.pk == issued.pk
    assert owner_email == issued.account.owner.email


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: "",
        lambda raw: "not-a-key",
        lambda raw: raw[:-1],
        lambda raw: raw + "x",
        lambda raw: "brk-" + raw[4:],
        lambda raw: raw[:-1] + "!",
        lambda raw: " " + raw,
        lambda raw: raw.upper().replace("BRK_", "XYZ_"),
    ],
)
def test_malformed_key_is_unauthorized_without_a_query(make_key, django_assert_num_queries, mangle):
    issued = make_key()

    with django_assert_num_queries(0), pytest.raises(Unauthorized):
        api_key_verify(raw_key=mangle(issued.raw))


def test_unknown_key_is_unauthorized(db):
    with pytest.raises(Unauthorized):
        api_key_verify(raw_key="brk_" + "Z" * 40)


def test_right_prefix_with_a_wrong_secret_is_unauthorized(make_key):
    issued = make_key()
    other_secret = "a" * 32 if not issued.raw.endswith("a" * 32) else "b" * 32

    with pytest.raises(Unauthorized):
        api_key_verify(raw_key=issued.raw[:PREFIX_LENGTH] + other_secret)


def test_revoked_key_is_unauthorized(make_key):
    issued = make_key()
    api_key_revoke(api_key=issued)

    with pytest.raises(Unauthorized):
        api_key_verify(raw_key=issued.raw)


def test_expired_key_is_unauthorized(make_key):
    issued = make_key(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(Unauthorized):
        api_key_verify(raw_key=issued.raw)


def test_key_not_yet_expired_verifies(make_key):
    issued = make_key(expires_at=timezone.now() + timedelta(days=1))

    assert api_key_verify(raw_key=issued.raw).pk == issued.pk


def test_every_unauthorized_case_gives_the_same_message(make_key):
    revoked = make_key()
    api_key_revoke(api_key=revoked)
    expired = make_key(expires_at=timezone.now() - timedelta(seconds=1))
    valid = make_key()
    candidates = [
        "garbage",
        "brk_" + "Q" * 40,
        valid.raw[:PREFIX_LENGTH] + "c" * 32,
        revoked.raw,
        expired.raw,
    ]

    messages = set()
    for raw in candidates:
        with pytest.raises(Unauthorized) as caught:
            api_key_verify(raw_key=raw)
        messages.add(caught.value.message)

    assert len(messages) == 1


def test_key_of_a_disabled_account_is_forbidden(make_key):
    issued = make_key()
    Account.objects.filter(pk=issued.account_id).update(status=Account.Status.DISABLED)

    with pytest.raises(Forbidden):
        api_key_verify(raw_key=issued.raw)


def test_key_of_an_inactive_user_is_forbidden(make_key):
    issued = make_key()
    owner = issued.account.owner
    owner.is_active = False
    owner.save(update_fields=["is_active"])

    with pytest.raises(Forbidden):
        api_key_verify(raw_key=issued.raw)


# --- api_key_revoke ---------------------------------------------------------------------------


def test_revoking_twice_keeps_the_first_revocation_time(make_key):
    issued = make_key()

    first = api_key_revoke(api_key=issued).revoked_at
    again = api_key_revoke(api_key=ApiKey.objects.get(pk=issued.pk)).revoked_at

    assert first is not None
    assert again == first
    assert ApiKey.objects.get(pk=issued.pk).revoked_at == first
    assert not ApiKey.objects.usable().filter(pk=issued.pk).exists()


# --- credits_add ------------------------------------------------------------------------------


def test_adding_credits_writes_a_ledger_row_with_the_new_balance():
    account = AccountFactory(credits=10)
    actor = UserFactory()

    entry = credits_add(
        account=account,
        amount=25,
        kind=LedgerEntry.Kind.TOPUP,
        reference="pay_123",
        actor=actor,
        reason="Card payment",
    )

    assert account_balance(account=account) == 35
    assert account.balance == 35
    entry.refresh_from_db()
    assert (entry.kind, entry.amount, entry.balance_after) == ("topup", 25, 35)
    assert (entry.reference, entry.actor, entry.reason) == ("pay_123", actor, "Card payment")
    assert LedgerEntry.objects.filter(account=account).count() == 2


@pytest.mark.parametrize("amount", [0, -1, -100])
def test_adding_a_non_positive_amount_is_refused(amount):
    account = AccountFactory(credits=10)

    with pytest.raises(BadRequest):
        credits_add(account=account, amount=amount)

    assert account_balance(account=account) == 10
    assert LedgerEntry.objects.filter(account=account).count() == 1


# --- credits_charge ---------------------------------------------------------------------------


def test_charging_takes_the_price_and_records_it(make_key, make_process):
    key = make_key(credits=10)
    process = make_process(key, credits=4)

    entry = credits_charge(process=process)

    assert account_balance(account=key.account) == 6
    assert (entry.kind, entry.amount, entry.balance_after) == ("charge", -4, 6)
    assert entry.process == process
    assert entry.api_key_id == key.pk
    assert entry.reference == process.public_id
    assert _spent(key) == 4


def test_charging_the_whole_balance_leaves_zero(make_key, make_process):
    key = make_key(credits=5)

    credits_charge(process=make_process(key, credits=5))

    assert account_balance(account=key.account) == 0


def test_charging_more_than_the_balance_is_refused_and_changes_nothing(make_key, make_process):
    key = make_key(credits=5)
    process = make_process(key, credits=6)

    with pytest.raises(InsufficientCredits) as caught:
        credits_charge(process=process)

    assert (caught.value.required, caught.value.balance) == (6, 5)
    assert caught.value.details == {"required": 6, "balance": 5}
    assert account_balance(account=key.account) == 5
    assert not LedgerEntry.objects.filter(process=process).exists()
    assert _spent(key) == 0


def test_balance_never_goes_below_zero_over_many_charges(make_key, make_process):
    key = make_key(credits=10)

    charged = 0
    for _ in range(6):
        try:
            credits_charge(process=make_process(key, credits=3))
            charged += 1
        except InsufficientCredits:
            pass

    assert charged == 3
    assert account_balance(account=key.account) == 1
    assert ledger_total(account=key.account) == 1


def test_charge_past_the_key_spend_cap_is_refused_and_the_account_is_not_charged(
    make_key, make_process
):
    key = make_key(credits=100, spend_cap=5)
    credits_charge(process=make_process(key, credits=3))
    refused = make_process(key, credits=3)

    with pytest.raises(InsufficientCredits) as caught:
        credits_charge(process=refused)

    assert caught.value.required == 3
    assert caught.value.balance == 2  # what the cap still allows
    assert "spend cap" in caught.value.message
    assert account_balance(account=key.account) == 97
    assert _spent(key) == 3
    assert not LedgerEntry.objects.filter(process=refused).exists()


def test_charge_up_to_the_spend_cap_exactly_is_allowed(make_key, make_process):
    key = make_key(credits=100, spend_cap=6)

    credits_charge(process=make_process(key, credits=3))
    credits_charge(process=make_process(key, credits=3))

    assert _spent(key) == 6
    assert account_balance(account=key.account) == 94


def test_spend_cap_of_one_key_does_not_limit_another_key(make_key, make_process):
    capped = make_key(credits=100, spend_cap=0)
    other = make_key(account=capped.account)

    with pytest.raises(InsufficientCredits):
        credits_charge(process=make_process(capped, credits=1))
    credits_charge(process=make_process(other, credits=1))

    assert account_balance(account=capped.account) == 99


def test_a_process_is_charged_at_most_once(make_key, make_process):
    key = make_key(credits=10)
    process = make_process(key, credits=4)
    credits_charge(process=process)

    with pytest.raises(IntegrityError):
        credits_charge(process=process)

    assert account_balance(account=key.account) == 6
    assert _spent(key) == 4
    assert LedgerEntry.objects.filter(process=process, kind="charge").count() == 1


def test_a_process_without_a_key_is_charged_to_its_account(make_key, make_process):
    key = make_key(credits=10)
    process = make_process(key, credits=2)
    process.api_key = None
    process.save(update_fields=["api_key"])

    entry = credits_charge(process=process)

    assert entry.api_key_id is None
    assert account_balance(account=key.account) == 8


# --- credits_refund ---------------------------------------------------------------------------


def test_refund_restores_the_balance_and_the_key_spend(make_key, make_process):
    key = make_key(credits=10, spend_cap=5)
    process = make_process(key, credits=4)
    credits_charge(process=process)

    entry = credits_refund(process=process, reason="service error")

    assert entry is not None
    assert (entry.kind, entry.amount, entry.balance_after) == ("refund", 4, 10)
    assert entry.reason == "service error"
    assert account_balance(account=key.account) == 10
    assert _spent(key) == 0


def test_refund_happens_exactly_once_when_called_twice(make_key, make_process):
    key = make_key(credits=10)
    process = make_process(key, credits=4)
    credits_charge(process=process)

    first = credits_refund(process=process, reason="one")
    second = credits_refund(process=process, reason="two")

    assert first is not None
    assert second is None
    assert account_balance(account=key.account) == 10
    assert _spent(key) == 0
    assert LedgerEntry.objects.filter(process=process, kind="refund").count() == 1
    assert ledger_total(account=key.account) == 10


def test_refund_of_an_uncharged_process_does_nothing(make_key, make_process):
    key = make_key(credits=10)
    process = make_process(key, credits=4)

    assert credits_refund(process=process, reason="nothing") is None
    assert account_balance(account=key.account) == 10
    assert not LedgerEntry.objects.filter(process=process).exists()


def test_refund_lets_a_capped_key_spend_again(make_key, make_process):
    key = make_key(credits=100, spend_cap=3)
    process = make_process(key, credits=3)
    credits_charge(process=process)
    credits_refund(process=process, reason="service error")

    credits_charge(process=make_process(key, credits=3))

    assert _spent(key) == 3


# --- the books --------------------------------------------------------------------------------


def test_ledger_sums_to_the_balance_after_a_mix_of_operations(make_key, make_process):
    key = make_key(credits=20)
    account = key.account
    kept = make_process(key, credits=5)
    refunded = make_process(key, credits=7)
    credits_charge(process=kept)
    credits_charge(process=refunded)
    credits_add(account=account, amount=13, kind=LedgerEntry.Kind.TOPUP)
    credits_refund(process=refunded, reason="failed")
    credits_refund(process=refunded, reason="failed again")
    with pytest.raises(InsufficientCredits):
        credits_charge(process=make_process(key, credits=1000))
    credits_add(account=account, amount=2, kind=LedgerEntry.Kind.ADJUSTMENT)

    balance = account_balance(account=account)
    assert balance == 20 - 5 - 7 + 13 + 7 + 2 == 30
    assert ledger_total(account=account) == balance
    newest = LedgerEntry.objects.filter(account=account).first()
    assert newest is not None and newest.balance_after == balance
    running = 0
    for entry in LedgerEntry.objects.filter(account=account).order_by("created_at", "id"):
        running += entry.amount
        assert entry.balance_after == running


def test_database_refuses_a_negative_balance_written_directly():
    account = AccountFactory(credits=3)

    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(balance=-1)

    assert account_balance(account=account) == 3


def test_database_refuses_a_zero_ledger_amount():
    account = AccountFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(account=account, kind="adjustment", amount=0, balance_after=0)


# --- the cap on keys per account ----------------------------------------------------------------


def test_key_creation_at_the_cap_is_refused(settings):
    settings.BREACT_MAX_KEYS_PER_ACCOUNT = 2
    account = AccountFactory()
    api_key_create(account=account, name="one")
    api_key_create(account=account, name="two")

    with pytest.raises(BadRequest) as refused:
        api_key_create(account=account, name="three")

    assert refused.value.details == {"active_keys": 2, "max_keys": 2}
    assert ApiKey.objects.filter(account=account).count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_key_creations_never_pass_the_cap(settings):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    settings.BREACT_MAX_KEYS_PER_ACCOUNT = 3
    account = AccountFactory()

    def create(n: int) -> str:
        try:
            api_key_create(account=account, name=f"parallel {n}")
        except BadRequest:
            return "refused"
        finally:
            connection.close()
        return "created"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(create, range(12)))

    assert sorted(outcomes) == ["created"] * 3 + ["refused"] * 9
    assert ApiKey.objects.filter(account=account).count() == 3
