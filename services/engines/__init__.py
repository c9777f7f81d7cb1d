"""Engines: the local engines (offline, deterministic) and OpenAI-compatible endpoints."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from services.engines.llm import ProviderRoute

T = TypeVar("T")


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


def text_usage(content: str) -> dict[str, int]:
    """The usage a local engine reports for a text: characters and words read."""
    return {"input_chars": len(content), "input_words": len(content.split())}


def local_or_model(
    route: ProviderRoute | None,
    *,
    engine: str,
    local: Callable[[], tuple[T, dict[str, Any]]],
    model: Callable[[ProviderRoute], tuple[T, dict[str, Any]]],
) -> tuple[T, str, dict[str, Any]]:
    """Run the configured model when a provider serves the requested id (`route`), else the
    local engine: (result, what ran for metadata.model, usage)."""
    if route is None:
        result, usage = local()
        return result, engine, usage
    result, usage = model(route)
    return result, route.model_id, usage
