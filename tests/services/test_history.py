"""A request-log row in words: service · endpoint, or what its route is for."""

from __future__ import annotations

import pytest

from services.models import UsageLog
from services.templatetags.history import request_label


@pytest.mark.parametrize(
    ("route", "service_id", "endpoint", "label"),
    [
        (
            "api/v1/services/<str:service_id>/<str:endpoint>",
            "summary",
            "summarize",
            "summary · summarize",
        ),
        ("playground/run/", "classifier", "process", "classifier · process"),
        (
            "api/v1/services/result/<str:process_id>",
            "summary",
            "summarize",
            "summary · summarize (result poll)",
        ),
        ("api/v1/services/result/<str:process_id>", "", "", "Result poll"),
        ("api/v1/knowledge-bases/<str:kb_id>/documents", "", "", "Knowledge-base documents"),
        ("api/v1/account", "", "", "Account"),
        ("api/v1/services/<str:service_id>/<str:endpoint>", "", "", "Call of an unknown service"),
        ("/api/v1/nowhere", "", "", "/api/v1/nowhere"),
    ],
)
def test_request_label(route: str, service_id: str, endpoint: str, label: str) -> None:
    row = UsageLog(route=route, service_id=service_id, endpoint=endpoint)

    assert request_label(row) == label
