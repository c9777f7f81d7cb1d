"""The staff overview and its CSV export: access, figures equal to independent sums over the
ledger, payments and request log (rolled-up rows and the live tail each counted once), periods,
empty and invalid ranges, streamed CSV."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db.models import Q, QuerySet
from django.http import StreamingHttpResponse
from django.test import Client
from django.utils import timezone

from accounts.ledger.actions import credits_add, credits_charge, credits_refund
from accounts.models import Account, LedgerEntry, Payment
from services.models import Process, RollupState, UsageDaily, UsageLog
from services.usage.actions import usage_rollup
from services.usage.rollups import usage_grouped, usage_read_consistent
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db

OVERVIEW = "/staff/"
EXPORT = "/staff/overview.csv"
MARCH = {"from": "2024-03-01", "to": "2024-03-31"}


def at(day: int, hour: int = 12, month: int = 3, year: int = 2024) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    return client


# --- seeding: ledger, payments, processes, request log ------------------------------------------


def _dated(entry: LedgerEntry, when: datetime) -> LedgerEntry:
    """Backdate a ledger row (test set-up only: the ledger's own manager refuses updates)."""
    QuerySet(model=LedgerEntry).filter(pk=entry.pk).update(created_at=when)
    return entry


def topup(account: Account, amount: int, when: datetime) -> LedgerEntry:
    entry = credits_add(
        account=account,
        amount=amount,
        kind=LedgerEntry.Kind.TOPUP,
        reference=f"payment:{secrets.token_hex(6)}",
    )
    return _dated(entry, when)


def process(
    account: Account, *, service: str, price: int, when: datetime, state: str = "completed"
) -> Process:
    """A process charged `price` at `when` (process and charge row), in `state`."""
    row = Process.objects.create(
        public_id=f"prc_{secrets.token_hex(8)}",
        account=account,
        service_id=service,
        endpoint="process",
        credits=price,
        state=state,
        created_at=when,
        deadline_at=when + timedelta(minutes=5),
    )
    _dated(credits_charge(process=row), when)
    return row


def refund(row: Process, when: datetime) -> LedgerEntry:
    entry = credits_refund(process=row, reason="test")
    assert entry is not None
    return _dated(entry, when)


def payment(
    account: Account,
    *,
    provider: str,
    cents: int,
    currency: str = "eur",
    when: datetime | None,
    status: str = "paid",
) -> Payment:
    return Payment.objects.create(
        account=account,
        provider=provider,
        provider_reference=secrets.token_hex(8),
        pack_id="starter",
        credits=cents // 10,
        amount_cents=cents,
        currency=currency,
        status=status,
        paid_at=when,
    )


def log(account: Account | None, *, when: datetime, **fields: Any) -> UsageLog:
    """A request-log row; defaults to a charged execute call answered 202."""
    values: dict[str, Any] = {
        "method": "POST",
        "route": "api/v1/services/<str:service_id>/<str:endpoint>",
        "service_id": "summary",
        "endpoint": "summarize",
        "status_code": 202,
        "duration_ms": 30,
        "credits": 2,
        **fields,
    }
    return UsageLog.objects.create(account=account, created_at=when, **values)


def roll_up() -> int:
    """Fold every settled request-log row; returns the watermark."""
    while usage_rollup():
        pass
    return RollupState.objects.get(name="usage").last_id


@pytest.fixture
def seeded() -> dict[str, Any]:
    """Three accounts with ledger rows, payments, processes and usage around March 2024, half
    of the March usage rolled up and half in the live tail."""
    a = AccountFactory(owner__email="alpha@example.com")
    b = AccountFactory(owner__email="beta@example.com")
    c = AccountFactory(owner__email="gamma@example.com")
    credits_add(account=a, amount=5, reference="welcome")  # a grant: not "sold"

    topup(a, 500, at(1))
    topup(b, 300, at(4))
    topup(b, 200, at(31, 23))
    topup(c, 100, at(29, 12, month=2))  # before the range
    topup(c, 100, at(1, 0, month=4))  # after the range

    pa1 = process(a, service="summary", price=40, when=at(2))
    pa2 = process(a, service="summary", price=30, when=at(5), state="error")
    refund(pa2, at(5, 13))
    process(a, service="classifier", price=10, when=at(11))
    process(b, service="classifier", price=25, when=at(12))
    pb2 = process(b, service="summary", price=20, when=at(30), state="error")
    refund(pb2, at(31))
    process(b, service="summary", price=15, when=at(20), state="running")
    process(c, service="summary", price=9, when=at(28, 12, month=2))  # before
    refund(pa1, at(2, 0, month=4))  # a refund after the range: not counted in March

    payment(a, provider="stripe", cents=1900, when=at(1))
    payment(b, provider="stripe", cents=900, when=at(4))
    payment(b, provider="test", cents=500, when=at(31, 23))
    payment(b, provider="stripe", cents=700, currency="usd", when=at(15))
    payment(c, provider="stripe", cents=4000, when=None, status="pending")
    payment(c, provider="stripe", cents=1500, when=at(1, 0, month=4))

    # Request log: rows rolled up first, then the live tail.
    log(a, when=at(2), credits=40)
    log(a, when=at(5), credits=30, status_code=202, duration_ms=8)
    log(a, when=at(6), status_code=402, credits=0, error_code="INSUFFICIENT_CREDITS")
    log(b, when=at(12), service_id="classifier", endpoint="process", credits=25)
    log(b, when=at(13), service_id="classifier", endpoint="process", status_code=500, credits=0)
    log(a, when=at(2), method="GET", status_code=200, credits=0)  # a poll: not a call
    log(c, when=at(29, 12, month=2))  # outside the range
    log(None, when=at(3), status_code=401, credits=0)  # no key: a call of no account
    watermark = roll_up()
    tail = [
        log(a, when=at(11), service_id="classifier", endpoint="process", credits=10),
        log(b, when=at(30), credits=20),
        log(b, when=at(30), status_code=503, credits=0),
        log(c, when=at(20), method="GET", status_code=200, credits=0),  # c: reads only
        log(b, when=at(1, 1, month=4)),  # outside
    ]
    assert all(row.pk > watermark for row in tail)
    return {"a": a, "b": b, "c": c, "watermark": watermark}


def expected_march() -> dict[str, Any]:
    """The March figures computed straight from the rows, independently of the selectors."""
    lower, upper = at(1, 0), at(1, 0, month=4)
    ledger = LedgerEntry.objects.filter(created_at__gte=lower, created_at__lt=upper)
    calls = UsageLog.objects.filter(created_at__gte=lower, created_at__lt=upper, method="POST")
    calls = calls.exclude(service_id="")
    per_service: dict[str, dict[str, int]] = {}
    for row in calls:
        s = per_service.setdefault(row.service_id, {"calls": 0, "4": 0, "5": 0, "credits": 0})
        s["calls"] += 1
        if 400 <= row.status_code < 500:
            s["4"] += 1
        elif row.status_code >= 500:
            s["5"] += 1
    net: dict[int, int] = {}
    for entry in ledger.filter(kind__in=["charge", "refund"]).select_related("process"):
        net[entry.account_id] = net.get(entry.account_id, 0) - entry.amount
        # Credits spent per service: charges net of refunds (services.usage.figures).
        if entry.process is not None and entry.process.service_id in per_service:
            per_service[entry.process.service_id]["credits"] -= entry.amount
    revenue: dict[tuple[str, str], int] = {}
    for p in Payment.objects.filter(status="paid", paid_at__gte=lower, paid_at__lt=upper):
        key = (p.provider, p.currency.upper())
        revenue[key] = revenue.get(key, 0) + p.amount_cents
    return {
        "sold": sum(e.amount for e in ledger.filter(kind="topup")),
        "consumed": -sum(e.amount for e in ledger.filter(kind="charge")),
        "refunded": sum(e.amount for e in ledger.filter(kind="refund")),
        "calls": calls.count(),
        "active": len({row.account_id for row in calls if row.account_id}),
        "per_service": per_service,
        "net": net,
        "revenue": revenue,
    }


# --- access -------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [OVERVIEW, EXPORT])
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_login(url: str, method: str) -> None:
    response = getattr(Client(), method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("url", [OVERVIEW, EXPORT])
@pytest.mark.parametrize("method", ["get", "post"])
def test_non_staff_get_403(page_client: Client, url: str, method: str) -> None:
    assert getattr(page_client, method)(url).status_code == 403


@pytest.mark.parametrize("url", [OVERVIEW, EXPORT])
def test_staff_cannot_post(staff_client: Client, url: str) -> None:
    assert staff_client.post(url).status_code == 405


def test_inactive_staff_user_gets_403() -> None:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_active=False))
    assert client.get(OVERVIEW).status_code in (302, 403)


