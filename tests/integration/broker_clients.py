"""Producers and consumers of the embedded broker, run as separate processes by the tests."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

from kombu import Connection, Exchange, Queue

from breact.broker import Transport

EXCHANGE = Exchange("race", type="direct")


def connection(folder: str) -> Connection:
    base = Path(folder)
    return Connection(
        transport=Transport,
        transport_options={
            "data_folder_in": str(base / "queue"),
            "data_folder_out": str(base / "queue"),
            "control_folder": str(base / "control"),
            "polling_interval": 0.001,
        },
    )


def queue(name: str) -> Queue:
    return Queue(name, EXCHANGE, routing_key=name)


def produce(folder: str, name: str, writer: int, count: int) -> None:
    """Publish `count` messages with bodies of random size (up to 64 kB) and their digest."""
    rng = random.Random(writer)
    with connection(folder) as conn:
        producer = conn.Producer(serializer="json")
        for i in range(count):
            blob = "x" * rng.randint(0, 65_536)
            body = {
                "id": f"{writer}-{i}",
                "blob": blob,
                "sha": hashlib.sha256(blob.encode()).hexdigest(),
            }
            producer.publish(body, exchange=EXCHANGE, routing_key=name, declare=[queue(name)])


def consume(folder: str, name: str, out: str, stop_after: float) -> None:
    """Consume and ack until nothing came for `stop_after` seconds; one JSON line per message
    ({"id", "ok"}) in `out`."""
    with connection(folder) as conn, open(out, "w") as sink:
        simple = conn.SimpleQueue(queue(name))
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < stop_after:
            try:
                message = simple.get(block=True, timeout=0.05)
            except simple.Empty:
                continue
            body = message.payload
            ok = hashlib.sha256(body["blob"].encode()).hexdigest() == body["sha"]
            sink.write(json.dumps({"id": body["id"], "ok": ok}) + "\n")
            sink.flush()
            message.ack()
            idle_since = time.monotonic()


def claim_and_hang(folder: str, name: str, out: str) -> None:
    """Take one message without acknowledging it, say which, then wait to be killed."""
    with connection(folder) as conn:
        simple = conn.SimpleQueue(queue(name))
        message = simple.get(block=True, timeout=10)
        Path(out).write_text(message.payload["id"])
        time.sleep(3600)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "breact.settings")
    if command == "produce":
        produce(args[0], args[1], int(args[2]), int(args[3]))
    elif command == "consume":
        consume(args[0], args[1], args[2], float(args[3]))
    elif command == "claim":
        claim_and_hang(args[0], args[1], args[2])
