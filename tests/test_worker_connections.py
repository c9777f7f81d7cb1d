"""The worker's kept database connection (breact.celery): checked before a task's first query
only after it idled, so back-to-back tasks skip a SELECT 1 each, and a connection the database
dropped while the worker idled is replaced before the task uses it."""

from __future__ import annotations

import time

import psycopg
import pytest
from celery.signals import task_postrun, task_prerun
from django.db import connection

from breact.celery import RECENTLY_USED_SECONDS, _close_old_connections

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _worker_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a server connection to drop")
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def test_a_connection_the_last_task_used_is_not_checked_again():
    _backend_pid()
    _close_old_connections(signal=task_postrun)

    _close_old_connections(signal=task_prerun)

    assert connection.health_check_done is True


def test_a_connection_dropped_while_the_worker_idled_is_replaced_before_the_task_uses_it():
    pid = _backend_pid()
    _close_old_connections(signal=task_postrun)
    connection.task_ended_at = time.monotonic() - RECENTLY_USED_SECONDS - 1
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    _close_old_connections(signal=task_prerun)

    assert connection.health_check_done is False
    assert _backend_pid() != pid  # the broken one was found by the check and replaced