# --- figures ------------------------------------------------------------------------------------


def test_totals_equal_independent_sums(staff_client: Client, seeded: dict[str, Any]) -> None:
    expected = expected_march()
    response = staff_client.get(OVERVIEW, MARCH)
    assert response.status_code == 200
    data = response.context["data"]

    assert data.totals.sold == expected["sold"] == 1000
    assert data.totals.consumed == expected["consumed"] == 140
    assert data.totals.refunded == expected["refunded"] == 50
    assert data.totals.net_consumed == 90
    assert data.totals.calls == expected["calls"] == 9
    assert data.active_accounts == expected["active"] == 2
    assert sum(f.sold for _, f in data.periods) == expected["sold"]
    html = response.content.decode()
    assert 'id="total-sold" data-value="1000"' in html
    assert 'id="total-consumed" data-value="140"' in html
    assert 'id="total-refunded" data-value="50"' in html
    assert 'id="total-calls" data-value="9"' in html
    assert 'id="active-accounts" data-value="2"' in html


def test_rolled_up_rows_and_live_tail_each_count_once(
    staff_client: Client, seeded: dict[str, Any]
) -> None:
    rolled = UsageDaily.objects.filter(day__gte=date(2024, 3, 1), kind="call", account_ref__gte=0)
    assert sum(row.requests for row in rolled) == 6  # the tail is not in the rollups yet
    assert UsageLog.objects.filter(id__gt=seeded["watermark"]).count() == 5
    before = staff_client.get(OVERVIEW, MARCH).context["data"]

    roll_up()  # the tail moves into the rollups: the figures must not change
    after = staff_client.get(OVERVIEW, MARCH).context["data"]

    assert not UsageLog.objects.filter(id__gt=RollupState.objects.get().last_id).exists()
    assert before.totals.calls == after.totals.calls == expected_march()["calls"]
    assert before.active_accounts == after.active_accounts == 2
    assert before.services == after.services
    assert before.periods == after.periods


