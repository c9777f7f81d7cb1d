"""JSON Schema fragments shared by the catalogue's `process` endpoints (config.modelId & co.)."""

from typing import Any

DOCUMENTED_DEFAULT_MODEL = "mistral-large-2411"

MODEL_ID: dict[str, Any] = {
    "type": "string",
    "description": 'The model to run; without one (or with "local") the local engine answers.',
    "default": DOCUMENTED_DEFAULT_MODEL,
    "maxLength": 200,
}
TEMPERATURE: dict[str, Any] = {
    "type": "number",
    "description": "Sampling temperature for a model.",
    "minimum": 0,
    "maximum": 1,
    "default": 0.1,
}
MAX_TOKENS: dict[str, Any] = {
    "type": "integer",
    "description": "Most tokens a model may answer with.",
    "minimum": 1,
    "maximum": 32_000,
    "default": 2000,
}
