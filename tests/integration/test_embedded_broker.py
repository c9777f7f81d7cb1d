"""The embedded broker under the old race: writers and readers in tight loops on one queue
folder, consumers killed while they hold a message."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.broker_clients import connection, queue
from tests.integration.live import BASE_DIR, wait_for

pytestmark = pytest.mark.integration

SCRIPT = str(BASE_DIR / "tests" / "integration" / "broker_clients.py")


def spawn(*args: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(BASE_DIR)}
    return subprocess.Popen([sys.executable, SCRIPT, *map(str, args)], cwd=BASE_DIR, env=env)


def received(paths: list[Path]) -> list[dict[str, object]]:
    return [json.loads(line) for path in paths for line in path.read_text().splitlines()]


def test_concurrent_writers_and_readers_lose_corrupt_and_duplicate_nothing(tmp_path):
    writers, per_writer = 3, 700
    outs = [tmp_path / f"reader-{i}.jsonl" for i in range(3)]
    # Readers first, so they poll the folder while the writers are writing into it.
    readers = [spawn("consume", tmp_path, "race", out, 3.0) for out in outs]
    producers = [spawn("produce", tmp_path, "race", w, per_writer) for w in range(writers)]
    for process in producers + readers:
        assert process.wait(timeout=240) == 0

    got = received(outs)
    ids = Counter(item["id"] for item in got)
    expected = {f"{w}-{i}" for w in range(writers) for i in range(per_writer)}
    assert set(ids) == expected  # nothing lost
    assert max(ids.values()) == 1  # nothing delivered twice
    assert all(item["ok"] for item in got)  # every body intact
    assert sum(1 for out in outs if out.read_text()) >= 2  # the readers really competed
    assert not (tmp_path / "corrupt").exists()  # nothing was unreadable
    assert os.listdir(tmp_path / "queue") == []
    assert os.listdir(tmp_path / "tmp") == []
    assert [p for p in (tmp_path / "inflight").rglob("*") if p.is_file()] == []


def test_a_message_held_by_a_killed_consumer_is_delivered_once_more(tmp_path):
    spawn("produce", tmp_path, "held", 0, 3).wait(timeout=60)
    claimed = tmp_path / "claimed.txt"
    holder = spawn("claim", tmp_path, "held", claimed)
    wait_for(claimed.exists, timeout=30, what="the consumer to claim a message")
    held_id = claimed.read_text()
    assert held_id == "0-0"  # the oldest first
    assert len(os.listdir(tmp_path / "queue")) == 2

    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    out = tmp_path / "after.jsonl"
    assert spawn("consume", tmp_path, "held", out, 1.0).wait(timeout=60) == 0

    ids = [item["id"] for item in received([out])]
    assert sorted(ids) == ["0-0", "0-1", "0-2"]  # the held one once more, the others once
    assert [p for p in (tmp_path / "inflight").rglob("*") if p.is_file()] == []


def test_a_rejected_message_goes_back_to_the_head_of_its_queue(tmp_path):
    spawn("produce", tmp_path, "again", 0, 2).wait(timeout=60)
    with connection(str(tmp_path)) as conn:
        simple = conn.SimpleQueue(queue("again"))
        first = simple.get(timeout=5)
        assert first.payload["id"] == "0-0"
        first.requeue()
        assert simple.get(timeout=5).payload["id"] == "0-0"


def test_an_unreadable_file_is_set_aside_and_the_next_message_delivered(tmp_path):
    spawn("produce", tmp_path, "bad", 0, 1).wait(timeout=60)
    (tmp_path / "queue" / "00000000000000000001_deadbeef.bad.msg").write_bytes(b"")
    with connection(str(tmp_path)) as conn:
        simple = conn.SimpleQueue(queue("bad"))
        message = simple.get(timeout=5)
        assert message.payload["id"] == "0-0"
        message.ack()
    assert os.listdir(tmp_path / "corrupt") == ["00000000000000000001_deadbeef.bad.msg"]
