"""Reconciliation: prove that balances equal their ledgers and processes were charged right.

Pure reads, streamed over accounts and processes in primary-key chunks, so memory stays flat
and every query is bounded by an index range. Each check reads what it compares in ONE SQL
statement (a balance with its ledger sum; a process with its charge and refund rows), so live
traffic between statements cannot make a correct account look wrong: every money-moving action
changes both sides in one transaction, and one statement sees one snapshot.

Used by the staff reconciliation page and `manage.py reconcile`; both only read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.db.models import Case, Count, F, FilteredRelation, Q, Sum, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account, AuditEvent, LedgerEntry

CHUNK_SIZE = 1000
MAX_MISMATCHES = 1000  # listed; more are counted, not kept

ERROR = "error"
WARNING = "warning"

# Audit actions with which staff refund a process by hand: a refund of a successful process is
# expected when one of these names the process or its refund row.
STAFF_REFUND_ACTIONS = ("process.refund", "credits.refund")

KIND_LABELS = {
    "balance": "Balance differs from the ledger sum",
    "ledger_chain": "Ledger balance_after chain broken",
    "charge_missing": "Charge missing",
    "charge_amount": "Charge amount wrong",
    "charge_count": "More than one charge",
    "charge_unexpected": "Charge on a free process",
    "refund_missing": "Refund missing",
    "refund_amount": "Refund differs from the charge",
    "refund_count": "More than one refund",
    "refund_unexpected": "Refund of a successful process",
    "ledger_account": "Charge or refund on another account",
    "ledger_orphan": "Charge or refund without a process",
    "stuck": "Process stuck past its deadline",
}


@dataclass(frozen=True)
class Mismatch:
    """One thing that does not add up. `expected` and `actual` are credits or counts."""

    kind: str
    severity: str
    account: int | None
    process: str | None
    expected: Any
    actual: Any
    detail: str
    account_email: str = ""

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    started_at: datetime
    seconds: float = 0.0
    accounts_checked: int = 0
    ledger_rows_checked: int = 0
    processes_checked: int = 0
    chain_checked: bool = True
    mismatches: list[Mismatch] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # per kind, including those not kept
    limit: int = MAX_MISMATCHES

    @property
    def errors(self) -> int:
        return sum(n for kind, n in self.counts.items() if _severity(kind) == ERROR)

    @property
    def warnings(self) -> int:
        return sum(n for kind, n in self.counts.items() if _severity(kind) == WARNING)

    @property
    def balanced(self) -> bool:
        """True when nothing is wrong with money (stuck processes are only warnings)."""
        return self.errors == 0

    @property
    def truncated(self) -> int:
        return sum(self.counts.values()) - len(self.mismatches)

    def add(self, mismatch: Mismatch) -> None:
        self.counts[mismatch.kind] = self.counts.get(mismatch.kind, 0) + 1
        if len(self.mismatches) < self.limit:
            self.mismatches.append(mismatch)

    def as_dict(self) -> dict[str, Any]:
        return {
            "balanced": self.balanced,
            "started_at": self.started_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "accounts_checked": self.accounts_checked,
            "ledger_rows_checked": self.ledger_rows_checked,
            "processes_checked": self.processes_checked,
            "chain_checked": self.chain_checked,
            "errors": self.errors,
            "warnings": self.warnings,
            "counts": dict(sorted(self.counts.items())),
            "truncated": self.truncated,
            "mismatches": [m.as_dict() for m in self.mismatches],
        }


def _severity(kind: str) -> str:
    return WARNING if kind == "stuck" else ERROR


def _pk_ranges(model: Any, chunk_size: int) -> Iterator[tuple[int, int, int]]:
    """(after, upto, rows): consecutive primary-key ranges of at most chunk_size rows, read
    from the primary-key index (keyset pagination, no OFFSET)."""
    after = 0
    while True:
        ids = list(
            model.objects.filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:chunk_size]
        )
        if not ids:
            return
        yield after, ids[-1], len(ids)
        after = ids[-1]


def _check_balances(report: Report, after: int, upto: int) -> None:
    """Accounts in (after, upto] whose balance differs from the sum of their ledger: one
    grouped statement joining accounts to their ledger rows, compared in SQL. The account range
    is repeated in the join condition, so the ledger is read through its account index for
    this chunk only, never scanned whole."""
    chunk_ledger = FilteredRelation(
        "ledger", condition=Q(ledger__account_id__gt=after, ledger__account_id__lte=upto)
    )
    wrong = (
        Account.objects.filter(pk__gt=after, pk__lte=upto)
        .annotate(chunk_ledger=chunk_ledger)
        .annotate(
            ledger_sum=Coalesce(Sum("chunk_ledger__amount"), Value(0)),
            ledger_rows=Count("chunk_ledger"),
        )
        .exclude(balance=F("ledger_sum"))
        .order_by("pk")
        .values_list("pk", "balance", "ledger_sum", "ledger_rows")
    )
    for pk, balance, ledger_sum, rows in wrong:
        report.add(
            Mismatch(
                kind="balance",
                severity=ERROR,
                account=pk,
                process=None,
                expected=int(ledger_sum),
                actual=int(balance),
                detail=f"Balance {balance} but its {rows} ledger row(s) sum to {ledger_sum} "
                f"({int(balance) - int(ledger_sum):+d}).",
            )
        )


def _check_chains(report: Report, after: int, upto: int) -> None:
    """Each ledger row's balance_after equals the previous row's plus its amount (the first
    row's equals its amount), per account in id order. Rows are inserted while the account row
    is locked, so id order is the order the balance changed in. At most one break is reported
    per account: the first one; the rest of a broken chain follows from it."""
    rows = (
        LedgerEntry.objects.filter(account_id__gt=after, account_id__lte=upto)
        .order_by("account_id", "id")
        .values_list("account_id", "id", "amount", "balance_after")
        .iterator(chunk_size=5000)
    )
    current, running, broken = None, 0, False
    for account_id, entry_id, amount, balance_after in rows:
        report.ledger_rows_checked += 1
        if account_id != current:
            current, running, broken = account_id, 0, False
        running += amount
        if running != balance_after and not broken:
            broken = True
            report.add(
                Mismatch(
                    kind="ledger_chain",
                    severity=ERROR,
                    account=account_id,
                    process=None,
                    expected=running,
                    actual=int(balance_after),
                    detail=f"Ledger row {entry_id} ({amount:+d}) says balance_after "
                    f"{balance_after}; the rows before it add up to {running - amount}.",
                )
            )
        running = balance_after  # after a break, follow the rows as written


class _ProcessRow(NamedTuple):
    pk: int
    public_id: str
    account_id: int
    state: str
    credits: int
    overdue_since: datetime | None  # its deadline when unfinished past it (stuck), else None
    inner_status: str | None  # the result's "status"; None once the result is purged
    charges: int
    charged: int  # the sum of its charge rows (negative)
    refunds: int
    refunded: int  # the sum of its refund rows (positive)
    foreign: int  # charge/refund rows on another account than the process's


def _process_findings(row: _ProcessRow) -> tuple[list[tuple[Any, ...]], bool]:
    """What is wrong with one process: [(kind, expected, actual, detail)], and whether its
    refund is explained only by a staff refund (checked against the audit log afterwards)."""
    found: list[tuple[Any, ...]] = []
    state, credits, charged = row.state, row.credits, int(row.charged)
    if row.overdue_since is not None:
        found.append(
            (
                "stuck",
                "finished",
                state,
                f"Still {state}; its deadline was {row.overdue_since:%Y-%m-%d %H:%M:%S} UTC.",
            )
        )
    if row.foreign:
        found.append(
            (
                "ledger_account",
                0,
                row.foreign,
                f"{row.foreign} charge/refund row(s) of this process are on another account.",
            )
        )
    if credits > 0:
        if row.charges == 0:
            found.append(
                (
                    "charge_missing",
                    -credits,
                    None,
                    f"Priced at {credits} credits but never charged.",
                )
            )
        elif row.charges > 1:
            found.append(
                ("charge_count", 1, row.charges, f"{row.charges} charge rows for one process.")
            )
        elif charged != -credits:
            found.append(
                ("charge_amount", -credits, charged, f"Charged {charged} for a price of {credits}.")
            )
    elif row.charges:
        found.append(
            ("charge_unexpected", 0, charged, "A free process (price 0) has a charge row.")
        )
    if row.refunds > 1:
        found.append(
            ("refund_count", 1, row.refunds, f"{row.refunds} refund rows for one process.")
        )
        return found, False
    refunded = int(row.refunded)
    platform_failure = state == "error"
    service_error = state == "completed" and row.inner_status == "error"
    purged = state == "completed" and row.inner_status is None  # outcome no longer known
    if row.charges == 0:
        if row.refunds:
            found.append(("refund_unexpected", 0, refunded, "Refunded but never charged."))
        return found, False
    if row.refunds == 1 and refunded != -charged:
        found.append(
            (
                "refund_amount",
                -charged,
                refunded,
                f"Refunded {refunded} of a {-charged}-credit charge.",
            )
        )
    if (platform_failure or service_error) and row.refunds == 0:
        why = "failed on the platform" if platform_failure else "its service returned an error"
        found.append(
            (
                "refund_missing",
                -charged,
                None,
                f"The process {why}, but its charge was not refunded.",
            )
        )
    needs_staff_refund = row.refunds == 1 and not (platform_failure or service_error or purged)
    return found, needs_staff_refund


def _check_processes(report: Report, after: int, upto: int, now: datetime) -> None:
    """Processes in (after, upto] with the count and sum of their charge and refund rows, in
    one grouped statement. The join condition repeats the process range and the two kinds, so
    the ledger is read through its partial unique index on (process, kind) for this chunk only."""
    from services.models import Process

    moves = FilteredRelation(
        "ledger_entries",
        condition=Q(
            ledger_entries__process_id__gt=after,
            ledger_entries__process_id__lte=upto,
            ledger_entries__kind__in=[LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.REFUND],
        ),
    )
    charge = Q(moves__kind=LedgerEntry.Kind.CHARGE)
    refund = Q(moves__kind=LedgerEntry.Kind.REFUND)
    rows = (
        Process.objects.filter(pk__gt=after, pk__lte=upto)
        .annotate(moves=moves)
        .annotate(
            # Only stuck rows carry a time: parsing 1000 datetimes per chunk costs more than
            # the query.
            overdue_since=Case(
                When(
                    Q(state__in=[Process.State.QUEUED, Process.State.RUNNING], deadline_at__lt=now),
                    then=F("deadline_at"),
                ),
                default=None,
            ),
            inner_status=KeyTextTransform("status", "result"),
            charges=Count("moves", filter=charge),
            charged=Coalesce(Sum("moves__amount", filter=charge), Value(0)),
            refunds=Count("moves", filter=refund),
            refunded=Coalesce(Sum("moves__amount", filter=refund), Value(0)),
            foreign=Count("moves", filter=~Q(moves__account_id=F("account_id"))),
        )
        .order_by("pk")
        .values_list(*_ProcessRow._fields)
    )
    staff_refunded: list[_ProcessRow] = []
    for values in rows:
        row = _ProcessRow(*values)
        report.processes_checked += 1
        found, needs_staff_refund = _process_findings(row)
        for kind, expected, actual, detail in found:
            report.add(
                Mismatch(
                    kind, _severity(kind), row.account_id, row.public_id, expected, actual, detail
                )
            )
        if needs_staff_refund:
            staff_refunded.append(row)
    if staff_refunded:
        _explain_refunds(report, staff_refunded)


def _explain_refunds(report: Report, candidates: list[_ProcessRow]) -> None:
    """A successful (or unfinished) process may have been refunded by staff: fine when an
    audit event of a staff refund names the process or its refund row; a mismatch otherwise.
    Rare, so two small indexed queries for a chunk that has any."""
    refund_rows = dict(
        LedgerEntry.objects.filter(
            process_id__in=[row.pk for row in candidates], kind=LedgerEntry.Kind.REFUND
        ).values_list("process_id", "pk")
    )
    audited = set(
        AuditEvent.objects.filter(action__in=STAFF_REFUND_ACTIONS)
        .filter(
            Q(target_type="services.process", target_id__in=[row.public_id for row in candidates])
            | Q(
                target_type="accounts.ledgerentry",
                target_id__in=[str(pk) for pk in refund_rows.values()],
            )
        )
        .values_list("target_type", "target_id")
    )
    for row in candidates:
        if ("services.process", row.public_id) in audited or (
            "accounts.ledgerentry",
            str(refund_rows.get(row.pk)),
        ) in audited:
            continue
        what = "completed successfully" if row.state == "completed" else f"is still {row.state}"
        report.add(
            Mismatch(
                "refund_unexpected",
                ERROR,
                row.account_id,
                row.public_id,
                0,
                int(row.refunded),
                f"The process {what} but was refunded {row.refunded}, and no staff refund of "
                "it is in the audit log.",
            )
        )


def _check_orphans(report: Report) -> None:
    """Charge and refund rows must name their process (one statement over the ledger's
    partial unique index on process and kind)."""
    orphans = LedgerEntry.objects.filter(
        kind__in=[LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.REFUND], process__isnull=True
    ).order_by("id")
    for entry_id, account_id, kind, amount in orphans.values_list(
        "id", "account_id", "kind", "amount"
    ).iterator(chunk_size=2000):
        report.add(
            Mismatch(
                "ledger_orphan",
                ERROR,
                account_id,
                None,
                None,
                int(amount),
                f"Ledger row {entry_id} is a {kind} of {amount:+d} without a process.",
            )
        )


def _attach_emails(report: Report) -> None:
    ids = {m.account for m in report.mismatches if m.account is not None}
    if not ids:
        return
    emails = dict(Account.objects.filter(pk__in=ids).values_list("pk", "owner__email"))
    report.mismatches = [
        Mismatch(**{**m.as_dict(), "account_email": emails.get(m.account, "")})
        if m.account is not None
        else m
        for m in report.mismatches
    ]


def reconcile(
    *, chunk_size: int = CHUNK_SIZE, chain: bool = True, limit: int = MAX_MISMATCHES
) -> Report:
    """Check every account and every process; return what does not add up.

    Reads only. Per chunk of accounts: one grouped balance-vs-ledger statement and (with
    `chain`) one streamed pass over their ledger rows. Per chunk of processes: one statement
    with their charge and refund counts and sums. Then one query for charge/refund rows
    without a process. `limit` bounds the mismatches kept (all are counted). Staff only:
    the caller checks permissions.
    """
    from services.models import Process

    started = time.perf_counter()
    now = timezone.now()
    report = Report(started_at=now, chain_checked=chain, limit=limit)
    for after, upto, rows in _pk_ranges(Account, chunk_size):
        report.accounts_checked += rows
        _check_balances(report, after, upto)
        if chain:
            _check_chains(report, after, upto)
    for after, upto, _rows in _pk_ranges(Process, chunk_size):
        _check_processes(report, after, upto, now)
    _check_orphans(report)
    _attach_emails(report)
    report.seconds = time.perf_counter() - started
    return report
