"""The OpenAI-compatible provider against a loopback chat-completions server."""

from __future__ import annotations

import json

import pytest

from services.catalogue.registry import ServiceFailure
from services.engines.llm import (
    ProviderRoute,
    available_models,
    chat_json,
    chat_text,
    model_is_unavailable,
    route_for,
)
from services.models import ModelProvider
from tests.llm_server import FakeChatServer


def _route(server: FakeChatServer, timeout: float = 5) -> ProviderRoute:
    return ProviderRoute("gpt-4o", server.base_url, "sk-test", "upstream-4o", timeout)


def _needs_label(data: object) -> list[str]:
    return (
        []
        if isinstance(data, dict) and data.get("label") in {"a", "b"}
        else ["label must be a or b"]
    )


def test_chat_json_returns_parsed_answer_and_usage():
    with FakeChatServer() as server:
        server.reply_json({"label": "a"})
        result = chat_json(_route(server), system="s", user="u", check=_needs_label)
    assert result.data == {"label": "a"}
    assert result.usage.total_tokens == 18
    sent = server.requests[0]
    assert sent["body"]["model"] == "upstream-4o"
    assert sent["auth"] == "Bearer sk-test"
    assert [m["role"] for m in sent["body"]["messages"]] == ["system", "user"]


def test_chat_json_repairs_malformed_json_once():
    with FakeChatServer() as server:
        server.reply("Sure! {label: a")
        server.reply("```json\n" + json.dumps({"label": "b"}) + "\n```")
        result = chat_json(_route(server), system="s", user="u", check=_needs_label)
    assert result.data == {"label": "b"}
    assert result.usage.total_tokens == 36
    repair = server.requests[1]["body"]["messages"]
    assert repair[-2]["role"] == "assistant"
    assert "not valid JSON" in repair[-1]["content"]


def test_chat_json_repairs_an_answer_that_fails_the_check():
    with FakeChatServer() as server:
        server.reply_json({"label": "z"})
        server.reply_json({"label": "a"})
        result = chat_json(_route(server), system="s", user="u", check=_needs_label)
    assert result.data == {"label": "a"}
    assert "label must be a or b" in server.requests[1]["body"]["messages"][-1]["content"]


def test_chat_json_gives_up_after_one_repair():
    with FakeChatServer() as server:
        server.reply_json({"label": "z"})
        server.reply_json({"label": "y"})
        with pytest.raises(ServiceFailure, match="did not return a usable answer"):
            chat_json(_route(server), system="s", user="u", check=_needs_label)
    assert len(server.requests) == 2


def test_upstream_http_500_is_a_service_failure():
    with FakeChatServer() as server:
        server.reply(status=500)
        with pytest.raises(ServiceFailure, match="HTTP 500"):
            chat_text(_route(server), system="s", user="u")


def test_upstream_timeout_is_a_service_failure():
    with FakeChatServer() as server:
        server.reply("late", delay=2)
        with pytest.raises(ServiceFailure, match="did not answer within"):
            chat_text(_route(server, timeout=0.5), system="s", user="u")


@pytest.mark.django_db
def test_routes_come_from_settings_and_staff_rows(settings):
    settings.BREACT_MODEL_PROVIDERS = json.dumps(
        {"gpt-4o": {"base_url": "http://127.0.0.1:9/v1", "api_key": "k1", "model": "gpt-4o-2024"}}
    )
    ModelProvider.objects.create(
        model_id="mistral-small", base_url="http://127.0.0.1:8/v1", api_key="k2"
    )
    assert route_for("gpt-4o").upstream_model == "gpt-4o-2024"
    assert route_for("mistral-small").upstream_model == "mistral-small"
    assert route_for("unknown-model") is None
    assert route_for("local") is None
    assert available_models() == ["gpt-4o", "local", "mistral-small"]


@pytest.mark.django_db
def test_wildcard_route_answers_any_model_with_its_own_name(settings):
    settings.BREACT_MODEL_PROVIDERS = json.dumps({"*": {"base_url": "http://127.0.0.1:9/v1"}})
    route = route_for("openai/gpt-4o")
    assert route is not None
    assert route.upstream_model == "openai/gpt-4o"


@pytest.mark.django_db
def test_unmapped_model_is_refused_only_when_set_to_reject(settings):
    settings.BREACT_MODEL_PROVIDERS = ""
    settings.BREACT_UNMAPPED_MODELS = "local"
    assert not model_is_unavailable("mistral-large-2411")
    settings.BREACT_UNMAPPED_MODELS = "reject"
    assert model_is_unavailable("mistral-large-2411")
    assert not model_is_unavailable("local")
    assert not model_is_unavailable(None)
