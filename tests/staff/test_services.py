"""Staff services page (figures per endpoint), endpoint edits and model providers."""

from __future__ import annotations

import bisect
import json
import random
import re
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.ledger.actions import credits_charge
from accounts.models import AuditEvent, LedgerEntry
from services.catalogue.actions import services_sync
from services.engines.llm import route_for
from services.models import (
    LATENCY_BUCKETS_MS,
    Endpoint,
    ModelProvider,
    Process,
    RollupState,
    UsageLog,
)
from services.staff.actions import EndpointChanged, endpoint_update, model_provider_update
from services.staff.endpoints import endpoint_figures
from services.usage.actions import usage_rollup
from services.usage.figures import latency_percentiles
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MY_ACTIONS = [
    "endpoint.update",
    "model_provider.create",
    "model_provider.update",
    "model_provider.delete",
]
RAW_KEY = "sk-live-THIS-MUST-NEVER-BE-RENDERED-4242"
SETTINGS_KEY = "sk-settings-SECRET-9999"


def _events() -> Any:
    """The audit events of this page's actions (credit and key events are audited too)."""
    return AuditEvent.objects.filter(action__in=MY_ACTIONS)


@pytest.fixture
def staff() -> Any:
    return UserFactory(is_staff=True)


@pytest.fixture
def staff_client(staff: Any) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def provider() -> ModelProvider:
    return ModelProvider.objects.create(
        model_id="gpt-4o",
        base_url="https://llm.example.com/v1",
        api_key=RAW_KEY,
        upstream_model="gpt-4o-2024-08-06",
        timeout_seconds=30,
    )


def _endpoint(service_id: str = "text_analyzer", name: str = "analyze") -> Endpoint:
    services_sync()
    return Endpoint.objects.select_related("service").get(service__service_id=service_id, name=name)


# --- access -----------------------------------------------------------------------------------


def _staff_urls(provider_pk: int) -> list[str]:
    return [
        reverse("staff-services"),
        reverse("staff-endpoint-edit", args=["text_analyzer", "analyze"]),
        reverse("staff-providers"),
        reverse("staff-provider-create"),
        reverse("staff-provider-edit", args=[provider_pk]),
        reverse("staff-provider-delete", args=[provider_pk]),
    ]


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_url_is_forbidden_to_a_logged_in_non_staff_user(method, page_client, provider):
    for url in _staff_urls(provider.pk):
        data = {"price": "0", "enabled": "on", "reason": "x", "model_id": "m"}
        response = getattr(page_client, method)(url, data if method == "post" else None)
        assert response.status_code == 403, url
    assert ModelProvider.objects.filter(pk=provider.pk).exists()
    assert not _events().exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_url_sends_an_anonymous_visitor_to_log_in(method, client, provider):
    for url in _staff_urls(provider.pk):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login")), url
    assert ModelProvider.objects.filter(pk=provider.pk).exists()


def test_get_only_pages_refuse_a_staff_post(staff_client):
    assert staff_client.post(reverse("staff-services")).status_code == 405
    assert staff_client.post(reverse("staff-providers")).status_code == 405


def test_delete_refuses_a_staff_get(staff_client, provider):
    response = staff_client.get(reverse("staff-provider-delete", args=[provider.pk]))
    assert response.status_code == 405
    assert ModelProvider.objects.filter(pk=provider.pk).exists()


# --- latency percentiles --------------------------------------------------------------------

N = len(LATENCY_BUCKETS_MS) + 1


def _hist(**counts: int) -> list[int]:
    buckets = [0] * N
    for index, count in counts.items():
        buckets[int(index.lstrip("b"))] = count
    return buckets


def test_percentiles_of_an_empty_histogram_are_none():
    assert latency_percentiles([0] * N, (0.5, 0.95, 0.99)) == [None, None, None]


def test_percentile_interpolates_inside_the_bucket():
    # 10 requests in (25, 50] ms: the median is half-way through that bucket.
    assert latency_percentiles(_hist(b3=10), (0.5,)) == [37.5]
    assert latency_percentiles(_hist(b3=10), (1.0,)) == [50.0]
    assert latency_percentiles(_hist(b3=10), (0.0,)) == [25.0]


