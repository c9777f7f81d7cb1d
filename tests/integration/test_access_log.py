"""gunicorn's access log on the live server (started beside manage.py, so gunicorn.conf.py
applies): keys and access tokens in URLs are written as [REDACTED]."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.live import EXECUTE_PATH, poll_until_finished, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_keys_and_access_tokens_in_urls_are_redacted_in_the_access_log(live_stack, make_key):
    key = make_key(credits=5)
    marker = uuid.uuid4().hex
    with live_stack.client(key.raw) as client:
        in_url = client.get(f"/api/v1/account?api_key={key.raw}&marker={marker}")
        accepted = client.post(EXECUTE_PATH, json={"text": "Logged politely."})
        result_url = accepted.json()["result_url"]
        poll_until_finished(client, result_url)
        client.get(f"{result_url}&marker={marker}")
    token = accepted.json()["access_token"]

    assert in_url.status_code == 401
    assert "x-api-key header" in in_url.json()["message"]
    log = live_stack.server.process

    def logged_lines() -> list[str]:
        lines = [line for line in log.log().splitlines() if marker in line]
        return lines if len(lines) == 2 else []

    lines = wait_for(logged_lines, timeout=10, what="both requests in the access log")
    assert "api_key=[REDACTED]" in lines[0] and '" 401 ' in lines[0]
    assert "access_token=[REDACTED]" in lines[1] and '" 200 ' in lines[1]
    assert key.raw not in log.log()
    assert token not in log.log()
