"""The playground: schema form, runs through the API path, live status, result and snippets."""

from __future__ import annotations

import json
import re
import shlex
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.ledger.selectors import account_balance
from accounts.models import LedgerEntry
from services.catalogue.selectors import endpoint_resolve, endpoint_rows
from services.execution.actions import process_fail, process_run, process_start, results_purge
from services.models import Endpoint, Process, Service, UsageLog
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

PLAYGROUND = "/playground/"
RUN = "/playground/run/"


def _login(account: Any) -> Client:
    client = Client()
    client.force_login(account.owner)
    return client


def _form(**params: Any) -> dict[str, Any]:
    """A form-mode post of text_analyzer.analyze."""
    data: dict[str, Any] = {"service": "text_analyzer", "endpoint": "analyze", "mode": "form"}
    data.update({f"p.{name}": value for name, value in params.items()})
    return data


def _run(client: Client, data: dict[str, Any], capture: Any, **extra: Any) -> Any:
    with capture(execute=True):
        return client.post(RUN, data, **extra)


def _pre(html: str, element_id: str) -> str:
    match = re.search(rf'<pre id="{element_id}"[^>]*><code>(.*?)</code></pre>', html, re.DOTALL)
    assert match, f"no <pre id={element_id}>"
    return unescape(match.group(1))


def _queued_process(account: Any) -> Process:
    """A console run left queued (its task never ran)."""
    from accounts.keys.actions import console_key_for

    resolved = endpoint_resolve(service_id="text_analyzer", endpoint="analyze")
    started = process_start(
        api_key=console_key_for(account=account), resolved=resolved, params={"text": "Hi."}
    )
    return started.process


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [PLAYGROUND, "/playground/runs/prc_x/"])
def test_pages_require_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_run_requires_login_and_charges_nothing(client, account):
    response = client.post(RUN, _form(text="Hello."))

    assert response.status_code == 302
    assert "/login/" in response["Location"]
    assert not Process.objects.exists()


def test_run_enforces_csrf(account):
    client = Client(enforce_csrf_checks=True)
    account.owner.save(update_fields=["password"])
    client.force_login(account.owner)

    response = client.post(RUN, _form(text="Hello."))

    assert response.status_code == 403
    assert not Process.objects.exists()


def test_run_refuses_get(page_client):
    assert page_client.get(RUN).status_code == 405


def test_another_accounts_run_answers_404(page_client):
    other = AccountFactory(credits=10)
    process = _queued_process(other)

    assert page_client.get(f"/playground/runs/{process.public_id}/").status_code == 404
    assert page_client.get(PLAYGROUND, {"from": process.public_id}).status_code == 404


def test_unknown_run_answers_404(page_client):
    assert page_client.get("/playground/runs/prc_nope/").status_code == 404


# --- the form --------------------------------------------------------------------------------


def test_playground_shows_the_schema_form_price_and_balance(page_client):
    response = page_client.get(PLAYGROUND, {"service": "text_analyzer", "endpoint": "analyze"})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="param-text"' in html and 'name="p.text"' in html
    assert "Hello world. This is BReact." in html  # the example, prefilled
    assert re.search(r'<input type="number" id="param-top_words"[^>]*value="10"', html)
    assert 'min="0"' in html and 'max="100"' in html
    assert re.sub(r"\s+", " ", "This run costs <strong>1 credit</strong>;") in re.sub(
        r"\s+", " ", html
    )
    assert 'id="playground-balance">100<' in html
    assert 'id="pg-raw-json"' in html and 'id="pg-mode-json"' in html
    assert 'id="playground-run-button"' in html


def test_nested_enum_and_list_parameters_get_their_controls(page_client):
    html = page_client.get(
        PLAYGROUND, {"service": "email_response", "endpoint": "generate_response"}
    ).content.decode()

    assert re.search(r'<fieldset class="param-group" id="param-style_guide"', html)
    assert re.search(r'<select id="param-tone" name="p.tone"', html)
    assert '<option value="empathetic">' in html
    assert re.search(r'<select id="param-style_guide-greeting_style"', html)
    assert re.search(r'<textarea id="param-key_points" name="p.key_points"', html)
    # The thread is a repeatable fieldset per message, not a JSON textarea.
    assert 'id="param-email_thread"' in html and 'name="p.email_thread"' not in html
    assert re.search(r'<fieldset class="param-rows" id="param-email_thread"', html)
    assert 'name="p.email_thread.0.sender"' in html
    assert re.search(
        r'<textarea id="param-email_thread-0-content" name="p.email_thread.0.content"', html
    )
    assert 'name="p.email_thread.__INDEX__.subject"' in html  # what "Add an item" copies