def test_percentile_crosses_buckets_by_rank():
    # 50 in (0, 5], 50 in (5, 10]
    buckets = _hist(b0=50, b1=50)
    assert latency_percentiles(buckets, (0.5, 0.75, 0.99, 1.0)) == [5.0, 7.5, 9.9, 10.0]


def test_percentile_skips_empty_buckets_between():
    # 1 fast request (≤ 5 ms) and 3 between 1000 and 2500 ms.
    buckets = _hist(b0=1, b8=3)
    p50, p99 = latency_percentiles(buckets, (0.5, 0.99))
    assert p50 == pytest.approx(1000 + 1500 * (2 - 1) / 3)
    assert p99 == pytest.approx(1000 + 1500 * (3.96 - 1) / 3)


def test_percentile_in_the_overflow_bucket_is_the_last_bound():
    buckets = _hist(b0=90, b11=10)
    assert latency_percentiles(buckets, (0.5, 0.95)) == [5 * 50 / 90, 10000.0]


def test_percentiles_never_decrease_with_the_quantile():
    rng = random.Random(5)
    for _ in range(200):
        buckets = [rng.choice([0, 0, 1, 3, 50]) for _ in range(N)]
        values = latency_percentiles(buckets, (0.1, 0.5, 0.9, 0.95, 0.99, 1.0))
        if sum(buckets) == 0:
            assert values == [None] * 6
        else:
            assert values == sorted(values)  # type: ignore[type-var]


@pytest.mark.parametrize("q", [-0.1, 1.01])
def test_percentile_of_a_quantile_outside_0_1_is_refused(q):
    with pytest.raises(ValueError):
        latency_percentiles(_hist(b0=1), (q,))


def test_percentile_of_a_histogram_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError):
        latency_percentiles([1, 2, 3], (0.5,))


# --- figures ----------------------------------------------------------------------------------


def _log(account: Any, **fields: Any) -> UsageLog:
    values = {
        "account": account,
        "method": "POST",
        "route": "api/v1/services/<str:service_id>/<str:endpoint>",
        "service_id": "text_analyzer",
        "endpoint": "analyze",
        "status_code": 202,
        "duration_ms": 40,
        "credits": 1,
        "created_at": timezone.now() - timedelta(hours=1),
    }
    values.update(fields)
    return UsageLog.objects.create(**values)


def _process(
    account: Any, state: str, service_id: str = "text_analyzer", endpoint: str = "analyze"
):
    now = timezone.now()
    process = Process.objects.create(
        public_id=f"prc_{random.randrange(10**12)}",
        account=account,
        service_id="text_analyzer",
        endpoint=endpoint,
        credits=1,
        deadline_at=now + timedelta(minutes=5),
    )
    credits_charge(process=process)
    Process.objects.filter(pk=process.pk).update(state=state)
    return process


def _bucket_of(ms: int) -> int:
    return bisect.bisect_left(LATENCY_BUCKETS_MS, ms)


def _seed_usage(account: Any) -> None:
    rng = random.Random(7)
    now = timezone.now()
    # Rolled up: rows of the past days (older than the rollup's settle time).
    for _ in range(60):
        _log(
            account,
            created_at=now - timedelta(days=rng.randint(0, 5), minutes=10),
            status_code=rng.choice([202, 202, 202, 400, 402, 500, 503]),
            duration_ms=rng.choice([3, 8, 20, 40, 90, 400, 700, 3000, 20000]),
            credits=rng.choice([0, 1]),
            endpoint=rng.choice(["analyze", "analyze", "other"]),
        )
    _log(account, method="GET", service_id="", endpoint="", status_code=200)  # a read
    _log(account, created_at=now - timedelta(days=45))  # outside the range
    assert usage_rollup() > 0
    # Live tail: rows past the watermark (too young to be rolled up, and added after it).
    for _ in range(15):
        _log(
            account,
            created_at=now,
            status_code=rng.choice([202, 429, 502]),
            duration_ms=rng.choice([4, 30, 260, 12000]),
            credits=rng.choice([0, 1]),
        )
    assert UsageLog.objects.filter(id__gt=RollupState.objects.get(name="usage").last_id).count()


