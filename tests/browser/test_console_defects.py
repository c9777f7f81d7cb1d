"""The console defects of the new-user review, each checked in Chromium against the live stack:
double-click charges once, an expired session goes to the login page and back with what was
typed (a run, a new key, a revoke), one account's lockout leaves the others on its network alone,
the phone menu and tables, the theme toggle, focus, Copy without JavaScript, readable
validation messages, and axe-core (served from the installed package, never a CDN) on every
console and staff page at 1366 and 390 px with no serious or critical violation. Screenshots of
every page at both widths are written under var/screenshots/ (kept by CI as artifacts)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.utils import timezone

from accounts.keys.actions import console_key_for
from accounts.models import LedgerEntry, Payment, User
from services.catalogue.registry import all_services
from services.models import Process, UsageLog
from tests.factories import AccountFactory, ApiKeyFactory, UserFactory
from tests.pages.test_every_page import page_urls

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-Long-and-unusual-passphrase-42"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}
BLOCKING = ("serious", "critical")


def _axe_source() -> str:
    try:
        import axe_playwright_python
    except ImportError:
        pytest.fail("axe-playwright-python is not installed (make install)")
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


def _user(*, staff: bool = False, credits: int = 100) -> User:
    user = UserFactory(is_staff=staff, email=f"u-{uuid.uuid4().hex[:8]}@example.com")
    # Hashed as the live server checks it (the in-process tests' fast hasher is not its).
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save()
    AccountFactory(owner=user, credits=credits)
    return user


def _log_in(page: Any, user: User) -> None:
    page.goto("/login/")
    page.fill("#id_login", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(lambda url: not url.split("?")[0].endswith("/login/"))


def _signed_in(context_for: Any, width: str = "desktop") -> tuple[Any, User]:
    """A page of a new context, logged in as a new user with 100 credits."""
    user = _user()
    page = context_for(width).new_page()
    _log_in(page, user)
    return page, user


@pytest.fixture
def context_for(browser: Any, live_stack: Any) -> Iterator[Any]:
    """context_for(width_name, **options) -> a new browser context; all closed after the test."""
    contexts: list[Any] = []

    def make(width: str = "desktop", **options: Any) -> Any:
        w, h = WIDTHS[width]
        context = browser.new_context(
            base_url=live_stack.url, viewport={"width": w, "height": h}, **options
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def _charges(user: User) -> int:
    return LedgerEntry.objects.filter(account=user.account, kind="charge").count()


# --- 1: a double-click on Run charges once ------------------------------------------------------


def test_double_click_on_run_starts_one_run_and_charges_once(context_for):
    page, user = _signed_in(context_for)
    page.goto("/playground/?service=text_analyzer&endpoint=analyze")
    page.fill("#param-text", "Double click me. Twice.")

    page.dblclick("#playground-run-button")
    # The second click's request waits for the first one's charge (up to 10 s on a busy host).
    page.wait_for_url(re.compile(r"/playground/runs/prc_"), timeout=60_000)

    assert Process.objects.filter(account=user.account).count() == 1
    assert _charges(user) == 1

    # The server guard, without the button's help: the same rendered form posted twice at once.
    page.goto("/playground/?service=text_analyzer&endpoint=analyze")
    page.fill("#param-text", "Sent twice at once.")
    statuses = page.evaluate(
        """async () => {
            const form = document.getElementById("playground-run-form");
            const send = () => fetch(form.action, {method: "POST", body: new FormData(form)});
            const answers = await Promise.all([send(), send()]);
            return answers.map((r) => r.url);
        }"""
    )
    assert statuses[0] == statuses[1] and "/playground/runs/prc_" in statuses[0]
    assert Process.objects.filter(account=user.account).count() == 2
    assert _charges(user) == 2


# --- 2: an expired session goes to the login page and back --------------------------------------


def test_expired_session_lands_on_the_login_page_and_returns_with_what_was_typed(context_for):
    user = _user()
    context = context_for()
    page = context.new_page()
    _log_in(page, user)
    page.goto("/playground/?service=summary&endpoint=summarize")
    page.fill("#param-text", "What I typed before my session expired.")
    context.clear_cookies(name="sessionid")

    page.click("#playground-run-button")
    page.wait_for_url(re.compile(r"/login/\?"))

    # A whole login page: not inside the form, and the header no longer shows the user.
    assert page.locator("#session-expired").is_visible()
    assert page.locator("#playground-run-form").count() == 0
    assert user.email not in page.text_content("header")
    assert page.locator("main h1").count() == 1

    page.fill("#id_login", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/playground/\?service=summary&endpoint=summarize$"))
    assert page.input_value("#param-text") == "What I typed before my session expired."
    assert page.locator("#draft-restored").is_visible()
    assert not Process.objects.filter(account=user.account).exists()

    # The same for creating a key (an htmx form on the keys page).
    page.goto("/keys/new/")
    page.fill("#id_name", "kept through the login")
    context.clear_cookies(name="sessionid")
    page.click("#key-create-submit")
    page.wait_for_url(re.compile(r"/login/\?"))
    page.fill("#id_login", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/keys/new/$"))
    assert page.input_value("#id_name") == "kept through the login"


def test_revoking_a_key_after_the_session_expired_goes_to_the_login_page_and_back(context_for):
    user = _user()
    key = ApiKeyFactory(account=user.account, name="kept through the login")
    context = context_for()
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the hx-confirm of Revoke
    _log_in(page, user)
    page.goto("/keys/")
    context.clear_cookies(name="sessionid")

    page.click(f"#key-revoke-{key.pk}")
    page.wait_for_url(re.compile(r"/login/\?"))

    # The browser is on the login page itself, not a login page swapped into the keys table.
    assert page.locator("#session-expired").is_visible()
    assert page.locator("#key-table").count() == 0
    assert page.locator("main h1").count() == 1
    assert user.email not in page.text_content("header")
    key.refresh_from_db()
    assert key.revoked_at is None

    page.fill("#id_login", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/keys/$"))
    page.click(f"#key-revoke-{key.pk}")
    page.wait_for_selector("#key-table [data-status='revoked']")
    key.refresh_from_db()
    assert key.revoked_at is not None


# --- 5: one account's wrong passwords lock that account, not the network -----------------------


def test_wrong_passwords_for_one_user_do_not_lock_out_another_on_the_same_network(context_for):
    locked, colleague = _user(), _user()
    page = context_for().new_page()  # every attempt comes from this browser's one address
    for _ in range(6):
        page.goto("/login/")
        page.fill("#id_login", locked.email)
        page.fill("#id_password", "not-the-passphrase")
        page.click("#login-submit")
        page.wait_for_selector("#login-error")
    refusal = page.text_content("#login-error")
    assert "Too many failed attempts to log in to this account" in refusal
    assert "from your network" not in refusal

    _log_in(page, colleague)

    assert re.fullmatch(r"https?://[^/]+/", page.url)  # the home page
    assert colleague.email in page.text_content("header")


# --- 3: validation messages are sentences ---------------------------------------------------------


def test_playground_shows_a_readable_message_for_a_bad_url(context_for):
    page, user = _signed_in(context_for)
    page.goto("/playground/?service=webscraper&endpoint=scrape")
    page.fill("#param-url", "ftp://example")
    page.click("#playground-run-button")
    page.wait_for_selector("#param-url-errors")

    message = page.text_content("#param-url-errors")
    assert "must start with http:// or https://" in message
    assert "^[" not in page.content()
    assert _charges(user) == 0


# --- 10, 12, 16: phone menu, tables, focus, theme, Copy without JavaScript ---------------


def test_phone_menu_folds_and_the_keys_table_keeps_its_actions_on_screen(context_for):
    page, _ = _signed_in(context_for, "phone")
    for name in ("one", "two"):
        page.goto("/keys/new/")
        page.fill("#id_name", name)
        page.click("#key-create-submit")
        page.wait_for_selector("#new-key")
    page.goto("/keys/")

    assert page.locator("#menu-toggle").is_visible()
    assert not page.locator("#main-menu").is_visible()
    page.click("#menu-toggle")
    assert page.locator("#main-menu a[href='/usage/']").is_visible()
    assert page.get_attribute("#menu-toggle", "aria-expanded") == "true"

    revoke = page.locator(".key-revoke").first.bounding_box()
    assert revoke and revoke["x"] >= 0 and revoke["x"] + revoke["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 391


def test_desktop_shows_the_menu_without_a_button(context_for):
    page = context_for().new_page()
    page.goto("/login/")

    assert not page.locator("#menu-toggle").is_visible()
    assert page.locator("#main-menu a[href='/signup/']").is_visible()


def test_focus_lands_on_the_new_key_and_copy_works(context_for):
    user = _user()
    context = context_for()
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    _log_in(page, user)
    page.goto("/keys/new/")
    page.fill("#id_name", "focus")
    page.click("#key-create-submit")
    page.wait_for_selector("#new-key")

    page.wait_for_function(
        "document.activeElement && document.activeElement.id === 'key-once-title'"
    )
    assert page.locator("#copy-key").is_visible()


def test_copy_buttons_are_not_offered_without_javascript(context_for):
    user = _user()
    page = context_for(java_script_enabled=False).new_page()
    page.goto("/login/")
    page.fill("#id_login", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.goto("/keys/new/")
    page.fill("#id_name", "no js")
    page.click("#key-create-submit")
    page.wait_for_selector("#new-key")

    assert page.locator("#copy-key").count() == 1
    assert not page.locator("#copy-key").is_visible()
    assert re.fullmatch(r"brk_\w+", page.text_content("#new-key").strip())
    # Without JavaScript the menu stays open and no toggle is shown.
    assert page.locator("#main-menu a[href='/usage/']").is_visible()


def test_theme_choice_is_remembered(context_for):
    page = context_for(color_scheme="light").new_page()
    page.goto("/login/")
    assert page.text_content("#theme-toggle") == "Theme: system"

    page.click("#theme-toggle")
    page.click("#theme-toggle")
    assert page.get_attribute("html", "data-theme") == "dark"
    page.goto("/signup/")

    assert page.get_attribute("html", "data-theme") == "dark"
    assert page.text_content("#theme-toggle") == "Theme: dark"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)"


# --- every page: axe-core, screenshots, and the page-specific defects ----------------------------


def _seed_usage_and_revenue(staff: User) -> None:
    """A request for each service (9 chart series) and a test-mode top-up (no money moved)."""
    account = staff.account
    key = console_key_for(account=account)
    for service_id in all_services():
        UsageLog.objects.create(
            api_key=key,
            account=account,
            method="POST",
            route="api/v1/services/<str:service_id>/<str:endpoint>",
            service_id=service_id,
            endpoint="run",
            status_code=202,
            duration_ms=5,
            credits=1,
        )
    Payment.objects.create(
        account=account,
        provider="test",
        provider_reference=uuid.uuid4().hex,
        pack_id="starter",
        credits=1000,
        amount_cents=1000,
        currency="eur",
        status="paid",
        paid_at=timezone.now(),
    )


def _axe(page: Any, source: str) -> list[str]:
    page.add_script_tag(content=source)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]


def _name(url: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", url).strip("-") or "home"


def test_every_page_passes_axe_at_both_widths_and_shows_no_defect(context_for):
    source = _axe_source()
    staff = _user(staff=True)
    urls = page_urls(staff)
    _seed_usage_and_revenue(staff)
    problems: list[str] = []
    checked = 0
    for width in WIDTHS:
        folder = SCREENSHOTS / width
        folder.mkdir(parents=True, exist_ok=True)
        anonymous = context_for(width).new_page()
        for url in ("/login/", "/signup/", "/password-reset/"):
            anonymous.goto(url)
            anonymous.screenshot(path=str(folder / f"anon-{_name(url)}.png"), full_page=True)
            problems += [f"{width} {url}: {p}" for p in _axe(anonymous, source)]
        page = context_for(width).new_page()
        _log_in(page, staff)
        for url in urls:
            probe = page.request.get(url, max_redirects=0)
            if probe.status != 200 or "text/html" not in probe.headers.get("content-type", ""):
                continue  # a POST-only action, a redirect or a file: not a page
            page.goto(url)
            checked += 1
            if "{#" in page.content():  # before axe's own script is added to the page
                problems.append(f"{width} {url}: prints a template comment")
            page.screenshot(path=str(folder / f"{_name(url)}.png"), full_page=True)
            problems += [f"{width} {url}: {p}" for p in _axe(page, source)]
            if width == "phone":
                scroll = page.evaluate("document.documentElement.scrollWidth")
                if scroll > 391:
                    problems.append(f"{width} {url}: {scroll}px wide")

        # Usage: one colour per service; the request log names service · endpoint, with the
        # path called (never a URL pattern) as its tooltip.
        page.goto("/usage/")
        colours = page.eval_on_selector_all(
            ".chart-legend .swatch", "els => els.map(e => getComputedStyle(e).backgroundColor)"
        )
        legend = page.eval_on_selector_all(".chart-legend", "els => els.length")
        assert legend and len(colours) >= len(all_services())
        first_legend = colours[: len(all_services())]
        assert len(set(first_legend)) == len(first_legend), f"shared colours: {first_legend}"
        log = page.inner_html("#usage-log")
        assert "<str:" not in log and "&lt;str:" not in log
        assert "summary · run" in page.text_content("#usage-log")
        assert 'title="/api/v1/services/summary/run"' in log
        # Staff overview: the test-mode top-up is no revenue.
        page.goto("/staff/")
        assert "10.00" not in page.text_content("#total-revenue")
        # Audit filter: one name for credit adjustments.
        page.goto("/staff/audit/")
        options = page.eval_on_selector_all("#id_action option", "els => els.map(e => e.value)")
        assert "credits.adjust" in options and "credits.adjustment" not in options
    assert not problems, "\n".join(problems)
    assert checked >= 2 * 20, f"only {checked} pages checked"


# --- 6, 7: the usage page's totals are the sums of the rows it lists -----------------------------


def _number(page: Any, selector: str) -> int:
    return int(page.text_content(selector).split()[0])


def _column_sum(page: Any, table: str, column: int) -> int:
    cells = page.eval_on_selector_all(
        f"{table} tbody tr td:nth-child({column})", "els => els.map(e => e.textContent.trim())"
    )
    return sum(int(cell) for cell in cells)


def _finished(api: str, raw_key: str, started: httpx.Response) -> None:
    """Polls the call's result until its process is done (each poll is a request in the log)."""
    assert started.status_code == 202, started.text
    result_url = urljoin(api, started.json()["result_url"])
    for _ in range(150):
        body = httpx.get(result_url, headers={"x-api-key": raw_key}, timeout=10).json()
        if body["status"] != "pending":
            return
        time.sleep(0.2)
    raise AssertionError(f"still pending: {body}")


