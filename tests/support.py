"""Helpers shared by the suite: CI detection, skip-or-fail, and moving the test database between
migrations (Django imported only inside those)."""

from __future__ import annotations

import os
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip locally when a server is missing; in CI a missing server is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must not skip integration tests)")
    pytest.skip(reason)


def migrate_to(targets: list[tuple[str, str]]) -> Any:
    """Migrate the test database to `targets` (app, migration) and return that state's apps."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_latest() -> None:
    """Put the whole schema back (every app's last migration) after a migration test."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    migrate_to(MigrationExecutor(connection).loader.graph.leaf_nodes())
