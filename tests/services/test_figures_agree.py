"""Every page shows the same figures (services.usage.figures): a scenario of five calls — a
completed one, a platform failure (refunded), a service error (refunded), a free call and a
refused one (400) — is counted here in plain Python from the UsageLog, Process and LedgerEntry
rows, and each figure is compared with what the console's home and usage pages (and CSV), the
API's /usage, the staff overview (and CSV), the staff services page and the staff account page
show, before and after the rollup folds the request log."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import LedgerEntry
from services.catalogue.actions import services_sync
from services.execution.actions import process_run
from services.models import Process, UsageLog
from services.usage import actions as usage_actions
from services.usage.actions import ledger_rollup, outcomes_rollup, usage_rollup
from tests.factories import UserFactory
from tests.services.fake_service import PRICE

pytestmark = pytest.mark.django_db

ECHO = "/api/v1/services/fake_echo/echo"
FREE = "/api/v1/services/fake_echo/free"


@pytest.fixture
def scenario(fake_service_definition, enqueued, make_key, account) -> dict[str, Any]:
    services_sync()
    key = make_key(account=account)
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=key.raw)
    ids = {}
    for name, url, body in (
        ("completed", ECHO, {"text": "fine"}),
        ("crash", ECHO, {"text": "boom", "mode": "crash"}),
        ("service_error", ECHO, {"text": "no", "mode": "service_failure"}),
        ("free", FREE, {}),
    ):
        response = api.post(url, body, format="json")
        assert response.status_code == 202, response.content
        ids[name] = response.json()["process_id"]
    assert api.post(ECHO, {"mode": "ok"}, format="json").status_code == 400  # no text
    for public_id in ids.values():
        process_run(process_pk=Process.objects.get(public_id=public_id).pk)
    return {"account": account, "api": api, "ids": ids}


def expected(account: Any) -> dict[str, Any]:
    """The figures, computed from the rows with plain Python."""
    log = list(UsageLog.objects.filter(account=account))
    calls = [row for row in log if row.method == "POST" and row.service_id]
    processes = list(Process.objects.filter(account=account))
    finished = [p for p in processes if p.state in ("completed", "error")]

    def failed(p: Process) -> bool:
        inner = p.result.get("status") if isinstance(p.result, dict) else None
        return p.state == "error" or (p.state == "completed" and inner == "error")

    spent = -sum(
        e.amount
        for e in LedgerEntry.objects.filter(account=account)
        if e.kind in ("charge", "refund")
    )
    request_errors = sum(1 for row in calls if row.status_code >= 400)
    failures = sum(1 for p in finished if failed(p))
    return {
        "calls": len(calls),
        "errors": request_errors + failures,
        "request_errors": request_errors,
        "credits": spent,
        "finished": len(finished),
        "failed": failures,
    }


def number(html: str, pattern: str) -> int:
    match = re.search(pattern, html, re.S)
    assert match, pattern
    return int(match.group(1))


def test_the_scenario_is_what_it_says(scenario):
    figures = expected(scenario["account"])

    # 5 calls; the 400 and two failed processes are errors; only the completed call paid.
    assert figures == {
        "calls": 5,
        "errors": 3,
        "request_errors": 1,
        "credits": PRICE,
        "finished": 4,
        "failed": 2,
    }


def roll_everything_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fold the request log, the finished processes and the ledger into their daily rollups."""
    monkeypatch.setattr(usage_actions, "ROLLUP_SETTLE_SECONDS", -60)
    assert usage_rollup() > 0
    assert outcomes_rollup() == 4
    assert ledger_rollup() > 0


ROLLED_UP = pytest.mark.parametrize("rolled_up", [False, True], ids=["live-tail", "rolled-up"])