def test_usage_totals_are_the_sums_of_the_rows_listed_after_real_runs(context_for, live_stack):
    page, user = _signed_in(context_for)
    key = ApiKeyFactory(account=user.account, name="usage check")
    api, headers = live_stack.url, {"x-api-key": key.raw}

    def call(service: str, endpoint: str, params: dict[str, Any]) -> httpx.Response:
        url = f"{api}/api/v1/services/{service}/{endpoint}"
        return httpx.post(url, headers=headers, json=params, timeout=10)

    # Two that complete (1 + 2 credits), a service error on a 404 page (3 credits, refunded)
    # and a bad request (nothing charged) through the API; one run in the playground (1 credit).
    _finished(api, key.raw, call("text_analyzer", "analyze", {"text": "One. Two three."}))
    _finished(api, key.raw, call("summary", "summarize", {"text": "A first point. A second."}))
    _finished(api, key.raw, call("webscraper", "scrape", {"url": f"{api}/no-such-page/"}))
    assert call("text_analyzer", "analyze", {"text": "   \n\t"}).status_code == 400
    page.goto("/playground/?service=text_analyzer&endpoint=analyze")
    page.fill("#param-text", "Counted once. In the playground.")
    page.click("#playground-run-button")
    page.wait_for_selector("#run-state[data-state='completed']", timeout=30_000)

    page.goto("/usage/")
    calls = _number(page, "#usage-total-calls")
    credits = _number(page, "#usage-total-credits")
    errors = _number(page, "#usage-total-errors")
    requests = _number(page, "#usage-totals .card:nth-child(4) .stat")

    assert (calls, credits, errors) == (5, 4, 2)
    # Columns: by service (calls 2, errors 3, credits 5), by key (calls 2, errors 3, credits 4,
    # requests 5), by day (calls 3, errors 4, credits 5), the request log (credits 7).
    assert _column_sum(page, "#usage-by-service", 2) == calls
    assert _column_sum(page, "#usage-by-service", 3) == errors
    assert _column_sum(page, "#usage-by-service", 5) == credits
    assert _column_sum(page, "#usage-by-key", 2) == calls
    assert _column_sum(page, "#usage-by-key", 3) == errors
    assert _column_sum(page, "#usage-by-key", 4) == credits
    assert _column_sum(page, "#usage-by-key", 5) == requests
    assert _column_sum(page, "#usage-daily-table", 3) == calls
    assert _column_sum(page, "#usage-daily-table", 4) == errors
    assert _column_sum(page, "#usage-daily-table", 5) == credits
    assert page.locator("#usage-log tbody tr").count() == requests  # one page of the log
    assert _column_sum(page, "#usage-log", 7) == credits
