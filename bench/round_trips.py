"""Counts, not guesses: SQL statements and Redis round trips per API call, for the benchmark.

Run by bench/api_benchmark.py in a child process with the bench's environment (its database,
its Redis db, BREACT_DEBUG unset), before the server and the worker start. It:

1. creates `--keys` API keys, each on its own account with `--credits` credits and a huge rate
   limit, and prints them (the load phases use the first for "one key" and all for "N keys");
2. sends `--samples` executes (after a few unmeasured ones) and polls through Django's real WSGI
   handler in this process (httpx's WSGI transport: request_started/request_finished fire as
   under gunicorn, so persistent-connection health checks are counted too), runs each process's
   task body in this process, and counts for every call:
   - SQL round trips on the psycopg connection: every statement executed (including a
     health-check SELECT 1), plus BEGIN and COMMIT/ROLLBACK of each transaction (psycopg sends
     BEGIN on its own before the first statement of a transaction);
   - new database connections opened;
   - Redis round trips: every packed send on a redis-py connection (one command, or one whole
     pipeline or script call), whichever client sent it: the cache, the rate limits, kombu's
     broker publish.
   The worker's task is counted as its body runs (`services.tasks.run_process`), without the
   per-task work of Celery's Django fixup (connection close/open), which the table names apart.

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "breact.settings")


@dataclass
class Counts:
    statements: int = 0
    transactions: int = 0
    connections: int = 0
    redis: int = 0

    @property
    def sql_round_trips(self) -> int:
        """Statements, plus BEGIN and COMMIT/ROLLBACK per transaction."""
        return self.statements + 2 * self.transactions

    def as_dict(self) -> dict[str, int]:
        return {
            "sql_round_trips": self.sql_round_trips,
            "statements": self.statements,
            "transactions": self.transactions,
            "connections": self.connections,
            "redis": self.redis,
        }


class Counter:
    """Patches psycopg and redis-py once; `window()` counts what happens inside it."""

    def __init__(self) -> None:
        self.current: Counts | None = None
        import psycopg
        import redis.connection

        def wrap(owner: Any, name: str, field: str) -> None:
            original: Callable[..., Any] = getattr(owner, name)

            def counted(*args: Any, **kwargs: Any) -> Any:
                if self.current is not None:
                    setattr(self.current, field, getattr(self.current, field) + 1)
                return original(*args, **kwargs)

            setattr(owner, name, counted)

        wrap(psycopg.Cursor, "execute", "statements")
        wrap(psycopg.Cursor, "executemany", "statements")
        wrap(psycopg.Connection, "commit", "transactions")
        wrap(psycopg.Connection, "rollback", "transactions")
        wrap(psycopg, "connect", "connections")
        wrap(redis.connection.AbstractConnection, "send_packed_command", "redis")

    @contextmanager
    def window(self) -> Iterator[Counts]:
        counts = Counts()
        self.current = counts
        try:
            yield counts
        finally:
            self.current = None


def create_keys(count: int, credits: int, rate: str) -> list[str]:
    from accounts.console.actions import account_get_or_create
    from accounts.keys.actions import api_key_create
    from accounts.ledger.actions import credits_add
    from accounts.models import LedgerEntry

    keys = []
    for index in range(count):
        account, _ = account_get_or_create(email=f"bench-{index}@example.com")
        credits_add(
            account=account,
            amount=credits,
            kind=LedgerEntry.Kind.GRANT,
            reference="bench",
            reason="Granted by the benchmark.",
        )
        _, raw_key = api_key_create(
            account=account, name="bench", scopes=[], expires_at=None, rate_limit=rate,
            spend_cap=None,
        )  # fmt: skip
        keys.append(raw_key)
    return keys


def summary(samples: list[Counts]) -> dict[str, Any]:
    """Median and max of each count over the samples."""
    out: dict[str, Any] = {"samples": len(samples)}
    for name in ("sql_round_trips", "statements", "transactions", "connections", "redis"):
        values = [sample.as_dict()[name] for sample in samples]
        out[name] = {"median": statistics.median(values), "max": max(values)}
    return out


def count_calls(api_key: str, body: dict[str, Any], samples: int, warmup: int) -> dict[str, Any]:
    import httpx
    from django.core.wsgi import get_wsgi_application

    from services.models import Process
    from services.tasks import run_process

    counter = Counter()
    application = get_wsgi_application()
    headers = {"x-api-key": api_key, "content-type": "application/json"}
    transport = httpx.WSGITransport(app=application)
    executes: list[Counts] = []
    tasks: list[Counts] = []
    polls: list[Counts] = []
    with httpx.Client(transport=transport, base_url="http://127.0.0.1", headers=headers) as client:
        for index in range(warmup + samples):
            measured = index >= warmup
            with counter.window() as execute:
                answer = client.post("/api/v1/services/text_analyzer/analyze", json=body)
            if answer.status_code != 202:
                raise SystemExit(f"execute answered {answer.status_code}: {answer.text[:500]}")
            result_url = answer.json()["result_url"]
            public_id = result_url.split("/result/")[1].split("?")[0]
            process_pk = Process.objects.filter(public_id=public_id).values_list("pk", flat=True)
            pk = process_pk.get()
            with counter.window() as task:
                run_process(pk)
            with counter.window() as poll:
                polled = client.get(result_url)
            if polled.status_code != 200 or polled.json().get("status") != "completed":
                raise SystemExit(f"poll answered {polled.status_code}: {polled.text[:500]}")
            if measured:
                executes.append(execute)
                tasks.append(task)
                polls.append(poll)
    return {"execute": summary(executes), "task": summary(tasks), "poll": summary(polls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=16)
    parser.add_argument("--credits", type=int, default=10_000_000)
    parser.add_argument("--rate-limit", default="100000000/m")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--text", required=True)
    args = parser.parse_args()

    import django

    django.setup()
    from django.utils import timezone

    from services.models import Heartbeat
    from services.workers import heartbeat_record

    # Executes are refused while no worker is seen; the real worker starts after this script.
    now = timezone.now()
    heartbeat_record(role=Heartbeat.Role.WORKER, name="bench-count@local", started_at=now)
    keys = create_keys(args.keys, args.credits, args.rate_limit)
    counts = count_calls(keys[0], {"text": args.text}, args.samples, args.warmup)
    print(json.dumps({"keys": keys, "counts": counts}))


if __name__ == "__main__":
    main()
