"""factory_boy factories for the suite."""

from __future__ import annotations

from typing import Any

import factory

from accounts.keys.actions import api_key_create
from accounts.ledger.actions import credits_add
from accounts.models import Account, ApiKey, User


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
