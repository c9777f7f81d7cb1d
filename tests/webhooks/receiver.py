"""A loopback webhook receiver: verifies each request's signature against the secrets it is
given, answers from a script (status, or a delay longer than the sender's timeout), and keeps
every request it got."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.webhooks import signing


@dataclass
class Received:
    headers: dict[str, str]
    raw: bytes
    verified: bool
    status: int

    @property
    def body(self) -> Any:
        return json.loads(self.raw)


class Receiver:
    """`with Receiver() as r:` — `r.url`; `r.script(500, ("sleep", 2.0), 200)`; `r.secrets`."""

    def __init__(self) -> None:
        self.answers: deque[Any] = deque()
        self.secrets: list[str] = []
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def script(self, *answers: Any) -> None:
        self.answers.extend(answers)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def succeeded(self) -> list[Received]:
        return [r for r in self.received if r.status == 200 and r.verified]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                header = self.headers.get(signing.SIGNATURE_HEADER, "")
                verified = any(
                    signing.verify(secret=s, header=header, body=raw) for s in outer.secrets
                )
                with outer._lock:
                    answer = outer.answers.popleft() if outer.answers else 200
                slept = isinstance(answer, tuple) and answer[0] == "sleep"
                status = 200 if slept else int(answer)
                with outer._lock:  # kept on arrival; a timed-out one with status -1
                    outer.received.append(
                        Received(dict(self.headers.items()), raw, verified, -1 if slept else status)
                    )
                if slept:
                    time.sleep(answer[1])  # longer than the sender waits: a timeout
                try:
                    payload = json.dumps({"received": status == 200}).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the sender timed out and closed the connection
                    pass

        return Handler
