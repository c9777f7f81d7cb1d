"""Scale check of the staff and usage pages on PostgreSQL with a generated data set.

For each size (request-log rows : ledger entries : accounts) it drops and recreates a bench
database, migrates it, generates accounts, keys, processes, ledger entries, payments and
request-log rows with COPY, rolls the request log up (timed), leaves a small live tail, then
times the pages with Django's test client (median, p95, SQL queries, sequential scans of the
request log found by EXPLAIN). Prints a table and drops the database, also on an error or
Ctrl-C. See bench/README.md.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import random
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DAYS = 90
DEFAULT_SIZES = "10000:1000:200,1000000:100000:2000"
# A page at the largest size may take at most this many times its median at the smallest.
GROWTH_GOAL = 2.0
# Inherited variables that would change what is measured; the bench sets its own.
STRIPPED_ENV_PREFIXES = ("BREACT_", "CELERY_")
STRIPPED_ENV_NAMES = {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
EXECUTE_ROUTE = "api/v1/services/<str:service_id>/<str:endpoint>"
POLL_ROUTE = "api/v1/services/result/<str:process_id>"
READ_ROUTES = ("api/v1/account", "api/v1/usage", "api/v1/services")
PACKS = ((500, 500, "eur"), (2_000, 1_800, "eur"), (10_000, 8_000, "eur"), (2_000, 2_000, "usd"))


def log(message: str) -> None:
    print(f"[staff-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Size:
    usage_rows: int
    ledger_rows: int
    accounts: int

    @property
    def label(self) -> str:
        return f"{self.usage_rows:,} usage / {self.ledger_rows:,} ledger / {self.accounts:,} accts"


def parse_sizes(text: str) -> list[Size]:
    sizes = []
    for part in text.split(","):
        usage, ledger, accounts = (int(x) for x in part.split(":"))
        if accounts < 10 or ledger < 2 * accounts or usage < ledger:
            raise ValueError(
                f"size {part!r}: need accounts ≥ 10, ledger ≥ 2×accounts, usage ≥ ledger"
            )
        sizes.append(Size(usage, ledger, accounts))
    return sizes


# --- database ---------------------------------------------------------------------------------


@dataclass
class Db:
    host: str
    port: int
    user: str
    name: str

    def url(self, name: str | None = None) -> str:
        return f"postgres://{self.user}@{self.host}:{self.port}/{name or self.name}"

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def recreate(self) -> None:
        with self.admin() as conn:
            name = sql.Identifier(self.name)
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))

    def drop(self) -> None:
        with self.admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )


def configure_django(db: Db, var_dir: Path) -> None:
    for name in list(os.environ):
        if name.startswith(STRIPPED_ENV_PREFIXES) or name in STRIPPED_ENV_NAMES:
            del os.environ[name]
    os.environ["DJANGO_SETTINGS_MODULE"] = "breact.settings"
    os.environ["DATABASE_URL"] = db.url()
    os.environ["BREACT_VAR_DIR"] = str(var_dir)
    os.environ["BREACT_SECRET_KEY"] = secrets.token_urlsafe(32)
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # testserver in ALLOWED_HOSTS, locmem email


def close_django_connections() -> None:
    from django.db import connections

    connections.close_all()


# --- data generation ----------------------------------------------------------------------------


@dataclass
class Gen:
    """What the generator made that the measurements need."""

    accounts: int = 0
    keys: int = 0
    processes: int = 0
    ledger: int = 0
    payments: int = 0
    usage: int = 0
    tail: int = 0
    biggest_account: int = 0
    biggest_email: str = ""
    biggest_key_prefix: str = ""
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


def _endpoints() -> list[tuple[str, str, int]]:
    from services.catalogue.registry import all_services

    out = []
    for service in sorted(all_services().values(), key=lambda s: s.id):
        for name, endpoint in service.endpoints.items():
            out.append((service.id, name, int(getattr(endpoint, "price", 1) or 1)))
    return out


class Table:
    """Rows for one model's table, in its column order, for COPY. `row(**values)` fills the
    columns not given from `defaults` (a missing column is a KeyError, not a silent NULL)."""

    def __init__(self, model: Any, *, serial_id: bool = False, **defaults: Any) -> None:
        self.name: str = model._meta.db_table
        # serial_id: leave "id" to the sequence (rows then get ids in COPY order).
        self.columns = [
            f.column for f in model._meta.concrete_fields if not (serial_id and f.column == "id")
        ]
        self.defaults = defaults

    def row(self, **values: Any) -> tuple[Any, ...]:
        merged = {**self.defaults, **values}
        return tuple(merged[column] for column in self.columns)

    def copy(self, conn: psycopg.Connection[Any], rows: Iterable[tuple[Any, ...]]) -> int:
        """COPY `rows` in; returns how many."""
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(self.name), sql.SQL(", ").join(map(sql.Identifier, self.columns))
        )
        n = 0
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        return n


def _set_sequences(conn: psycopg.Connection[Any], tables: list[str]) -> None:
    for table in tables:
        conn.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence({t}, 'id'), "
                "COALESCE((SELECT MAX(id) FROM {i}), 1))"
            ).format(t=sql.Literal(table), i=sql.Identifier(table))
        )


def _lognormal_ms(rng: random.Random, median: float, sigma: float = 0.8) -> int:
    return max(1, int(rng.lognormvariate(math.log(median), sigma)))


@dataclass
class Proc:
    id: int
    public_id: str
    account_id: int
    api_key_id: int
    service_id: str
    endpoint: str
    price: int
    created_at: datetime
    finished_at: datetime
    failed: bool
    refunded: bool


class DataSet:
    """Generates one size's data (deterministic for a seed) and COPYs it in; see generate()."""

    def __init__(self, size: Size, *, seed: int, now: datetime) -> None:
        self.size = size
        self.rng = random.Random(seed)
        self.now = now
        self.start = now - timedelta(days=DAYS)
        self.endpoints = _endpoints()
        n = size.accounts
        # Zipf-like activity over shuffled ids: the busiest account makes ~10 % of the calls.
        weights = [1 / (i + 1) ** 1.05 for i in range(n)]
        self.rng.shuffle(weights)
        total = sum(weights)
        running = 0.0
        self.cumulative: list[float] = []
        for w in weights:
            running += w
            self.cumulative.append(running / total)
        self.keys: dict[int, list[int]] = {}
        self.favourites = {
            i: self.rng.sample(self.endpoints, k=min(len(self.endpoints), 1 + i % 3))
            for i in range(1, n + 1)
        }

    def account(self) -> int:
        """A random account id (1..n), busy accounts more often."""
        return (
            min(bisect.bisect_left(self.cumulative, self.rng.random()), self.size.accounts - 1) + 1
        )

    def moment(self) -> datetime:
        return self.start + timedelta(seconds=self.rng.random() * DAYS * 86400)

    def key(self, account_id: int) -> int:
        keys = self.keys[account_id]
        return keys[0] if self.rng.random() < 0.8 else self.rng.choice(keys)


