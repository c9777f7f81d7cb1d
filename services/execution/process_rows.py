"""Process rows in one plain statement, without compiling a query per call.

The poll (`GET /api/v1/services/result/{id}`, the call a client makes most) and the worker's
claim read one whole process row. Through the ORM, building and compiling that query cost
several times what the database took to answer it; here the column list is written once per
server process from the model (every concrete field, in field order), each call runs its
statement on a cursor, and the row becomes a `Process` as Django's own compiler would make it:
each value through the converters the database backend and the field ask for (JSON decoded, a
SQLite date parsed…), then `Model.from_db`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import connection

from services.models import Process


def process_table() -> str:
    return connection.ops.quote_name(Process._meta.db_table)


@cache
def _columns(vendor: str) -> str:
    quote = connection.ops.quote_name
    return ", ".join(quote(field.column) for field in Process._meta.concrete_fields)


def columns() -> str:
    """Every column of the process table, in the model's field order (what `process_from_row`
    takes), for a SELECT or a RETURNING."""
    return _columns(connection.vendor)


def process_from_row(row: Sequence[Any]) -> Process:
    """The Process of a row of `columns()`."""
    fields = Process._meta.concrete_fields
    values = []
    for field, value in zip(fields, row, strict=True):
        if value is not None:
            column = field.get_col(Process._meta.db_table)
            converters = connection.ops.get_db_converters(column)
            converters += column.get_db_converters(connection)
            for converter in converters:
                value = converter(value, column, connection)
        values.append(value)
    return Process.from_db(connection.alias, [field.attname for field in fields], values)


def process_fetch(statement: str, params: Sequence[Any]) -> Process | None:
    """Run `statement` (a SELECT or an UPDATE … RETURNING of `columns()`) and make its first
    row a Process; None when it returns no row."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    return None if row is None else process_from_row(row)
