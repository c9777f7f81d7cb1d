"""The execute's charge in one SQL statement: the account's conditional debit, the key's spend
counter, the process row and its ledger charge, written together or not at all.

It is `accounts.ledger.actions.credits_charge` (which stays the rule, and the path for every
case this statement leaves out) in the form PostgreSQL runs in one round trip, in autocommit:
one statement is atomic, and each of its parts only writes when the debit did:

    WITH debit AS (UPDATE account SET balance = balance - price
                   WHERE id = … AND balance >= price AND <the key has no spend cap>
                   RETURNING balance, low-balance threshold and mark),
         process AS (INSERT INTO process … SELECT …
                     WHERE EXISTS (SELECT 1 FROM debit) RETURNING id),
         ledger AS (INSERT INTO ledger … (balance_after, process_id from the two above)
                    SELECT … WHERE EXISTS (SELECT 1 FROM process)),
         spent AS (UPDATE api key SET credits_spent = credits_spent + price
                   WHERE id = … AND EXISTS (SELECT 1 FROM debit))
    SELECT … FROM debit, process

The account row is locked first and the key row second, in the order of credits_charge and
credits_refund, so the two never deadlock. A key with a spend cap is left to credits_charge
(the cap check needs the key row locked before the debit); an empty answer (not enough credits,
or a cap set since the key was cached) writes nothing, and the caller falls back to
credits_charge, which says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field, Model, sql
from django.db.models.expressions import RawSQL

from accounts.models import Account, ApiKey, LedgerEntry
from services.models import Process


@dataclass(frozen=True)
class Charged:
    process_pk: int
    balance: int
    low_balance_threshold: int
    low_balance_alerted_at: datetime | None


def _insert_select(obj: Model, condition: str) -> tuple[str, list[Any]]:
    """`INSERT INTO t (...) SELECT <values> WHERE <condition>`: Django's own INSERT for `obj`
    (every column's conversion and default as in `save()`), made conditional."""
    query = sql.InsertQuery(type(obj), on_conflict=None)
    query.insert_values(_columns(type(obj)), [obj])
    statements = query.get_compiler(connection=connection).as_sql()
    (insert, params), *_ = statements
    head, values = insert.split(" VALUES (", 1)
    assert values.endswith(")"), insert
    return f"{head} SELECT {values[:-1]} WHERE {condition}", list(params)


def _columns(model: type[Model]) -> list[Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def insert_params(obj: Model, *, inline: frozenset[str] = frozenset()) -> list[Any]:
    """The parameters Django's INSERT of `obj` passes (what `_insert_select` returns), without
    compiling the statement: each column's `pre_save` and `get_db_prep_save`, in column order,
    but the columns in `inline`, whose SQL is part of the statement."""
    return [
        field.get_db_prep_save(field.pre_save(obj, add=True), connection=connection)
        for field in _columns(type(obj))
        if field.attname not in inline
    ]


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# The ledger row's columns whose SQL is in the statement: they read the other CTEs.
_ENTRY_INLINE = {
    "balance_after": "(SELECT balance FROM debit)",
    "process_id": "(SELECT id FROM process)",
}


@cache
def _statement() -> str:
    """The statement, compiled once per process from Django's own INSERTs: only its
    parameters change from call to call (insert_params)."""
    account, key = _table(Account), _table(ApiKey)
    insert_process, _ = _insert_select(Process(), "EXISTS (SELECT 1 FROM debit)")
    inline = {name: RawSQL(sql, []) for name, sql in _ENTRY_INLINE.items()}  # noqa: S611 constants
    entry = LedgerEntry(**inline)
    insert_entry, _ = _insert_select(entry, "EXISTS (SELECT 1 FROM process)")
    # Table names and Django's own INSERTs are formatted in; every value is a parameter.
    return f"""
        WITH debit AS (
            UPDATE {account} SET balance = balance - %s
            WHERE id = %s AND balance >= %s
              AND EXISTS (SELECT 1 FROM {key} WHERE id = %s AND spend_cap IS NULL)
            RETURNING balance, low_balance_threshold, low_balance_alerted_at
        ), process AS (
            {insert_process} RETURNING id
        ), ledger AS (
            {insert_entry} RETURNING id
        ), spent AS (
            UPDATE {key} SET credits_spent = credits_spent + %s
            WHERE id = %s AND EXISTS (SELECT 1 FROM debit) RETURNING id
        )
        SELECT process.id, debit.balance, debit.low_balance_threshold,
               debit.low_balance_alerted_at
        FROM debit, process, ledger, spent
    """  # noqa: S608


def process_insert_charged(process: Process) -> Charged | None:
    """Insert `process` (not saved yet) and charge its price to its account and key in one
    statement. None when nothing was written: the account has fewer credits than the price,
    or the key has a spend cap (credits_charge decides those)."""
    assert process.pk is None and process.credits > 0 and process.api_key_id is not None
    amount = process.credits
    entry = LedgerEntry(
        account_id=process.account_id,
        kind=LedgerEntry.Kind.CHARGE,
        amount=-amount,
        reference=process.public_id,
        api_key_id=process.api_key_id,
    )
    params = [
        amount,
        process.account_id,
        amount,
        process.api_key_id,
        *insert_params(process),
        *insert_params(entry, inline=frozenset(_ENTRY_INLINE)),
        amount,
        process.api_key_id,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_statement(), params)
        row = cursor.fetchone()
    if row is None:
        return None
    process.pk = row[0]
    process._state.adding = False
    return Charged(
        process_pk=row[0],
        balance=row[1],
        low_balance_threshold=row[2],
        low_balance_alerted_at=row[3],
    )
