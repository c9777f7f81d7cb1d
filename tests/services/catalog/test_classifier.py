"""The classifier service: lexical accuracy on labelled texts, calibrated confidences, classes
always from allowedClasses, and the model-provider path with its repair retry."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from services.catalog.classifier import (
    SERVICE,
    class_profile,
    classify_locally,
    label_words,
    process,
)
from services.catalogue.registry import ServiceFailure
from services.engines.nlp import stem
from tests.services.catalog.classifier_fixtures import (
    HELD_OUT_TICKETS,
    MULTI_LABEL,
    NEWS_CLASSES,
    NEWS_SNIPPETS,
    SUPPORT_CLASSES,
    SUPPORT_TICKETS,
)

TICKETS = {"classificationType": "support ticket", "allowedClasses": SUPPORT_CLASSES}


def _accuracy(classes, labelled):
    predictions = [classify_locally(text, classes, False, None) for text, _ in labelled]
    correct = [p["class"] == label for p, (_, label) in zip(predictions, labelled, strict=True)]
    majority = max(Counter(label for _, label in labelled).values()) / len(labelled)
    return sum(correct) / len(labelled), majority, predictions, correct


# --- quality ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "classes", "labelled"),
    [
        ("support tickets", SUPPORT_CLASSES, SUPPORT_TICKETS),
        ("news snippets", NEWS_CLASSES, NEWS_SNIPPETS),
        ("held-out tickets", SUPPORT_CLASSES, HELD_OUT_TICKETS),
    ],
)
def test_accuracy_clearly_beats_the_majority_class_baseline(name, classes, labelled):
    accuracy, majority, _, _ = _accuracy(classes, labelled)
    print(f"{name}: accuracy {accuracy:.3f} over {len(labelled)} texts, baseline {majority:.3f}")

    assert len(set(classes)) >= 4
    assert accuracy >= majority + 0.45


def test_the_labelled_sets_are_large_and_balanced_enough():
    assert len(SUPPORT_TICKETS) >= 40 and len(NEWS_SNIPPETS) >= 40
    assert set(Counter(label for _, label in SUPPORT_TICKETS).values()) == {12}
    assert set(Counter(label for _, label in NEWS_SNIPPETS).values()) == {8}


def test_confidence_is_higher_when_right_than_when_wrong_and_roughly_calibrated():
    confidences, hits = [], []
    for classes, labelled in [
        (SUPPORT_CLASSES, SUPPORT_TICKETS + HELD_OUT_TICKETS),
        (NEWS_CLASSES, NEWS_SNIPPETS),
    ]:
        _, _, predictions, correct = _accuracy(classes, labelled)
        confidences += [p["confidence"] for p in predictions]
        hits += correct
    right = [c for c, h in zip(confidences, hits, strict=True) if h]
    wrong = [c for c, h in zip(confidences, hits, strict=True) if not h]
    brier = sum((c - h) ** 2 for c, h in zip(confidences, hits, strict=True)) / len(hits)
    mean_confidence = sum(confidences) / len(confidences)
    accuracy = sum(hits) / len(hits)
    print(f"mean confidence {mean_confidence:.3f}, accuracy {accuracy:.3f}, Brier {brier:.3f}")

    assert all(0 <= c <= 1 for c in confidences)
    assert sum(right) / len(right) > sum(wrong) / max(len(wrong), 1)
    assert abs(mean_confidence - accuracy) < 0.2
    assert brier < 0.1


def test_texts_of_two_classes_get_both_with_multiclass():
    for text, labels in MULTI_LABEL:
        result = classify_locally(text, SUPPORT_CLASSES, True, None)
        found = {c["class"] for c in result["classifications"]}
        assert found == labels, (text, result)
        assert all(0 < c["confidence"] < 1 for c in result["classifications"])


def test_a_plain_single_topic_text_gets_one_class_with_multiclass():
    result = classify_locally(
        "The parcel was left at the wrong door and the tracking says delivered.",
        SUPPORT_CLASSES,
        True,
        None,
    )
    assert [c["class"] for c in result["classifications"]] == ["shipping"]


# --- labels, confidence and explanation -------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("techSupport", ["tech", "support"]),
        ("late_delivery", ["late", "delivery"]),
        ("Billing & Payments", ["billing", "payments"]),
        ("feature-request", ["feature", "request"]),
        ("HTTPError", ["http", "error"]),
        ("sci/tech", ["sci", "tech"]),
    ],
)
def test_labels_are_split_into_words(label, expected):
    assert label_words(label) == expected


def test_label_words_bring_related_words_and_generic_words_are_ignored():
    profile = class_profile("Billing Issue")

    assert "invoic" in profile.terms and "refund" in profile.terms
    assert "issu" not in profile.terms
    assert class_profile("late_delivery").terms[stem("late")] == 3.0
    assert "it" not in class_profile("IT").terms  # a concept name, but a pronoun in text


def test_unknown_labels_still_match_their_own_words():
    result = classify_locally(
        "The quarterly sustainability report covers emissions.",
        ["sustainability", "procurement"],
        False,
        None,
    )
    assert result["class"] == "sustainability"
    assert "'sustainability'" in result["explanation"]


def test_inflections_match_the_label():
    result = classify_locally(
        "We are cancelling the contract.", ["cancellation", "renewal"], False, None
    )
    assert result["class"] == "cancellation"


def test_no_matching_word_gives_the_first_class_with_uniform_confidence():
    result = classify_locally("Lorem ipsum dolor sit amet.", ["alpha", "beta"], False, None)

    assert result["class"] == "alpha"
    assert result["confidence"] == 0.5
    assert "guess" in result["explanation"]


def test_a_catch_all_class_wins_when_nothing_else_matches():
    classes = ["billing", "shipping", "other"]

    assert classify_locally("What are your opening hours?", classes, False, None)["class"] == (
        "other"
    )
    assert classify_locally("I was charged twice, please refund me.", classes, False, None)[
        "class"
    ] == ("billing")


def test_the_explanation_names_the_matching_words_and_the_runner_up():
    result = classify_locally(
        "I was charged twice for my subscription and my login no longer works.",
        SUPPORT_CLASSES,
        False,
        "support ticket",
    )

    assert result["class"] == "billing"
    assert "'charged'" in result["explanation"]
    assert "(support ticket)" in result["explanation"]
    assert "Runner-up: 'account'" in result["explanation"]


def test_more_evidence_gives_more_confidence():
    weak = classify_locally("There is a problem with my invoice.", SUPPORT_CLASSES, False, None)
    strong = classify_locally(
        "My invoice shows a double charge, the payment went through twice on my credit card "
        "and I want a refund.",
        SUPPORT_CLASSES,
        False,
        None,
    )
    assert weak["class"] == strong["class"] == "billing"
    assert strong["confidence"] > weak["confidence"] > 0.25


def test_classes_always_come_from_allowed_classes():
    odd = ["Zeta", "café ☕", "x", "NONE OF THE ABOVE", "shipping_delay"]
    for text, _ in SUPPORT_TICKETS[:10] + NEWS_SNIPPETS[:10]:
        single = classify_locally(text, odd, False, None)
        multi = classify_locally(text, odd, True, None)
        assert single["class"] in odd
        assert {c["class"] for c in multi["classifications"]} <= set(odd)


# --- the handler and the catalogue entry ------------------------------------------------------


@pytest.mark.django_db
def test_the_default_model_runs_locally_when_no_provider_serves_it(settings):
    settings.BREACT_MODEL_PROVIDERS = ""
    out = process({"content": "My parcel never arrived.", "context": TICKETS})

    assert out.result["class"] == "shipping"
    assert set(out.result) == {"class", "confidence", "explanation"}
    assert out.metadata["model"] == "local/lexical-classifier"
    assert out.metadata["requested_model"] == "mistral-large-2411"
    assert out.metadata["classification_type"] == "support ticket"
    assert out.metadata["usage"] == {"input_chars": len("My parcel never arrived.")}


def test_schema_enforces_the_documented_parameters():
    endpoint = SERVICE.endpoints["process"]

    def errors(params):
        return [e["path"] for e in endpoint.validation_errors(params)]

    assert errors({"content": "x"}) == ["context"]
    assert errors({"content": "x", "context": {}}) == ["context.allowedClasses"]
    assert errors({"content": "x", "context": {"allowedClasses": []}}) == ["context.allowedClasses"]
    assert errors({"content": "x", "context": {"allowedClasses": ["a", "a"]}}) == [
        "context.allowedClasses"
    ]
    assert errors({"content": "x", "context": {"allowedClasses": [""]}}) == [
        "context.allowedClasses[0]"
    ]
    assert errors({"content": "", "context": {"allowedClasses": ["a"]}}) == ["content"]
    assert errors(
        {"content": "x", "context": {"allowedClasses": ["a"]}, "config": {"temperature": 1.5}}
    ) == ["config.temperature"]
    assert not errors(
        {
            "content": "x",
            "context": {"classificationType": "t", "allowedClasses": ["a"], "multiClass": True},
            "config": {"modelId": "gpt-4o", "temperature": 0, "maxTokens": 1000},
        }
    )
    params = endpoint.parameters()
    assert params["config"]["properties"]["modelId"]["default"] == "mistral-large-2411"
    assert params["config"]["properties"]["temperature"]["default"] == 0.1


# --- through the API and a model --------------------------------------------------------------


def test_classifier_runs_through_the_api_and_reads_like_the_third_party_client(
    run_endpoint, settings
):
    settings.BREACT_MODEL_PROVIDERS = ""
    settings.BREACT_UNMAPPED_MODELS = "reject"  # the default modelId still runs locally
    body = run_endpoint(
        "classifier",
        "process",
        {"content": "I forgot my password and can't sign in.", "context": TICKETS},
    )

    inner = body["result"]
    assert inner["status"] == "success"
    assert inner["result"]["class"] == "account"
    assert 0 <= inner["result"]["confidence"] <= 1
    assert inner["metadata"]["model"] == "local/lexical-classifier"


def test_a_configured_default_model_classifies(run_endpoint, llm_route):
    llm_route.reply_json({"class": "Billing", "confidence": 0.93, "explanation": "A charge."})
    body = run_endpoint(
        "classifier",
        "process",
        {"content": "I was charged twice.", "context": TICKETS, "config": {"maxTokens": 200}},
    )

    inner = body["result"]
    assert inner["result"] == {"class": "billing", "confidence": 0.93, "explanation": "A charge."}
    assert inner["metadata"]["model"] == "mistral-large-2411"
    assert inner["metadata"]["usage"]["total_tokens"] == 18
    sent = llm_route.requests[0]["body"]
    assert sent["temperature"] == 0.1
    assert sent["max_tokens"] == 200
    assert '"shipping"' in sent["messages"][0]["content"]
    assert "support ticket" in sent["messages"][0]["content"]


@pytest.mark.django_db
def test_an_unknown_class_from_the_model_is_sent_back_once(llm_route):
    llm_route.reply_json({"class": "refunds", "confidence": 0.8, "explanation": "x"})
    llm_route.reply_json({"class": "billing", "confidence": 0.8, "explanation": "x"})

    out = process({"content": "Refund me.", "context": TICKETS, "config": {"modelId": "gpt-4o"}})

    assert out.result["class"] == "billing"
    assert out.metadata["usage"]["total_tokens"] == 36
    repair = llm_route.requests[1]["body"]["messages"][-1]["content"]
    assert "'refunds'" in repair and "'billing'" in repair


@pytest.mark.django_db
def test_a_second_unknown_class_is_a_service_failure(llm_route):
    llm_route.reply_json({"class": "refunds", "confidence": 0.8})
    llm_route.reply_json({"class": "money", "confidence": 0.8})

    with pytest.raises(ServiceFailure, match="did not return a usable answer"):
        process({"content": "Refund me.", "context": TICKETS, "config": {"modelId": "gpt-4o"}})


def test_a_bad_model_answer_is_a_refunded_error_through_the_api(run_endpoint, llm_route, key):
    llm_route.reply_json({"class": "refunds", "confidence": 2})
    llm_route.reply_json({"label": "billing"})
    body = run_endpoint("classifier", "process", {"content": "Refund me.", "context": TICKETS})

    assert body["result"]["status"] == "error"
    assert body["result"]["result"] is None
    key.account.refresh_from_db()
    assert key.account.balance == 100


@pytest.mark.django_db
def test_a_multiclass_model_answer_is_checked_deduplicated_and_ordered(llm_route):
    llm_route.reply_json(
        {
            "classifications": [
                {"class": "shipping", "confidence": 0.6},
                {"class": "BILLING", "confidence": 0.9},
                {"class": "shipping", "confidence": 0.5},
            ],
            "explanation": "Both.",
        }
    )
    out = process(
        {
            "content": "Billed for express delivery that never came.",
            "context": {**TICKETS, "multiClass": True},
            "config": {"modelId": "gpt-4o", "temperature": 0},
        }
    )

    assert out.result == {
        "classifications": [
            {"class": "billing", "confidence": 0.9},
            {"class": "shipping", "confidence": 0.6},
        ],
        "explanation": "Both.",
    }
    system = llm_route.requests[0]["body"]["messages"][0]["content"]
    assert "classifications" in system
    assert llm_route.requests[0]["body"]["temperature"] == 0


@pytest.mark.django_db
def test_a_multiclass_answer_with_an_unknown_class_is_repaired(llm_route):
    llm_route.reply_json({"classifications": [{"class": "spam", "confidence": 0.5}]})
    llm_route.reply(json.dumps({"classifications": [{"class": "account", "confidence": 0.7}]}))

    out = process(
        {
            "content": "x",
            "context": {**TICKETS, "multiClass": True},
            "config": {"modelId": "gpt-4o"},
        }
    )

    assert out.result["classifications"] == [{"class": "account", "confidence": 0.7}]
    assert out.result["explanation"] == ""