def _expected(service_id: str, endpoint: str, days: int = 30) -> dict[str, Any]:
    """The figures summed directly from the request log, in Python."""
    since = (timezone.now() - timedelta(days=days - 1)).date()
    rows = [
        row
        for row in UsageLog.objects.all()
        if row.method == "POST"
        and row.service_id == service_id
        and row.endpoint == endpoint
        and row.created_at.date() >= since
    ]
    buckets = [0] * N
    for row in rows:
        buckets[_bucket_of(row.duration_ms)] += 1
    return {
        "calls": len(rows),
        # Credits spent: the ledger's charges net of refunds (services.usage.figures).
        "credits": -sum(
            entry.amount
            for entry in LedgerEntry.objects.filter(kind__in=["charge", "refund"])
            if entry.process is not None
            and (entry.process.service_id, entry.process.endpoint) == (service_id, endpoint)
            and entry.created_at.date() >= since
        ),
        "calls_4xx": sum(1 for row in rows if 400 <= row.status_code < 500),
        "calls_5xx": sum(1 for row in rows if row.status_code >= 500),
        "duration_ms_sum": sum(row.duration_ms for row in rows),
        "latency_buckets": buckets,
    }


def test_figures_equal_sums_of_the_request_log_rolled_up_and_live(account):
    _seed_usage(account)
    for state in ["completed", "completed", "error", "queued"]:
        _process(account, state)
    _process(account, "error", endpoint="other")
    today = timezone.now().date()

    figures = endpoint_figures(start=today - timedelta(days=29), end=today)

    for endpoint in ("analyze", "other"):
        got = figures[("text_analyzer", endpoint)]
        expected = _expected("text_analyzer", endpoint)
        assert expected["calls"] > 0
        assert got.calls == expected["calls"]
        assert got.credits == expected["credits"]
        assert got.calls_4xx == expected["calls_4xx"]
        assert got.calls_5xx == expected["calls_5xx"]
        assert got.duration_ms_sum == expected["duration_ms_sum"]
        assert got.latency_buckets == expected["latency_buckets"]
        assert got.percentiles == latency_percentiles(
            expected["latency_buckets"], (0.5, 0.95, 0.99)
        )
    analyze = figures[("text_analyzer", "analyze")]
    assert (analyze.processes_finished, analyze.processes_failed) == (3, 1)
    assert analyze.process_failure_rate == pytest.approx(1 / 3)
    other = figures[("text_analyzer", "other")]
    assert (other.processes_finished, other.processes_failed) == (1, 1)


def test_figures_are_the_same_once_the_live_tail_is_rolled_up(account):
    _seed_usage(account)
    watermark = RollupState.objects.get(name="usage").last_id
    tail = UsageLog.objects.filter(id__gt=watermark)
    tail_rows = tail.count()
    tail.update(created_at=F("created_at") - timedelta(seconds=30))  # past the settle time
    today = timezone.now().date()
    before = endpoint_figures(start=today - timedelta(days=29), end=today)

    assert usage_rollup() == tail_rows

    assert endpoint_figures(start=today - timedelta(days=29), end=today) == before


def test_services_page_lists_every_endpoint_with_its_figures(staff_client, account):
    _seed_usage(account)
    analyze = _endpoint()
    Endpoint.objects.filter(pk=analyze.pk).update(enabled=False)

    response = staff_client.get(reverse("staff-services"))

    assert response.status_code == 200
    html = response.content.decode()
    for endpoint in Endpoint.objects.select_related("service"):
        assert f'data-endpoint="{endpoint.service.service_id}.{endpoint.name}"' in html
    expected = _expected("text_analyzer", "analyze")
    row = re.search(r'data-endpoint="text_analyzer.analyze".*?</tr>', html, re.S)
    assert row is not None
    assert f'data-calls="{expected["calls"]}"' in row.group(0)
    assert f'data-credits="{expected["credits"]}"' in row.group(0)
    assert f'data-5xx="{expected["calls_5xx"]}"' in row.group(0)
    assert "endpoint off" in row.group(0)
    assert (
        response.context["form"].data["from"]
        == (timezone.now().date() - timedelta(days=29)).isoformat()
    )


