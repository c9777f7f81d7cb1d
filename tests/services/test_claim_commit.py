"""The worker's claim commits without waiting for the disk, on its own transaction only
(services.execution.actions._process_claim): the call still runs and completes, and the
setting never reaches the connection's next transaction or a caller's transaction; a claim
whose connection the database dropped is tried again on a new one."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection, transaction

from services.execution.actions import process_run
from services.models import Process

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


def test_a_claimed_process_completes_and_the_connection_keeps_waiting_commits(start):
    started = start(text="hello")
    assert not connection.in_atomic_block

    process_run(process_pk=started.process.pk)

    process = Process.objects.get(pk=started.process.pk)
    assert process.state == Process.State.COMPLETED
    assert process.started_at is not None
    assert _synchronous_commit() == "on"


def test_a_claim_inside_a_callers_transaction_leaves_its_setting_alone(start):
    started = start(text="hello")

    with transaction.atomic():
        process_run(process_pk=started.process.pk)
        inside = _synchronous_commit()

    assert inside == "on"
    assert Process.objects.get(pk=started.process.pk).state == Process.State.COMPLETED


def test_a_claim_on_a_connection_the_database_dropped_is_tried_on_a_new_one(start):
    started = start(text="hello")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    process_run(process_pk=started.process.pk)

    process = Process.objects.get(pk=started.process.pk)
    assert process.state == Process.State.COMPLETED
