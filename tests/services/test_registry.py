"""The service registry: parameters derived from the schema, validation paths, lookup."""

from __future__ import annotations

import pytest

from services.catalogue import registry
from services.catalogue.registry import all_services, find_service
from tests.services.fake_service import PRICE


@pytest.fixture
def echo(fake_service_definition):
    return fake_service_definition.endpoints["echo"]


# --- parameters() -----------------------------------------------------------------------------


def test_parameters_of_the_text_analyzer_come_from_its_schema():
    endpoint = find_service("text_analyzer").endpoints["analyze"]

    params = endpoint.parameters()

    assert params["text"] == {
        "type": "string",
        "description": "The text to analyse.",
        "required": True,
    }
    assert params["top_words"]["required"] is False
    assert params["top_words"]["type"] == "integer"
    assert (params["top_words"]["default"], params["top_words"]["minimum"]) == (10, 0)
    assert params["top_words"]["maximum"] == 100
    assert set(params) == set(endpoint.input_schema["properties"])


def test_parameters_mark_required_fields_and_copy_enum_and_nested_properties(echo):
    params = echo.parameters()

    assert [name for name, p in params.items() if p["required"]] == ["text"]
    assert params["mode"]["enum"] == ["ok", "service_failure", "crash"]
    assert params["mode"]["default"] == "ok"
    assert params["mode"]["description"] == ""
    assert params["options"]["type"] == "object"
    assert set(params["options"]["properties"]) == {"level", "tags"}


def test_parameters_follow_a_change_of_the_schema(echo):
    echo.input_schema["properties"]["text"]["description"] = "Changed."
    try:
        assert echo.parameters()["text"]["description"] == "Changed."
    finally:
        echo.input_schema["properties"]["text"]["description"] = "What to echo."


def test_an_endpoint_without_properties_has_no_parameters(fake_service_definition):
    assert fake_service_definition.endpoints["free"].parameters() == {}


# --- validation_errors() ----------------------------------------------------------------------


def test_valid_parameters_have_no_errors(echo):
    assert echo.validation_errors({"text": "x", "options": {"level": 2, "tags": ["a"]}}) == []


def test_missing_required_parameter_is_reported_by_name(echo):
    assert echo.validation_errors({}) == [{"path": "text", "message": "This field is required."}]


def test_wrong_type_is_reported_at_its_path(echo):
    errors = echo.validation_errors({"text": 5})

    assert [e["path"] for e in errors] == ["text"]
    assert errors[0]["message"] == "must be text"  # a sentence, not "5 is not of type 'string'"


def test_each_unknown_parameter_is_reported_by_name(echo):
    errors = echo.validation_errors({"text": "x", "bogus": 1, "zzz": 2})

    assert errors == [
        {"path": "bogus", "message": "Unknown parameter."},
        {"path": "zzz", "message": "Unknown parameter."},
    ]


def test_nested_errors_have_dotted_and_indexed_paths(echo):
    errors = echo.validation_errors({"text": "x", "options": {"tags": ["a", 3], "extra": 1}})

    by_path = {e["path"]: e["message"] for e in errors}
    assert by_path["options.level"] == "This field is required."
    assert by_path["options.extra"] == "Unknown parameter."
    assert by_path["options.tags[1]"] == "must be text"
    assert len(errors) == 3


def test_out_of_range_and_enum_violations_name_the_field(echo):
    errors = echo.validation_errors({"text": "x", "mode": "nope", "options": {"level": 9}})

    assert sorted(e["path"] for e in errors) == ["mode", "options.level"]


@pytest.mark.parametrize("body", ["text", [], 3, None])
def test_a_body_that_is_not_an_object_is_reported_at_the_root(echo, body):
    errors = echo.validation_errors(body)

    assert [e["path"] for e in errors] == ["$"]
    assert "object" in errors[0]["message"]


def test_text_analyzer_refuses_an_overlong_text_and_a_bad_top_words():
    endpoint = find_service("text_analyzer").endpoints["analyze"]
    too_long = "a" * (endpoint.input_schema["properties"]["text"]["maxLength"] + 1)

    errors = endpoint.validation_errors({"text": too_long, "top_words": -1})

    assert sorted(e["path"] for e in errors) == ["text", "top_words"]


# --- lookup -----------------------------------------------------------------------------------


def test_find_service_resolves_the_id_and_every_alias(fake_service_definition):
    assert find_service("fake_echo") is fake_service_definition
    assert find_service("echo") is fake_service_definition
    assert find_service("fake-echo") is fake_service_definition


def test_find_service_returns_none_for_an_unknown_id(fake_service_definition):
    assert find_service("no_such_service") is None
    assert find_service("") is None


def test_all_services_lists_ids_only_not_aliases(fake_service_definition):
    services = all_services()

    assert "fake_echo" in services and "text_analyzer" in services
    assert "echo" not in services
    assert services["fake_echo"].endpoints["echo"].price == PRICE


def test_extra_service_modules_are_loaded_only_when_configured(settings):
    settings.BREACT_EXTRA_SERVICE_MODULES = []
    registry._load.cache_clear()
    try:
        assert find_service("fake_echo") is None
        assert find_service("text_analyzer") is not None
    finally:
        registry._load.cache_clear()
