"""The run_endpoint fixture drives the real API path with the worker inline."""


def test_run_endpoint_completes_text_analyzer(run_endpoint, key):
    body = run_endpoint("text_analyzer", "analyze", {"text": "A short text. Two sentences."})
    assert body["status"] == "completed"
    assert body["result"]["status"] == "success"
    assert body["result"]["result"]["word_count"] == 5
    key.account.refresh_from_db()
    assert key.account.balance == 99
