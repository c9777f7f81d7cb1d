"""The usage page and its CSV export: the account's own rows only, filters, charts, tables, log."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.keys.actions import api_key_revoke, console_key_for
from accounts.models import ApiKey
from services.models import UsageLog
from tests.factories import AccountFactory, ApiKeyFactory, charge_logged_calls

USAGE = "/usage/"
EXPORT = "/usage/export.csv"
MARCH = {"from": "2024-03-01", "to": "2024-03-31"}


def at(day: int, hour: int = 12, month: int = 3) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=UTC)


def log(account: Any, *, when: datetime, key: ApiKey | None = None, **fields: Any) -> UsageLog:
    """A usage row as the API middleware writes it; defaults to a charged summary execute."""
    service = fields.pop("service", "summary")
    values: dict[str, Any] = {
        "method": "POST",
        "route": f"api/v1/services/{service}/<str:endpoint>",
        "service_id": service,
        "endpoint": "summarize" if service == "summary" else "process",
        "process_id": "",
        "status_code": 202,
        "error_code": "",
        "duration_ms": 10,
        "credits": 1,
        **fields,
    }
    row = UsageLog.objects.create(account=account, api_key=key, created_at=when, **values)
    if charge_logged_calls(account, pk=row.pk):  # its process and charge, as the API writes
        row.refresh_from_db()
    return row


def results_region(response: Any) -> str:
    html = response.content.decode()
    return html[html.index('id="usage-results"') :]


def log_rows(response: Any) -> list[str]:
    html = response.content.decode()
    table = html[html.index('id="usage-log"') :]
    table = table[: table.index("</table>")]
    return re.findall(r'<tr data-id="(\d+)">', table)


# --- access -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", [USAGE, EXPORT])
def test_anonymous_is_sent_to_login(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_usage_refuses_post(page_client: Client) -> None:
    assert page_client.post(USAGE).status_code == 405
    assert page_client.post(EXPORT).status_code == 405


def test_empty_state_links_to_playground_and_keys(page_client: Client) -> None:
    response = page_client.get(USAGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="usage-empty"' in html
    assert 'href="/playground/"' in html and 'href="/keys/"' in html
    assert 'id="usage-filters"' not in html


def test_only_the_accounts_own_rows_appear(page_client: Client, account: Any) -> None:
    now = timezone.now()
    mine = log(account, when=now, route="mine/route")
    other = AccountFactory(credits=10)
    theirs = log(other, when=now, route="their/route", service="webscraper", credits=7)
    response = page_client.get(USAGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert log_rows(response) == [str(mine.pk)]
    assert "their/route" not in html and "webscraper" not in results_region(response)
    assert str(theirs.pk) not in log_rows(response)
    assert 'id="usage-total-credits">1<' in html


def test_default_range_is_the_last_30_days(page_client: Client, account: Any) -> None:
    now = timezone.now()
    recent = log(account, when=now - timedelta(days=29))
    log(account, when=now - timedelta(days=31))
    response = page_client.get(USAGE)
    assert log_rows(response) == [str(recent.pk)]
    today = now.date()
    html = response.content.decode()
    assert f'value="{(today - timedelta(days=29)).isoformat()}"' in html
    assert f'value="{today.isoformat()}"' in html


# --- filters ----------------------------------------------------------------------------------


@pytest.fixture
def seeded(account: Any) -> dict[str, Any]:
    """March 2024 rows of known dates, keys, services and statuses, plus another account's."""
    key_a = ApiKeyFactory(account=account, name="Backend")
    key_b = ApiKeyFactory(account=account, name="Laptop")
    rows = {
        "a_summary_ok": log(account, when=at(2), key=key_a, credits=3, duration_ms=100),
        "a_summary_422": log(
            account,
            when=at(2, 13),
            key=key_a,
            status_code=422,
            error_code="BAD",
            credits=0,
            duration_ms=20,
        ),
        "b_scraper_ok": log(account, when=at(5), key=key_b, service="webscraper", credits=2),
        "b_scraper_500": log(
            account,
            when=at(10),
            key=key_b,
            service="webscraper",
            status_code=500,
            credits=0,
        ),
        "a_poll_404": log(
            account,
            when=at(20),
            key=key_a,
            method="GET",
            status_code=404,
            credits=0,
            route="api/v1/services/result/<str:process_id>",
        ),
        "april": log(account, when=at(1, month=4), key=key_a),
    }
    other = AccountFactory(credits=10)
    other_key = ApiKeyFactory(account=other, name="Theirs")
    log(other, when=at(2), key=other_key, route="their/route")
    return {"key_a": key_a, "key_b": key_b, "rows": rows, "other_key": other_key}


