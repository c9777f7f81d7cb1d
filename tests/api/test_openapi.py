"""The OpenAPI document says exactly what the API does: every status each operation can answer
(with the error envelope), the API key scheme, the links, and request schemas that are the
endpoints' own JSON Schemas."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.catalogue.registry import all_services

pytestmark = pytest.mark.django_db

ERROR_REF = "#/components/schemas/Error"


@pytest.fixture
def document(api_client) -> dict[str, Any]:
    response = api_client.get("/api/v1/schema?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_keyed_operation_documents_the_errors_of_auth_rate_limit_and_outage(document):
    keyed = [op for op in operations(document) if op[2]["security"] != [{}]]

    assert len(keyed) >= 20
    for path, method, operation in keyed:
        for status in ("400", "401", "403", "429", "503"):
            response = operation["responses"].get(status)
            assert response, f"{method.upper()} {path} does not document {status}"
            assert response["content"]["application/json"]["schema"]["$ref"] == ERROR_REF
        assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_path_parameters_and_bodies_bring_their_own_errors(document):
    for path, method, operation in operations(document):
        responses = operation["responses"]
        if "{" in path:
            assert "404" in responses, f"{method.upper()} {path}"
        if "requestBody" in operation:
            assert {"413", "415"} <= responses.keys(), f"{method.upper()} {path}"
        # What the HTTP server answers before the API (HTML), documented as such.
        assert responses["414"]["content"] == {"text/html": {"schema": {"type": "string"}}}
        assert "431" in responses


def test_each_service_endpoint_has_an_execute_operation_with_its_own_schema(document):
    for service in all_services().values():
        for name, endpoint in service.endpoints.items():
            operation = document["paths"][f"/api/v1/services/{service.id}/{name}"]["post"]
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert body["properties"].keys() == endpoint.input_schema["properties"].keys()
            assert "`webhook_url`" in operation["description"]  # the documented extension
            assert body.get("additionalProperties") is False
            assert {"402", "404", "409", "422"} <= operation["responses"].keys()
            links = operation["responses"]["202"]["links"]
            assert links["PollResult"]["operationId"] == "process_result"
            assert links["PollResult"]["parameters"] == {
                "process_id": "$response.body#/process_id",
                "access_token": "$response.body#/access_token",
            }
    assert "/api/v1/services/{service_id}/{endpoint}" not in document["paths"]


def test_no_reference_leaves_the_document(document):
    """The JSON Schema meta-schema is inlined: nothing has to be fetched to read the document."""
    refs = [
        value
        for value in _walk(document)
        if isinstance(value, dict) and isinstance(value.get("$ref"), str)
    ]
    assert refs
    assert all(ref["$ref"].startswith("#/") for ref in refs)


def _walk(value: Any) -> Any:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def test_knowledge_base_responses_link_to_their_documents(document):
    created = document["paths"]["/api/v1/knowledge-bases"]["post"]["responses"]["201"]["links"]
    assert created["ListDocuments"] == {
        "operationId": "knowledge_documents_list",
        "parameters": {"kb_id": "$response.body#/id"},
    }
    added = document["paths"]["/api/v1/knowledge-bases/{kb_id}/documents"]["post"]
    get_document = added["responses"]["201"]["links"]["GetDocument"]
    assert get_document["parameters"] == {
        "kb_id": "$response.body#/knowledge_base",
        "doc_id": "$response.body#/id",
    }


def test_the_api_key_scheme_is_declared_and_required(document):
    assert document["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }
    health = document["paths"]["/api/v1/health"]["get"]
    assert health["security"] == [{}]
    services = document["paths"]["/api/v1/services"]["get"]
    assert services["security"] == [{"ApiKeyAuth": []}]


def test_request_schemas_say_what_the_code_accepts(document):
    parameters = document["paths"]["/api/v1/usage"]["get"]["parameters"]
    usage = {p["name"]: p["schema"] for p in parameters}
    assert usage["from"]["pattern"] == "^2[0-9]{3}-[0-9]{2}-[0-9]{2}$"
    assert usage["service"]["maxLength"] == 64
    bases = document["paths"]["/api/v1/knowledge-bases"]["get"]["parameters"]
    limit = next(p["schema"] for p in bases if p["name"] == "limit")
    assert (limit["minimum"], limit["maximum"]) == (1, 100)
    create = document["components"]["schemas"]["KnowledgeBaseCreate"]["properties"]["name"]
    assert create["minLength"] == 1 and create["pattern"]
