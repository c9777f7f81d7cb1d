"""Reads on processes: the poll (owner and access token checked), an owner's recent runs and
one run, the staff's view of an account's processes and their ledger rows."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account
from breact.dates import iso
from breact.errors import NotFound
from services.execution.process_rows import columns, process_fetch, process_table
from services.models import Process

# Process.error_code of a platform failure (the worker died, the deadline passed, the queue
# was unreachable): the process ends in state "error" and its credits are refunded.
PROCESS_FAILED = "PROCESS_FAILED"


def process_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def process_for_poll(*, account: Account, public_id: str, token: str | None) -> Process:
    """The process, if it belongs to `account`, `token` matches and its result has not expired.

    Every other case raises the same NotFound, so a caller learns nothing about other ids.
    """
    not_found = NotFound(
        "No result for this process id and access token. Results are deleted 60 s after "
        "they are ready."
    )
    process = process_fetch(
        f"SELECT {columns()} FROM {process_table()} WHERE public_id = %s AND account_id = %s",  # noqa: S608
        [public_id, account.pk],
    )
    if process is None or not token or not process.token_hash:
        raise not_found
    if not hmac.compare_digest(process.token_hash, process_token_hash(token)):
        raise not_found
    if process.is_expired(timezone.now()):
        raise not_found
    return process


def processes_recent(*, account: Account, limit: int = 10) -> list[Process]:
    """The account's latest processes (API and console), newest first; index-backed on
    (account, -created_at). Only the account's own rows: the caller passes its own account."""
    return list(Process.objects.filter(account=account).order_by("-created_at", "-id")[:limit])


def process_for_owner(*, account: Account, public_id: str) -> Process:
    """The process `public_id` if it belongs to `account`, annotated with `refunded` (whether
    its credits came back); NotFound alike for a missing process and another account's. No
    access token: the caller is the owner's console session. The result may have expired
    (`is_expired`); the row, its params and its credits stay."""
    from django.db.models import Exists, OuterRef

    from accounts.models import LedgerEntry

    refunds = LedgerEntry.objects.filter(process=OuterRef("pk"), kind=LedgerEntry.Kind.REFUND)
    process = (
        Process.objects.filter(account=account, public_id=public_id)
        .annotate(refunded=Exists(refunds))
        .first()
    )
    if process is None:
        raise NotFound("No such process.")
    return process


def console_runs_recent(*, account: Account, limit: int = 10) -> list[Process]:
    """The account's latest playground runs (made with its console key), newest first;
    index-backed on (account, -created_at)."""
    return list(
        Process.objects.filter(account=account, api_key__is_console=True).order_by(
            "-created_at", "-id"
        )[:limit]
    )


def processes_for_staff(*, account: Account) -> QuerySet[Process]:
    """The account's processes, newest first (index on account, -created_at), for the staff
    account page; pair a page of them with process_ledger_kinds. The caller checks that the
    user is staff."""
    return (
        Process.objects.filter(account=account)
        .defer("params", "token_hash")
        .order_by("-created_at", "-id")
    )


def process_ledger_kinds(*, process_ids: list[int]) -> dict[int, set[str]]:
    """For the given processes, which of "charge" and "refund" the ledger holds, in one query
    on the ledger's unique (process, kind) index. (Per-row EXISTS subqueries let PostgreSQL
    pick a hashed scan of the whole ledger instead.)"""
    from accounts.models import LedgerEntry

    if not process_ids:
        return {}
    kinds: dict[int, set[str]] = {}
    rows = LedgerEntry.objects.filter(
        process_id__in=process_ids,
        kind__in=[LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.REFUND],
    ).values_list("process_id", "kind")
    for process_id, kind in rows:
        kinds.setdefault(int(process_id), set()).add(str(kind))
    return kinds


def process_for_staff(*, public_id: str) -> Process:
    """Any process by public id, else Http404. Staff only: the caller checks."""
    from django.http import Http404

    process = Process.objects.filter(public_id=public_id).first()
    if process is None:
        raise Http404("No such process.")
    return process


def poll_body(process: Process) -> dict[str, Any]:
    """The body a poll answers for `process` (pending, error or completed), as the contract
    has it; webhook events carry the same."""
    common = {
        "service": process.service_id,
        "endpoint": process.endpoint,
        "created_at": iso(process.created_at),
    }
    if process.state in (Process.State.QUEUED, Process.State.RUNNING):
        running = process.state == Process.State.RUNNING
        return {
            "status": "pending",
            "result": None,
            "error": None,
            "message": "Process is running" if running else "Process is queued",
            **common,
            "process_info": {
                "state": process.state,
                "started_at": iso(process.started_at),
                "progress": None if running else 0,
                "elapsed": round((timezone.now() - process.created_at).total_seconds(), 3),
            },
        }
    finished = {
        "completed_at": iso(process.finished_at),
        "expires_at": iso(process.expires_at),
        "process_info": None,
    }
    if process.state == Process.State.ERROR:
        return {
            "status": "error",
            "result": None,
            "error": process.error_code or PROCESS_FAILED,
            "message": f"{process.error_message} The credits were refunded.",
            **common,
            **finished,
        }
    return {
        "status": "completed",
        "result": process.result,
        "error": None,
        "message": None,
        **common,
        **finished,
    }
