"""The console pages of issue 10 (second part) in Chromium against the live server and worker:
knowledge bases (create, upload, ask), readable results with the raw JSON a click away, repeatable
email_thread items, a key's own page, and history links. Every new page is checked with axe-core
(no serious or critical violation). Screenshots go where the `screenshots` fixture puts them:
$BREACT_ARTIFACTS/screenshots/<test>/ (BREACT_ARTIFACTS=var for var/screenshots/)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from allauth.account.models import EmailAddress

from tests.support import skip_or_fail

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-Long-and-unusual-passphrase-42"
BLOCKING = ("serious", "critical")


def _axe_script() -> Path:
    try:
        import axe_playwright_python
    except ImportError:
        skip_or_fail("axe-playwright-python (which ships axe-core) is not installed")
    return Path(axe_playwright_python.__file__).with_name("axe.min.js")


def assert_accessible(page: Any, what: str) -> None:
    """axe-core on the page as it is: no violation of serious or critical impact."""
    page.add_script_tag(path=str(_axe_script()))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    blocking = [v for v in result["violations"] if v["impact"] in BLOCKING]
    assert not blocking, f"{what}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in blocking
    )


def _sign_up(page: Any) -> str:
    email = f"pages-{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/signup/")
    page.fill("#id_email", email)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("#signup-submit")
    page.wait_for_url(re.compile(r"^https?://[^/]+/$"))  # the home page itself
    # As if the verification link of the mail was followed: keys and top-ups need it.
    assert EmailAddress.objects.filter(email=email).update(verified=True) == 1
    return email


def test_knowledge_base_to_readable_answer_and_history(page, live_stack, screenshots, tmp_path):
    _sign_up(page)

    # Create a knowledge base and upload a Markdown file to it.
    page.goto("/knowledge/")
    assert page.locator("#kb-empty").is_visible()
    assert_accessible(page, "knowledge bases (empty)")
    page.fill("#id_name", "Handbook")
    page.click("#kb-create-submit")
    page.wait_for_selector("#kb-upload-form")
    guide = tmp_path / "refunds.md"
    guide.write_text(
        "# Refund policy\n\nRefunds are paid within 30 days of the return. "
        "Shipping takes five working days.\n",
        encoding="utf-8",
    )
    page.set_input_files("#kb-files", str(guide))
    page.click("#kb-upload-submit")
    page.wait_for_selector("#kb-documents")
    assert "Refund policy" in page.text_content("#kb-documents")
    assert_accessible(page, "knowledge base page")
    screenshots(page, "knowledge-base")

    # Ask it from the playground: the base is offered by name and already ticked.
    page.click("#kb-ask")
    page.wait_for_selector("#param-content")
    picked = page.locator("input[name='p.context.knowledgeBases']")
    assert picked.count() == 1 and picked.is_checked()
    assert "Handbook (1 document)" in page.text_content("#param-context-knowledgeBases")
    page.fill("#param-content", "How long do refunds take?")
    screenshots(page, "playground-knowledge")
    page.click("#playground-run-button")
    page.wait_for_selector("#run-state[data-state='completed']", timeout=30_000)

    # The answer reads as text with its sources; the raw JSON is one click away.
    assert "30 days" in page.text_content("#result-answer")
    assert "Refund policy" in page.text_content("#result-sources")
    assert not page.locator("#run-result").is_visible()
    page.click("#run-raw summary")
    assert page.locator("#run-result").is_visible()
    assert '"status": "success"' in page.text_content("#run-result")
    assert_accessible(page, "run page (knowledge answer)")
    screenshots(page, "run-knowledge-answer")
    run_url = page.url

    # History: the request log says service · endpoint and links to the run; so does the ledger.
    page.goto("/usage/")
    row = page.locator("#usage-log tbody tr").first
    assert "knowledge_service · process" in row.text_content()
    row.locator("a.process-link").click()
    page.wait_for_url(run_url)
    page.goto("/credits/")
    page.locator("#ledger-table a.process-link").first.click()
    page.wait_for_url(run_url)


def test_email_thread_items_and_the_drafted_email(page, live_stack, screenshots):
    _sign_up(page)
    page.goto("/playground/?service=email_response&endpoint=generate_response")
    rows = page.locator("#param-email_thread .repeat-rows > [data-row]")
    start = rows.count()
    assert start >= 1
    assert_accessible(page, "playground with repeatable items")

    # Add an item, fill it, then remove it again: the example thread is what runs.
    page.click("#param-email_thread [data-add-row]")
    assert rows.count() == start + 1
    page.fill(f"#param-email_thread-{start}-subject", "An extra message")
    assert page.locator(f"#param-email_thread-{start}-subject").is_visible()
    screenshots(page, "playground-email-thread")
    rows.nth(start).locator("[data-remove-row]").click()
    assert rows.count() == start

    page.click("#playground-run-button")
    page.wait_for_selector("#run-state[data-state='completed']", timeout=30_000)
    assert page.text_content("#result-subject").strip().startswith("Re:")
    assert page.locator("#result-body").is_visible()
    assert not page.locator("#run-result").is_visible()
    assert_accessible(page, "run page (drafted email)")
    screenshots(page, "run-drafted-email")


def test_a_keys_own_page_edits_its_settings(page, live_stack, screenshots):
    _sign_up(page)
    page.goto("/keys/new/")
    page.fill("#id_name", "server")
    page.click("#key-create-submit")
    page.wait_for_selector("#new-key")
    page.goto("/keys/")
    page.click("#keys-table a.key-link")
    page.wait_for_selector("#key-edit-form")
    assert page.text_content("#key-calls").strip() == "0"
    assert_accessible(page, "key page")

    page.fill("#id_name", "production server")
    page.fill("#id_spend_cap", "250")
    page.check("input[name='scopes'][value='summary']")
    page.click("#key-edit-submit")
    page.wait_for_selector(".flash-success")
    assert "Saved the settings" in page.text_content(".flash-success")
    assert page.input_value("#id_name") == "production server"
    assert "250" in page.text_content("#key-spent")
    assert page.text_content("#key-scopes-now").strip() == "summary"
    assert_accessible(page, "key page after saving")
    screenshots(page, "key-page")