def test_services_page_filters_by_service_and_sorts(staff_client, account):
    _seed_usage(account)
    response = staff_client.get(
        reverse("staff-services"), {"service": "text_analyzer", "sort": "calls"}
    )
    rows = response.context["rows"]
    assert {row.endpoint.service.service_id for row in rows} == {"text_analyzer"}
    calls = [row.figures.calls for row in rows]
    assert calls == sorted(calls, reverse=True)


def test_services_page_htmx_request_gets_the_results_region(staff_client):
    response = staff_client.get(reverse("staff-services"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'id="services-table"' in html
    assert "<html" not in html


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-02-10", "to": "2026-02-01"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"from": "not-a-date"},
        {"sort": "drop table"},
    ],
)
def test_services_page_with_bad_filters_shows_errors_not_a_500(staff_client, query):
    response = staff_client.get(reverse("staff-services"), query)
    assert response.status_code == 200
    assert 'id="services-invalid"' in response.content.decode()


# --- endpoint edit ----------------------------------------------------------------------------


def _edit(client: Client, **data: Any) -> Any:
    values = {"price": "5", "enabled": "on", "service_enabled": "on", "reason": "Price review"}
    values.update(data)
    values = {k: v for k, v in values.items() if v is not None}
    return client.post(reverse("staff-endpoint-edit", args=["text_analyzer", "analyze"]), values)


def test_endpoint_edit_page_shows_the_current_values(staff_client):
    endpoint = _endpoint()
    response = staff_client.get(reverse("staff-endpoint-edit", args=["text_analyzer", "analyze"]))
    assert response.status_code == 200
    assert response.context["form"].initial == {
        "price": endpoint.price,
        "enabled": True,
        "service_enabled": True,
    }


def test_unknown_endpoint_is_404(staff_client):
    assert staff_client.get(reverse("staff-endpoint-edit", args=["nope", "x"])).status_code == 404


def test_endpoint_edit_saves_and_audits(staff_client, staff):
    endpoint = _endpoint()
    old_price = endpoint.price

    response = _edit(staff_client, price="5", enabled=None, reason="Too cheap ")

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.price, endpoint.enabled, endpoint.service.enabled) == (5, False, True)
    event = _events().get()
    assert event.action == "endpoint.update"
    assert event.actor == staff
    assert event.ip == "127.0.0.1"
    assert event.reason == "Too cheap"
    assert event.target_id == str(endpoint.pk)
    assert event.before == {"price": old_price, "enabled": True, "service_enabled": True}
    assert event.after == {"price": 5, "enabled": False, "service_enabled": True}


def test_endpoint_edit_twice_with_the_same_values_audits_once(staff_client):
    assert _edit(staff_client, price="9").status_code == 302
    assert _edit(staff_client, price="9").status_code == 302
    assert _events().filter(action="endpoint.update").count() == 1
    assert _endpoint().price == 9


@pytest.mark.parametrize(
    "data",
    [
        {"reason": "  "},
        {"reason": None},
        {"price": "-1"},
        {"price": "1.5"},
        {"price": "abc"},
        {"price": ""},
        {"price": "99999999999"},
    ],
)
def test_endpoint_edit_with_bad_input_writes_nothing(staff_client, data):
    endpoint = _endpoint()
    old = (endpoint.price, endpoint.enabled)
    response = _edit(staff_client, **data)
    assert response.status_code == 200
    assert response.context["form"].errors
    endpoint.refresh_from_db()
    assert (endpoint.price, endpoint.enabled) == old
    assert not _events().exists()


