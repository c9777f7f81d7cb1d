"""Stripe-style signatures: `BReact-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`,
one v1 per secret in force (two during a roll's grace period)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "BReact-Signature"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 300


def secret_new() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(*, secrets_in_force: list[str], body: bytes, timestamp: int) -> str:
    parts = [f"t={timestamp}"]
    parts += [f"v1={signature(secret=s, timestamp=timestamp, body=body)}" for s in secrets_in_force]
    return ",".join(parts)


def verify(*, secret: str, header: str, body: bytes, tolerance: int = DEFAULT_TOLERANCE) -> bool:
    """What a receiver does (the README shows the same in ten lines): parse t and every v1,
    refuse an old timestamp, compare in constant time."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    timestamps = [value for name, value in fields if name == "t"]
    if not timestamps or not timestamps[0].isdigit():
        return False
    timestamp = int(timestamps[0])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = signature(secret=secret, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, value) for name, value in fields if name == "v1")
