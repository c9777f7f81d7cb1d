"""The summary service: extractive quality on reference texts, length, types and formats, and
the model-provider path against a loopback server."""

from __future__ import annotations

import json

import pytest

from services.catalog.summary import SERVICE, rank_sentences, summarize, summarize_locally
from services.catalogue.registry import find_service
from services.engines.nlp import words
from tests.services.catalog.summary_fixtures import TEXTS, key_sentences, plain

OUTAGE = plain(TEXTS["outage_report"])


def _run(**params):
    return summarize(params)


# --- quality ----------------------------------------------------------------------------------


def _kept(summary_type: str) -> tuple[int, int, int, float]:
    """(key sentences kept, key sentences, sentences chosen, expected keeps of a random pick)."""
    kept = total = chosen = 0
    random_expectation = 0.0
    for marked in TEXTS.values():
        text, keys = plain(marked), key_sentences(marked)
        draft = summarize_locally(text, summary_type, None)
        picked = [" ".join(p.split()) for p in draft.key_points]
        kept += sum(key in picked for key in keys)
        if draft.headline:
            kept += sum(key.startswith(draft.headline.rstrip("…")) for key in keys)
        n_chosen = len(draft.key_points) + (draft.headline is not None)
        n_sentences = len(rank_sentences(text)[0])
        chosen += n_chosen
        total += len(keys)
        random_expectation += len(keys) * n_chosen / n_sentences
    return kept, total, chosen, random_expectation


@pytest.mark.parametrize(
    ("summary_type", "min_recall", "min_precision"),
    [
        ("brief", 0.35, 0.6),
        ("detailed", 0.6, 0.5),
        ("bullet_points", 0.6, 0.5),
        ("executive", 0.6, 0.5),
    ],
)
def test_key_sentences_of_the_reference_texts_are_kept(summary_type, min_recall, min_precision):
    kept, total, chosen, random_expectation = _kept(summary_type)
    recall, precision = kept / total, kept / chosen
    print(
        f"{summary_type}: kept {kept}/{total} key sentences (recall {recall:.2f}, precision "
        f"{precision:.2f}); a random pick of as many sentences keeps {random_expectation:.1f}"
    )
    assert recall >= min_recall
    assert precision >= min_precision
    assert kept >= 1.6 * random_expectation


def test_there_are_at_least_five_reference_texts_with_marked_key_sentences():
    assert len(TEXTS) >= 5
    for marked in TEXTS.values():
        keys = key_sentences(marked)
        assert len(keys) >= 3
        sentences = [" ".join(s.text.split()) for s in rank_sentences(plain(marked))[0]]
        assert all(key in sentences for key in keys)  # the marks fall on sentence bounds


# --- types, lengths and formats ---------------------------------------------------------------


def test_brief_is_a_paragraph_of_a_few_sentences_with_metadata():
    out = _run(text=OUTAGE)

    assert 1 <= len(out.result["key_points"]) <= 3
    assert out.extra["summary"] == out.result["summary"]
    assert "\n" not in out.extra["summary"]
    assert out.result["headline"] is None
    assert (out.result["summary_type"], out.result["output_format"]) == ("brief", "paragraph")
    meta = out.metadata
    assert meta["model"] == "local/extractive-textrank"
    assert meta["requested_model"] is None
    assert meta["original_length"] == len(words(OUTAGE))
    assert meta["summary_length"] == len(words(out.extra["summary"]))
    assert meta["summary_length"] < meta["original_length"] / 2
    assert isinstance(meta["processing_time"], float)
    assert meta["usage"] == {"input_chars": len(OUTAGE)}


def test_detailed_keeps_more_than_brief():
    brief = _run(text=OUTAGE, summary_type="brief")
    detailed = _run(text=OUTAGE, summary_type="detailed")

    assert len(detailed.result["key_points"]) > len(brief.result["key_points"])


def test_bullet_points_default_to_one_bullet_line_per_key_sentence():
    out = _run(text=OUTAGE, summary_type="bullet_points")

    lines = out.extra["summary"].splitlines()
    assert out.result["output_format"] == "bullets"
    assert len(lines) == len(out.result["key_points"]) >= 3
    assert all(line.startswith("- ") for line in lines)


