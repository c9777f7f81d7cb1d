"""The official breactsdk, unmodified, sync and async, against the live server and worker."""

from __future__ import annotations

import asyncio

import pytest
from breactsdk import create_client

from accounts.ledger.selectors import account_balance, ledger_total
from accounts.models import LedgerEntry
from services.models import Process

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK reads its poll interval and timeout from the environment (default 1 s / 30 s)."""
    monkeypatch.setenv("BREACT_POLL_INTERVAL", "0.1")
    monkeypatch.setenv("BREACT_TIMEOUT", "30")


def test_sync_client_lists_services_and_analyzes_a_text(live_stack, make_key):
    key = make_key(credits=5)

    with create_client(api_key=key.raw, base_url=live_stack.url) as client:
        services = client.list()
        result = client.text_analyzer.analyze(text="One fish. Two fish, red fish!")

    analyzer = services["text_analyzer"]
    assert analyzer["id"] == "text_analyzer"
    assert analyzer["endpoints"]["analyze"]["credits"] == 1
    assert analyzer["endpoints"]["analyze"]["parameters"]["text"]["required"] is True
    assert "slow_test" in services  # BREACT_EXTRA_SERVICE_MODULES reached the server
    assert result["status"] == "success"
    assert result["error"] is None
    assert result["result"]["word_count"] == 6
    assert result["result"]["sentence_count"] == 2
    assert result["result"]["top_words"][0] == {"word": "fish", "count": 3}
    assert result["metadata"]["model"]
    assert account_balance(account=key.account) == 4 == ledger_total(account=key.account)


def test_async_client_runs_ten_concurrent_calls(live_stack, make_key):
    key = make_key(credits=25)
    texts = [" ".join(["word"] * n) + "." for n in range(1, 11)]

    async def run() -> list[dict]:
        client = create_client(api_key=key.raw, base_url=live_stack.url, async_client=True)
        async with client:
            return await asyncio.gather(*(client.text_analyzer.analyze(text=t) for t in texts))

    results = asyncio.run(run())

    assert [r["status"] for r in results] == ["success"] * 10
    assert [r["result"]["word_count"] for r in results] == list(range(1, 11))
    processes = Process.objects.filter(account=key.account)
    assert processes.count() == 10
    assert set(processes.values_list("state", flat=True)) == {Process.State.COMPLETED}
    charges = LedgerEntry.objects.filter(account=key.account, kind=LedgerEntry.Kind.CHARGE)
    assert charges.count() == 10
    assert not LedgerEntry.objects.filter(account=key.account, kind=LedgerEntry.Kind.REFUND)
    assert account_balance(account=key.account) == 15 == ledger_total(account=key.account)


def test_execute_without_waiting_then_poll_result(live_stack, make_key):
    key = make_key(credits=3)

    with create_client(api_key=key.raw, base_url=live_stack.url) as client:
        handle = client.execute_service(
            "text_analyzer", "analyze", {"text": "Hello there, world."}, wait_for_result=False
        )
        assert set(handle) == {"process_id", "access_token"}
        process = Process.objects.get(public_id=handle["process_id"])
        assert process.account_id == key.account.pk
        result = client.poll_result(handle["process_id"], handle["access_token"])

    assert result["status"] == "success"
    assert result["result"]["word_count"] == 3
    process.refresh_from_db()
    assert process.state == Process.State.COMPLETED
    assert account_balance(account=key.account) == 2 == ledger_total(account=key.account)
