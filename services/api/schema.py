"""OpenAPI pieces shared by the API views: parameter schemas, and the postprocessing hook that
documents every error status each operation can answer and the links between operations."""

from __future__ import annotations

import copy
from typing import Any

from breact.forms import DATE_MAX, DATE_MIN

# A YYYY-MM-DD date the filters accept (years 2000 to 2999: see breact.forms.DATE_MIN/MAX).
assert DATE_MIN.year == 2000 and DATE_MAX.year == 2999  # the pattern below says so
DATE_PARAMETER = {
    "type": "string",
    "format": "date",
    "pattern": r"^2[0-9]{3}-[0-9]{2}-[0-9]{2}$",
    "description": f"A day (UTC) from {DATE_MIN.isoformat()} to {DATE_MAX.isoformat()}.",
}
SERVICE_ID_PARAMETER = {"type": "string", "maxLength": 64}
# Path parameters (ids, service ids) are short: no id is longer, and a longer one names nothing
# (404). It also keeps every request the document allows under the HTTP server's line limit.
PATH_PARAMETER_MAX_CHARS = 64

ERROR_REF = {"$ref": "#/components/schemas/Error"}

ERROR_DESCRIPTIONS = {
    "400": "BAD_REQUEST: a parameter or the body fails the operation's schema, or a query "
    "value contains a NUL character or is overlong; `details.errors` lists {path, message}.",
    "401": "MISSING_API_KEY (no x-api-key header) or UNAUTHORIZED (unknown, malformed, revoked "
    "or expired key).",
    "402": "INSUFFICIENT_CREDITS: the balance is below the price, or the key's spend cap is "
    "reached; `details` = {required, balance}. Nothing was charged.",
    "403": "FORBIDDEN: the key may not use this service (scopes), or the account is disabled.",
    "404": "NOT_FOUND (no such object in this account, or it expired) or SERVICE_NOT_FOUND.",
    "409": "IDEMPOTENCY_CONFLICT: a request with this Idempotency-Key is still in flight.",
    "413": "PAYLOAD_TOO_LARGE: the body is over the size limit.",
    "415": "UNSUPPORTED_MEDIA_TYPE: the body is not sent as Content-Type: application/json "
    "(UTF-8).",
    "422": "IDEMPOTENCY_CONFLICT: this Idempotency-Key was used with a different body.",
    "429": "RATE_LIMIT_EXCEEDED: over the key's limit, or too many failed authentications from "
    "this address; see Retry-After.",
    "503": "SERVICE_UNAVAILABLE: the database, cache or job queue is unreachable; nothing was "
    "charged. See Retry-After.",
}
# Answered by the HTTP server (gunicorn) before the application sees the request: an HTML page,
# not the error envelope. The limits are gunicorn's defaults (limit_request_line,
# limit_request_field_size, limit_request_fields).
SERVER_LIMITS = {
    "414": "The request line (method, path and query string) is over 4094 bytes: refused by "
    "the HTTP server, as an HTML page, before the API sees it.",
    "431": "A header is over 8190 bytes, or there are more than 100 headers: refused by the "
    "HTTP server, as an HTML page, before the API sees it.",
}
RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": "Seconds to wait before retrying.",
    }
}

GENERIC_EXECUTE_PATH = "/api/v1/services/{service_id}/{endpoint}"
EXECUTE_PREFIX = "execute_"
# Statuses only the execute operations answer (404: the endpoint is switched off by staff).
EXECUTE_STATUSES = ("402", "404", "409", "422")
# The JSON Schema meta-schema: what `schema` parameters (information_tracker) hold. Inlined as
# "an object" so no tool has to fetch it.
META_SCHEMA_REF = "https://json-schema.org/draft/2020-12/schema"


def _links(parameters: dict[str, str], **operations: str) -> dict[str, dict[str, Any]]:
    """{link name: {operationId, parameters}}: each operation fed the same `parameters`."""
    return {
        name: {"operationId": operation_id, "parameters": parameters}
        for name, operation_id in operations.items()
    }