@ROLLED_UP
def test_console_pages_and_api_agree_with_the_rows(scenario, monkeypatch, rolled_up):
    account, want = scenario["account"], expected(scenario["account"])
    if rolled_up:
        roll_everything_up(monkeypatch)
    page = Client()
    page.force_login(account.owner)

    home = page.get("/").content.decode()
    assert number(home, r'id="calls-today">(\d+)<') == want["calls"]
    assert number(home, r'id="credits-today">(\d+)<') == want["credits"]
    assert number(home, r'id="credits-week">(\d+)<') == want["credits"]

    usage = page.get("/usage/").content.decode()
    assert number(usage, r'id="usage-total-calls">(\d+)<') == want["calls"]
    assert number(usage, r'id="usage-total-errors">(\d+)') == want["errors"]
    assert number(usage, r'id="usage-total-credits">(\d+)<') == want["credits"]
    daily = re.findall(
        r'data-calls="(\d+)">\d+</td><td class="num">(\d+)</td>'
        r'<td class="num" data-credits="(\d+)"',
        usage,
    )
    assert [sum(int(row[i]) for row in daily) for i in range(3)] == [
        want["calls"],
        want["errors"],
        want["credits"],
    ]

    log = usage[usage.index('id="usage-log"') :]
    spent = [int(n) for n in re.findall(r'<td class="num" data-spent="(\d+)">', log)]
    assert len(spent) == len(UsageLog.objects.filter(account=account))  # one page holds all
    assert sum(spent) == want["credits"]  # refunded calls show 0 in the log

    export = page.get("/usage/export.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    call_rows = [r for r in rows if r["method"] == "POST" and r["service"]]
    assert len(call_rows) == want["calls"]
    assert sum(int(r["credits"]) for r in rows) == want["credits"]

    api = scenario["api"].get("/api/v1/usage").json()
    assert api["totals"] == {
        "calls": want["calls"],
        "errors": want["errors"],
        "credits": want["credits"],
    }
    assert set(api["days"][0]) == {"date", "service", "calls", "errors", "credits"}


@ROLLED_UP
def test_staff_pages_agree_with_the_rows(scenario, monkeypatch, rolled_up):
    account, want = scenario["account"], expected(scenario["account"])
    if rolled_up:
        roll_everything_up(monkeypatch)
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))

    overview = staff.get("/staff/").content.decode()
    row = re.search(r'<tr data-service="fake_echo">(.*?)</tr>', overview, re.S).group(1)
    client_errors = number(row, r'data-client-errors="(\d+)"')
    server_errors = number(row, r'data-server-errors="(\d+)"')
    failed = number(row, r'data-processes-failed="(\d+)"')
    assert number(row, r'data-calls="(\d+)"') == want["calls"]
    assert client_errors + server_errors == want["request_errors"]
    assert client_errors + server_errors + failed == want["errors"]
    assert number(row, r'data-credits="(\d+)"') == want["credits"]
    assert number(row, r'data-processes-finished="(\d+)"') == want["finished"]
    assert failed == want["failed"]
    assert "50.0%" in row  # 2 failed of 4 finished

    export = staff.get("/staff/overview.csv", {"table": "services"})
    lines = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    echo = next(line for line in lines if line["service"] == "fake_echo")
    assert int(echo["calls"]) == want["calls"]
    assert int(echo["credits"]) == want["credits"]
    assert int(echo["processes_failed"]) == want["failed"]
    assert float(echo["process_failure_rate"]) == want["failed"] / want["finished"]

    services = staff.get("/staff/services/").content.decode()
    endpoints = re.findall(r'<tr id="endpoint-fake_echo-(\w+)"(.*?)</tr>', services, re.S)
    assert {name for name, _ in endpoints} == {"echo", "free"}
    totals = [0, 0, 0, 0]
    for _, cells in endpoints:
        totals[0] += number(cells, r'data-calls="(\d+)"')
        totals[1] += number(cells, r'data-credits="(\d+)"')
        totals[2] += number(cells, r'data-processes-failed="(\d+)"')
        totals[3] += number(cells, r'data-processes-finished="(\d+)"')
    assert totals == [want["calls"], want["credits"], want["failed"], want["finished"]]

    page = staff.get(f"/staff/accounts/{account.pk}/").content.decode()
    total = re.search(r'<th scope="row">Total</th>(.*?)</tr>', page, re.S).group(1)
    cells = [int(v) for v in re.findall(r'<td class="num"[^>]*>(\d+)</td>', total)]
    assert cells == [want["calls"], want["errors"], want["credits"]]


def test_a_service_error_shows_one_status_everywhere(scenario):
    account = scenario["account"]
    page = Client()
    page.force_login(account.owner)
    public_id = scenario["ids"]["service_error"]

    run = page.get(f"/playground/runs/{public_id}/").content.decode()
    status = re.search(r'<section id="run-status".*?</section>', run, re.S).group(0)
    assert "failed: service error" in status
    assert "completed" not in status.replace('data-state="completed"', "").lower()
    assert "refunded" in status

    home = page.get("/").content.decode()
    assert home.count("failed: service error") == 1
    assert home.count(">failed<") == 1  # the platform failure
    assert home.count(">completed<") == 2  # the paid call and the free one
