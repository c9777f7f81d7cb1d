"""The access log's request lines carry no API keys or access tokens."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from breact.access_log import REDACTED, RedactingLogger, redact_query, redact_uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "/api/v1/services/result/prc_1?access_token=tok123",
            f"/api/v1/services/result/prc_1?access_token={REDACTED}",
        ),
        (
            "/api/v1/account?api_key=brk_secret&page=2",
            f"/api/v1/account?api_key={REDACTED}&page=2",
        ),
        ("/x?API%5FKEY=brk_s&apikey=brk_t", f"/x?API%5FKEY={REDACTED}&apikey={REDACTED}"),
        ("/x?key=brk_s#frag", f"/x?key={REDACTED}#frag"),
        ("/x?keys=1&monkey=2", "/x?keys=1&monkey=2"),
        ("/plain/path", "/plain/path"),
        ("http://h/x?x-api-key=brk_s", f"http://h/x?x-api-key={REDACTED}"),
    ],
)
def test_secret_query_values_are_redacted(uri, expected):
    assert redact_uri(uri) == expected


def test_a_bare_secret_name_is_redacted_too():
    assert redact_query("token&a=1") == f"token={REDACTED}&a=1"


def test_the_logger_writes_no_secret_in_any_atom():
    logger = RedactingLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/api/v1/services/result/prc_1?access_token=tok-SECRET&x=1",
        "PATH_INFO": "/api/v1/services/result/prc_1",
        "QUERY_STRING": "access_token=tok-SECRET&x=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": "https://console/x?api_key=brk_SECRET",
        "HTTP_X_API_KEY": "brk_SECRET",
        "REMOTE_ADDR": "127.0.0.1",
    }
    request = SimpleNamespace(
        headers=[("X-API-KEY", "brk_SECRET"), ("REFERER", environ["HTTP_REFERER"])]
    )
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])

    atoms = logger.atoms(response, request, environ, datetime.timedelta(seconds=1))

    assert atoms["r"] == f"GET /api/v1/services/result/prc_1?access_token={REDACTED}&x=1 HTTP/1.1"
    assert atoms["q"] == f"access_token={REDACTED}&x=1"
    assert "SECRET" not in repr(atoms)
    assert logger.cfg.access_log_format % atoms  # the default format still renders


def test_gunicorn_started_beside_manage_py_uses_the_redacting_logger():
    import runpy
    from pathlib import Path

    from django.conf import settings

    conf = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))

    assert conf["logger_class"] == "breact.access_log.RedactingLogger"