def test_calls_per_day_come_from_both_sources(staff_client: Client, seeded: dict[str, Any]) -> None:
    data = staff_client.get(OVERVIEW, MARCH).context["data"]
    calls = {period.start: flows.calls for period, flows in data.periods}
    assert calls[date(2024, 3, 2)] == 1  # rolled up (the poll that day is not a call)
    assert calls[date(2024, 3, 11)] == 1  # live tail
    assert calls[date(2024, 3, 30)] == 2  # live tail: a 202 and a 503
    assert calls[date(2024, 3, 3)] == 1  # rolled up, no account
    assert calls[date(2024, 3, 20)] == 0  # only a GET


def test_services_show_calls_errors_and_process_failures(
    staff_client: Client, seeded: dict[str, Any]
) -> None:
    expected = expected_march()["per_service"]
    response = staff_client.get(OVERVIEW, MARCH)
    rows = {row.service_id: row for row in response.context["data"].services}

    assert set(rows) == set(expected) == {"summary", "classifier"}
    for service, figures in expected.items():
        row = rows[service]
        assert (row.calls, row.client_errors, row.server_errors, row.credits) == (
            figures["calls"],
            figures["4"],
            figures["5"],
            figures["credits"],
        )
        assert row.ok == row.calls - row.client_errors - row.server_errors
    # summary: pa1 completed, pa2 error, pb2 error (the running one has not finished)
    assert (rows["summary"].processes_finished, rows["summary"].processes_failed) == (3, 2)
    assert (rows["classifier"].processes_finished, rows["classifier"].processes_failed) == (2, 0)
    assert rows["classifier"].server_error_rate == pytest.approx(1 / 3)
    html = response.content.decode()
    assert 'data-service="summary"' in html and 'data-processes-failed="2"' in html


def test_revenue_by_provider_and_currency(staff_client: Client, seeded: dict[str, Any]) -> None:
    data = staff_client.get(OVERVIEW, MARCH).context["data"]
    got = {(r.provider, r.currency): r.amount_cents for r in data.revenue}
    assert got == expected_march()["revenue"]
    assert got == {("stripe", "EUR"): 2800, ("test", "EUR"): 500, ("stripe", "USD"): 700}
    # The test-mode top-up moved no money: it is listed, but not counted as revenue.
    assert dict(data.revenue_by_currency) == {"EUR": 28, "USD": 7}
    test_row = next(r for r in data.revenue if r.provider == "test")
    assert test_row.amount == 0 and not test_row.moved_money


