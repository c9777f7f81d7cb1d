"""Create an API key (and the user and account if missing); the key is the last line printed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.console.actions import account_get_or_create
from accounts.keys.actions import api_key_create
from accounts.ledger.actions import credits_add
from accounts.models import LedgerEntry
from breact.errors import BReactError


class Command(BaseCommand):
    help = "Create an API key for the account of EMAIL, granting CREDITS through the ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--credits", type=int, default=0, help="Credits to grant (≥ 0).")
        parser.add_argument("--name", default="default", help="A name for the key.")
        parser.add_argument("--rate-limit", default="", help="Execute rate limit such as 60/m.")
        parser.add_argument(
            "--scopes", default="", help="Comma-separated service ids; empty = all."
        )
        parser.add_argument(
            "--spend-cap", type=int, default=None, help="Most credits the key may spend."
        )
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        email: str = options["email"]
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{email!r} is not an email address.") from None
        if options["credits"] < 0:
            raise CommandError("--credits cannot be negative.")
        expires_at = None
        if options["expires_in_days"] is not None:
            if options["expires_in_days"] <= 0:
                raise CommandError("--expires-in-days must be positive.")
            expires_at = timezone.now() + timedelta(days=options["expires_in_days"])
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        try:
            with transaction.atomic():
                account, created = account_get_or_create(email=email)
                if options["credits"]:
                    credits_add(
                        account=account,
                        amount=options["credits"],
                        kind=LedgerEntry.Kind.GRANT,
                        reference="create_api_key",
                        reason="Granted with the create_api_key command.",
                    )
                key, raw_key = api_key_create(
                    account=account,
                    name=options["name"],
                    scopes=scopes,
                    expires_at=expires_at,
                    rate_limit=options["rate_limit"],
                    spend_cap=options["spend_cap"],
                )
        except BReactError as exc:
            raise CommandError(exc.message) from None
        account.refresh_from_db()
        verb = "Created" if created else "Found"
        self.stderr.write(
            f"{verb} account {email}; balance {account.balance} credits. "
            f"Key {key.name!r} ({key.masked}); it is shown only now:"
        )
        self.stdout.write(raw_key)
