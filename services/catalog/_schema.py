"""JSON Schema fragments the catalogue shares: required text, config.modelId & co."""

from typing import Any

from breact.params import NOT_BLANK_PATTERN

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


def required_text(description: str, *, max_length: int) -> dict[str, Any]:
    """A required text parameter: whitespace alone is refused like an empty string, before any
    charge (the pattern, not minLength, so the message says "empty or only spaces")."""
    return {
        "type": "string",
        "description": description,
        "maxLength": max_length,
        "pattern": NOT_BLANK_PATTERN,
    }