def test_endpoint_update_refuses_a_negative_price():
    with pytest.raises(ValueError):
        endpoint_update(
            endpoint=_endpoint(),
            price=-1,
            enabled=True,
            service_enabled=True,
            actor=None,
            reason="x",
            ip=None,
        )
    assert not _events().exists()


def test_endpoint_update_notices_a_concurrent_change(monkeypatch):
    """The conditional UPDATE matches no row when the values moved after the read."""
    endpoint = _endpoint()
    original = Endpoint.objects.filter

    def racing_filter(*args: Any, **kwargs: Any) -> Any:
        if "price" in kwargs:  # the conditional update: another edit landed first
            Endpoint.objects.exclude(pk=-1).filter(pk=endpoint.pk).update(price=77)
        return original(*args, **kwargs)

    monkeypatch.setattr(Endpoint.objects, "filter", racing_filter)
    with pytest.raises(EndpointChanged):
        endpoint_update(
            endpoint=endpoint,
            price=5,
            enabled=True,
            service_enabled=True,
            actor=None,
            reason="x",
            ip=None,
        )
    assert not _events().exists()


def test_new_price_is_charged_by_the_next_api_call(staff_client, run_endpoint, key):
    _edit(staff_client, price="7")
    body = run_endpoint("text_analyzer", "analyze", {"text": "One sentence."})
    assert body["status"] == "completed"
    charge = LedgerEntry.objects.get(account=key.account, kind="charge")
    assert charge.amount == -7
    key.account.refresh_from_db()
    assert key.account.balance == 93


@pytest.mark.parametrize(
    "data", [{"enabled": None}, {"service_enabled": None}], ids=["endpoint", "service"]
)
def test_disabled_endpoint_or_service_answers_404_at_once(staff_client, keyed_client, key, data):
    _edit(staff_client, price="1", **data)
    response = keyed_client.post(
        "/api/v1/services/text_analyzer/analyze", {"text": "x"}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["error"] == "SERVICE_NOT_FOUND"
    key.account.refresh_from_db()
    assert key.account.balance == 100

    _edit(staff_client, price="1", reason="Back on")
    response = keyed_client.post(
        "/api/v1/services/text_analyzer/analyze", {"text": "x"}, format="json"
    )
    assert response.status_code == 202


# --- model providers --------------------------------------------------------------------------


def _provider_data(**data: Any) -> dict[str, Any]:
    values = {
        "model_id": "mistral-small",
        "base_url": "https://api.mistral.example/v1/",
        "api_key": RAW_KEY,
        "upstream_model": "",
        "timeout_seconds": "45",
        "enabled": "on",
        "reason": "New provider",
    }
    values.update(data)
    return {k: v for k, v in values.items() if v is not None}


def _no_key_anywhere() -> None:
    for event in AuditEvent.objects.all():
        assert RAW_KEY not in json.dumps([event.before, event.after, event.reason])


def test_provider_create_adds_a_route_and_audits_without_the_key(staff_client, staff):
    response = staff_client.post(reverse("staff-provider-create"), _provider_data())

    assert response.status_code == 302
    row = ModelProvider.objects.get()
    assert (row.model_id, row.base_url, row.api_key, row.timeout_seconds) == (
        "mistral-small",
        "https://api.mistral.example/v1",
        RAW_KEY,
        45,
    )
    route = route_for("mistral-small")
    assert route is not None and route.base_url == "https://api.mistral.example/v1"
    event = _events().get()
    assert event.action == "model_provider.create"
    assert event.actor == staff
    assert event.before is None
    assert event.after["api_key_set"] is True
    assert event.after["model_id"] == "mistral-small"
    _no_key_anywhere()


def test_provider_create_twice_creates_one_row(staff_client):
    staff_client.post(reverse("staff-provider-create"), _provider_data())
    response = staff_client.post(reverse("staff-provider-create"), _provider_data())
    assert response.status_code == 200
    assert "model_id" in response.context["form"].errors
    assert ModelProvider.objects.count() == 1
    assert _events().count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"base_url": "ftp://files.example.com/v1"},
        {"base_url": "javascript:alert(1)"},
        {"base_url": "not a url"},
        {"base_url": "https://user:secret@llm.example.com/v1"},
        {"model_id": ""},
        {"model_id": "two words"},
        {"model_id": "local"},
        {"model_id": "local/tiny"},
        {"timeout_seconds": "0"},
        {"timeout_seconds": "100000"},
    ],
)
def test_provider_create_with_bad_input_writes_nothing(staff_client, data):
    response = staff_client.post(reverse("staff-provider-create"), _provider_data(**data))
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not ModelProvider.objects.exists()
    assert not _events().exists()
    assert RAW_KEY not in response.content.decode()


