"""factory_boy factories for the suite."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from accounts.keys.actions import api_key_create
from accounts.ledger.actions import credits_add, credits_charge
from accounts.models import Account, ApiKey, Membership, Role, User
from services.models import Process


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def verified(obj: User, create: bool, extracted: bool | None, **kwargs: Any) -> None:
        """The address is verified (an allauth EmailAddress) unless `verified=False`."""
        if create and extracted is not False:
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)


class AccountFactory(factory.django.DjangoModelFactory):
    """An account; `credits=N` grants N credits through the ledger."""

    class Meta:
        model = Account
        skip_postgeneration_save = True

    owner = factory.SubFactory(UserFactory)
    name = factory.LazyAttribute(lambda o: o.owner.email if o.owner else "")

    @factory.post_generation
    def owner_membership(obj: Account, create: bool, extracted: Any, **kwargs: Any) -> None:
        """The owner is the organisation's Owner, as sign-up and the data migration make it."""
        if create and obj.owner_id is not None:
            Membership.objects.get_or_create(
                account=obj, user_id=obj.owner_id, defaults={"role": Role.OWNER}
            )

    @factory.post_generation
    def credits(obj: Account, create: bool, extracted: int | None, **kwargs: Any) -> None:
        if create and extracted:
            credits_add(account=obj, amount=extracted, reference="factory")


class ApiKeyFactory(factory.Factory):
    """An issued key; the raw key is on `.raw`."""

    class Meta:
        model = ApiKey

    account = factory.SubFactory(AccountFactory, credits=100)
    name = factory.Sequence(lambda n: f"key {n}")

    @classmethod
    def _create(cls, model_class: type[ApiKey], *args: Any, **kwargs: Any) -> ApiKey:
        key, raw = api_key_create(**kwargs)
        key.raw = raw  # type: ignore[attr-defined]
        return key


def charge_logged_calls(account: Account, *, pk: int | None = None) -> int:
    """For request-log rows written by hand: give every accepted (202) call of `account` that
    logged credits and has no process (only row `pk` if given) a completed process and its
    ledger charge at the row's time, as the execute path writes them (credits spent come from
    the ledger: services.usage.figures). Returns how many were charged."""
    import secrets
    from datetime import timedelta

    from django.db.models import QuerySet

    from accounts.models import LedgerEntry
    from services.models import Process, UsageLog

    rows = UsageLog.objects.filter(account=account, status_code=202, credits__gt=0, process_id="")
    if pk is not None:
        rows = rows.filter(pk=pk)
    charged = 0
    for row in rows:
        process = Process.objects.create(
            public_id=f"prc_{secrets.token_urlsafe(18)}",
            account=account,
            api_key_id=row.api_key_id,
            service_id=row.service_id,
            endpoint=row.endpoint,
            state=Process.State.COMPLETED,
            credits=row.credits,
            created_at=row.created_at,
            finished_at=row.created_at,
            deadline_at=row.created_at + timedelta(minutes=10),
        )
        entry = LedgerEntry.objects.create(
            account=account,
            kind=LedgerEntry.Kind.CHARGE,
            amount=-row.credits,
            balance_after=account.balance,
            process=process,
            api_key_id=row.api_key_id,
        )
        # Append-only: the test backdoor dates the entry like its request.
        QuerySet(LedgerEntry).filter(pk=entry.pk).update(created_at=row.created_at)
        UsageLog.objects.filter(pk=row.pk).update(process_id=process.public_id)
        charged += 1
    return charged


def process_make(
    account: Account,
    *,
    state: str = Process.State.ERROR,
    credits: int = 7,
    charged: bool = True,
    inner_error: bool = False,
    key: ApiKey | None = None,
) -> Process:
    """A finished text_analyzer process of `account` (charged through the ledger unless
    `charged=False`), for staff and ledger tests."""
    now = timezone.now()
    process = Process.objects.create(
        public_id=f"proc_{secrets.token_hex(8)}",
        account=account,
        api_key=key,
        service_id="text_analyzer",
        endpoint="analyze",
        state=state,
        credits=credits,
        deadline_at=now + timedelta(minutes=5),
        finished_at=now if state in ("completed", "error") else None,
        result={"status": "error", "result": None, "error": "boom"} if inner_error else None,
    )
    if charged:
        credits_charge(process=process)
    return process


class MembershipFactory(factory.django.DjangoModelFactory):
    """A member of an organisation (default: a Developer of a new one)."""

    class Meta:
        model = Membership

    account = factory.SubFactory(AccountFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.DEVELOPER