def ids(seeded: dict[str, Any], *names: str) -> list[str]:
    rows = [seeded["rows"][name] for name in names]
    rows.sort(key=lambda row: (row.created_at, row.pk), reverse=True)
    return [str(row.pk) for row in rows]


def test_date_range_narrows(page_client: Client, seeded: dict[str, Any]) -> None:
    response = page_client.get(USAGE, {"from": "2024-03-02", "to": "2024-03-05"})
    assert response.status_code == 200
    assert log_rows(response) == ids(seeded, "a_summary_ok", "a_summary_422", "b_scraper_ok")


def test_key_filter_narrows(page_client: Client, seeded: dict[str, Any]) -> None:
    response = page_client.get(USAGE, {**MARCH, "key": seeded["key_b"].pk})
    assert log_rows(response) == ids(seeded, "b_scraper_ok", "b_scraper_500")


def test_service_filter_narrows(page_client: Client, seeded: dict[str, Any]) -> None:
    response = page_client.get(USAGE, {**MARCH, "service": "summary"})
    assert log_rows(response) == ids(seeded, "a_summary_ok", "a_summary_422", "a_poll_404")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("success", ("a_summary_ok", "b_scraper_ok")),
        ("client_error", ("a_summary_422", "a_poll_404")),
        ("server_error", ("b_scraper_500",)),
        ("404", ("a_poll_404",)),
        ("418", ()),
    ],
)
def test_status_filter_narrows(
    page_client: Client, seeded: dict[str, Any], status: str, expected: tuple[str, ...]
) -> None:
    response = page_client.get(USAGE, {**MARCH, "status": status})
    assert response.status_code == 200
    if expected:
        assert log_rows(response) == ids(seeded, *expected)
    else:
        assert 'id="usage-no-match"' in response.content.decode()


def test_filters_combine(page_client: Client, seeded: dict[str, Any]) -> None:
    response = page_client.get(
        USAGE, {**MARCH, "key": seeded["key_a"].pk, "service": "summary", "status": "success"}
    )
    assert log_rows(response) == ids(seeded, "a_summary_ok")


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "2024-13-45"}, "from", "Enter a valid date."),
        ({"from": "2024-03-10", "to": "2024-03-01"}, "from", "must not be after"),
        ({"from": "2023-01-01", "to": "2024-03-01"}, "to", "at most 366 days"),
        ({"status": "999"}, "status", "Select a valid choice"),
        ({"service": "nope"}, "service", "Select a valid choice"),
    ],
)
def test_bad_filters_show_errors_beside_the_field(
    page_client: Client, seeded: dict[str, Any], params: dict[str, str], field: str, message: str
) -> None:
    response = page_client.get(USAGE, params)
    html = response.content.decode()
    assert response.status_code == 200
    errors = re.search(rf'<div id="errors-{field}" class="field-errors">(.*?)</div>', html, re.S)
    assert errors is not None and message in errors.group(1)
    assert 'id="usage-invalid"' in html
    assert 'id="usage-log"' not in html
    assert 'aria-invalid="true"' in html


def test_a_full_366_day_range_is_allowed(page_client: Client, seeded: dict[str, Any]) -> None:
    response = page_client.get(USAGE, {"from": "2023-04-01", "to": "2024-03-31"})
    assert 'id="usage-invalid"' not in response.content.decode()
    assert len(log_rows(response)) == 5


