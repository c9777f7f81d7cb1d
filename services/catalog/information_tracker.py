"""information_tracker: structured facts from text, fitted to a JSON Schema and merged into what
is already known."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime
from typing import Any

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

from services.catalog._schema import (
    DOCUMENTED_DEFAULT_MODEL,
    MAX_TOKENS,
    MODEL_ID,
    TEMPERATURE,
    required_text,
)
from services.catalogue.registry import (
    EndpointDefinition,
    HandlerOutput,
    ServiceDefinition,
    ServiceFailure,
)
from services.engines import local_or_model, run_metadata, text_usage
from services.engines.llm import ProviderRoute, chat_json, route_for
from services.engines.local_extraction import ExtractionError, SchemaView, extract, extract_free
from services.engines.local_merge import (
    fill_required,
    map_current,
    merge,
    repair,
    required_absent,
    schema_errors,
)

ENGINE = "local/schema-extractor"
DEFAULT_MODEL = DOCUMENTED_DEFAULT_MODEL
MAX_CONTENT_CHARS = 100_000
MAX_CURRENT_KEYS = 200
MAX_SCHEMA_PROPERTIES = 300
PRICE = 3
META_SCHEMA = "https://json-schema.org/draft/2020-12/schema"

_SCHEMA_PARAM = {
    "type": "object",
    "description": "A JSON Schema (draft 2020-12 or older) for the object to extract: `type` "
    "object with `properties` (string, number, integer, boolean, enum, array, nested object; "
    "`format` date, date-time, email, uri, duration are understood), `required`, local `$ref`s. "
    "The result always validates against it; enums are strict. Without a schema the facts are "
    "extracted free-form.",
    "$ref": META_SCHEMA,
}
_CURRENT_INFO = {
    "type": "object",
    "description": "What is already known. New facts replace scalar values, lists are united "
    "without duplicates, objects are merged key by key. A key the schema lacks moves to the one "
    "property whose name it contains (previous_symptoms -> symptoms).",
    "maxProperties": MAX_CURRENT_KEYS,
}
_UPDATE_TYPE = {
    "type": "string",
    "description": "What kind of update this is (a free label such as medical_symptoms); echoed "
    "in metadata.update_type and given to the model as context.",
    "maxLength": 100,
}
_REFERENCE_DATE = {
    "type": "string",
    "format": "date",
    "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "description": 'The day relative dates are resolved against ("yesterday", "since '
    'Monday", "3 days ago"), as YYYY-MM-DD. Default: today (UTC).',
}

_RETURNS = {
    "type": "object",
    "description": "`result`: the extracted object merged into currentInfo, valid against the "
    "schema. `metadata`: model, requested_model, processing_time, usage, update_type, "
    "extracted_fields (paths found in this text), missing_fields (required fields this text "
    "did not give), filled_fields (required fields filled from a default, a const, null or an "
    "empty list), mapped_fields (currentInfo keys moved to a schema property), dropped_fields "
    "(values the schema refuses and optional nested objects left incomplete). A required "
    "field that is neither in the text nor in currentInfo and has no default fails the call "
    "(inner status error, credits refunded) naming the field.",
}


def _reference(raw: str | None) -> date:
    if raw:
        try:
            return date.fromisoformat(raw)
        except ValueError as exc:
            raise ServiceFailure(f"referenceDate {raw!r} is not a date (YYYY-MM-DD).") from exc
    return datetime.now(UTC).date()


def _count_properties(node: Any) -> int:
    if isinstance(node, dict):
        own = len(node["properties"]) if isinstance(node.get("properties"), dict) else 0
        return own + sum(_count_properties(v) for v in node.values())
    if isinstance(node, list):
        return sum(_count_properties(v) for v in node)
    return 0


def _check_schema(schema: dict[str, Any] | None) -> None:
    if schema is None:
        return
    try:
        validator_for(schema).check_schema(schema)
        root = SchemaView(schema).resolve(schema)
    except SchemaError as exc:
        raise ServiceFailure(f"The schema is not a valid JSON Schema: {exc.message}") from exc
    except ExtractionError as exc:
        raise ServiceFailure(str(exc)) from exc
    fields = _count_properties(schema)
    if fields > MAX_SCHEMA_PROPERTIES:
        raise ServiceFailure(
            f"The schema has {fields} properties; at most {MAX_SCHEMA_PROPERTIES} are supported."
        )
    declared = root.get("type")
    if declared not in (None, "object") and not (
        isinstance(declared, list) and "object" in declared
    ):
        raise ServiceFailure('The schema must describe an object ("type": "object").')


_SYSTEM = (
    "You extract structured information from a text and update what is already known. Reply "
    "with one JSON object and nothing else. Use only facts stated in the text or in the "
    "existing information; never invent values. Keep existing information unless the text "
    "updates it."
)


def _prompt(
    content: str, schema: dict[str, Any] | None, current: dict[str, Any], update_type: str | None
) -> str:
    parts = []
    if update_type:
        parts.append(f"Kind of update: {update_type}")
    if schema is not None:
        parts.append(
            "The JSON object must validate against this JSON Schema (enum values exactly as "
            "listed; leave out optional fields the text does not give):\n"
            + json.dumps(schema, ensure_ascii=False)
        )
    else:
        parts.append(
            "No schema is given: return the facts as a flat JSON object with snake_case keys "
            "(names, emails, phone numbers, dates as YYYY-MM-DD, amounts, and any 'key: value' "
            "statements)."
        )
    parts.append("Existing information:\n" + json.dumps(current, ensure_ascii=False))
    parts.append("Text:\n" + content)
    return "\n\n".join(parts)


def track(
    *,
    content: str,
    schema: dict[str, Any] | None,
    current_info: dict[str, Any] | None,
    update_type: str | None,
    model_id: str | None,
    temperature: float,
    max_tokens: int,
    reference_date: str | None,
) -> HandlerOutput:
    """Extract, merge, fit to the schema; shared by `process` and `extract_information`."""
    started = time.perf_counter()
    _check_schema(schema)
    reference = _reference(reference_date)
    current = dict(current_info or {})
    mapped: dict[str, str] = {}
    dropped: list[str] = []
    if schema is not None:
        current, mapped, dropped = map_current(current, schema)

    def with_model(route: ProviderRoute) -> tuple[tuple[dict[str, Any], list[str]], dict[str, Any]]:
        def check(answer: Any) -> list[str]:
            if not isinstance(answer, dict):
                return ["the answer must be one JSON object"]
            if schema is None:
                return []
            return schema_errors(schema, merge(current, answer))

        reply = chat_json(
            route,
            system=_SYSTEM,
            user=_prompt(content, schema, current, update_type),
            check=check,
            temperature=temperature,
            max_tokens=max_tokens,
        )
        return (reply.data, sorted(reply.data)), reply.usage.as_dict()

    def locally() -> tuple[tuple[dict[str, Any], list[str]], dict[str, Any]]:
        if schema is None:
            free = extract_free(content, reference)
            return (free, sorted(free)), text_usage(content)
        try:
            extraction = extract(content, schema, reference)
        except ExtractionError as exc:
            raise ServiceFailure(str(exc)) from exc
        return (extraction.data, extraction.found), text_usage(content)

    (extracted, found), model, usage = local_or_model(
        route_for(model_id), engine=ENGINE, local=locally, model=with_model
    )
    result = merge(current, extracted)
    filled: list[str] = []
    absent: list[str] = []
    if schema is not None:
        absent = required_absent(schema, extracted)
        result, removed = repair(schema, result)
        dropped += removed
        filled, missing, incomplete = fill_required(schema, result)
        dropped += incomplete
        if missing:
            raise ServiceFailure(
                "Required field(s) not found in the content or currentInfo: "
                + ", ".join(missing)
                + ". Give them a default in the schema, allow null, or make them optional."
            )
        errors = schema_errors(schema, result)
        if errors:
            raise ServiceFailure(
                "The extracted object does not fit the schema: " + "; ".join(errors)
            )
    return HandlerOutput(
        result=result,
        metadata=run_metadata(
            model=model,
            requested_model=model_id,
            started=started,
            usage=usage,
            update_type=update_type,
            schema_used=schema is not None,
            extracted_fields=found,
            filled_fields=filled,
            missing_fields=absent,
            mapped_fields=mapped,
            dropped_fields=dropped,
        ),
    )


def process(params: dict[str, Any]) -> HandlerOutput:
    context = params.get("context") or {}
    config = params.get("config") or {}
    return track(
        content=params["content"],
        schema=config.get("schema"),
        current_info=context.get("currentInfo"),
        update_type=context.get("updateType"),
        model_id=PROCESS_ENDPOINT.requested_model(params),
        temperature=config.get("temperature", 0.1),
        max_tokens=config.get("maxTokens", 2000),
        reference_date=context.get("referenceDate"),
    )


def extract_information(params: dict[str, Any]) -> HandlerOutput:
    options = params.get("options") or {}
    return track(
        content=params["text"],
        schema=params.get("schema"),
        current_info=params.get("current_info"),
        update_type=params.get("update_type"),
        model_id=EXTRACT_ENDPOINT.requested_model(params),
        temperature=options.get("temperature", 0.1),
        max_tokens=options.get("max_tokens", 2000),
        reference_date=params.get("reference_date"),
    )


_EXAMPLE_SCHEMA = {
    "type": "object",
    "properties": {
        "symptoms": {"type": "array", "items": {"type": "string"}},
        "severity": {"type": "string", "enum": ["low", "medium", "high"]},
        "duration": {"type": "string", "description": "How long, as an ISO 8601 duration"},
    },
    "required": ["symptoms", "severity"],
}

PROCESS_ENDPOINT = EndpointDefinition(
    name="process",
    description="Extract structured information from `content`: fitted to `config.schema` "
    "(JSON Schema, strict enums) or free-form without one, and merged into "
    "`context.currentInfo`. The local engine reads 'key: value' lines, enum values and their "
    'synonyms ("severe" for high), numbers with units, yes/no with negation, dates and '
    "durations (ISO 8601), lists and nested objects.",
    price=PRICE,
    input_schema={
        "type": "object",
        "properties": {
            "content": required_text("The text to extract from.", max_length=MAX_CONTENT_CHARS),
            "context": {
                "type": "object",
                "description": "What is known already and what kind of update this is.",
                "properties": {
                    "updateType": _UPDATE_TYPE,
                    "currentInfo": _CURRENT_INFO,
                    "referenceDate": _REFERENCE_DATE,
                },
                "additionalProperties": False,
            },
            "config": {
                "type": "object",
                "description": "Model and output settings.",
                "properties": {
                    "modelId": MODEL_ID,
                    "temperature": TEMPERATURE,
                    "maxTokens": MAX_TOKENS,
                    "schema": _SCHEMA_PARAM,
                },
                "additionalProperties": False,
            },
        },
        "required": ["content"],
        "additionalProperties": False,
    },
    returns=_RETURNS,
    handler=process,
    example={
        "content": "I've had a severe headache and nausea since Monday, about 3 days now.",
        "context": {
            "updateType": "medical_symptoms",
            "currentInfo": {"previous_symptoms": ["mild headache"]},
        },
        "config": {"schema": _EXAMPLE_SCHEMA},
    },
    model_path=("config", "modelId"),
)

EXTRACT_ENDPOINT = EndpointDefinition(
    name="extract_information",
    description="The older form of `process` with snake_case parameters: `text`, `schema`, "
    "`update_type`, `current_info`, `model_id`. Same engine and result.",
    price=PRICE,
    input_schema={
        "type": "object",
        "properties": {
            "text": required_text("The text to extract from.", max_length=MAX_CONTENT_CHARS),
            "schema": _SCHEMA_PARAM,
            "update_type": _UPDATE_TYPE,
            "current_info": _CURRENT_INFO,
            "reference_date": _REFERENCE_DATE,
            "model_id": {
                "type": "string",
                "description": "The model to run; without one the local engine answers.",
                "maxLength": 200,
            },
            "options": {
                "type": "object",
                "description": "Model settings.",
                "properties": {
                    "temperature": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.1},
                    "max_tokens": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 32_000,
                        "default": 2000,
                    },
                },
                "additionalProperties": False,
            },
        },
        "required": ["text"],
        "additionalProperties": False,
    },
    returns=_RETURNS,
    handler=extract_information,
    example={
        "text": "Severity: high. Symptoms: headache, nausea.",
        "schema": _EXAMPLE_SCHEMA,
        "update_type": "medical_symptoms",
        "current_info": {"symptoms": ["mild headache"]},
    },
    model_path=("model_id",),
)

SERVICE = ServiceDefinition(
    id="information_tracker",
    name="Information Tracker",
    description="Extracts structured information from text, schema-based (validated against "
    "a JSON Schema, strict enums) or free-form, and updates or extends existing information.",
    endpoints={"process": PROCESS_ENDPOINT, "extract_information": EXTRACT_ENDPOINT},
    config={"default_model": DEFAULT_MODEL, "max_input_length": MAX_CONTENT_CHARS},
)
