"""Which engine answers a requested model id, decided before anything is charged."""

import json

import pytest

from accounts.models import LedgerEntry
from services.models import Process

pytestmark = pytest.mark.django_db

CLASSIFY = "/api/v1/services/classifier/process"


def _body(model_id: str) -> dict:
    return {
        "content": "I was charged twice.",
        "context": {"allowedClasses": ["billing", "shipping"]},
        "config": {"modelId": model_id},
    }


def test_unmapped_model_is_refused_with_the_available_models_when_set_to_reject(
    keyed_client, key, settings
):
    settings.BREACT_UNMAPPED_MODELS = "reject"
    settings.BREACT_MODEL_PROVIDERS = json.dumps({"gpt-4o": {"base_url": "http://127.0.0.1:9/v1"}})

    response = keyed_client.post(CLASSIFY, _body("mistral-large-2411"), format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "BAD_REQUEST"
    assert body["details"]["available_models"] == ["gpt-4o", "local"]
    assert body["details"]["errors"][0]["path"] == "config.modelId"
    assert "mistral-large-2411" in body["message"]
    assert not Process.objects.exists()
    assert not LedgerEntry.objects.filter(kind="charge").exists()


def test_unmapped_model_runs_on_the_local_engine_by_default(run_endpoint, settings):
    settings.BREACT_MODEL_PROVIDERS = ""

    body = run_endpoint("classifier", "process", _body("mistral-large-2411"))

    inner = body["result"]
    assert inner["status"] == "success"
    assert inner["metadata"]["model"].startswith("local/")
    assert inner["metadata"]["requested_model"] == "mistral-large-2411"
    assert inner["result"]["class"] == "billing"


def test_mapped_model_is_answered_by_its_provider(run_endpoint, llm_route):
    llm_route.reply_json({"class": "shipping", "confidence": 0.8, "explanation": "parcel"})

    body = run_endpoint("classifier", "process", _body("gpt-4o"))

    inner = body["result"]
    assert inner["metadata"]["model"] == "gpt-4o"
    assert inner["result"]["class"] == "shipping"
    assert len(llm_route.requests) == 1
