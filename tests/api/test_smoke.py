"""A first round trip through the API with the test client and eager on-commit work."""

import pytest

from accounts.ledger.selectors import ledger_total


@pytest.mark.django_db(transaction=True)
def test_execute_then_poll_returns_the_analysis(keyed_client, key, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from breact.celery import app

    app.conf.task_always_eager = True
    try:
        response = keyed_client.post(
            "/api/v1/services/text_analyzer/analyze", {"text": "One. Two three."}, format="json"
        )
        assert response.status_code == 202, response.content
        body = response.json()
        poll = keyed_client.get(
            f"/api/v1/services/result/{body['process_id']}?access_token={body['access_token']}"
        )
    finally:
        app.conf.task_always_eager = False
    assert poll.status_code == 200
    data = poll.json()
    assert data["status"] == "completed"
    assert data["result"]["result"]["word_count"] == 3
    assert data["result"]["result"]["sentence_count"] == 2
    key.account.refresh_from_db()
    assert key.account.balance == 99 == ledger_total(account=key.account)
