"""Time of each local engine per call on a 2,000-word input (no network, no model provider).

Usage: .venv/bin/python bench/local_engines.py [--words 2000] [--repeat 5]

Calls each endpoint's handler directly (the work a worker does per process, without the queue
and database round trips) on a generated 2,000-word input, and prints the median and the worst
of `--repeat` runs. The webscraper fetches a 2,000-word page from a loopback HTTP server this
script starts.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VOCABULARY = [
    "customer",
    "order",
    "invoice",
    "refund",
    "payment",
    "delivery",
    "shipping",
    "account",
    "password",
    "login",
    "error",
    "server",
    "database",
    "deploy",
    "release",
    "project",
    "milestone",
    "deadline",
    "budget",
    "team",
    "meeting",
    "report",
    "analysis",
    "revenue",
    "growth",
    "market",
    "product",
    "feature",
    "design",
    "test",
    "quality",
    "support",
    "ticket",
    "issue",
    "contract",
    "supplier",
    "warehouse",
    "stock",
    "price",
    "discount",
    "policy",
    "security",
    "audit",
    "compliance",
    "data",
    "model",
    "training",
    "forecast",
    "schedule",
    "review",
    "approval",
    "launch",
    "campaign",
    "email",
    "response",
]
FILLER = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "for",
    "on",
    "with",
    "is",
    "was",
    "will",
    "be",
    "has",
    "that",
    "this",
    "by",
    "from",
    "at",
]


def make_text(words: int, seed: int = 7) -> str:
    """Deterministic English-like prose: sentences of 12–24 words, paragraphs of 5 sentences."""
    rng = random.Random(seed)
    out: list[str] = []
    sentences = 0
    while len(" ".join(out).split()) < words:
        length = rng.randint(12, 24)
        tokens = [rng.choice(VOCABULARY if rng.random() < 0.55 else FILLER) for _ in range(length)]
        sentence = " ".join(tokens).capitalize() + "."
        sentences += 1
        out.append(sentence + ("\n\n" if sentences % 5 == 0 else ""))
    return " ".join(" ".join(out).split()[:words]) + "."


class _Page(BaseHTTPRequestHandler):
    body = b""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


def build_params(text: str, page_url: str) -> dict[tuple[str, str], dict[str, Any]]:
    thread = [
        {
            "sender": "alice@example.com",
            "recipient": "support@example.com",
            "subject": "Order problems",
            "content": text,
            "timestamp": "2026-11-28T10:00:00Z",
        }
    ]
    targets = {
        "todo": [
            {
                "id": 1,
                "target": "Deploy the release",
                "done_when": "release deployed",
                "depends_on": [],
            },
            {"id": 2, "target": "Send the report", "done_when": "report sent", "depends_on": [1]},
        ],
        "done": [],
    }
    schema = {
        "type": "object",
        "properties": {
            "customer": {"type": "string"},
            "priority": {"type": "string", "enum": ["low", "medium", "high"]},
            "amount": {"type": "number"},
            "topics": {"type": "array", "items": {"type": "string"}},
        },
    }
    return {
        ("text_analyzer", "analyze"): {"text": text},
        ("summary", "summarize"): {"text": text, "summary_type": "detailed"},
        ("classifier", "process"): {
            "content": text,
            "context": {"allowedClasses": ["billing", "technical", "shipping", "account"]},
        },
        ("email_response", "analyze_thread"): {"email_thread": thread},
        ("email_response", "generate_response"): {
            "email_thread": thread,
            "key_points": ["refund issued", "delivery next week"],
        },
        ("information_tracker", "process"): {"content": text, "config": {"schema": schema}},
        ("information_tracker", "extract_information"): {"text": text, "schema": schema},
        ("knowledge_service", "process"): {
            "content": "When is the delivery of the refund invoice?",
            "context": {"knowledgeBases": [], "knowledge": text},
        },
        ("target_analyzer", "process"): {"content": text, "context": {"targets": targets}},
        ("target_analyzer", "analyze_targets"): {"text": text, "targets": targets},
        ("target_generator", "process"): {"content": text, "mode": "target"},
        ("webscraper", "scrape"): {
            "url": page_url,
            "extraction_description": "title, headings, links and emails",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="breact-engines-")
    for name in list(os.environ):
        if name.startswith(("BREACT_", "CELERY_")) or name in {"DATABASE_URL", "REDIS_URL"}:
            del os.environ[name]
    os.environ["BREACT_VAR_DIR"] = workdir
    os.environ["DJANGO_SETTINGS_MODULE"] = "breact.settings"
    import logging

    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.conf import settings
    from django.core.management import call_command

    from services.catalogue.registry import all_services

    call_command("migrate", verbosity=0)
    settings.BREACT_WEBSCRAPER_ALLOW_LOOPBACK = True

    text = make_text(args.words)
    _Page.body = (
        "<html><head><title>Benchmark page</title></head><body><h1>Report</h1>"
        + "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
        + '<p>Contact: team@example.com, <a href="/next">next</a></p></body></html>'
    ).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page_url = f"http://127.0.0.1:{server.server_address[1]}/article"

    params = build_params(text, page_url)
    rows = []
    for service in sorted(all_services().values(), key=lambda s: s.id):
        for name, endpoint in service.endpoints.items():
            call = params.get((service.id, name))
            if call is None:
                rows.append((f"{service.id}.{name}", None, None, "no benchmark input defined"))
                continue
            errors = endpoint.validation_errors(call)
            if errors:
                rows.append((f"{service.id}.{name}", None, None, f"invalid input: {errors[:2]}"))
                continue
            handler: Callable[[dict[str, Any]], Any] = endpoint.handler
            times = []
            model = ""
            for _ in range(args.repeat):
                started = time.perf_counter()
                output = handler(dict(call))
                times.append((time.perf_counter() - started) * 1000)
                model = output.metadata.get("model", "")
            rows.append((f"{service.id}.{name}", statistics.median(times), max(times), model))
    server.shutdown()

    print(f"Local engines, {args.words}-word input, median and max of {args.repeat} calls")
    print(f"{'endpoint':40} {'median ms':>10} {'max ms':>10}  engine")
    for label, median, worst, note in rows:
        if median is None:
            print(f"{label:40} {'-':>10} {'-':>10}  {note}")
        else:
            print(f"{label:40} {median:10.1f} {worst:10.1f}  {note}")


if __name__ == "__main__":
    main()