def test_provider_may_live_on_a_bare_host_name(staff_client):
    data = _provider_data(base_url="http://ollama:11434/v1", api_key="")
    assert staff_client.post(reverse("staff-provider-create"), data).status_code == 302
    assert ModelProvider.objects.get().base_url == "http://ollama:11434/v1"


def test_provider_edit_page_shows_the_stored_values(staff_client, provider):
    response = staff_client.get(reverse("staff-provider-edit", args=[provider.pk]))
    html = response.content.decode()
    assert 'value="https://llm.example.com/v1"' in html
    assert 'value="gpt-4o-2024-08-06"' in html


def test_the_key_is_never_rendered(staff_client, provider, settings):
    settings.BREACT_MODEL_PROVIDERS = json.dumps(
        {"claude": {"base_url": "https://settings.example/v1", "api_key": SETTINGS_KEY}}
    )
    pages = [
        staff_client.get(reverse("staff-providers")),
        staff_client.get(reverse("staff-provider-edit", args=[provider.pk])),
        staff_client.post(
            reverse("staff-provider-edit", args=[provider.pk]),
            _provider_data(model_id="gpt-4o", base_url="ftp://bad", api_key=RAW_KEY),
        ),
    ]
    for response in pages:
        html = response.content.decode()
        assert response.status_code == 200
        assert RAW_KEY not in html
        assert SETTINGS_KEY not in html
        assert "key set" in html
    listing = pages[0].content.decode()
    assert "https://settings.example/v1" in listing
    assert 'data-model="claude"' in listing


def test_provider_list_marks_a_setting_overridden_by_a_row(staff_client, provider, settings):
    settings.BREACT_MODEL_PROVIDERS = json.dumps({"gpt-4o": {"base_url": "https://s.example/v1"}})
    html = staff_client.get(reverse("staff-providers")).content.decode()
    assert "overridden by a row" in html


def test_provider_list_with_an_unreadable_setting_says_so(staff_client, settings):
    settings.BREACT_MODEL_PROVIDERS = "{not json"
    response = staff_client.get(reverse("staff-providers"))
    assert response.status_code == 200
    assert 'id="routes-error"' in response.content.decode()


def test_provider_list_empty_state(staff_client, settings):
    settings.BREACT_MODEL_PROVIDERS = ""
    html = staff_client.get(reverse("staff-providers")).content.decode()
    assert 'id="providers-empty"' in html
    assert 'id="routes-none"' in html


def test_provider_edit_with_a_blank_key_keeps_the_key(staff_client, provider):
    response = staff_client.post(
        reverse("staff-provider-edit", args=[provider.pk]),
        _provider_data(model_id="gpt-4o", api_key="", timeout_seconds="90"),
    )
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.api_key == RAW_KEY
    assert provider.timeout_seconds == 90
    event = _events().get()
    assert event.action == "model_provider.update"
    assert event.before["timeout_seconds"] == 30
    assert event.after["timeout_seconds"] == 90
    assert event.after["api_key_changed"] is False
    _no_key_anywhere()