def test_executive_is_a_headline_line_then_key_points():
    out = _run(text=OUTAGE, summary_type="executive", output_format="bullets")

    headline, *points = out.extra["summary"].splitlines()
    assert headline == out.result["headline"]
    assert not headline.endswith(".")
    assert len(headline.split()) <= 20
    assert points and all(p.startswith("- ") for p in points)
    assert "root cause" in headline.lower()


def test_json_format_gives_a_json_summary_and_the_same_object_as_result():
    out = _run(text=OUTAGE, summary_type="executive", output_format="json")

    parsed = json.loads(out.extra["summary"])
    assert set(parsed) == {"headline", "summary", "key_points"}
    assert parsed["headline"] == out.result["headline"]
    assert parsed["key_points"] == out.result["key_points"]
    assert out.result["summary"] == parsed["summary"] == " ".join(parsed["key_points"])


@pytest.mark.parametrize("summary_type", ["brief", "detailed", "bullet_points", "executive"])
@pytest.mark.parametrize("output_format", ["paragraph", "bullets", "json"])
@pytest.mark.parametrize("max_words", [5, 25, 60])
def test_max_words_is_never_exceeded(summary_type, output_format, max_words):
    for marked in TEXTS.values():
        out = _run(
            text=plain(marked),
            summary_type=summary_type,
            output_format=output_format,
            max_words=max_words,
        )
        assert 0 < out.metadata["summary_length"] <= max_words
        if output_format == "json":  # the headline is a field of its own there
            shown = f"{out.result['headline'] or ''} {out.result['summary']}"
        else:
            shown = out.extra["summary"]
        assert len(words(shown)) == out.metadata["summary_length"]


def test_a_best_sentence_longer_than_max_words_is_cut_not_swapped_for_a_minor_one():
    out = _run(text=OUTAGE, max_words=8)

    assert out.extra["summary"].endswith("…")
    assert out.extra["summary"].startswith("The root cause was")


def test_a_single_sentence_without_punctuation_is_its_own_summary():
    out = _run(text="just one line of notes without a full stop")

    assert out.extra["summary"] == "just one line of notes without a full stop"


def test_list_items_are_ranked_as_sentences():
    text = (
        "Release checklist\n\n- Freeze the release branch on Monday\n- Run the full test suite "
        "on the release branch\n- Publish the release notes\n- Tag the release and publish it"
    )
    out = _run(text=text, summary_type="bullet_points")

    assert all(not p.startswith("-") for p in out.result["key_points"])
    assert any("release branch" in p for p in out.result["key_points"])


def test_near_duplicate_sentences_are_not_both_kept():
    text = (
        "The bridge will close for repairs on Monday. The bridge will close for repairs on "
        "Monday morning. Buses will take a detour through the old town. Cyclists can use the "
        "ferry for free while the work lasts. The work should take three weeks."
    )
    out = _run(text=text, summary_type="detailed")

    assert sum("bridge will close" in p for p in out.result["key_points"]) == 1


def test_the_summary_is_deterministic_and_in_reading_order():
    first = _run(text=OUTAGE, summary_type="detailed")
    second = _run(text=OUTAGE, summary_type="detailed")

    assert first.result == second.result
    positions = [OUTAGE.index(p) for p in first.result["key_points"]]
    assert positions == sorted(positions)


def test_non_english_text_is_summarised_too():
    text = (
        "Die Stadt baut eine neue Straßenbahnlinie. Die Linie verbindet den Norden mit dem "
        "Bahnhof. Der Bau beginnt im Frühjahr und kostet 400 Millionen Euro. Viele Anwohner "
        "begrüßen die Straßenbahnlinie, einige fürchten Lärm."
    )
    out = _run(text=text)

    assert out.result["key_points"]
    assert all(p in text for p in out.result["key_points"])


def test_a_long_text_is_summarised_quickly():
    text = "\n\n".join(plain(t) for t in TEXTS.values()) * 20  # about 1,500 sentences
    out = _run(text=text, summary_type="detailed")

    assert 2 <= len(out.result["key_points"]) <= 10
    assert out.metadata["processing_time"] < 5


# --- the catalogue entry ----------------------------------------------------------------------


def test_summary_answers_to_its_aliases():
    assert find_service("summary") is SERVICE
    assert find_service("aisummary") is SERVICE
    assert SERVICE.endpoints["summarize"].model_path == ("model_id",)