def test_revenue_card_leaves_out_test_mode_top_ups(
    staff_client: Client, seeded: dict[str, Any]
) -> None:
    html = staff_client.get(OVERVIEW, MARCH).content.decode()
    card = html[html.index('id="total-revenue"') :].split("</div>", 1)[0]
    assert "28.00 EUR" in card and "33.00" not in card


def test_top_accounts_by_net_consumption_link_to_their_page(
    staff_client: Client, seeded: dict[str, Any]
) -> None:
    response = staff_client.get(OVERVIEW, MARCH)
    top = response.context["data"].top_accounts
    net = expected_march()["net"]
    assert [(row.account_id, row.net) for row in top] == sorted(
        net.items(), key=lambda item: (-item[1], item[0])
    )
    assert top[0].email == "alpha@example.com"
    assert (top[0].charged, top[0].refunded, top[0].net) == (80, 30, 50)
    assert f'href="/staff/accounts/{seeded["a"].pk}/"' in response.content.decode()


def test_top_accounts_are_at_most_ten(staff_client: Client) -> None:
    for n in range(12):
        account = AccountFactory(credits=100)
        process(account, service="summary", price=n + 1, when=at(10))
    top = staff_client.get(OVERVIEW, MARCH).context["data"].top_accounts
    assert [row.net for row in top] == list(range(12, 2, -1))


def test_accounts_under_threshold_and_empty_accounts_that_call(staff_client: Client) -> None:
    low = AccountFactory(owner__email="low@example.com", credits=10)
    above = AccountFactory(credits=60)
    Account.objects.filter(pk__in=[low.pk, above.pk]).update(low_balance_threshold=50)
    AccountFactory(credits=5)  # threshold 0: alerts off
    empty_caller = AccountFactory(owner__email="empty@example.com")
    empty_idle = AccountFactory(owner__email="idle@example.com")
    empty_old = AccountFactory(owner__email="old@example.com")
    now = timezone.now()
    log(empty_caller, when=now - timedelta(days=2), status_code=402, credits=0)
    log(empty_old, when=now - timedelta(days=30))
    log(empty_idle, when=now - timedelta(days=1), method="GET", status_code=200, credits=0)
    roll_up()
    tail_caller = AccountFactory(owner__email="tail@example.com")
    log(tail_caller, when=now - timedelta(minutes=1), status_code=402, credits=0)

    response = staff_client.get(OVERVIEW)
    data = response.context["data"]
    assert [a.owner.email for a in data.below_threshold] == ["low@example.com"]
    assert data.below_threshold_count == 1
    assert {a.owner.email for a in data.empty_recent} == {"empty@example.com", "tail@example.com"}
    assert data.empty_recent_count == 2
    html = response.content.decode()
    assert 'id="overview-below"' in html and f'href="/staff/accounts/{low.pk}/"' in html


# --- periods ------------------------------------------------------------------------------------


def test_weekly_buckets_start_on_monday_and_are_clipped_to_the_range(
    staff_client: Client, seeded: dict[str, Any]
) -> None:
    data = staff_client.get(OVERVIEW, {**MARCH, "granularity": "week"}).context["data"]
    spans = [(p.start, p.end) for p, _ in data.periods]
    assert spans == [
        (date(2024, 3, 1), date(2024, 3, 3)),
        (date(2024, 3, 4), date(2024, 3, 10)),
        (date(2024, 3, 11), date(2024, 3, 17)),
        (date(2024, 3, 18), date(2024, 3, 24)),
        (date(2024, 3, 25), date(2024, 3, 31)),
    ]
    sold = [flows.sold for _, flows in data.periods]
    consumed = [flows.consumed for _, flows in data.periods]
    assert sold == [500, 300, 0, 0, 200]
    assert consumed == [40, 30, 35, 15, 20]
    assert [flows.refunded for _, flows in data.periods] == [0, 30, 0, 0, 20]
    assert [flows.calls for _, flows in data.periods] == [2, 2, 3, 0, 2]


