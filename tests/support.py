"""Helpers shared by the suite that need no Django: CI detection and skip-or-fail."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip locally when a server is missing; in CI a missing server is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must not skip integration tests)")
    pytest.skip(reason)
