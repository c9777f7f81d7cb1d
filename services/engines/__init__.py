"""Engines: the local engines (offline, deterministic) and OpenAI-compatible endpoints."""

from __future__ import annotations

import time
from typing import Any


def run_metadata(
    *,
    model: str,
    requested_model: str | None,
    started: float,
    usage: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The `metadata` every handler returns: the engine or model that ran, the one asked for,
    seconds spent (from a time.perf_counter() start) and token or size usage."""
    return {
        "model": model,
        "requested_model": requested_model,
        "processing_time": round(time.perf_counter() - started, 6),
        "usage": usage or {},
        **extra,
    }