def test_monthly_buckets(staff_client: Client, seeded: dict[str, Any]) -> None:
    query = {"from": "2024-02-15", "to": "2024-04-10", "granularity": "month"}
    response = staff_client.get(OVERVIEW, query)
    data = response.context["data"]
    assert [(p.start, p.end) for p, _ in data.periods] == [
        (date(2024, 2, 15), date(2024, 2, 29)),
        (date(2024, 3, 1), date(2024, 3, 31)),
        (date(2024, 4, 1), date(2024, 4, 10)),
    ]
    assert [f.sold for _, f in data.periods] == [100, 1000, 100]
    assert [f.consumed for _, f in data.periods] == [9, 140, 0]
    assert [f.refunded for _, f in data.periods] == [0, 50, 40]
    assert [f.calls for _, f in data.periods] == [1, 9, 1]
    assert "Mar 2024" in response.content.decode()


def test_default_range_is_the_last_30_days_per_day(staff_client: Client) -> None:
    response = staff_client.get(OVERVIEW)
    data = response.context["data"]
    today = timezone.now().date()
    assert (data.start, data.end, data.granularity) == (today - timedelta(days=29), today, "day")
    assert len(data.periods) == 30
    assert f'value="{today.isoformat()}"' in response.content.decode()


def test_empty_range_shows_the_empty_state(staff_client: Client, seeded: dict[str, Any]) -> None:
    response = staff_client.get(OVERVIEW, {"from": "2020-01-01", "to": "2020-01-31"})
    data = response.context["data"]
    assert data.is_empty
    assert all(not (f.sold or f.consumed or f.refunded or f.calls) for _, f in data.periods)
    assert data.top_accounts == [] and data.revenue == [] and data.services == []
    html = response.content.decode()
    assert 'id="overview-empty"' in html
    assert 'id="overview-no-revenue"' in html


def test_htmx_request_gets_the_results_region_only(
    staff_client: Client, seeded: dict[str, Any]
) -> None:
    response = staff_client.get(OVERVIEW, MARCH, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="total-sold" data-value="1000"' in html


# --- invalid input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"from": "2024-03-10", "to": "2024-03-01"}, "from", "must not be after"),
        ({"from": "2023-01-01", "to": "2024-03-01"}, "to", "at most 366 days"),
        ({"from": "2024-13-01"}, "from", "Enter a valid date"),
        ({"to": "yesterday"}, "to", "Enter a valid date"),
        ({"granularity": "year"}, "granularity", "Select a valid choice"),
    ],
)
def test_bad_range_shows_errors_and_no_figures(
    staff_client: Client, query: dict[str, str], field: str, message: str
) -> None:
    response = staff_client.get(OVERVIEW, query)
    assert response.status_code == 200
    assert "data" not in response.context
    assert message in str(response.context["form"].errors[field])
    html = response.content.decode()
    assert 'id="overview-invalid"' in html and 'aria-invalid="true"' in html


def test_a_range_of_exactly_366_days_is_accepted(staff_client: Client) -> None:
    response = staff_client.get(OVERVIEW, {"from": "2024-01-01", "to": "2024-12-31"})
    assert len(response.context["data"].periods) == 366


def test_export_with_bad_dates_goes_back_to_the_page(staff_client: Client) -> None:
    response = staff_client.get(EXPORT, {"from": "2024-03-10", "to": "2024-03-01"})
    assert response.status_code == 302
    assert response["Location"].startswith(OVERVIEW + "?")


def test_export_of_an_unknown_table_is_a_400(staff_client: Client) -> None:
    response = staff_client.get(EXPORT, {"table": "users"})
    assert response.status_code == 400


# --- CSV ----------------------------------------------------------------------------------------


