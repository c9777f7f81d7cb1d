"""Round trips of the hot API paths, pinned: SQL statements per execute and poll, Redis round
trips per call, and revocation that takes effect on the very next request on every server
(bench/api_benchmark.py measures what these cost)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from accounts.keys.actions import api_key_revoke
from services.models import Process
from tests.api.conftest import EXECUTE_URL
from tests.integration.live import need_postgres, poll_until_finished


def _execute_once_a_worker_is_seen(client: Any) -> Any:
    """An execute, retried while the shared stack's worker has not yet written a heartbeat (503,
    nothing charged): these tests are about connections, not about a worker starting."""
    deadline = time.monotonic() + 20
    while True:
        started = client.post(EXECUTE_URL, json={"text": "One. Two three."})
        if started.status_code != 503 or time.monotonic() > deadline:
            return started
        time.sleep(0.2)


# Today's counts, as the test database sees them (no health check runs in tests). With Redis,
# the key and endpoint rows come from the server process's cache (breact/hot_cache.py): an
# execute is the one-statement charge (services/execution/charged_insert.py) and its usage row,
# a poll the process read and its usage row. Without Redis, each also reads its key, and the
# execute its endpoint row. Raise them only with a reason, and the bench's table before and after.
EXECUTE_MAX_QUERIES = 2 if settings.REDIS_URL else 4
# SQLite (the embedded default, where `make test` runs when DATABASE_URL is unset) charges in
# credits_charge's transaction instead of the one statement: the process, the debit, the key's
# spend, two reads of the balance, the ledger row, and two savepoints with their releases.
if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    EXECUTE_MAX_QUERIES += 9
POLL_MAX_QUERIES = 2 if settings.REDIS_URL else 3
# With the key's row in the server process's cache, one script reads the failed-authentication
# counter, confirms the cache's generation and counts the rate limit (accounts/auth.py); the
# broker's publish runs on commit, outside these tests.
EXECUTE_REDIS_ROUND_TRIPS = 1
POLL_REDIS_ROUND_TRIPS = 1


@pytest.fixture
def warm(keyed_client: Any, execute: Callable[..., Any]) -> Process:
    """One execute first: the catalogue and the script are loaded, the key was touched."""
    assert execute(keyed_client).status_code == 202
    return Process.objects.get()


@pytest.mark.django_db
def test_execute_stays_within_its_queries(
    keyed_client, execute, warm, django_assert_max_num_queries
):
    with django_assert_max_num_queries(EXECUTE_MAX_QUERIES):
        response = execute(keyed_client)

    assert response.status_code == 202


@pytest.mark.django_db
def test_poll_stays_within_its_queries(keyed_client, execute, poll, django_assert_max_num_queries):
    started = execute(keyed_client).json()
    token = started["access_token"]
    process_id = started["process_id"]
    assert poll(keyed_client, process_id, token).status_code == 200

    with django_assert_max_num_queries(POLL_MAX_QUERIES):
        response = poll(keyed_client, process_id, token)

    assert response.status_code == 200


@pytest.mark.django_db
def test_execute_and_poll_take_one_redis_round_trip_each(
    keyed_client, execute, poll, warm, redis_round_trips
):
    before = redis_round_trips[0]
    started = execute(keyed_client)
    after_execute = redis_round_trips[0]
    body = started.json()
    polled = poll(keyed_client, body["process_id"], body["access_token"])

    assert started.status_code == 202
    assert polled.status_code == 200
    assert after_execute - before == EXECUTE_REDIS_ROUND_TRIPS
    assert redis_round_trips[0] - after_execute == POLL_REDIS_ROUND_TRIPS


@pytest.mark.django_db
def test_a_good_key_given_back_in_the_script_leaves_the_failure_allowance_whole(
    api_client, key, settings, still_rate_clock
):
    """The give-back now rides on the rate-limit script: many good calls, then exactly the
    allowance of wrong keys is answered 401."""
    settings.BREACT_AUTH_FAILURE_RATE_LIMIT = "2/m"
    for _ in range(4):
        assert api_client.get("/api/v1/account", HTTP_X_API_KEY=key.raw).status_code == 200
    bad = "brk_" + "G" * 40

    statuses = [api_client.get("/api/v1/account", HTTP_X_API_KEY=bad).status_code for _ in range(3)]

    assert statuses == [401, 401, 429]


# --- revocation across server processes -------------------------------------------------------


@pytest.fixture(scope="module")
def second_server(live_stack: Any, live_factory: Any) -> Any:
    """Another gunicorn (2 processes) on the same database and Redis: with persistent database
    connections, no server may answer from what it saw before."""
    return live_factory.stack("second", live_stack.env, live_stack.var_dir, with_worker=False)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_revoked_key_is_refused_on_the_very_next_request_on_every_server(
    live_stack, second_server, key
):
    servers = [live_stack, second_server]

    def status(server: Any) -> int:
        with server.client(key.raw) as client:  # a new connection: any server process
            return int(client.get("/api/v1/account").status_code)

    for server in servers:  # every process has used the key and kept its connection
        assert [status(server) for _ in range(6)] == [200] * 6

    api_key_revoke(api_key=key)

    for server in servers:
        assert [status(server) for _ in range(6)] == [401] * 6


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_revoked_key_is_refused_by_the_next_execute_and_poll_on_every_server(
    live_stack, second_server, make_key
):
    """The execute and the poll take a cached key in one Redis round trip (accounts/auth.py):
    once every server process has it cached, a revoke still reaches the very next call."""
    key = make_key(credits=1000)
    with live_stack.client(key.raw) as client:
        started = _execute_once_a_worker_is_seen(client)
    assert started.status_code == 202, started.text
    result_url = started.json()["result_url"]

    def statuses(server: Any) -> list[int]:
        answered = []
        for _ in range(4):
            with server.client(key.raw) as client:  # a new connection: any server process
                answered.append(client.get(result_url).status_code)
                answered.append(client.post(EXECUTE_URL, json={"text": "One."}).status_code)
        return answered

    for server in (live_stack, second_server):
        assert set(statuses(server)) == {200, 202}

    api_key_revoke(api_key=key)

    for server in (live_stack, second_server):
        assert statuses(server) == [401] * 8


# --- the worker's database connections --------------------------------------------------------

TASKS = 24


def _sessions_opened() -> int:
    """Connections ever opened to the test database (PostgreSQL's own statistics)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        row = cursor.fetchone()
    return int(row[0])


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_worker_keeps_its_database_connections_from_task_to_task(live_stack, make_key):
    """Celery's Django fixup would close the connection after every task, so each task would
    open a new one; the worker keeps them (breact/celery.py). Once the server's threads and the
    worker's processes are connected, many tasks open next to no connection."""
    need_postgres()
    key = make_key(credits=1000)

    def run_one(client: Any) -> None:
        started = _execute_once_a_worker_is_seen(client)
        assert started.status_code == 202, started.text
        finished = poll_until_finished(client, started.json()["result_url"])
        assert finished["status"] == "completed", finished

    with live_stack.client(key.raw) as client:
        for _ in range(6):
            run_one(client)
        before = _sessions_opened()
        for _ in range(TASKS):
            run_one(client)
        opened = _sessions_opened() - before

    # Old behaviour: at least one per task. Slack for server threads connecting late.
    assert opened <= TASKS // 3, opened


RESTART_APP_NAME = "breact-restart-test"


@pytest.fixture
def restart_stack(live_env: Any, live_factory: Any, tmp_path: Any) -> Any:
    """A server and worker of their own, whose database connections carry an application name
    so that only theirs are terminated (the shared stack keeps serving the other tests), and
    with their own broker so that only this worker runs their tasks."""
    separator = "&" if "?" in live_env.database_url else "?"
    env = live_env.child_env(
        tmp_path,
        DATABASE_URL=f"{live_env.database_url}{separator}application_name={RESTART_APP_NAME}",
        CELERY_BROKER_URL="embedded://",
    )
    return live_factory.stack("restart", env, tmp_path)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_kept_connections_killed_by_the_database_cost_no_task(live_stack, restart_stack, make_key):
    """The database drops every connection (as on a restart). The server's kept connections
    fail at most the one request each that finds them, then reconnect; the worker checks its
    kept connections before a task, so every process accepted afterwards completes."""
    need_postgres()
    key = make_key(credits=1000)
    with restart_stack.client(key.raw) as client:
        for _ in range(4):  # both worker processes have run a task and kept their connection
            started = _execute_once_a_worker_is_seen(client)
            assert started.status_code == 202, started.text
            poll_until_finished(client, started.json()["result_url"])
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = %s",
                [RESTART_APP_NAME],
            )
            (terminated,) = cursor.fetchone()
        assert terminated >= 2, "the server's and the worker's kept connections"

        accepted, refused = [], []
        while len(accepted) < 4 and len(refused) <= 8:  # 2 server processes × 4 threads
            started = client.post(EXECUTE_URL, json={"text": "One. Two three."})
            (accepted if started.status_code == 202 else refused).append(started)
        finished = [poll_until_finished(client, s.json()["result_url"]) for s in accepted]

    assert len(accepted) == 4, [r.status_code for r in refused]
    assert all(r.status_code == 500 for r in refused), [r.text for r in refused]
    assert [body["status"] for body in finished] == ["completed"] * 4
