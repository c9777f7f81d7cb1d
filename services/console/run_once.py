"""One run per rendered playground form: its one-time token is the run's idempotency key."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from accounts.models import ApiKey
from breact.errors import IdempotencyInFlight
from services.catalogue.selectors import ResolvedEndpoint
from services.execution.actions import ExecuteOutcome, call_start

TOKEN_FIELD = "run_token"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
# A second submit waits this long for the first one (still charging) to finish, then replays it.
IN_FLIGHT_WAIT_SECONDS = 10.0
_POLL_SECONDS = 0.05


def run_token_new() -> str:
    """A fresh token for one rendered run form (a hidden field)."""
    return secrets.token_urlsafe(18)


def idempotency_key_for(token: str) -> str | None:
    """The idempotency key of a form's token; None for a missing or malformed token."""
    return f"console-form:{token}" if _TOKEN.fullmatch(token or "") else None


def call_start_once(
    *,
    api_key: ApiKey,
    resolved: ResolvedEndpoint,
    params: dict[str, Any],
    token: str,
    request_id: str = "",
) -> ExecuteOutcome:
    """call_start keyed by the form's token: a double click or a resubmitted form gets the
    first submit's run back (`replayed`) and is charged nothing more. While the first submit is
    still in flight the second waits for it (up to IN_FLIGHT_WAIT_SECONDS) instead of failing.
    Raises what call_start raises, and IdempotencyMismatch when the token was used for other
    parameters (a form reused after going back)."""
    key = idempotency_key_for(token)
    deadline = time.monotonic() + IN_FLIGHT_WAIT_SECONDS
    while True:
        try:
            return call_start(
                api_key=api_key,
                resolved=resolved,
                params=params,
                idempotency_key=key,
                request_id=request_id,
            )
        except IdempotencyInFlight:
            if time.monotonic() >= deadline:
                raise
            time.sleep(_POLL_SECONDS)
