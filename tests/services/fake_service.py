"""A service for tests: its handler succeeds, fails as a service or crashes, as asked."""

from __future__ import annotations

from typing import Any

from services.catalogue.registry import (
    EndpointDefinition,
    HandlerOutput,
    ServiceDefinition,
    ServiceFailure,
)

PRICE = 3
# Every params dict the handler was called with, so tests can tell whether it ran.
CALLS: list[dict[str, Any]] = []


def run(params: dict[str, Any]) -> HandlerOutput:
    CALLS.append(params)
    mode = params.get("mode", "ok")
    if mode == "service_failure":
        raise ServiceFailure("The model refused this input.")
    if mode == "crash":
        raise RuntimeError("a bug in the handler")
    return HandlerOutput(
        result={"echo": params.get("text", "")},
        metadata={"model": "test/echo", "usage": {"input_chars": len(params.get("text", ""))}},
        extra={"summary": "an echo"},
    )


SERVICE = ServiceDefinition(
    id="fake_echo",
    name="Fake Echo",
    description="Echoes its input; used by the test suite only.",
    aliases=("echo", "fake-echo"),
    endpoints={
        "echo": EndpointDefinition(
            name="echo",
            description="Echo the text back.",
            price=PRICE,
            input_schema={
                "type": "object",
                "properties": {
                    "text": {"type": "string", "description": "What to echo."},
                    "mode": {
                        "type": "string",
                        "enum": ["ok", "service_failure", "crash"],
                        "default": "ok",
                    },
                    "options": {
                        "type": "object",
                        "properties": {
                            "level": {"type": "integer", "minimum": 1, "maximum": 5},
                            "tags": {"type": "array", "items": {"type": "string"}},
                        },
                        "required": ["level"],
                        "additionalProperties": False,
                    },
                },
                "required": ["text"],
                "additionalProperties": False,
            },
            returns={"type": "object", "description": "The echoed text."},
            handler=run,
        ),
        "free": EndpointDefinition(
            name="free",
            description="Costs nothing.",
            price=0,
            input_schema={"type": "object", "properties": {}},
            returns={"type": "object"},
            handler=run,
        ),
    },
)