def read_csv(response: Any) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_csv_export_streams_the_period_table(staff_client: Client, seeded: dict[str, Any]) -> None:
    response = staff_client.get(EXPORT, {**MARCH, "granularity": "week"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert (
        'filename="breact-periods-week-2024-03-01-to-2024-03-31.csv"'
        in response["Content-Disposition"]
    )
    rows = read_csv(response)
    assert rows[0] == [
        "period_start",
        "period_end",
        "sold",
        "consumed",
        "refunded",
        "net_consumed",
        "calls",
    ]
    assert rows[1:] == [
        ["2024-03-01", "2024-03-03", "500", "40", "0", "40", "2"],
        ["2024-03-04", "2024-03-10", "300", "30", "30", "0", "2"],
        ["2024-03-11", "2024-03-17", "0", "35", "0", "35", "3"],
        ["2024-03-18", "2024-03-24", "0", "15", "0", "15", "0"],
        ["2024-03-25", "2024-03-31", "200", "20", "20", "0", "2"],
    ]


def test_csv_export_of_services_and_top_accounts(
    staff_client: Client, seeded: dict[str, Any]
) -> None:
    services = read_csv(staff_client.get(EXPORT, {**MARCH, "table": "services"}))
    by_name = {row[0]: dict(zip(services[0], row, strict=True)) for row in services[1:]}
    assert by_name["summary"]["calls"] == "6"
    assert by_name["summary"]["processes_failed"] == "2"
    assert by_name["classifier"]["server_errors_5xx"] == "1"

    accounts = read_csv(staff_client.get(EXPORT, {**MARCH, "table": "accounts"}))
    assert accounts[0][:3] == ["account_id", "email", "charged"]
    assert [row[1] for row in accounts[1:]] == ["alpha@example.com", "beta@example.com"]
    assert accounts[1][2:5] == ["80", "30", "50"]


def test_csv_cells_that_look_like_formulas_are_defused(staff_client: Client) -> None:
    account = AccountFactory(owner__email="=cmd|'/c calc'!A1@example.com", credits=50)
    process(account, service="summary", price=5, when=at(10))
    rows = read_csv(staff_client.get(EXPORT, {**MARCH, "table": "accounts"}))
    assert rows[1][1].startswith("'=")


# --- selectors ----------------------------------------------------------------------------------


def test_latency_buckets_agree_between_tail_and_rollups(account: Account) -> None:
    for ms in (0, 5, 6, 10, 11, 250, 10000, 10001, 99999):
        log(account, when=at(8), duration_ms=ms)
    march = {"start": date(2024, 3, 1), "end": date(2024, 3, 31)}
    live = usage_grouped(**march, by=("service_id",), latency=True)
    roll_up()
    rolled = usage_grouped(**march, by=("service_id",), latency=True)

    assert live == rolled
    buckets = rolled[("summary",)].latency_buckets
    assert buckets == [2, 2, 1, 0, 0, 1, 0, 0, 0, 0, 1, 2]


def test_a_rollup_between_reads_is_retried_not_double_counted(account: Account) -> None:
    for _ in range(3):
        log(account, when=at(8))
    march = {"start": date(2024, 3, 1), "end": date(2024, 3, 31)}
    attempts: list[int] = []

    def read(watermark: int) -> int:
        attempts.append(watermark)
        if len(attempts) == 1:
            usage_rollup()  # a rollup commits after the watermark was read
        figures = usage_grouped(**march, watermark=watermark)
        return figures[()].requests

    assert usage_read_consistent(read) == 3
    assert attempts[0] == 0 and attempts[1] > 0


def test_usage_grouped_filters_by_account_and_kind(account: Account) -> None:
    other = AccountFactory()
    log(account, when=at(8))
    log(account, when=at(8), method="GET", status_code=200, credits=0)
    log(other, when=at(9))
    roll_up()
    log(account, when=at(9), status_code=500, credits=0)
    march = {"start": date(2024, 3, 1), "end": date(2024, 3, 31)}

    mine = usage_grouped(**march, by=("status_class",), account_id=account.pk)
    reads = usage_grouped(**march, kind="read")
    everything = usage_grouped(**march, kind=None, by=("kind",))

    assert {k: v.requests for k, v in mine.items()} == {(2,): 1, (5,): 1}
    assert reads[()].requests == 1
    assert {k: v.requests for k, v in everything.items()} == {("call",): 3, ("read",): 1}
    assert UsageLog.objects.filter(Q(account=account) | Q(account=other)).count() == 4
    with pytest.raises(ValueError, match="Unknown usage grouping"):
        usage_grouped(**march, by=("route",))


def test_overview_query_count_does_not_grow_with_the_data(
    staff_client: Client, seeded: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    for n in range(20):
        account = AccountFactory(credits=100)
        process(account, service="summary", price=1 + n % 3, when=at(1 + n))
        log(account, when=at(1 + n))
    # 31: the credit flows and top accounts read the ledger's daily rollup and its tail
    # between two reads of the ledger watermark; the calls per day and per service are two
    # small grouped reads, and the top accounts add one for the rollup of the accounts in the
    # tail (a few rows each, whatever the history).
    with django_assert_max_num_queries(31):
        response = staff_client.get(OVERVIEW, MARCH)
    assert response.context["data"].active_accounts == 22
