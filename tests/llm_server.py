"""A loopback HTTP server that speaks OpenAI chat completions, with scripted answers."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    """One answer: `content` as the assistant message, or an HTTP `status` error, after `delay`."""

    content: str = ""
    status: int = 200
    delay: float = 0.0
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    )


class FakeChatServer:
    """Start with `with FakeChatServer() as server:`; `server.base_url` ends in /v1.

    Queue answers with `server.reply(...)`; each request takes the next one (or, when the queue
    is empty, `default`). Every request body is kept in `server.requests`.
    """

    def __init__(self, default: Scripted | None = None) -> None:
        self.answers: deque[Scripted] = deque()
        self.default = default or Scripted(content="{}")
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def reply(self, content: str = "", *, status: int = 200, delay: float = 0.0) -> None:
        self.answers.append(Scripted(content=content, status=status, delay=delay))

    def reply_json(self, data: Any) -> None:
        self.reply(json.dumps(data))

    def __enter__(self) -> FakeChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self) -> Scripted:
        return self.answers.popleft() if self.answers else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                owner.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found", "type": "invalid_request"}})
                    return
                answer = owner._next()
                if answer.delay:
                    time.sleep(answer.delay)
                if answer.status != 200:
                    self._send(
                        answer.status,
                        {"error": {"message": "upstream failure", "type": "server_error"}},
                    )
                    return
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{len(owner.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", ""),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": answer.content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": answer.usage,
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        return Handler
