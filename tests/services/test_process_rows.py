"""The process read in one plain statement (the poll, the worker's claim) makes the same Process
as the ORM, on PostgreSQL and on SQLite alike: JSON decoded, dates as aware datetimes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Model
from django.utils import timezone

from services.execution.process_rows import columns, process_fetch, process_table
from services.models import Process
from tests.factories import AccountFactory, process_make


def _values(process: Model) -> dict[str, object]:
    return {field.attname: getattr(process, field.attname) for field in Process._meta.fields}


@pytest.mark.django_db
def test_a_process_read_in_one_statement_is_the_orm_s():
    account = AccountFactory()
    process = process_make(account, state=Process.State.COMPLETED, inner_error=True, charged=False)
    now = timezone.now()
    Process.objects.filter(pk=process.pk).update(
        params={"text": "Grüße, ☃", "options": {"n": [1, 2.5, None, True]}},
        started_at=now - timedelta(seconds=2),
        expires_at=now + timedelta(seconds=60),
        has_webhook_url=True,
        request_id="req_1",
    )

    read = process_fetch(
        f"SELECT {columns()} FROM {process_table()} WHERE id = %s",
        [process.pk],
    )

    assert read is not None
    assert _values(read) == _values(Process.objects.get(pk=process.pk))
    assert read.params == {"text": "Grüße, ☃", "options": {"n": [1, 2.5, None, True]}}
    assert read.result == {"status": "error", "result": None, "error": "boom"}
    assert read.expires_at is not None and timezone.is_aware(read.expires_at)
    assert read.purged_at is None
    assert read._state.adding is False


@pytest.mark.django_db
def test_no_row_is_none():
    assert process_fetch(f"SELECT {columns()} FROM {process_table()} WHERE id = %s", [-1]) is None