def test_classifier_form_has_dotted_names_for_nested_fields(page_client):
    html = page_client.get(PLAYGROUND, {"service": "classifier"}).content.decode()

    assert 'name="p.context.allowedClasses"' in html
    assert re.search(r'<input type="checkbox" id="param-context-multiClass"', html)
    assert "billing\ntechnical" in html


def test_picker_change_with_htmx_returns_the_region_only(page_client):
    response = page_client.get(
        PLAYGROUND, {"service": "summary", "endpoint": "analyze"}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="playground-region"')
    # The endpoint of the previous service does not exist here: the first one is chosen.
    assert '<option value="summarize" selected>' in html
    assert 'name="p.summary_type"' in html
    assert response["HX-Push-Url"] == "/playground/?service=summary&endpoint=summarize"


def test_picker_accepts_an_alias(page_client):
    html = page_client.get(PLAYGROUND, {"service": "aisummary"}).content.decode()

    assert '<input type="hidden" name="service" value="summary">' in html


def test_disabled_service_is_not_offered(page_client):
    endpoint_rows()
    Service.objects.filter(service_id="webscraper").update(enabled=False)

    html = page_client.get(PLAYGROUND, {"service": "webscraper"}).content.decode()

    assert '<option value="webscraper"' not in html
    assert '<input type="hidden" name="service" value="webscraper">' not in html


def test_low_balance_is_flagged_before_running(page_client, account):
    endpoint_rows()
    Endpoint.objects.filter(service__service_id="text_analyzer").update(price=500)

    html = page_client.get(PLAYGROUND, {"service": "text_analyzer"}).content.decode()

    assert "not enough credits" in html
    assert 'href="/credits/"' in html


# --- running ---------------------------------------------------------------------------------


def test_run_goes_through_the_api_path_with_the_console_key(
    page_client, account, eager_worker, django_capture_on_commit_callbacks
):
    response = _run(
        page_client, _form(text="One fish. Two fish, red fish!"), django_capture_on_commit_callbacks
    )

    process = Process.objects.get(account=account)
    assert response.status_code == 302
    assert response["Location"] == f"/playground/runs/{process.public_id}/"
    assert process.api_key.is_console
    assert process.params == {"text": "One fish. Two fish, red fish!"}
    assert process.state == Process.State.COMPLETED
    assert account_balance(account=account) == 99
    charge = LedgerEntry.objects.get(account=account, kind=LedgerEntry.Kind.CHARGE)
    assert charge.amount == -1 and charge.process == process
    usage = UsageLog.objects.get(account=account)
    assert (usage.method, usage.service_id, usage.status_code, usage.credits) == (
        "POST",
        "text_analyzer",
        202,
        1,
    )
    assert usage.process_id == process.public_id


def test_status_page_shows_the_result_credits_and_exact_snippets(
    page_client, account, eager_worker, django_capture_on_commit_callbacks
):
    response = _run(page_client, _form(text="One fish. Two fish, red fish!", top_words="3"),
                    django_capture_on_commit_callbacks)  # fmt: skip

    page = page_client.get(response["Location"])

    html = page.content.decode()
    process = Process.objects.get(account=account)
    assert page.status_code == 200
    assert "Run started: 1 credit charged." in html
    result = json.loads(_pre(html, "run-result"))
    assert result["status"] == "success"
    assert result["result"]["word_count"] == 6
    assert 'id="run-credits">1 credit charged<' in html
    assert "refunded" not in html
    sdk = _pre(html, "run-sdk")
    compile(sdk, "run.py", "exec")
    assert "client.text_analyzer.analyze(" in sdk and "top_words=3," in sdk
    words = shlex.split(_pre(html, "run-curl"), comments=True)
    assert json.loads(words[words.index("-d") + 1]) == process.params
    assert 'hx-trigger="every 1s"' not in html


def test_htmx_run_redirects_the_browser_to_the_status_page(
    page_client, account, eager_worker, django_capture_on_commit_callbacks
):
    response = _run(page_client, _form(text="Hi."), django_capture_on_commit_callbacks,
                    HTTP_HX_REQUEST="true")  # fmt: skip

    process = Process.objects.get(account=account)
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/playground/runs/{process.public_id}/"


def test_schema_violation_is_shown_beside_the_field_and_charges_nothing(page_client, account):
    response = page_client.post(RUN, _form(text="Hello.", top_words="500"))

    html = response.content.decode()
    assert response.status_code == 200
    errors = re.search(r'<ul class="errorlist" id="param-top_words-errors">(.*?)</ul>', html, re.S)
    assert errors and "must be 100 or less" in unescape(errors.group(1))
    assert "500" in html  # what was typed stays in the field
    assert not Process.objects.exists()
    assert account_balance(account=account) == 100
    assert UsageLog.objects.get(account=account).status_code == 400


@pytest.mark.parametrize(
    ("service", "endpoint", "name"),
    [("summary", "summarize", "text"), ("classifier", "process", "content")],
)
def test_whitespace_only_text_is_a_form_error_and_charges_nothing(
    page_client, account, service, endpoint, name
):
    data = {"service": service, "endpoint": endpoint, "mode": "form", f"p.{name}": "   \n\t"}
    if service == "classifier":
        data["p.context.allowedClasses"] = "billing, shipping"

    response = page_client.post(RUN, data)

    html = response.content.decode()
    assert response.status_code == 200
    errors = re.search(rf'<ul class="errorlist" id="param-{name}-errors">(.*?)</ul>', html, re.S)
    assert errors and "must not be empty or only spaces" in unescape(errors.group(1))
    assert not Process.objects.exists()
    assert account_balance(account=account) == 100


def test_missing_required_field_is_shown_beside_it(page_client, account):
    html = page_client.post(RUN, _form(text="")).content.decode()

    assert re.search(r'id="param-text-errors"><li>This field is required\.</li>', html)
    assert 'id="playground-form-errors"' in html
    assert not Process.objects.exists()


def test_nested_schema_violation_lands_on_the_nested_field(page_client, account):
    data = {
        "service": "classifier",
        "endpoint": "process",
        "mode": "form",
        "p.content": "Where is my parcel?",
        "p.context.allowedClasses": "",
    }

    html = page_client.post(RUN, data).content.decode()

    assert re.search(
        r'id="param-context-allowedClasses-errors"><li>This field is required\.</li>', html
    )
    assert not Process.objects.exists()


def test_a_number_that_is_not_one_is_refused_before_the_api_path(page_client, account):
    html = page_client.post(RUN, _form(text="Hi.", top_words="ten")).content.decode()

    assert re.search(r'id="param-top_words-errors"><li>Enter a whole number\.</li>', html)
    assert not Process.objects.exists()
    assert not UsageLog.objects.exists()


def test_insufficient_credits_is_a_form_error_and_charges_nothing(page_client, account):
    endpoint_rows()
    Endpoint.objects.filter(service__service_id="text_analyzer").update(price=150)

    response = page_client.post(RUN, _form(text="Hello."))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="playground-error"' in html
    assert "This run costs 150 credits and your balance is 100" in html
    assert not Process.objects.exists()
    assert account_balance(account=account) == 100
    assert not LedgerEntry.objects.filter(account=account, kind=LedgerEntry.Kind.CHARGE).exists()


def test_raw_json_mode_sends_the_object_as_is(
    page_client, account, eager_worker, django_capture_on_commit_callbacks
):
    data = _form(text="ignored in json mode", top_words="ten")
    data.update(mode="json", raw_json='{\r\n  "text": "Raw words here.", "top_words": 2\r\n}')

    response = _run(page_client, data, django_capture_on_commit_callbacks)

    process = Process.objects.get(account=account)
    assert response.status_code == 302
    assert process.params == {"text": "Raw words here.", "top_words": 2}
    assert process.state == Process.State.COMPLETED


def test_invalid_raw_json_is_an_error_beside_the_editor(page_client, account):
    data = _form()
    data.update(mode="json", raw_json='{"text": ')

    html = page_client.post(RUN, data).content.decode()

    errors = re.search(r'id="pg-raw-errors" role="alert">(.*?)</ul>', html, re.S)
    assert errors and "Not valid JSON" in errors.group(1)
    assert 'id="pg-mode-json" checked' in html
    assert '{"text": ' in unescape(html)
    assert not Process.objects.exists()


def test_raw_json_that_is_not_an_object_or_breaks_the_schema_is_explained(page_client, account):
    not_object = _form()
    not_object.update(mode="json", raw_json="[1, 2]")
    bad_schema = _form()
    bad_schema.update(mode="json", raw_json='{"text": "Hi.", "colour": "red"}')

    first = unescape(page_client.post(RUN, not_object).content.decode())
    second = unescape(page_client.post(RUN, bad_schema).content.decode())

    assert "must be a JSON object" in first
    assert "colour: Unknown parameter." in second
    assert not Process.objects.exists()
    assert account_balance(account=account) == 100


def test_rate_limit_applies_to_playground_runs(
    page_client, account, eager_worker, django_capture_on_commit_callbacks
):
    account.rate_limit = "1/m"
    account.save(update_fields=["rate_limit"])

    first = _run(page_client, _form(text="One."), django_capture_on_commit_callbacks)
    second = _run(page_client, _form(text="Two."), django_capture_on_commit_callbacks)

    assert first.status_code == 302
    html = second.content.decode()
    assert second.status_code == 200
    assert 'id="playground-error"' in html
    assert "Too many runs: the limit is 1 per 60 s" in html
    assert Process.objects.filter(account=account).count() == 1
    assert account_balance(account=account) == 99


def test_disabled_endpoint_cannot_be_run(page_client, account):
    endpoint_rows()
    Endpoint.objects.filter(service__service_id="text_analyzer").update(enabled=False)

    response = page_client.post(RUN, _form(text="Hello."))

    assert response.status_code == 200
    assert "disabled on this platform" in response.content.decode()
    assert not Process.objects.exists()


def test_disabled_account_cannot_run(page_client, account):
    account.status = "disabled"
    account.save(update_fields=["status"])

    html = page_client.post(RUN, _form(text="Hello.")).content.decode()

    assert "This account is disabled" in html
    assert not Process.objects.exists()


# --- status ----------------------------------------------------------------------------------


def test_pending_status_partial_polls_and_the_finished_one_stops(page_client, account):
    process = _queued_process(account)
    url = f"/playground/runs/{process.public_id}/"

    pending = page_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    process_run(process_pk=process.pk)
    finished = page_client.get(url, HTTP_HX_REQUEST="true").content.decode()

    assert "<html" not in pending and "<html" not in finished
    assert pending.lstrip().startswith('<section id="run-status"')
    assert 'hx-trigger="every 1s"' in pending
    assert 'id="run-elapsed">elapsed' in pending
    assert 'hx-trigger="every 1s"' not in finished
    assert 'id="run-result"' in finished
    assert 'id="run-elapsed">took' in finished


def test_full_status_page_of_a_pending_run_polls_and_has_a_refresh_link(page_client, account):
    process = _queued_process(account)

    html = page_client.get(f"/playground/runs/{process.public_id}/").content.decode()

    assert "<html" in html
    assert 'hx-trigger="every 1s"' in html
    assert 'id="run-pending"' in html
    assert 'id="run-curl"' in html and 'id="run-sdk"' in html


def test_failed_run_says_it_was_refunded(page_client, account):
    process = _queued_process(account)
    process_fail(process=process, message="The worker running this process stopped.")

    html = page_client.get(f"/playground/runs/{process.public_id}/").content.decode()

    assert 'id="run-error"' in html
    assert "PROCESS_FAILED" in html
    assert "<strong>refunded</strong>" in html
    assert account_balance(account=account) == 100


def test_expired_result_is_not_shown(page_client, account):
    process = _queued_process(account)
    process_run(process_pk=process.pk)
    Process.objects.filter(pk=process.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    html = page_client.get(f"/playground/runs/{process.public_id}/").content.decode()

    assert 'id="run-expired"' in html
    assert "has expired" in html
    assert 'id="run-result"' not in html
    assert f"?from={process.public_id}" in html


def test_purged_result_is_reported_expired(page_client, account):
    process = _queued_process(account)
    process_run(process_pk=process.pk)
    Process.objects.filter(pk=process.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    results_purge()

    html = page_client.get(f"/playground/runs/{process.public_id}/").content.decode()

    assert 'id="run-expired"' in html


def test_run_again_prefills_the_form_with_that_calls_params(page_client, account):
    process = _queued_process(account)

    html = page_client.get(PLAYGROUND, {"from": process.public_id}).content.decode()

    assert re.search(r'<textarea id="param-text" name="p.text"[^>]*>\nHi\.</textarea>', html)


# --- recent runs and secrets -------------------------------------------------------------


def test_recent_runs_list_console_runs_only(page_client, account, make_key):
    console_run = _queued_process(account)
    api_key = make_key(account=account)
    resolved = endpoint_resolve(service_id="text_analyzer", endpoint="analyze")
    api_run = process_start(api_key=api_key, resolved=resolved, params={"text": "x"})

    html = page_client.get(PLAYGROUND).content.decode()

    recent = html[html.index('id="playground-recent"') :]
    assert f"/playground/runs/{console_run.public_id}/" in recent
    assert api_run.process.public_id not in recent


def test_recent_runs_empty_state(page_client):
    html = page_client.get(PLAYGROUND).content.decode()

    assert 'id="playground-recent-empty"' in html


def test_no_api_key_is_ever_shown(
    page_client, account, make_key, eager_worker, django_capture_on_commit_callbacks
):
    key = make_key(account=account)
    response = _run(page_client, _form(text="Secret-free."), django_capture_on_commit_callbacks)

    pages = [
        page_client.get(PLAYGROUND).content.decode(),
        page_client.get(response["Location"]).content.decode(),
        page_client.post(RUN, _form(text="")).content.decode(),
    ]

    assert all(key.raw not in html for html in pages)
    assert all("brk_" not in html for html in pages)


# --- one run per rendered form ----------------------------------------------------------------


def _token(html: str) -> str:
    match = re.search(r'name="run_token" value="([^"]+)"', html)
    assert match, "the run form has no one-time token"
    return match.group(1)


def test_each_rendered_run_form_has_its_own_token(page_client):
    first = _token(page_client.get(PLAYGROUND).content.decode())
    second = _token(page_client.get(PLAYGROUND).content.decode())

    assert first != second


def test_the_same_form_sent_twice_starts_one_run_and_charges_once(
    page_client, account, django_capture_on_commit_callbacks
):
    token = _token(page_client.get(PLAYGROUND).content.decode())
    data = {**_form(text="Double click."), "run_token": token}

    first = _run(page_client, data, django_capture_on_commit_callbacks)
    second = _run(page_client, data, django_capture_on_commit_callbacks, HTTP_HX_REQUEST="true")

    process = Process.objects.get(account=account)
    assert first["Location"] == f"/playground/runs/{process.public_id}/"
    assert second["HX-Redirect"] == first["Location"]
    assert LedgerEntry.objects.filter(account=account, kind="charge").count() == 1
    assert account_balance(account=account) == 99
    # The usage log shows both submits; only the first one charged.
    assert sorted(UsageLog.objects.filter(account=account).values_list("credits", flat=True)) == [
        0,
        1,
    ]


def test_a_form_reused_with_other_parameters_is_refused_without_charge(
    page_client, account, django_capture_on_commit_callbacks
):
    token = _token(page_client.get(PLAYGROUND).content.decode())
    _run(
        page_client,
        {**_form(text="First."), "run_token": token},
        django_capture_on_commit_callbacks,
    )

    again = _run(
        page_client,
        {**_form(text="Changed."), "run_token": token},
        django_capture_on_commit_callbacks,
    )

    assert again.status_code == 200
    assert "already used for a run with other parameters" in again.content.decode()
    assert _token(again.content.decode()) != token  # the re-rendered form can run again
    assert Process.objects.filter(account=account).count() == 1
    assert account_balance(account=account) == 99
