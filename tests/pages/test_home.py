"""The home page: login required, figures, chart, recent processes, getting started."""

from __future__ import annotations

import html
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db.models import QuerySet
from django.test import Client
from django.utils import timezone

from accounts.keys.actions import console_key_for
from accounts.models import Account, LedgerEntry, User
from services.execution.selectors import processes_recent
from services.models import Process, UsageLog
from services.usage.selectors import account_overview
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def _process(account: Account, *, state: str = "completed", **fields: Any) -> Process:
    return Process.objects.create(
        public_id=f"prc_{secrets.token_urlsafe(12)}",
        account=account,
        service_id=fields.pop("service_id", "text_analyzer"),
        endpoint=fields.pop("endpoint", "analyze"),
        state=state,
        credits=fields.pop("credits", 1),
        deadline_at=timezone.now() + timedelta(minutes=10),
        **fields,
    )


def _call(account: Account, at: datetime, **fields: Any) -> UsageLog:
    defaults: dict[str, Any] = {
        "method": "POST",
        "route": "api/v1/services/<service_id>/<endpoint>",
        "service_id": "text_analyzer",
        "endpoint": "analyze",
        "status_code": 202,
        "duration_ms": 5,
        "credits": 1,
    }
    return UsageLog.objects.create(account=account, created_at=at, **{**defaults, **fields})


def _ledger(account: Account, amount: int, at: datetime, kind: str = "charge") -> None:
    entry = LedgerEntry.objects.create(
        account=account, kind=kind, amount=amount, balance_after=account.balance
    )
    QuerySet(LedgerEntry).filter(pk=entry.pk).update(created_at=at)  # append-only: test backdoor


