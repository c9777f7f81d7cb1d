"""Staff audit log page: access, filters, pagination, htmx partial, streamed and escaped CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db.models import QuerySet
from django.test import Client
from django.urls import reverse

from accounts.audit.actions import audit_record
from accounts.keys.actions import api_key_create
from accounts.ledger.actions import credits_add
from accounts.models import AuditEvent
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db

AUDIT_URLS = ["staff-audit", "staff-audit-export"]


@pytest.fixture
def staff_user() -> Any:
    return UserFactory(is_staff=True, email="ops@breact.example")


@pytest.fixture
def staff_client(staff_user: Any) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def at(event: AuditEvent, moment: datetime) -> None:
    """Backdate an event (auto_now_add): a test-only UPDATE, which the model itself refuses."""
    QuerySet(AuditEvent).filter(pk=event.pk).update(created_at=moment)


def csv_rows(response: Any) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


# --- access -----------------------------------------------------------------------------------


# Refusal of anonymous and non-staff users: tests/staff/test_staff_urls_refuse.py walks every
# staff URL.


@pytest.mark.parametrize("name", AUDIT_URLS)
def test_the_audit_pages_only_answer_get(staff_client, name):
    assert staff_client.post(reverse(name)).status_code == 405


# --- the page -----------------------------------------------------------------------------------


def test_empty_audit_log_says_so(staff_client):
    response = staff_client.get(reverse("staff-audit"))

    assert response.status_code == 200
    assert b'id="audit-empty"' in response.content
    assert b"No audit events yet" in response.content
    assert b'id="audit-export"' not in response.content


def test_audit_log_lists_key_and_credit_events_newest_first_with_their_changes(
    staff_client, staff_user
):
    account = AccountFactory(owner__email="client@example.com", credits=10)
    api_key_create(account=account, name="prod", actor=account.owner, ip="192.0.2.1")
    credits_add(account=account, amount=5, kind="adjustment", actor=staff_user, reason="ticket 7")

    response = staff_client.get(reverse("staff-audit"))

    assert response.status_code == 200
    html = response.content.decode()
    ids = [e.pk for e in AuditEvent.objects.order_by("-created_at", "-id")]
    positions = [html.index(f'id="audit-{pk}"') for pk in ids]
    assert positions == sorted(positions)  # newest first
    assert 'data-action="api_key.create"' in html and 'data-action="credits.adjust"' in html
    assert "192.0.2.1" in html and "ticket 7" in html
    assert "ops@breact.example" in html
    assert "client@example.com" in html
    # The adjustment's diff: balance 10 → 15.
    row = html[html.index('data-action="credits.adjust"') :]
    assert '<li data-key="balance">' in row
    assert "<del>10</del>" in row and "<ins>15</ins>" in row
    assert "Per-call charges and their automatic refunds are not listed here" in html


def test_filters_by_action_actor_account_and_target(staff_client, staff_user):
    alice = AccountFactory(owner__email="alice@example.com", credits=10)
    bob = AccountFactory(owner__email="bob@example.com", credits=20)
    key, _raw = api_key_create(account=bob, name="bob key", actor=bob.owner)
    credits_add(account=alice, amount=3, kind="adjustment", actor=staff_user, reason="r")
    url = reverse("staff-audit")

    def listed(**params: str) -> set[tuple[str, int | None]]:
        response = staff_client.get(url, params)
        assert response.status_code == 200
        return {(row.event.action, row.event.account_id) for row in response.context["rows"]}

    assert listed(action="credits.adjust") == {("credits.adjust", alice.pk)}
    assert listed(actor="ops@") == {("credits.adjust", alice.pk)}
    assert listed(actor="bob") == {("api_key.create", bob.pk)}
    assert listed(account=str(bob.pk)) == {("credits.grant", bob.pk), ("api_key.create", bob.pk)}
    assert listed(account="alice") == {
        ("credits.grant", alice.pk),
        ("credits.adjust", alice.pk),
    }
    assert listed(target=f"accounts.apikey:{key.pk}") == {("api_key.create", bob.pk)}
    assert listed(target="bob key") == {("api_key.create", bob.pk)}
    assert listed(action="api_key.create", account="alice") == set()


def test_filters_by_date_range_in_whole_utc_days(staff_client):
    account = AccountFactory()
    old = audit_record(action="credits.adjust", target=account, account=account)
    mid = audit_record(action="credits.adjust", target=account, account=account)
    new = audit_record(action="credits.adjust", target=account, account=account)
    at(old, datetime(2025, 1, 1, 23, 59, tzinfo=UTC))
    at(mid, datetime(2025, 1, 2, 0, 0, tzinfo=UTC))
    at(new, datetime(2025, 1, 3, 23, 59, 59, tzinfo=UTC))

    response = staff_client.get(reverse("staff-audit"), {"from": "2025-01-02", "to": "2025-01-03"})

    assert [row.event.pk for row in response.context["rows"]] == [new.pk, mid.pk]


def test_an_inverted_date_range_is_a_form_error_and_lists_nothing(staff_client):
    account = AccountFactory(credits=5)

    response = staff_client.get(reverse("staff-audit"), {"from": "2025-02-02", "to": "2025-02-01"})

    assert response.status_code == 200
    assert b'id="audit-invalid"' in response.content
    assert "must not be after" in response.content.decode()
    assert "rows" not in response.context
    assert AuditEvent.objects.filter(account=account).exists()


def test_a_malformed_date_is_a_form_error_not_a_500(staff_client):
    response = staff_client.get(reverse("staff-audit"), {"from": "yesterday", "action": "nope"})

    assert response.status_code == 200
    assert b'id="audit-invalid"' in response.content
    assert response.context["form"].errors.keys() == {"from", "action"}


def test_an_account_id_too_large_for_the_database_finds_nothing_instead_of_failing(staff_client):
    AccountFactory(credits=5)

    response = staff_client.get(reverse("staff-audit"), {"account": "9" * 30})

    assert response.status_code == 200
    assert response.context["rows"] == []


def test_pages_hold_50_events_and_keep_the_filters(staff_client):
    account = AccountFactory()
    for n in range(51):
        audit_record(action="credits.adjust", target=account, account=account, reason=f"n{n}")
    audit_record(action="api_key.revoke", target=account, account=account)
    url = reverse("staff-audit")

    first = staff_client.get(url, {"action": "credits.adjust"})
    second = staff_client.get(url, {"action": "credits.adjust", "page": "2"})

    assert len(first.context["rows"]) == 50
    assert first.context["page_obj"].paginator.count == 51
    assert 'href="/staff/audit/?action=credits.adjust&amp;page=2"' in first.content.decode()
    [last] = second.context["rows"]
    assert last.event.reason == "n0"  # the oldest


def test_htmx_filtering_returns_only_the_results_region(staff_client):
    AccountFactory(credits=5)

    response = staff_client.get(
        reverse("staff-audit"), {"action": "credits.grant"}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="audit-table"' in html
    assert "<html" not in html and 'id="audit-filters"' not in html


def test_the_action_filter_offers_known_and_recorded_actions(staff_client):
    account = AccountFactory()
    audit_record(action="endpoint.price", target=account)

    response = staff_client.get(reverse("staff-audit"))

    choices = [value for value, _label in response.context["form"].fields["action"].choices]
    assert {"api_key.create", "credits.topup", "payment.paid", "endpoint.price"} <= set(choices)


# --- CSV --------------------------------------------------------------------------------------


def test_csv_export_streams_the_filtered_rows_newest_first(staff_client, staff_user):
    account = AccountFactory(owner__email="csv@example.com", credits=10)
    credits_add(account=account, amount=2, kind="adjustment", actor=staff_user, reason="fix")
    api_key_create(account=account, name="k")

    response = staff_client.get(reverse("staff-audit-export"), {"account": "csv@"})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert [row["action"] for row in rows] == [
        "api_key.create",
        "credits.adjust",
        "credits.grant",
    ]
    adjustment = rows[1]
    assert adjustment["actor_email"] == "ops@breact.example"
    assert adjustment["account_id"] == str(account.pk)
    assert adjustment["account_email"] == "csv@example.com"
    assert adjustment["before"] == '{"balance":10}'
    assert adjustment["reason"] == "fix"
    assert adjustment["time_utc"].endswith("Z")


def test_csv_export_escapes_cells_a_spreadsheet_would_run(staff_client):
    account = AccountFactory()
    audit_record(
        action="credits.adjust",
        target=("payment", "=1+1"),
        account=account,
        reason='=HYPERLINK("http://evil.example")',
        before={"x": 1},
    )

    rows = csv_rows(staff_client.get(reverse("staff-audit-export")))

    [row] = rows
    assert row["reason"] == '\'=HYPERLINK("http://evil.example")'
    assert row["target_id"] == "'=1+1"
    assert row["before"] == '{"x":1}'


def test_csv_export_with_bad_filters_goes_back_to_the_page(staff_client):
    response = staff_client.get(
        reverse("staff-audit-export"), {"from": "2025-02-02", "to": "2025-01-01"}
    )

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff-audit"))


def test_the_page_reads_a_bounded_number_of_queries(staff_client, django_assert_max_num_queries):
    for _ in range(30):
        AccountFactory(credits=3)

    with django_assert_max_num_queries(8):
        response = staff_client.get(reverse("staff-audit"))

    assert len(response.context["rows"]) == 30


def test_events_older_than_a_day_range_are_left_out_of_the_export(staff_client):
    account = AccountFactory()
    old = audit_record(action="credits.adjust", target=account, account=account, reason="old")
    at(old, datetime.now(UTC) - timedelta(days=10))
    audit_record(action="credits.adjust", target=account, account=account, reason="new")
    today = datetime.now(UTC).date().isoformat()

    rows = csv_rows(staff_client.get(reverse("staff-audit-export"), {"from": today}))

    assert [row["reason"] for row in rows] == ["new"]