def test_another_accounts_key_is_a_form_error_not_their_data(
    page_client: Client, seeded: dict[str, Any]
) -> None:
    response = page_client.get(USAGE, {**MARCH, "key": seeded["other_key"].pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice" in html
    assert "their/route" not in html
    assert "Theirs" not in html  # not offered as a choice either
    assert 'id="usage-log"' not in html


def test_key_choices_name_the_console_key_and_revoked_keys(
    page_client: Client, account: Any, seeded: dict[str, Any]
) -> None:
    console_key_for(account=account)
    api_key_revoke(api_key=seeded["key_b"])
    html = page_client.get(USAGE).content.decode()
    assert ">Console (playground)</option>" in html
    assert f"Laptop ({seeded['key_b'].masked}) — revoked</option>" in html


# --- charts and tables ------------------------------------------------------------------------


def test_chart_has_one_bar_per_day_and_service_matching_the_table(
    page_client: Client, seeded: dict[str, Any]
) -> None:
    html = page_client.get(USAGE, MARCH).content.decode()
    calls_chart = html[
        html.index('id="usage-chart-calls"') : html.index('id="usage-chart-credits"')
    ]
    bars = re.findall(
        r'<rect class="bar s\d" [^>]*data-category="([\d-]+)" data-series="(\w+)" '
        r'data-value="(\d+)"',
        calls_chart,
    )
    table = html[html.index('id="usage-daily-table"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(
        r'<tr data-day="([\d-]+)" data-service="(\w+)">.*?data-calls="(\d+)"', table, re.S
    )
    # Calls are executes: the GET poll on the 20th and April's row are not in the chart.
    expected = {
        ("2024-03-02", "summary", "2"),
        ("2024-03-05", "webscraper", "1"),
        ("2024-03-10", "webscraper", "1"),
    }
    assert set(bars) == expected == set(rows)
    assert len(bars) == 3
    assert 'role="img"' in calls_chart
    credits_chart = html[html.index('id="usage-chart-credits"') :]
    credit_bars = re.findall(r'data-series="(\w+)" data-value="(\d+)"', credits_chart)
    assert sorted(credit_bars) == [("summary", "3"), ("webscraper", "2")]


def test_totals_and_by_service_table(page_client: Client, seeded: dict[str, Any]) -> None:
    html = page_client.get(USAGE, MARCH).content.decode()
    assert 'id="usage-total-calls">4<' in html
    assert 'id="usage-total-credits">5<' in html
    assert 'id="usage-total-errors">2 ' in html
    table = html[html.index('id="usage-by-service"') :]
    table = table[: table.index("</table>")]
    cells = {
        service: re.findall(r'<td class="num">([^<]*)</td>', row)
        for service, row in re.findall(r'<tr data-service="(\w+)">(.*?)</tr>', table, re.S)
    }
    # calls, errors, error rate, credits, avg ms, p95 ms
    assert cells["summary"][:5] == ["2", "1", "50%", "3", "60"]
    assert cells["webscraper"][:5] == ["2", "1", "50%", "2", "10"]
    # p95 is estimated from the latency buckets: it lies in the bucket holding the true p95
    # (summary: 20 and 100 ms → (50, 100]; webscraper: 10 and 10 ms → (5, 10]).
    assert 50 < int(cells["summary"][5]) <= 100
    assert 5 < int(cells["webscraper"][5]) <= 10


def test_by_key_table_names_console_and_deleted_keys(page_client: Client, account: Any) -> None:
    now = timezone.now()
    console = console_key_for(account=account)
    named = ApiKeyFactory(account=account, name="Backend")
    gone = ApiKeyFactory(account=account, name="Gone")
    log(account, when=now, key=console, credits=2)
    log(account, when=now, key=named, credits=5)
    log(account, when=now, key=gone, credits=1)
    gone.delete()
    html = page_client.get(USAGE).content.decode()
    table = html[html.index('id="usage-by-key"') :]
    table = table[: table.index("</table>")]
    assert "Console (playground)" in table
    assert f"Backend <code>{named.prefix}…{named.last_four}</code>" in table
    assert "<td>—</td>" in table
    assert "Gone" not in table
    assert console.prefix not in table


# --- log and pagination -----------------------------------------------------------------------


def test_log_is_paginated_newest_first_and_links_keep_the_filters(
    page_client: Client, account: Any
) -> None:
    start = at(1, 0)
    rows = [
        log(account, when=start + timedelta(minutes=n), service="webscraper") for n in range(120)
    ]
    log(account, when=start, service="summary")  # filtered out by service
    params = {**MARCH, "service": "webscraper"}
    first = page_client.get(USAGE, params)
    assert log_rows(first) == [str(row.pk) for row in reversed(rows[-50:])]
    html = first.content.decode()
    next_link = re.search(r'id="usage-log-next" href="([^"]+)"', html)
    assert next_link is not None
    href = next_link.group(1).replace("&amp;", "&")
    for part in ("from=2024-03-01", "to=2024-03-31", "service=webscraper", "page=2"):
        assert part in href
    second = page_client.get(href)
    assert log_rows(second) == [str(row.pk) for row in reversed(rows[20:70])]
    third = page_client.get(USAGE, {**params, "page": 3})
    assert len(log_rows(third)) == 20
    assert 'id="usage-log-next"' not in third.content.decode()
    assert "Page 3 of 3" in third.content.decode()


def test_log_row_shows_the_request(page_client: Client, account: Any) -> None:
    key = ApiKeyFactory(account=account, name="Backend")
    log(
        account,
        when=timezone.now(),
        key=key,
        status_code=402,
        error_code="INSUFFICIENT_CREDITS",
        process_id="proc_123",
        duration_ms=42,
        credits=0,
    )
    html = page_client.get(USAGE).content.decode()
    row = html[html.index("<tr data-id=") :]
    row = row[: row.index("</tr>")]
    for text in (
        "POST",
        "summary · summarize",
        "402",
        "INSUFFICIENT_CREDITS",
        "42",
        "proc_123",
        key.masked,
        "badge-warn",
        'href="/playground/runs/proc_123/"',
    ):
        assert text in row


def test_htmx_request_gets_the_results_partial_only(
    page_client: Client, seeded: dict[str, Any]
) -> None:
    response = page_client.get(USAGE, {**MARCH, "service": "webscraper"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="usage-filters"' not in html
    assert 'id="usage-log"' in html
    assert log_rows(response) == ids(seeded, "b_scraper_500", "b_scraper_ok")
    # Field errors are swapped out of band so they stay beside their fields.
    bad = page_client.get(USAGE, {"from": "nope"}, HTTP_HX_REQUEST="true").content.decode()
    assert '<div id="errors-from" class="field-errors" hx-swap-oob="true">' in bad
    assert "Enter a valid date." in bad and "<html" not in bad


def test_filter_form_works_without_javascript(page_client: Client, seeded: dict[str, Any]) -> None:
    html = page_client.get(USAGE, MARCH).content.decode()
    form = html[html.index('<form id="usage-filters"') :]
    form = form[: form.index("</form>")]
    assert 'method="get" action="/usage/"' in form
    assert 'hx-get="/usage/"' in form and 'hx-push-url="true"' in form
    assert '<button type="submit" class="btn btn-primary" id="usage-apply">' in form
    for name in ("from", "to", "key", "service", "status"):
        assert f'<label for="id_{name}">' in form


# --- CSV export -------------------------------------------------------------------------------


def export(client: Client, params: dict[str, Any]) -> tuple[Any, list[list[str]]]:
    response = client.get(EXPORT, params)
    assert response.status_code == 200
    assert response.streaming is True
    body = b"".join(response.streaming_content).decode()
    return response, list(csv.reader(io.StringIO(body)))


def test_export_streams_exactly_the_filtered_rows(
    page_client: Client, seeded: dict[str, Any]
) -> None:
    response, rows = export(page_client, {**MARCH, "key": seeded["key_b"].pk})
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        'attachment; filename="breact-usage-2024-03-01-to-2024-03-31.csv"'
    )
    header, *data = rows
    assert header[:3] == ["time_utc", "method", "route"]
    assert "key_prefix" in header and "process_id" in header
    assert [row[0] for row in data] == ["2024-03-10T12:00:00.000Z", "2024-03-05T12:00:00.000Z"]
    assert {row[header.index("service")] for row in data} == {"webscraper"}
    assert {row[header.index("key_name")] for row in data} == {"Laptop"}
    assert {row[header.index("key_prefix")] for row in data} == {seeded["key_b"].prefix}


def test_export_defaults_to_the_last_30_days_and_only_own_rows(
    page_client: Client, account: Any
) -> None:
    now = timezone.now()
    log(account, when=now, route="mine")
    log(account, when=now - timedelta(days=40), route="old")
    log(AccountFactory(credits=1), when=now, route="theirs")
    response, rows = export(page_client, {})
    assert [row[2] for row in rows[1:]] == ["mine"]
    today = now.date()
    assert (
        f"{(today - timedelta(days=29)).isoformat()}-to-{today.isoformat()}"
        in (response["Content-Disposition"])
    )


def test_export_escapes_cells_that_a_spreadsheet_would_run(
    page_client: Client, account: Any
) -> None:
    key = ApiKeyFactory(account=account, name='=HYPERLINK("http://evil")')
    log(
        account, when=timezone.now(), key=key, route="+route", error_code="@code", request_id="-1+1"
    )
    _, rows = export(page_client, {})
    header, row = rows
    assert row[header.index("key_name")] == '\'=HYPERLINK("http://evil")'
    assert row[header.index("route")] == "'+route"
    assert row[header.index("error_code")] == "'@code"
    assert row[header.index("request_id")] == "'-1+1"


def test_export_names_the_console_key(page_client: Client, account: Any) -> None:
    log(account, when=timezone.now(), key=console_key_for(account=account))
    _, rows = export(page_client, {})
    header, row = rows
    assert row[header.index("key_name")] == "Console (playground)"
    assert row[header.index("key_prefix")] == ""


def test_export_with_bad_filters_goes_back_to_the_form(
    page_client: Client, seeded: dict[str, Any]
) -> None:
    response = page_client.get(EXPORT, {"key": seeded["other_key"].pk})
    assert response.status_code == 302
    assert response["Location"] == f"/usage/?key={seeded['other_key'].pk}"
    response = page_client.get(EXPORT, {"from": "2024-03-10", "to": "2024-03-01"})
    assert response.status_code == 302


def test_export_link_carries_the_filters(page_client: Client, seeded: dict[str, Any]) -> None:
    html = page_client.get(USAGE, {**MARCH, "status": "success"}).content.decode()
    link = re.search(r'id="usage-export" href="([^"]+)"', html)
    assert link is not None
    assert link.group(1).replace("&amp;", "&") == (
        "/usage/export.csv?from=2024-03-01&to=2024-03-31&status=success"
    )


def test_page_queries_do_not_grow_with_rows_or_keys(
    page_client: Client, account: Any, settings: Any
) -> None:
    from django.db import connection

    settings.BREACT_MAX_KEYS_PER_ACCOUNT = 30
    from django.test.utils import CaptureQueriesContext

    now = timezone.now()

    def seed(count: int) -> None:
        for n in range(count):
            key = ApiKeyFactory(account=account, name=f"k{n}")
            log(account, when=now - timedelta(days=n), key=key)
            log(account, when=now - timedelta(days=n), key=key, method="GET", credits=0)

    seed(2)
    with CaptureQueriesContext(connection) as few:
        page_client.get(USAGE)
    seed(20)
    with CaptureQueriesContext(connection) as many:
        page_client.get(USAGE)
    assert len(many) == len(few)