def test_home_requires_login(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_api_docs_stay_reachable_when_logged_out(client):
    assert client.get("/api/docs").status_code == 200
    login = client.get("/login/")
    assert b'href="/api/docs"' in login.content


def test_home_refuses_post(page_client):
    assert page_client.post("/").status_code == 405


def test_new_account_sees_empty_state_and_getting_started(page_client, account):
    response = page_client.get("/")

    assert response.status_code == 200
    content = html.unescape(response.content.decode())
    assert 'id="getting-started"' in content
    assert 'href="/keys/new/"' in content
    assert 'id="recent-empty"' in content
    assert 'id="calls-today">0<' in content
    assert 'id="credits-week">0<' in content
    assert "100 <span" in content  # the balance
    assert 'href="/playground/"' in content
    # Snippets call this server with a placeholder key.
    assert "http://testserver/api/v1/services/text_analyzer/analyze" in content
    assert 'base_url="http://testserver"' in content  # no trailing slash
    assert "export BREACT_API_KEY=YOUR_API_KEY" in content
    assert 'api_key=os.environ["BREACT_API_KEY"]' in content
    assert "client.text_analyzer.analyze(" in content
    assert 'data-copy="#snippet-curl"' in content
    assert 'data-copy="#snippet-python"' in content


def test_home_shows_figures_for_seeded_usage_and_ledger(page_client, account):
    now = timezone.now()
    _call(account, now)
    _call(account, now, status_code=402, credits=0)  # a refused call is still a call
    _call(account, now, method="GET", route="api/v1/services/result/<id>")  # a poll
    _call(account, now - timedelta(days=2))
    _call(account, now - timedelta(days=9))  # outside the week
    _ledger(account, -3, now)
    _ledger(account, 1, now, kind="refund")
    _ledger(account, -5, now - timedelta(days=3))
    _ledger(account, -40, now - timedelta(days=12))
    _ledger(account, 500, now, kind="topup")  # not spending

    content = page_client.get("/").content.decode()

    assert 'id="calls-today">2<' in content
    assert 'id="credits-today">2<' in content
    assert 'id="calls-week">3<' in content
    assert 'id="credits-week">7<' in content
    assert 'id="credits-chart"' in content
    assert content.count('class="bar"') == 7


def test_overview_selector_buckets_by_day_for_the_seven_days_ending_now(account):
    now = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    _call(account, datetime(2025, 3, 10, 0, 0, 1, tzinfo=UTC))
    _call(account, datetime(2025, 3, 4, 0, 0, tzinfo=UTC))  # first day of the window
    _call(account, datetime(2025, 3, 3, 23, 59, 59, tzinfo=UTC))  # just before it
    _call(account, datetime(2025, 3, 11, 0, 0, tzinfo=UTC))  # tomorrow
    _call(account, datetime(2025, 3, 10, 1, 0, tzinfo=UTC), service_id="")  # not an execute
    _ledger(account, -4, datetime(2025, 3, 9, 8, 0, tzinfo=UTC))
    _ledger(account, -2, datetime(2025, 3, 9, 9, 0, tzinfo=UTC))
    _ledger(account, 2, datetime(2025, 3, 9, 9, 1, tzinfo=UTC), kind="refund")

    overview = account_overview(account=account, now=now)

    assert overview.days[0].day.isoformat() == "2025-03-04"
    assert overview.days[-1].day.isoformat() == "2025-03-10"
    assert [d.calls for d in overview.days] == [1, 0, 0, 0, 0, 0, 1]
    assert [d.credits for d in overview.days] == [0, 0, 0, 0, 0, 4, 0]
    assert (overview.calls_today, overview.credits_today) == (1, 0)
    assert (overview.calls_week, overview.credits_week) == (2, 4)
    assert overview.balance == 100
    assert overview.has_calls is True
    assert overview.has_api_key is False


def test_chart_bars_scale_to_the_busiest_day(page_client, account):
    now = timezone.now()
    _ledger(account, -10, now)
    _ledger(account, -5, now - timedelta(days=1))

    content = page_client.get("/").content.decode()

    assert 'height="80"' in content  # today, the peak
    assert 'height="40"' in content  # yesterday, half
    assert "10 credits, 0 calls" in content


def test_recent_processes_list_own_latest_ten_with_links(page_client, account):
    other = AccountFactory(credits=10)
    foreign = _process(other, service_id="summary", endpoint="summarize")
    base = timezone.now() - timedelta(hours=1)
    mine = [
        _process(account, created_at=base + timedelta(minutes=n), credits=n + 1) for n in range(12)
    ]
    failed = _process(account, state="error", service_id="classifier", endpoint="process")

    content = page_client.get("/").content.decode()

    assert foreign.public_id not in content
    assert "summary.summarize" not in content
    assert f'href="/playground/runs/{failed.public_id}/"' in content
    assert "classifier.process" in content
    assert 'class="badge badge-danger">failed<' in content  # one status on every page
    assert 'class="badge badge-ok">completed<' in content
    shown = [p for p in mine if f"/playground/runs/{p.public_id}/" in content]
    assert shown == mine[-9:]  # the newest nine, plus the failed one: ten rows
    assert content.count("/playground/runs/") == 10
    assert 'id="recent-empty"' not in content


def test_other_accounts_figures_do_not_count(page_client, account):
    other = AccountFactory(credits=50)
    _call(other, timezone.now())
    _ledger(other, -9, timezone.now())

    content = page_client.get("/").content.decode()

    assert 'id="calls-today">0<' in content
    assert 'id="credits-today">0<' in content
    assert processes_recent(account=account) == []


def test_getting_started_hides_once_a_key_exists_and_a_call_was_made(
    page_client, account, make_key
):
    console_key_for(account=account)  # the console key does not count
    _call(account, timezone.now())
    assert b'id="getting-started"' in page_client.get("/").content

    make_key(account=account)
    content = page_client.get("/").content

    assert b'id="getting-started"' not in content


def test_getting_started_marks_a_made_key_as_done(page_client, account, make_key):
    make_key(account=account)

    content = page_client.get("/").content.decode()

    assert 'id="getting-started"' in content
    assert '<li id="step-key" class="done">' in content
    assert 'id="getting-started-key"' not in content


def test_htmx_request_returns_only_the_dashboard(page_client, account):
    _process(account, state="queued")

    response = page_client.get("/", HTTP_HX_REQUEST="true")

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert content.lstrip().startswith('<div id="dashboard"')
    assert 'hx-trigger="every 3s"' in content  # a queued process: keep refreshing
    assert 'id="getting-started"' not in content


def test_dashboard_stops_polling_when_everything_finished(page_client, account):
    _process(account, state="completed")

    content = page_client.get("/", HTTP_HX_REQUEST="true").content.decode()

    assert "hx-trigger" not in content


def test_a_user_without_an_account_gets_one_on_first_visit(db):
    admin = User.objects.create_superuser("Admin@Example.com", password="x")
    client = Client()
    client.force_login(admin)

    response = client.get("/")

    assert response.status_code == 200
    assert Account.objects.get(owner=admin).balance == 0
    assert User.objects.count() == 1
