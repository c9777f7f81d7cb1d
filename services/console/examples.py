"""Example results for the service pages: what an endpoint's example call really returns."""

from __future__ import annotations

import copy
import logging
from functools import cache
from typing import Any

from services.catalogue.registry import EndpointDefinition
from services.console import forms

logger = logging.getLogger(__name__)

LOCAL = "local"


def _with_local_model(endpoint: EndpointDefinition, params: dict[str, Any]) -> dict[str, Any]:
    """`params` asking for the built-in local engine: a docs page never calls a model provider."""
    if not endpoint.model_path:
        return params
    target = params
    for key in endpoint.model_path[:-1]:
        inner = target.get(key)
        if not isinstance(inner, dict):
            inner = target[key] = {}
        target = inner
    target[endpoint.model_path[-1]] = LOCAL
    return params


@cache
def example_result(endpoint: EndpointDefinition) -> Any:
    """The `result` of the endpoint's example call: `example_result` when the definition gives
    one, else the local engine's answer to `example` (computed once per process; the local
    engines take milliseconds and touch no network). Falls back to the shape of `returns`
    when the handler cannot answer offline."""
    if endpoint.example_result is not None:
        return endpoint.example_result
    params = _with_local_model(endpoint, copy.deepcopy(endpoint.example))
    try:
        return endpoint.handler(params).result
    except Exception:
        logger.warning("No example result for %s; showing its shape", endpoint.name, exc_info=True)
        return forms.shape_of(endpoint.returns)
