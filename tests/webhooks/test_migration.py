"""Migration 0012 on processes started before it: one that passed a webhook_url is marked so
(its events still reach the URL), the others are not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import ApiKeyFactory
from tests.support import migrate_to, migrate_to_latest

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("services", "0011_usage_daily_all_accounts")]
AFTER = [("services", "0012_process_has_webhook_url")]


@pytest.fixture(autouse=True)
def _latest_schema_afterwards():
    """Every later test needs the whole schema back (the later migrations too)."""
    yield
    migrate_to_latest()


def test_processes_that_passed_a_webhook_url_are_marked():
    key = ApiKeyFactory()  # accounts' tables are untouched by the services migration
    old = migrate_to(BEFORE)
    Process = old.get_model("services", "Process")
    ProcessWebhook = old.get_model("services", "ProcessWebhook")
    now = timezone.now()
    hooked, plain = (
        Process.objects.create(
            public_id=f"prc_old{n}",
            account_id=key.account_id,
            service_id="text_analyzer",
            endpoint="analyze",
            deadline_at=now + timedelta(minutes=10),
        )
        for n in range(2)
    )
    ProcessWebhook.objects.create(process=hooked, url="https://example.com/hook")

    new = migrate_to(AFTER)
    Process = new.get_model("services", "Process")
    assert Process.objects.get(pk=hooked.pk).has_webhook_url
    assert not Process.objects.get(pk=plain.pk).has_webhook_url