def test_schema_rejects_unknown_types_formats_and_parameters():
    endpoint = SERVICE.endpoints["summarize"]

    assert endpoint.validation_errors({"text": "x", "summary_type": "short"})
    assert endpoint.validation_errors({"text": "x", "output_format": "html"})
    assert endpoint.validation_errors({"text": "x", "max_words": 0})
    assert endpoint.validation_errors({"text": "x", "custom_requirements": ["a"]})
    assert endpoint.validation_errors({"text": ""})
    assert endpoint.validation_errors({}) == [
        {"path": "text", "message": "This field is required."}
    ]
    assert not endpoint.validation_errors(
        {
            "text": "x",
            "summary_type": "executive",
            "max_words": 200,
            "output_format": "json",
            "model_id": "mistral-small",
            "options": {"temperature": 0.2, "max_tokens": 500},
        }
    )


# --- through the API --------------------------------------------------------------------------


def test_aisummary_runs_through_the_api_on_the_local_engine(run_endpoint, settings):
    settings.BREACT_MODEL_PROVIDERS = ""
    body = run_endpoint(
        "aisummary", "summarize", {"text": OUTAGE, "model_id": "mistral-small", "max_words": 50}
    )

    inner = body["result"]
    assert inner["status"] == "success"
    assert inner["summary"] == inner["result"]["summary"]
    assert inner["metadata"]["model"] == "local/extractive-textrank"
    assert inner["metadata"]["requested_model"] == "mistral-small"
    assert inner["metadata"]["summary_length"] <= 50
    assert body["service"] == "summary"


def test_a_configured_model_writes_the_summary(run_endpoint, llm_route, key):
    llm_route.reply_json(
        {
            "headline": None,
            "summary": "A database limit was lowered by mistake. About 40% of requests failed.",
            "key_points": ["A database limit was lowered by mistake.", "40% of requests failed."],
        }
    )
    body = run_endpoint(
        "summary",
        "summarize",
        {"text": OUTAGE, "model_id": "gpt-4o", "options": {"temperature": 0.3, "max_tokens": 300}},
    )

    inner = body["result"]
    assert inner["summary"] == (
        "A database limit was lowered by mistake. About 40% of requests failed."
    )
    assert inner["result"]["key_points"][1] == "40% of requests failed."
    assert inner["metadata"]["model"] == "gpt-4o"
    assert inner["metadata"]["usage"]["total_tokens"] == 18
    sent = llm_route.requests[0]["body"]
    assert sent["temperature"] == 0.3
    assert sent["max_tokens"] == 300
    assert sent["messages"][1]["content"] == OUTAGE
    assert "brief" in sent["messages"][0]["content"]


@pytest.mark.django_db
def test_a_model_summary_is_capped_at_max_words_and_shown_as_bullets(llm_route):
    llm_route.reply_json(
        {
            "headline": "Outage from a lowered database limit",
            "summary": "One. Two three four five six seven eight nine ten eleven twelve.",
            "key_points": ["A database limit was lowered.", "Requests failed for two hours."],
        }
    )
    out = summarize(
        {
            "text": OUTAGE,
            "model_id": "gpt-4o",
            "summary_type": "executive",
            "max_words": 12,
            "output_format": "bullets",
        }
    )

    assert out.extra["summary"] == (
        "Outage from a lowered database limit\n- A database limit was lowered."
    )
    assert out.metadata["summary_length"] <= 12
    assert "at most 12 words" in llm_route.requests[0]["body"]["messages"][0]["content"]


@pytest.mark.django_db
def test_an_executive_answer_without_headline_is_repaired(llm_route):
    llm_route.reply_json({"summary": "Short.", "key_points": ["Short."]})
    llm_route.reply_json({"headline": "Outage", "summary": "Short.", "key_points": ["Short."]})

    out = summarize({"text": OUTAGE, "model_id": "gpt-4o", "summary_type": "executive"})

    assert out.result["headline"] == "Outage"
    assert len(llm_route.requests) == 2
    assert "headline" in llm_route.requests[1]["body"]["messages"][-1]["content"]


def test_a_model_failure_is_a_refunded_service_error(run_endpoint, llm_route, key):
    llm_route.reply(status=500)
    body = run_endpoint("summary", "summarize", {"text": OUTAGE, "model_id": "gpt-4o"})

    assert body["result"]["status"] == "error"
    assert "HTTP 500" in body["result"]["error"]
    key.account.refresh_from_db()
    assert key.account.balance == 100
