"""factory_boy factories for the suite."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from accounts.keys.actions import api_key_create
from accounts.ledger.actions import credits_add, credits_charge
from accounts.models import Account, ApiKey, User
from services.models import Process


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password("correct horse battery staple")


class AccountFactory(factory.django.DjangoModelFactory):
    """An account; `credits=N` grants N credits through the ledger."""

    class Meta:
        model = Account
        skip_postgeneration_save = True

    owner = factory.SubFactory(UserFactory)

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
