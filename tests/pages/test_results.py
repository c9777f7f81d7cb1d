"""Run pages show each service's result for people (one partial per service), raw JSON a click
away; an expired run keeps its parameters, status, timing and charge."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from django.utils import timezone

from accounts.keys.actions import console_key_for
from services.catalogue.registry import find_service
from services.catalogue.selectors import endpoint_resolve
from services.console.results import field_rows, result_template
from services.execution import actions
from services.models import Process


def _run(
    account: Any, service_id: str, endpoint: str, params: dict[str, Any] | None = None
) -> Process:
    """A console run of the endpoint's example (or `params`), run by the worker's action."""
    resolved = endpoint_resolve(service_id=service_id, endpoint=endpoint)
    started = actions.process_start(
        api_key=console_key_for(account=account),
        resolved=resolved,
        params=params if params is not None else resolved.endpoint.example,
    )
    actions.process_run(process_pk=started.process.pk)
    return Process.objects.get(pk=started.process.pk)


def _page(client: Any, process: Process) -> str:
    response = client.get(f"/playground/runs/{process.public_id}/")
    assert response.status_code == 200
    return response.content.decode()


def _region(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return unescape(html[start : start + 4000])


# (service, endpoint, ids the readable view has)
READABLE = [
    ("summary", "summarize", ["result-summary", "result-key-points"]),
    ("email_response", "generate_response", ["result-email", "result-subject", "result-body"]),
    ("email_response", "analyze_thread", ["result-badges", "result-actions"]),
    ("classifier", "process", ["result-class", "result-explanation"]),
    ("information_tracker", "process", ["result-fields"]),
    ("target_analyzer", "process", ["result-done", "result-todo"]),
    ("target_generator", "process", ["result-targets"]),
    ("text_analyzer", "analyze", ["result-stats", "result-words"]),
]


@pytest.mark.parametrize(("service_id", "endpoint", "ids"), READABLE)
def test_each_service_result_is_rendered_for_people_with_the_raw_json_folded(
    page_client, account, service_id, endpoint, ids
):
    process = _run(account, service_id, endpoint)
    assert process.result["status"] == "success", process.result

    html = _page(page_client, process)

    assert f'data-service="{service_id}"' in html
    for element_id in ids:
        assert f'id="{element_id}"' in html, element_id
    # The raw JSON is one click away, closed, and is the stored result exactly.
    assert '<details id="run-raw">' in html
    raw = re.search(r'<pre id="run-result" tabindex="0"><code>(.*?)</code></pre>', html, re.S)
    assert raw and json.loads(unescape(raw.group(1))) == process.result


def test_drafted_email_shows_subject_and_body_as_an_email(page_client, account):
    process = _run(account, "email_response", "generate_response")
    out = process.result["result"]

    html = _page(page_client, process)

    assert out["subject"] in _region(html, "result-subject")
    first_line = out["content"].splitlines()[0]
    assert first_line in _region(html, "result-body")
    assert "<pre" not in _region(html, "result-email").split("</article>")[0]


def test_thread_analysis_shows_sentiment_and_urgency_as_badges(page_client, account):
    process = _run(account, "email_response", "analyze_thread")
    out = process.result["result"]

    html = _page(page_client, process)
    badges = _region(html, "result-badges").split("</p>")[0]

    assert re.search(rf'class="badge[^"]*">{out["overall_sentiment"]}</span>', badges)
    assert re.search(rf'class="badge[^"]*">{out["response_urgency"]}</span>', badges)
    assert out["action_items"][0]["task"] in _region(html, "result-actions")


def test_extracted_fields_are_a_table_with_lists(page_client, account):
    process = _run(account, "information_tracker", "process")
    out = process.result["result"]

    table = _region(_page(page_client, process), "result-fields").split("</table>")[0]

    for name, value in out.items():
        assert f'data-field="{name}"' in table
        for item in value if isinstance(value, list) else [value]:
            assert str(item) in table


def test_knowledge_answer_lists_its_sources(page_client, account):
    from services.knowledge import actions as kb_actions

    base = kb_actions.knowledge_base_create(account=account, name="Policies")
    kb_actions.document_add(
        knowledge_base=base,
        title="Refund policy",
        content="Refunds are given within 30 days of purchase. Shipping takes five days.",
    )
    process = _run(
        account,
        "knowledge_service",
        "process",
        {"content": "How long do refunds take?", "context": {"knowledgeBases": [base.public_id]}},
    )

    html = _page(page_client, process)

    assert "30 days" in _region(html, "result-answer")
    sources = _region(html, "result-sources").split("</ol>")[0]
    assert "Refund policy" in sources and base.public_id in sources


def test_service_error_is_said_plainly_and_the_json_is_open(page_client, account):
    process = _run(
        account,
        "webscraper",
        "scrape",
        {"url": "http://host.invalid/", "extraction_description": "x"},
    )
    assert process.result["status"] == "error"

    html = _page(page_client, process)

    assert 'id="run-service-error"' in html
    assert 'id="run-result-view"' not in html
    assert '<details id="run-raw" open>' in html


def test_a_service_without_a_partial_falls_back_to_the_json_view(page_client, account, monkeypatch):
    monkeypatch.setattr("services.console.results.RESULT_TEMPLATE", "services/results/none-{}.html")
    process = _run(account, "summary", "summarize")

    html = _page(page_client, process)

    assert 'id="run-result-view"' not in html
    assert '<details id="run-raw" open>' in html


def test_result_template_follows_aliases_and_is_none_for_unknown_services():
    alias = next((a for s in ["summary"] for a in find_service(s).aliases), None)
    if alias:
        assert result_template(alias) == "services/results/summary.html"
    assert result_template("summary") == "services/results/summary.html"
    assert result_template("no_such_service") is None


def test_field_rows_shape_each_value_for_a_cell():
    rows = field_rows({"a": "x", "b": ["1", 2], "c": {"d": 1}, "e": None, "f": True})

    assert [(r.name, r.kind) for r in rows] == [
        ("a", "text"),
        ("b", "list"),
        ("c", "json"),
        ("e", "empty"),
        ("f", "text"),
    ]
    assert rows[1].value == ["1", "2"] and rows[4].value == "yes"


def test_expired_run_keeps_parameters_status_timing_and_charge(page_client, account):
    process = _run(account, "summary", "summarize")
    Process.objects.filter(pk=process.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    html = _page(page_client, process)

    assert "has expired and was deleted" in html
    assert 'id="run-result"' not in html and 'id="run-result-view"' not in html
    params = re.search(r'<pre id="run-params" tabindex="0"><code>(.*?)</code></pre>', html, re.S)
    assert params and json.loads(unescape(params.group(1))) == process.params
    assert 'id="run-finished"' in html
    assert f"{process.credits} credit" in _region(html, "run-facts")
    assert 'data-state="completed"' in html