# OpenAPI links: what a response gives the next call (used by generated clients and by
# schemathesis's stateful phase).
LINKS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    (EXECUTE_PREFIX, "202"): _links(
        {
            "process_id": "$response.body#/process_id",
            "access_token": "$response.body#/access_token",
        },
        PollResult="process_result",
    ),
    ("knowledge_bases_create", "201"): _links(
        {"kb_id": "$response.body#/id"},
        GetKnowledgeBase="knowledge_bases_retrieve",
        ListDocuments="knowledge_documents_list",
        AddDocument="knowledge_documents_create",
        DeleteKnowledgeBase="knowledge_bases_delete",
    ),
    ("knowledge_documents_create", "201"): _links(
        {"kb_id": "$response.body#/knowledge_base", "doc_id": "$response.body#/id"},
        GetDocument="knowledge_documents_retrieve",
        DeleteDocument="knowledge_documents_delete",
    ),
}


def _statuses(operation: dict[str, Any]) -> list[str]:
    """The error statuses this operation can answer besides its own."""
    statuses = ["400"]  # any unusable query value (breact.params), on every route
    keyed = any(requirement for requirement in operation.get("security", [{}]))
    if keyed:
        statuses += ["401", "403", "429", "503"]
    else:
        statuses += ["503"]
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        statuses.append("404")
    if "requestBody" in operation:
        statuses += ["413", "415"]
    if str(operation.get("operationId", "")).startswith(EXECUTE_PREFIX):
        statuses += [s for s in EXECUTE_STATUSES if s not in statuses]
    return statuses


def _inline_meta_schema(schema: Any) -> Any:
    """A copy of `schema` with references to the JSON Schema meta-schema replaced by a plain
    object schema (their description kept)."""
    if isinstance(schema, list):
        return [_inline_meta_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("$ref") == META_SCHEMA_REF:
        return {key: value for key, value in schema.items() if key != "$ref"} | {"type": "object"}
    return {key: _inline_meta_schema(value) for key, value in schema.items() if key != "$schema"}


def execute_operations(generic: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One execute operation per service endpoint of the registry, each with the endpoint's own
    JSON Schema as its request body: the document accepts exactly what the API validates."""
    from services.catalogue.registry import all_services

    paths: dict[str, dict[str, Any]] = {}
    for service in sorted(all_services().values(), key=lambda s: s.id):
        for name, endpoint in service.endpoints.items():
            operation = copy.deepcopy(generic)
            operation["operationId"] = f"{EXECUTE_PREFIX}{service.id}_{name}"
            operation["summary"] = f"{service.name}: {name}"
            operation["description"] = (
                f"{endpoint.description}\n\n{generic.get('description', '')}".strip()
            )
            operation["parameters"] = [
                p for p in operation.get("parameters", []) if p.get("in") != "path"
            ]
            body = _inline_meta_schema(endpoint.input_schema)
            operation["requestBody"] = {
                "required": bool(body.get("required")),
                "content": {"application/json": {"schema": body}},
            }
            paths[f"/api/v1/services/{service.id}/{name}"] = {"post": operation}
    return paths


def document_errors_and_links(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation lists every error status it can
    answer, with the error envelope's schema; responses declare their links; the generic
    execute operation becomes one operation per service endpoint."""
    paths = result.get("paths", {})
    generic = paths.pop(GENERIC_EXECUTE_PATH, None)
    if generic is not None:
        paths.update(execute_operations(generic["post"]))
    for operations in paths.values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path":
                    parameter["schema"].setdefault("maxLength", PATH_PARAMETER_MAX_CHARS)
            responses = operation.setdefault("responses", {})
            for status in _statuses(operation):
                response = responses.setdefault(status, {})
                response["description"] = ERROR_DESCRIPTIONS[status]
                response["content"] = {"application/json": {"schema": ERROR_REF}}
                if status in ("429", "503"):
                    response["headers"] = RETRY_AFTER
            for status, description in SERVER_LIMITS.items():
                responses[status] = {
                    "description": description,
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            for (operation_id, status), links in LINKS.items():
                if str(operation.get("operationId", "")).startswith(operation_id):
                    responses[status]["links"] = links
    return result
