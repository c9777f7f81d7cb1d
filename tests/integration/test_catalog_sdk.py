"""Every catalogue service through the unmodified SDK, on the live server and worker: the local
engines, and one OpenAI-compatible provider configured by staff (a loopback model server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from breactsdk import create_client

from accounts.ledger.selectors import account_balance, ledger_total
from accounts.models import LedgerEntry
from services.models import ModelProvider
from tests.llm_server import FakeChatServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

THREAD = [
    {
        "sender": "maria.lopez@example.com",
        "recipient": "support@example.com",
        "subject": "Invoice 4411 charged twice",
        "content": "Hello, my card was charged twice for invoice 4411 and I am upset. "
        "Could you please refund the second payment by Friday? Thanks, Maria",
        "timestamp": "2026-11-27T09:15:00Z",
    }
]
ARTICLE = (
    "<html><head><title>Harbour bridge reopens</title></head><body><nav>Home | News</nav>"
    "<article><h1>Harbour bridge reopens</h1><p>The harbour bridge reopened on Monday after "
    "eight months of repairs costing 12 million euros. Engineers replaced the deck and the "
    "cables.</p><p>Traffic is expected to return to normal within a week, the city said. "
    "Contact press@city.example for details.</p></article><footer>(c) City</footer></body></html>"
)


@pytest.fixture(autouse=True)
def _fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREACT_POLL_INTERVAL", "0.1")
    monkeypatch.setenv("BREACT_TIMEOUT", "60")


@pytest.fixture
def page_url() -> Iterator[str]:
    class Page(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = ARTICLE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/news/bridge"
    server.shutdown()
    server.server_close()


def test_every_service_answers_through_the_sdk(live_stack, make_key, page_url):
    key = make_key(credits=200)
    with live_stack.client(key.raw) as http:
        created = http.post("/api/v1/knowledge-bases", json={"name": "handbook"})
        assert created.status_code == 201, created.text
        kb_id = created.json()["id"]
        added = http.post(
            f"/api/v1/knowledge-bases/{kb_id}/documents",
            json={
                "title": "Refunds",
                "content": "Refunds are paid back to the original card within 5 working days.",
                "content_type": "text",
            },
        )
        assert added.status_code == 201, added.text

    with create_client(api_key=key.raw, base_url=live_stack.url) as client:
        listed = client.services.list()
        summary = client.summary.summarize(
            text="The council approved the budget on Monday. It adds 40 new buses. "
            "Critics said the plan came late. The first buses arrive in March.",
            summary_type="brief",
        )
        alias = client.aisummary.summarize(text="One sentence only here.")
        analysis = client.email_response.analyze_thread(email_thread=THREAD)
        reply = client.email_response.generate_response(
            email_thread=THREAD,
            tone="friendly",
            style_guide={"signature": "Sam, Support"},
            key_points=["The duplicate payment will be refunded"],
        )
        tracked = client.information_tracker.process(
            content="Patient reports a severe headache for 3 days and mild nausea.",
            context={"updateType": "medical_symptoms", "currentInfo": {"symptoms": ["fatigue"]}},
            config={
                "schema": {
                    "type": "object",
                    "properties": {
                        "symptoms": {"type": "array", "items": {"type": "string"}},
                        "severity": {"type": "string", "enum": ["mild", "moderate", "severe"]},
                    },
                }
            },
        )
        classified = client.classifier.process(
            content="My package never arrived and the tracking number does not work.",
            context={"allowedClasses": ["billing", "shipping", "technical"]},
        )
        answered = client.knowledge_service.process(
            content="How long do refunds take?", context={"knowledgeBases": [kb_id]}
        )
        targets = {
            "todo": [
                {
                    "id": 1,
                    "target": "Write the spec",
                    "done_when": "spec written",
                    "depends_on": [],
                },
                {"id": 2, "target": "Ship it", "done_when": "shipped", "depends_on": [1]},
            ],
            "done": [],
        }
        analyzed = client.target_analyzer.process(
            content="Update: the spec is written and reviewed.", context={"targets": targets}
        )
        generated = client.target_generator.process(
            content="Launch the newsletter: choose a platform, then write the first issue, "
            "and finally send it to subscribers.",
            mode="target",
        )
        scraped = client.webscraper.scrape(url=page_url, extraction_description="title and emails")
        stats = client.text_analyzer.analyze(text="Two words.")

    expected = {
        "summary",
        "email_response",
        "information_tracker",
        "classifier",
        "knowledge_service",
        "target_analyzer",
        "target_generator",
        "webscraper",
        "text_analyzer",
    }
    assert expected <= set(listed)
    results = [
        summary, alias, analysis, reply, tracked, classified, answered, analyzed, generated,
        scraped, stats,
    ]  # fmt: skip
    assert [r["status"] for r in results] == ["success"] * len(results), results
    assert summary["summary"] and summary["metadata"]["model"].startswith("local/")
    assert analysis["analysis"]["overall_sentiment"] in {"positive", "neutral", "negative"}
    assert reply["response"]["subject"] == "Re: Invoice 4411 charged twice"
    assert reply["response"]["content"].rstrip().endswith("Sam, Support")
    assert "severe headache" in " ".join(tracked["result"]["symptoms"]).lower() or (
        tracked["result"].get("severity") == "severe"
    )
    assert "fatigue" in tracked["result"]["symptoms"]
    assert classified["result"]["class"] == "shipping"
    assert 0 <= classified["result"]["confidence"] <= 1
    assert "5 working days" in answered["result"]["response"]
    done_ids = [t["id"] for t in analyzed["result"]["done"]]
    assert done_ids == [1]
    new_targets = generated["result"]["targets"]
    assert len(new_targets) >= 3
    assert len({t["id"] for t in new_targets}) == len(new_targets)
    assert "reopened on Monday" in scraped["result"]["main_article_content"]
    assert stats["result"]["word_count"] == 2
    assert account_balance(account=key.account) == ledger_total(account=key.account)
    assert not LedgerEntry.objects.filter(account=key.account, kind=LedgerEntry.Kind.REFUND)


def test_a_one_sentence_mission_and_a_short_reply_through_the_sdk(live_stack, make_key):
    key = make_key(credits=50)
    points = ["The duplicate payment will be refunded", "The refund takes five days"]
    with create_client(api_key=key.raw, base_url=live_stack.url) as client:
        generated = client.target_generator.process(
            content="Launch a company blog with weekly posts about our product", mode="target"
        )
        reply = client.email_response.generate_response(
            email_thread=THREAD,
            key_points=points,
            style_guide={"max_length": 120, "signature": "Sam"},
        )
    targets = generated["result"]["targets"]
    assert 3 <= len(targets) <= 7, targets
    assert all(t["done_when"] for t in targets)
    assert targets[0]["depends_on"] == [] and all(t["depends_on"] for t in targets[1:])
    response = reply["response"]
    assert len(response["content"]) <= 120
    assert response["key_points_addressed"] == points, response
    assert all(point in response["content"] for point in points)


def test_a_staff_configured_model_provider_answers_through_the_worker(live_stack, make_key):
    key = make_key(credits=20)
    with FakeChatServer() as model:
        ModelProvider.objects.create(
            model_id="gpt-4o", base_url=model.base_url, api_key="sk-live", upstream_model="gpt-4o-x"
        )
        model.reply_json({"class": "billing", "confidence": 0.91, "explanation": "invoice"})
        model.reply(status=500)
        with create_client(api_key=key.raw, base_url=live_stack.url) as client:
            answered = client.classifier.process(
                content="I was charged twice on my invoice.",
                context={"allowedClasses": ["billing", "shipping"]},
                config={"modelId": "gpt-4o"},
            )
            failed = client.classifier.process(
                content="Where is my parcel?",
                context={"allowedClasses": ["billing", "shipping"]},
                config={"modelId": "gpt-4o"},
            )

    assert answered["status"] == "success"
    assert answered["result"]["class"] == "billing"
    assert answered["metadata"]["model"] == "gpt-4o"
    assert answered["metadata"]["usage"]["total_tokens"] == 18
    sent = model.requests[0]
    assert sent["auth"] == "Bearer sk-live"
    assert sent["body"]["model"] == "gpt-4o-x"
    assert json.dumps(sent["body"]["messages"]).count("charged twice") >= 1
    assert failed["status"] == "error"
    assert "HTTP 500" in failed["error"]
    refunds = LedgerEntry.objects.filter(account=key.account, kind=LedgerEntry.Kind.REFUND)
    assert refunds.count() == 1
    assert account_balance(account=key.account) == ledger_total(account=key.account)
