"""System checks of the billing settings (shown by `manage.py check`, and `check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register

from accounts.billing.payments import TEST_MODE, is_test_mode_requested, stripe_enabled, topup_mode


@register(Tags.security, deploy=True)
def check_test_mode_topups(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """In deployment: free test-mode top-ups are in effect."""
    if topup_mode() != TEST_MODE:
        return []
    return [
        Warning(
            "Test-mode top-ups are on: any signed-in user can add credits without paying.",
            hint="Configure Stripe (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET) and unset "
            "BREACT_PAYMENTS_TEST_MODE on a server that real users reach.",
            id="breact.W001",
        )
    ]


@register(Tags.security)
def check_test_mode_ignored(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Test mode asked for but not in effect: say why, so the operator is not left guessing."""
    if not is_test_mode_requested() or topup_mode() == TEST_MODE:
        return []
    if stripe_enabled():
        reason, hint = "Stripe is configured", "Unset BREACT_PAYMENTS_TEST_MODE."
    else:
        reason = "BREACT_DEBUG is off"
        hint = "Set BREACT_PAYMENTS_TEST_MODE=force to allow free top-ups without debug mode."
    return [
        Warning(
            f"BREACT_PAYMENTS_TEST_MODE is {settings.BREACT_PAYMENTS_TEST_MODE} but ignored: "
            f"{reason}.",
            hint=hint,
            id="breact.W002",
        )
    ]
