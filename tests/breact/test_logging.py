"""Log lines: with BREACT_LOG_FORMAT=json every line is a JSON object; the request line carries
the request id, account, key prefix, service, outcome and duration; readable text by default."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from breact.logging import JsonFormatter

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger("breact.request"), logging.getLogger("breact.process")]
    for logger in loggers:
        logger.addHandler(handler)
    yield stream
    for logger in loggers:
        logger.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_request_line_parses_and_carries_the_request_id(
    keyed_client, key, json_lines, eager_worker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = keyed_client.post(
            "/api/v1/services/text_analyzer/analyze",
            {"text": "Log me."},
            format="json",
            HTTP_X_REQUEST_ID="req-log-test-1",
        )
    assert answer.status_code == 202
    lines = _lines(json_lines)
    (request,) = [line for line in lines if line["logger"] == "breact.request"]
    assert request["request_id"] == "req-log-test-1"
    assert request["account"] == key.account_id
    assert request["key_prefix"] == key.prefix
    assert request["service"] == "text_analyzer"
    assert request["status"] == 202 and request["outcome"] == "ok"
    assert isinstance(request["duration_ms"], int)
    assert request["time"].endswith("Z") and request["level"] == "INFO"
    (process,) = [line for line in lines if line["logger"] == "breact.process"]
    assert process["process_id"] == answer.json()["process_id"]
    assert process["outcome"] == "completed" and process["service"] == "text_analyzer"
    assert process["key_prefix"] == key.prefix
    assert process["request_id"] == "req-log-test-1"  # joins the request's line


def test_request_and_process_lines_share_a_generated_request_id_and_the_process_id(
    keyed_client, json_lines, eager_worker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = keyed_client.post(
            "/api/v1/services/text_analyzer/analyze", {"text": "Join me."}, format="json"
        )
    assert answer.status_code == 202
    lines = _lines(json_lines)  # every line parses
    (request,) = [line for line in lines if line["logger"] == "breact.request"]
    (process,) = [line for line in lines if line["logger"] == "breact.process"]
    assert request["request_id"] == answer["X-Request-ID"]
    assert request["request_id"].startswith("req_")
    assert process["request_id"] == request["request_id"]
    assert process["process_id"] == request["process_id"] == answer.json()["process_id"]


def test_a_process_failed_later_by_the_sweeper_still_logs_its_request_id(
    keyed_client, json_lines, django_capture_on_commit_callbacks, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    from services.execution.actions import processes_fail_stuck
    from services.models import Process
    from services.tasks import run_process

    # The broker, replaced: the message is lost, so the process is never run.
    monkeypatch.setattr(run_process, "apply_async", lambda *args, **kwargs: None)
    with django_capture_on_commit_callbacks(execute=True):
        answer = keyed_client.post(
            "/api/v1/services/text_analyzer/analyze",
            {"text": "Lost."},
            format="json",
            HTTP_X_REQUEST_ID="req-lost-1",
        )
    assert answer.status_code == 202
    Process.objects.update(deadline_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert processes_fail_stuck() == 1
    (process,) = [line for line in _lines(json_lines) if line["logger"] == "breact.process"]
    assert process["outcome"] == "failed"
    assert process["process_id"] == answer.json()["process_id"]
    assert process["request_id"] == "req-lost-1"


def test_an_error_line_names_the_error_code_and_no_secret(keyed_client, json_lines):
    keyed_client.get("/api/v1/services/result/prc_nope?access_token=secret-token")
    (line,) = _lines(json_lines)
    assert line["outcome"] == "NOT_FOUND" and line["status"] == 404
    assert "secret-token" not in json.dumps(line)
    assert line["request_id"].startswith("req_")


def test_the_setting_switches_the_whole_configuration():
    script = (
        "import logging, django; django.setup(); "
        "logging.getLogger('breact.request').info('hello', extra={'request_id': 'r1'})"
    )

    def last_line(log_format: str) -> str:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "breact.settings"}
        done = subprocess.run(
            [sys.executable, "-c", script],
            env={**env, "BREACT_LOG_FORMAT": log_format},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stderr.strip().splitlines()[-1]

    line = json.loads(last_line("json"))
    assert line["message"] == "hello" and line["request_id"] == "r1"
    assert last_line("") == "hello"