def test_provider_edit_of_the_key_records_only_that_it_changed(staff_client, provider):
    new_key = "sk-new-ANOTHER-SECRET-1111"
    data = _provider_data(
        model_id="gpt-4o",
        base_url="https://llm.example.com/v1",
        upstream_model="gpt-4o-2024-08-06",
        timeout_seconds="30",
        api_key=new_key,
    )
    staff_client.post(reverse("staff-provider-edit", args=[provider.pk]), data)
    provider.refresh_from_db()
    assert provider.api_key == new_key
    event = _events().get()
    assert event.after["api_key_changed"] is True
    assert new_key not in json.dumps([event.before, event.after])
    _no_key_anywhere()

    # The same submit again: the key is the stored one now, so nothing changes.
    staff_client.post(reverse("staff-provider-edit", args=[provider.pk]), data)
    assert _events().count() == 1


def test_provider_edit_can_remove_the_key(staff_client, provider):
    staff_client.post(
        reverse("staff-provider-edit", args=[provider.pk]),
        _provider_data(model_id="gpt-4o", api_key="", clear_api_key="on"),
    )
    provider.refresh_from_db()
    assert provider.api_key == ""
    assert _events().get().after["api_key_set"] is False


def test_provider_edit_with_no_change_writes_nothing(provider, staff):
    event = model_provider_update(
        provider=provider,
        model_id="gpt-4o",
        base_url="https://llm.example.com/v1",
        api_key=None,
        upstream_model="gpt-4o-2024-08-06",
        timeout_seconds=30,
        enabled=True,
        actor=staff,
        reason="",
        ip=None,
    )
    assert event is None
    assert not _events().exists()


def test_provider_edit_to_a_taken_model_id_is_a_form_error(staff_client, provider):
    other = ModelProvider.objects.create(model_id="other", base_url="https://o.example/v1")
    response = staff_client.post(
        reverse("staff-provider-edit", args=[other.pk]), _provider_data(model_id="gpt-4o")
    )
    assert response.status_code == 200
    assert "model_id" in response.context["form"].errors
    other.refresh_from_db()
    assert other.model_id == "other"
    assert not _events().exists()


def test_disabling_a_provider_takes_its_route_away(staff_client, provider):
    assert route_for("gpt-4o") is not None
    staff_client.post(
        reverse("staff-provider-edit", args=[provider.pk]),
        _provider_data(
            model_id="gpt-4o", base_url="https://llm.example.com/v1", enabled=None, api_key=""
        ),
    )
    assert route_for("gpt-4o") is None
    assert _events().get().after["enabled"] is False


def test_provider_delete_audits_once_under_a_double_submit(staff_client, provider, staff):
    url = reverse("staff-provider-delete", args=[provider.pk])
    first = staff_client.post(url, {"reason": "Moved to settings"})
    second = staff_client.post(url, {"reason": "Moved to settings"})

    assert first.status_code == second.status_code == 302
    assert not ModelProvider.objects.exists()
    event = _events().get()
    assert event.action == "model_provider.delete"
    assert event.actor == staff
    assert event.before["model_id"] == "gpt-4o"
    assert event.before["api_key_set"] is True
    assert event.after is None
    assert event.reason == "Moved to settings"
    _no_key_anywhere()


def test_edit_of_a_missing_provider_is_404(staff_client):
    assert staff_client.get(reverse("staff-provider-edit", args=[999])).status_code == 404


def test_services_page_query_count_does_not_grow_with_the_data(
    staff_client, account, django_assert_max_num_queries
):
    _endpoint()
    # 16: the page's reads, and for process outcomes and credits spent each a rollup read
    # between two reads of its watermark (services.usage.watermarks).
    with django_assert_max_num_queries(16) as empty:
        staff_client.get(reverse("staff-services"))
    _seed_usage(account)
    for state in ["completed", "error"]:
        _process(account, state)
    with django_assert_max_num_queries(len(empty.captured_queries)) as full:
        staff_client.get(reverse("staff-services"))
    for query in full.captured_queries:
        sql = query["sql"].lower()
        # The request log, processes and ledger are read only past their rollup's watermark
        # (the live tail).
        if 'from "services_usagelog"' in sql:
            assert '"services_usagelog"."id" >' in sql, sql
        if 'from "services_process"' in sql:
            assert '"services_process"."id" >' in sql, sql
        if 'from "accounts_ledgerentry"' in sql:
            assert '"accounts_ledgerentry"."id" >' in sql, sql
