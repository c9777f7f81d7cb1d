"""Make sure the demo staff user exists; print its password the first time only."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.actions import account_get_or_create, credits_add
from accounts.models import User

DEMO_EMAIL = "demo@breact.local"


class Command(BaseCommand):
    help = "Create the demo staff user (with an account and 1000 credits) if it does not exist."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default=DEMO_EMAIL)

    def handle(self, *args: Any, **options: Any) -> None:
        # Stored emails are normalised and lower-cased; look up the same form.
        email = User.objects.normalize_email(options["email"]).lower()
        if User.objects.filter(email=email).exists():
            self.stdout.write(f"Demo staff user: {email} (password printed when it was created)")
            return
        password = secrets.token_urlsafe(12)
        # All or nothing: a user created without its password printed could never log in.
        with transaction.atomic():
            User.objects.create_superuser(email, password)
            account, _ = account_get_or_create(email=email)
            credits_add(
                account=account, amount=1000, reference="demo", reason="Demo account credits."
            )
        self.stdout.write("Created the demo staff user; these credentials are shown once:")
        self.stdout.write(f"  email:    {email}")
        self.stdout.write(f"  password: {password}")