def generate(db: Db, size: Size, *, seed: int, now: datetime) -> Gen:
    """Fill the migrated database: `size.accounts` users/accounts with 1–3 keys; one charged
    process per charge; per account a chronological ledger (a grant, top-ups each with its paid
    Payment, charges, refunds of failed processes, a few adjustments; a top-up comes first
    whenever a charge would overdraw, so balance_after is never negative and every balance
    equals its ledger sum); a few pending/failed payments; and the request log in time order
    (an execute row per process, its polls, refused calls, plain reads). All with COPY."""
    from accounts.models import Account, ApiKey, LedgerEntry, Membership, Payment, Role, User
    from services.models import Process, UsageLog

    started = time.perf_counter()
    data = DataSet(size, seed=seed, now=now)
    rng = data.rng
    gen = Gen()
    n_acc = size.accounts
    rest = size.ledger_rows - n_acc  # one grant per account
    n_refund = int(rest * 0.05)
    n_adjust = max(int(rest * 0.01), 1)
    n_topup = int(rest * 0.06)
    n_charge = rest - n_refund - n_adjust - n_topup

    users = Table(User, password="!", last_login=None, is_superuser=False, name="")
    users.defaults.update(is_active=True, is_staff=False)
    accounts = Table(
        Account,
        name="",
        mfa_required=False,
        status="active",
        rate_limit="",
        low_balance_alerted_at=None,
        deleted_at=None,
    )
    memberships = Table(Membership, role=Role.OWNER)
    keys = Table(
        ApiKey,
        last_four="abcd",
        scopes="[]",
        rate_limit="",
        spend_cap=None,
        is_console=False,
        expires_at=None,
        revoked_at=None,
        last_used_at=None,
        created_by_id=None,
    )
    processes = Table(
        Process,
        params="{}",
        token_hash="",
        result=None,
        error_code="",
        error_message="",
        has_webhook_url=False,
        request_id="",
    )
    ledger = Table(LedgerEntry, process_id=None, api_key_id=None, actor_id=None, reason="")
    payments = Table(Payment)
    usage = Table(
        UsageLog,
        serial_id=True,
        process_id="",
        error_code="",
        credits=0,
        request_id="",
        stream_id=None,
    )

    user_rows: list[tuple[Any, ...]] = []
    key_rows: list[dict[str, Any]] = []
    joined: dict[int, datetime] = {}
    for i in range(1, n_acc + 1):
        joined[i] = data.start - timedelta(days=rng.randint(1, 400))
        user_rows.append(users.row(id=i, email=f"user{i:05d}@example.com", date_joined=joined[i]))
        data.keys[i] = []
        for k in range(1 + i % 3):
            key_id = len(key_rows) + 1
            data.keys[i].append(key_id)
            key_rows.append(
                {
                    "id": key_id,
                    "account_id": i,
                    "name": f"key {k + 1}",
                    "prefix": "brk_" + secrets.token_hex(4),
                    "key_hash": secrets.token_hex(32),
                    "created_at": joined[i],
                }
            )

    procs: list[Proc] = []
    refunded = set(rng.sample(range(n_charge), k=min(n_refund, n_charge)))
    for index, created in enumerate(sorted(data.moment() for _ in range(n_charge))):
        account_id = data.account()
        service_id, endpoint, price = rng.choice(data.favourites[account_id])
        procs.append(
            Proc(
                id=index + 1,
                public_id=f"prc_{secrets.token_urlsafe(18)}",
                account_id=account_id,
                api_key_id=data.key(account_id),
                service_id=service_id,
                endpoint=endpoint,
                price=price,
                created_at=created,
                finished_at=created + timedelta(milliseconds=_lognormal_ms(rng, 900)),
                failed=index in refunded and rng.random() < 0.8,
                refunded=index in refunded,
            )
        )

    # The ledger: events per account, replayed in time order with a running balance.
    events: dict[int, list[tuple[datetime, int, str, Any]]] = {}
    for i in range(1, n_acc + 1):
        events[i] = [(data.start - timedelta(days=1), 0, "grant", 100)]
    for _ in range(n_topup):
        events[data.account()].append((data.moment(), 1, "topup", rng.choice(PACKS)))
    for p in procs:
        events[p.account_id].append((p.created_at, 2, "charge", p))
        if p.refunded:
            events[p.account_id].append((p.finished_at, 3, "refund", p))
    for _ in range(n_adjust):
        events[data.account()].append((data.moment(), 4, "adjustment", rng.randint(10, 200)))
    ledger_rows: list[dict[str, Any]] = []
    payment_rows: list[tuple[Any, ...]] = []
    balances: dict[int, int] = {}
    spent: dict[int, int] = {}

    def topup(account_id: int, pack: tuple[int, int, str], when: datetime, balance: int) -> int:
        credits, cents, currency = pack
        provider = "test" if rng.random() < 0.15 else "stripe"
        payment_id = len(payment_rows) + 1
        payment_rows.append(
            payments.row(
                id=payment_id,
                account_id=account_id,
                provider=provider,
                provider_reference=f"{provider}_{secrets.token_hex(10)}",
                pack_id=f"pack{credits}",
                credits=credits,
                amount_cents=cents,
                currency=currency,
                status="paid",
                created_at=when - timedelta(minutes=1),
                paid_at=when,
            )
        )
        balance += credits
        ledger_rows.append(
            {
                "account_id": account_id,
                "kind": "topup",
                "amount": credits,
                "balance_after": balance,
                "reference": f"payment:{payment_id}",
                "reason": "Top-up",
                "created_at": when,
            }
        )
        return balance

    for account_id, items in events.items():
        items.sort(key=lambda e: (e[0], e[1]))
        balance = 0
        for when, _, kind, value in items:
            entry: dict[str, Any] = {"account_id": account_id, "kind": kind, "created_at": when}
            if kind == "topup":
                balance = topup(account_id, value, when, balance)
                continue
            if isinstance(value, Proc):
                amount = -value.price if kind == "charge" else value.price
                if balance + amount < 0:
                    early = when - timedelta(seconds=30)
                    balance = topup(account_id, rng.choice(PACKS), early, balance)
                entry.update(
                    reference=value.public_id, process_id=value.id, api_key_id=value.api_key_id
                )
                if kind == "refund":
                    entry["reason"] = "Service error"
                spent[value.api_key_id] = spent.get(value.api_key_id, 0) - amount
            else:
                amount = value
                entry["reference"] = "welcome" if kind == "grant" else ""
                entry["reason"] = "" if kind == "grant" else "Goodwill credit"
            balance += amount
            ledger_rows.append({**entry, "amount": amount, "balance_after": balance})
        balances[account_id] = balance
    # A few accounts end at 0 (a final negative adjustment: they show as "out of credits").
    for account_id in rng.sample(range(1, n_acc + 1), k=max(n_acc // 100, 1)):
        if balances[account_id] > 0:
            ledger_rows.append(
                {
                    "account_id": account_id,
                    "kind": "adjustment",
                    "amount": -balances[account_id],
                    "balance_after": 0,
                    "reference": "",
                    "reason": "Chargeback",
                    "created_at": now,
                }
            )
            balances[account_id] = 0
    for _ in range(max(len(payment_rows) // 20, 1)):  # checkouts never paid
        payment_rows.append(
            payments.row(
                id=len(payment_rows) + 1,
                account_id=data.account(),
                provider="stripe",
                provider_reference=f"cs_{secrets.token_hex(10)}",
                pack_id="pack2000",
                credits=2000,
                amount_cents=1800,
                currency="eur",
                status=rng.choice(["pending", "failed"]),
                created_at=data.moment(),
                paid_at=None,
            )
        )
    # Ids in time order, as inserts in real life would give them.
    ledger_rows.sort(key=lambda row: row["created_at"])

    with psycopg.connect(db.url()) as conn:
        users.copy(conn, user_rows)
        gen.accounts = accounts.copy(
            conn,
            (
                accounts.row(
                    id=i,
                    owner_id=i,
                    balance=balances[i],
                    low_balance_threshold=rng.choice([100, 500, 1000])
                    if rng.random() < 0.05
                    else 0,
                    created_at=joined[i],
                )
                for i in range(1, n_acc + 1)
            ),
        )
        memberships.copy(
            conn,
            (
                memberships.row(id=i, account_id=i, user_id=i, created_at=joined[i])
                for i in range(1, n_acc + 1)
            ),
        )
        gen.keys = keys.copy(
            conn, (keys.row(**k, credits_spent=spent.get(k["id"], 0)) for k in key_rows)
        )
        gen.processes = processes.copy(
            conn,
            (
                processes.row(
                    id=p.id,
                    public_id=p.public_id,
                    account_id=p.account_id,
                    api_key_id=p.api_key_id,
                    service_id=p.service_id,
                    endpoint=p.endpoint,
                    state="error" if p.failed else "completed",
                    error_code="PROCESS_FAILED" if p.failed else "",
                    credits=p.price,
                    created_at=p.created_at,
                    started_at=p.created_at,
                    finished_at=p.finished_at,
                    deadline_at=p.created_at + timedelta(minutes=10),
                    expires_at=p.finished_at + timedelta(seconds=60),
                    purged_at=p.finished_at + timedelta(seconds=90),
                )
                for p in procs
            ),
        )
        gen.payments = payments.copy(conn, payment_rows)
        gen.ledger = ledger.copy(
            conn, (ledger.row(id=n, **row) for n, row in enumerate(ledger_rows, start=1))
        )
        conn.commit()
        log(
            f"  {gen.accounts:,} accounts, {gen.keys:,} keys, {gen.processes:,} processes, "
            f"{gen.ledger:,} ledger rows, {gen.payments:,} payments"
        )

        # The request log, a day at a time in time order.
        n_fail = int(size.usage_rows * 0.03)
        n_read = int(size.usage_rows * 0.05)
        n_poll = max(size.usage_rows - len(procs) - n_fail - n_read, 0)
        polls_each = n_poll / max(len(procs), 1)
        by_day: dict[int, list[Proc]] = {}
        for p in procs:
            by_day.setdefault((p.created_at - data.start).days, []).append(p)
        refusals = [
            (400, "BAD_REQUEST"),
            (402, "INSUFFICIENT_CREDITS"),
            (422, "VALIDATION_ERROR"),
            (429, "RATE_LIMITED"),
            (429, "RATE_LIMITED"),
            (500, "INTERNAL_ERROR"),
            (503, "SERVICE_UNAVAILABLE"),
        ]

        def day_rows(day: int) -> list[tuple[Any, ...]]:
            rows: list[tuple[Any, ...]] = []
            day_start = data.start + timedelta(days=day)
            for p in by_day.get(day, []):
                ids = {"api_key_id": p.api_key_id, "account_id": p.account_id}
                call = {**ids, "service_id": p.service_id, "endpoint": p.endpoint}
                rows.append(
                    usage.row(
                        **call,
                        method="POST",
                        route=EXECUTE_ROUTE,
                        process_id=p.public_id,
                        status_code=202,
                        duration_ms=_lognormal_ms(rng, 60),
                        credits=p.price,
                        created_at=p.created_at,
                    )
                )
                polls = int(polls_each) + (1 if rng.random() < polls_each % 1 else 0)
                for j in range(polls):
                    rows.append(
                        usage.row(
                            **call,
                            method="GET",
                            route=POLL_ROUTE,
                            process_id=p.public_id,
                            status_code=200,
                            duration_ms=_lognormal_ms(rng, 6, 0.5),
                            created_at=p.created_at + timedelta(milliseconds=300 * (j + 1)),
                        )
                    )
            for _ in range(round(n_fail / DAYS)):
                account_id = data.account()
                service_id, endpoint, _price = rng.choice(data.favourites[account_id])
                status, code = rng.choice(refusals)
                rows.append(
                    usage.row(
                        api_key_id=data.keys[account_id][0],
                        account_id=account_id,
                        method="POST",
                        route=EXECUTE_ROUTE,
                        service_id=service_id,
                        endpoint=endpoint,
                        status_code=status,
                        error_code=code,
                        duration_ms=_lognormal_ms(rng, 20),
                        created_at=day_start + timedelta(seconds=rng.random() * 86400),
                    )
                )
            for _ in range(round(n_read / DAYS)):
                when = day_start + timedelta(seconds=rng.random() * 86400)
                read = {"method": "GET", "service_id": "", "endpoint": "", "created_at": when}
                if rng.random() < 0.1:  # no key or a bad one: no account
                    rows.append(
                        usage.row(
                            **read,
                            api_key_id=None,
                            account_id=None,
                            route="api/v1/account",
                            status_code=401,
                            error_code="INVALID_API_KEY",
                            duration_ms=_lognormal_ms(rng, 4),
                        )
                    )
                else:
                    account_id = data.account()
                    rows.append(
                        usage.row(
                            **read,
                            api_key_id=data.keys[account_id][0],
                            account_id=account_id,
                            route=rng.choice(READ_ROUTES),
                            status_code=200,
                            duration_ms=_lognormal_ms(rng, 8),
                        )
                    )
            rows.sort(key=lambda r: r[usage.columns.index("created_at")])
            return rows

        def all_rows() -> Iterator[tuple[Any, ...]]:
            for day in range(DAYS):
                yield from day_rows(day)

        # Secondary indexes are built once after the load: much faster than row by row (the
        # ones behind a constraint, the primary key and stream_id's, stay).
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            (usage.name,),
        ).fetchall()
        for index_name, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index_name)))
        gen.usage = usage.copy(conn, all_rows())
        conn.commit()  # the deferred foreign-key checks run before the indexes are built
        conn.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            conn.execute(definition)
        _set_sequences(
            conn,
            [t.name for t in (users, accounts, memberships, keys, processes, payments, ledger)],
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        for label, table in (("usage", usage.name), ("ledger", ledger.name)):
            counted = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()
            gen.counts[label] = int(counted[0]) if counted else 0
        biggest = conn.execute(
            "SELECT account_id, count(*) FROM services_usagelog WHERE account_id IS NOT NULL "
            "GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
        assert biggest is not None
        gen.biggest_account = int(biggest[0])
        gen.biggest_email = f"user{gen.biggest_account:05d}@example.com"
        gen.biggest_key_prefix = str(key_rows[data.keys[gen.biggest_account][0] - 1]["prefix"])
    gen.seconds = time.perf_counter() - started
    return gen


def add_live_tail(rows: int, *, now: datetime, seed: int) -> int:
    """Request-log rows of the last minutes, written after the rollup: the live tail."""
    from services.models import UsageLog

    rng = random.Random(seed)
    endpoints = _endpoints()
    objs = []
    for _ in range(rows):
        service_id, endpoint, price = rng.choice(endpoints)
        account_id = rng.randint(1, 10)
        objs.append(
            UsageLog(
                account_id=account_id,
                method="POST",
                route=EXECUTE_ROUTE,
                service_id=service_id,
                endpoint=endpoint,
                status_code=202,
                duration_ms=_lognormal_ms(rng, 60),
                credits=price,
                created_at=now - timedelta(seconds=rng.random() * 600),
            )
        )
    UsageLog.objects.bulk_create(objs, batch_size=2000)
    return rows


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class PageResult:
    size: str
    page: str
    status: int
    median_ms: float = 0.0
    p95_ms: float = 0.0
    queries: int = 0
    usagelog_seq_rows: int = -1
    seq_scanned: dict[str, int] = field(default_factory=dict)
    note: str = ""


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def explain_seq_scans(queries: list[dict[str, Any]]) -> tuple[int, dict[str, int]]:
    """EXPLAIN ANALYZE each captured SELECT; returns (the most rows a Seq Scan on
    services_usagelog read in one query, or -1 when none did; rows read by Seq Scans per table
    over all queries). Rows read = rows returned + rows removed by the filter, per loop: a
    Seq Scan that stops after a few rows under a LIMIT is cheap, a full one is not."""
    from django.db import connection

    usagelog = -1
    tables: dict[str, int] = {}
    with connection.cursor() as cursor:
        for query in queries:
            text = query["sql"]
            if not text.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + text)
            document = cursor.fetchone()[0]
            plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
            for node in _plan_nodes(plan):
                if node.get("Node Type") != "Seq Scan":
                    continue
                loops = int(node.get("Actual Loops", 1))
                rows = (
                    int(node.get("Actual Rows", 0)) + int(node.get("Rows Removed by Filter", 0))
                ) * loops
                table = str(node.get("Relation Name"))
                tables[table] = tables.get(table, 0) + rows
                if table == "services_usagelog":
                    usagelog = max(usagelog, rows)
    return usagelog, tables


def measure(size_label: str, name: str, get: Callable[[], Any], repeats: int) -> PageResult:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = get()  # warm-up (templates, caches); also tells whether the page exists
    status = first.status_code
    if status != 200:
        body = first.content[:200].decode(errors="replace") if hasattr(first, "content") else ""
        note = "not built yet" if status == 404 and "not built" in body else f"HTTP {status}"
        return PageResult(size_label, name, status, note=note)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        response = get()
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        times.append((time.perf_counter() - t0) * 1000)
    with CaptureQueriesContext(connection) as captured:
        response = get()
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
    seq_usagelog, seq_tables = explain_seq_scans(captured.captured_queries)
    return PageResult(
        size_label,
        name,
        status,
        median_ms=statistics.median(times),
        p95_ms=percentile(times, 95),
        queries=len(captured.captured_queries),
        usagelog_seq_rows=seq_usagelog,
        seq_scanned=seq_tables,
    )


def measure_pages(size: Size, gen: Gen, repeats: int) -> list[PageResult]:
    from django.test import Client
    from django.urls import reverse

    from accounts.models import User

    staff = User.objects.create_user(f"staff-{secrets.token_hex(3)}@example.com", is_staff=True)
    staff_client = Client()
    staff_client.force_login(staff)
    owner_client = Client()
    owner_client.force_login(User.objects.get(account__pk=gen.biggest_account))
    label = f"{size.usage_rows:,} / {size.ledger_rows:,}"
    overview = reverse("staff-overview")
    pages: list[tuple[str, Callable[[], Any]]] = [
        ("staff overview (30 days, per day)", lambda: staff_client.get(overview)),
        (
            "staff overview (90 days, per week)",
            lambda: staff_client.get(
                overview,
                {
                    "from": (datetime.now(UTC).date() - timedelta(days=89)).isoformat(),
                    "granularity": "week",
                },
            ),
        ),
        (
            "staff overview CSV (periods)",
            lambda: staff_client.get(reverse("staff-overview-export")),
        ),
        (
            "staff accounts search (email)",
            lambda: staff_client.get(reverse("staff-accounts"), {"q": gen.biggest_email}),
        ),
        (
            "staff accounts search (key prefix)",
            lambda: staff_client.get(reverse("staff-accounts"), {"q": gen.biggest_key_prefix}),
        ),
        (
            "staff account (biggest account)",
            lambda: staff_client.get(reverse("staff-account", args=[gen.biggest_account])),
        ),
        ("staff services", lambda: staff_client.get(reverse("staff-services"))),
        ("usage page (biggest account's owner)", lambda: owner_client.get(reverse("usage"))),
    ]
    results = []
    for name, get in pages:
        result = measure(label, name, get, repeats)
        figures = f"median {result.median_ms:.0f} ms, p95 {result.p95_ms:.0f} ms"
        log(f"  {name}: {result.note or f'{figures}, {result.queries} queries'}")
        results.append(result)
    return results


def rollup_until_caught_up() -> tuple[float, int, int]:
    """Run the rollups (request log, processes, ledger) until each folds nothing, as beat keeps
    them; (seconds, request-log rows folded, UsageDaily rows). The process and ledger rollups
    are logged on their own line."""
    from services.models import LedgerDaily, ProcessDaily, UsageDaily
    from services.usage.actions import ledger_rollup, outcomes_rollup, usage_rollup

    def until_zero(rollup: Callable[[], int]) -> tuple[float, int]:
        started = time.perf_counter()
        folded = 0
        while n := rollup():
            folded += n
        return time.perf_counter() - started, folded

    seconds, folded = until_zero(usage_rollup)
    for name, rollup, model in (
        ("processes", outcomes_rollup, ProcessDaily),
        ("ledger", ledger_rollup, LedgerDaily),
    ):
        took, rows = until_zero(rollup)
        log(f"  {name} rollup: {rows:,} rows in {took:.1f} s → {model.objects.count():,} rows")
    return seconds, folded, UsageDaily.objects.count()


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """Left-aligned first two columns, the rest right-aligned."""
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def print_report(
    results: list[PageResult], setup: list[tuple[str, Gen, tuple[float, int, int]]], repeats: int
) -> None:
    print()
    print("Staff pages at scale: PostgreSQL, Django test client in-process,")
    print(f"{repeats} timed requests per page after one warm-up.")
    print()
    print_table(
        ["size (usage / ledger)", "generate (COPY)", "rollup", "rows folded", "UsageDaily", "tail"],
        [
            [
                label,
                f"{gen.seconds:.1f} s",
                f"{s:.1f} s",
                f"{folded:,}",
                f"{daily:,}",
                f"{gen.tail:,}",
            ]
            for label, gen, (s, folded, daily) in setup
        ],
    )
    print()
    print_table(
        ["size (usage / ledger)", "page", "median", "p95", "queries", "Seq Scan on usagelog"],
        [
            [r.size, r.page, r.note, "", "", ""]
            if r.note
            else [
                r.size,
                r.page,
                f"{r.median_ms:.0f} ms",
                f"{r.p95_ms:.0f} ms",
                str(r.queries),
                "none" if r.usagelog_seq_rows < 0 else f"{r.usagelog_seq_rows:,} rows read",
            ]
            for r in results
        ],
    )
    sizes = list(dict.fromkeys(r.size for r in results))
    if len(sizes) > 1:
        smallest, largest = sizes[0], sizes[-1]
        median = {(r.size, r.page): r.median_ms for r in results if not r.note}
        rows = []
        for page in dict.fromkeys(r.page for r in results):
            small, large = median.get((smallest, page)), median.get((largest, page))
            if small and large:
                ratio = large / small
                verdict = "yes" if ratio <= GROWTH_GOAL else "NO"
                rows.append(
                    [page, "", f"{small:.0f} ms", f"{large:.0f} ms", f"{ratio:.2f}×", verdict]
                )
        print()
        print(f"Growth: median at {largest} against {smallest} (goal ≤ {GROWTH_GOAL:g}×)")
        print_table(["page", "", smallest, largest, "ratio", "within goal"], rows)
    print()
    print("Tables read by a Seq Scan (EXPLAIN ANALYZE of the queries of one request; rows read):")
    for r in results:
        if not r.note:
            scans = ", ".join(f"{t} ({n:,})" for t, n in sorted(r.seq_scanned.items()))
            print(f"  {r.size} · {r.page}: {scans or 'none'}")
    print()


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--sizes", default=DEFAULT_SIZES, help="usage:ledger:accounts,… (default %(default)s)")
    add("--repeats", type=int, default=10, help="timed requests per page (default %(default)s)")
    add("--tail", type=int, default=500, help="live-tail rows written after the rollup")
    add("--db-host", default="127.0.0.1")
    add("--db-port", type=int, default=5432)
    add("--db-user", default="postgres")
    add(
        "--db-name",
        default="breact_staff_bench",
        help="dropped and recreated; must contain 'bench'",
    )
    add("--seed", type=int, default=5)
    add("--keep", action="store_true", help="keep the last size's database (for EXPLAIN)")
    args = parser.parse_args()
    if "bench" not in args.db_name:
        parser.error("--db-name is dropped and recreated: it must contain 'bench'")
    sizes = parse_sizes(args.sizes)
    db = Db(args.db_host, args.db_port, args.db_user, args.db_name)
    var_dir = Path(tempfile.mkdtemp(prefix="breact-staff-bench-"))
    results: list[PageResult] = []
    setup: list[tuple[str, Gen, tuple[float, int, int]]] = []
    with interrupt_on_sigterm():
        try:
            db.recreate()
            configure_django(db, var_dir)
            from django.core.management import call_command

            for index, size in enumerate(sizes):
                log(f"size {size.label}: fresh database {db.name}")
                if index:
                    close_django_connections()
                    db.recreate()
                call_command("migrate", verbosity=0, interactive=False)
                now = datetime.now(UTC)
                gen = generate(db, size, seed=args.seed + index, now=now - timedelta(minutes=15))
                log(f"  generated in {gen.seconds:.1f} s: {gen.counts}")
                log("  rolling up the request log …")
                rolled = rollup_until_caught_up()
                seconds, folded, daily = rolled
                log(f"  rollup: {folded:,} rows in {seconds:.1f} s → {daily:,} UsageDaily rows")
                gen.tail = add_live_tail(args.tail, now=now, seed=args.seed)
                with psycopg.connect(db.url(), autocommit=True) as conn:
                    conn.execute("ANALYZE")
                setup.append((f"{size.usage_rows:,} / {size.ledger_rows:,}", gen, rolled))
                results.extend(measure_pages(size, gen, args.repeats))
        except KeyboardInterrupt:
            log("interrupted")
            return 130
        finally:
            close_django_connections()
            if args.keep and results:
                log(f"kept {db.name} (--keep): drop it when done")
            else:
                try:
                    db.drop()
                    log(f"dropped {db.name}")
                except psycopg.Error as exc:
                    log(f"could not drop {db.name}: {exc}")
    print_report(results, setup, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
