"""slow_test: a service that sleeps, for the worker-lost integration test (never in production).

Loaded by the live server and worker through BREACT_EXTRA_SERVICE_MODULES. The handler writes the
pid of the pool process running it to VAR_DIR/slow-service/<marker>.pid, so a test can kill
exactly that process.
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.conf import settings

from services.catalogue.registry import EndpointDefinition, HandlerOutput, ServiceDefinition

PID_FOLDER = "slow-service"


def pid_file(var_dir: Any, marker: str) -> Any:
    """Where the run tagged `marker` records its pid (var_dir is the live processes' VAR_DIR)."""
    return var_dir / PID_FOLDER / f"{marker}.pid"


def sleep(params: dict[str, Any]) -> HandlerOutput:
    path = pid_file(settings.VAR_DIR, params["marker"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(os.getpid()))
    tmp.replace(path)  # atomic: a reader never sees a half-written pid
    time.sleep(params.get("seconds", 30))
    return HandlerOutput(result={"slept": params.get("seconds", 30), "pid": os.getpid()})


SERVICE = ServiceDefinition(
    id="slow_test",
    name="Slow Test",
    description="Sleeps for a while; used by the integration tests to kill a busy worker.",
    endpoints={
        "sleep": EndpointDefinition(
            name="sleep",
            description="Record the worker pid, then sleep `seconds`.",
            price=2,
            input_schema={
                "type": "object",
                "properties": {
                    "marker": {
                        "type": "string",
                        "description": "Names the pid file.",
                        "pattern": "^[A-Za-z0-9_-]{1,64}$",
                    },
                    "seconds": {
                        "type": "number",
                        "description": "How long to sleep.",
                        "minimum": 0,
                        "maximum": 60,
                        "default": 30,
                    },
                },
                "required": ["marker"],
                "additionalProperties": False,
            },
            returns={"type": "object", "description": "slept, pid."},
            handler=sleep,
            example={"marker": "example", "seconds": 1},
        )
    },
)
