"""Fixtures of the organisation tests: an organisation with one member per role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import Account, Membership, Role
from tests.factories import AccountFactory, MembershipFactory, UserFactory


@pytest.fixture
def org(db: Any) -> Account:
    """An organisation with 50 credits whose owner (its first user) is its Owner."""
    return AccountFactory(credits=50, owner=UserFactory(email="owner@example.com"))


@pytest.fixture
def member(org: Account) -> Callable[..., Membership]:
    """member(role, email=None) -> a new member of `org` with that role."""

    def make(role: str, email: str | None = None) -> Membership:
        user = UserFactory(email=email) if email else UserFactory()
        return MembershipFactory(account=org, user=user, role=role)

    return make


@pytest.fixture
def owner(org: Account) -> Membership:
    return Membership.objects.get(account=org, role=Role.OWNER)


def client_for(membership: Membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client
