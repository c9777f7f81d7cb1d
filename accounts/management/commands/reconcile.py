"""Check that every balance equals its ledger and every process was charged and refunded right."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.ledger.reconciliation import CHUNK_SIZE, MAX_MISMATCHES, Report, reconcile


class Command(BaseCommand):
    help = (
        "Reconcile the books (reads only): each account's balance against the sum of its ledger "
        "(and the ledger's balance_after chain), each process's charge and refund rows against "
        "its state. Prints a summary and every mismatch; exits 1 when any mismatch exists "
        "(stuck processes are warnings: exit 0 unless --strict), 0 otherwise."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--no-chain",
            action="store_true",
            help="Skip the per-row balance_after chain check (one pass over the whole ledger).",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=CHUNK_SIZE,
            help=f"Accounts or processes read per query (default {CHUNK_SIZE}).",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=MAX_MISMATCHES,
            help=f"Most mismatches listed; all are counted (default {MAX_MISMATCHES}).",
        )
        parser.add_argument(
            "--strict", action="store_true", help="Exit 1 on warnings (stuck processes) too."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["chunk_size"] < 1 or options["limit"] < 0:
            raise CommandError("--chunk-size must be at least 1 and --limit at least 0.")
        report = reconcile(
            chunk_size=options["chunk_size"], chain=not options["no_chain"], limit=options["limit"]
        )
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
        else:
            self._print(report)
        failed = report.errors or (options["strict"] and report.warnings)
        if failed:
            raise CommandError(
                f"The books do not balance: {report.errors} error(s), "
                f"{report.warnings} warning(s).",
                returncode=1,
            )

    def _print(self, report: Report) -> None:
        chain = "with" if report.chain_checked else "without"
        self.stdout.write(
            f"Checked {report.accounts_checked} account(s), {report.ledger_rows_checked} ledger "
            f"row(s) ({chain} the balance_after chain) and {report.processes_checked} "
            f"process(es) in {report.seconds:.2f} s."
        )
        for mismatch in report.mismatches:
            where = " ".join(
                part
                for part in (
                    f"account={mismatch.account}" if mismatch.account is not None else "",
                    f"<{mismatch.account_email}>" if mismatch.account_email else "",
                    f"process={mismatch.process}" if mismatch.process else "",
                )
                if part
            )
            self.stdout.write(
                f"{mismatch.severity.upper()} {mismatch.kind} {where} "
                f"expected={mismatch.expected} actual={mismatch.actual}: {mismatch.detail}"
            )
        if report.truncated:
            self.stdout.write(f"… and {report.truncated} more not listed (raise --limit).")
        if report.balanced:
            note = f" ({report.warnings} warning(s))" if report.warnings else ""
            self.stdout.write(self.style.SUCCESS(f"The books balance{note}."))
        else:
            counts = ", ".join(f"{kind}: {n}" for kind, n in sorted(report.counts.items()))
            self.stdout.write(self.style.ERROR(f"{report.errors} mismatch(es) — {counts}."))
