"""A scriptable OpenAI-compatible chat-completions server for the judge tests: stdlib HTTP in a
thread, 127.0.0.1 only, a free port, every request recorded. The judged tasks it is meant for
(fake-instruct, fake-summary: GOOD answers when dense, BAD once compressed) are in fake_plugin.

    with FakeOpenAIServer(scripted([Reply(status=429, headers={"Retry-After": "0"})])) as server:
    FakeOpenAIServer(lambda request, n: Reply(trickle=2.0))  # a byte every 2 s: never done
    FakeOpenAIServer(lambda request, n: Reply(delay=60))     # hangs
        ...  # server.url, server.requests, server.count, server.max_in_flight

The `openai_server` fixture gives a started one with the default `quality_reply`."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# ---- a scriptable chat-completions server ------------------------------------------------------


@dataclass
class Reply:
    """What the fake server answers: a status, headers, a body, after an optional delay."""

    status: int = 200
    body: bytes | None = None
    content: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0
    """Seconds between the body's bytes: a server that keeps every read alive, never finishing."""


Responder = Callable[[dict[str, Any], int], Reply]

_ANSWERS = re.compile(r"\[The Start of Assistant ([12])'s (?:Answer|Summary)\]\n(.*?)\[The End of", re.S)


def _quality(text: str) -> int:
    return 9 if "GOOD" in text else 4 if "BAD" in text else 6


def quality_reply(request: dict[str, Any], n: int) -> Reply:
    """A fair judge: an answer containing GOOD scores 9, BAD 4, anything else 6, whatever its
    position; the reply has the format the prompt asked for."""
    system = request["messages"][0]["content"]
    user = request["messages"][1]["content"]
    found = dict(_ANSWERS.findall(user))
    a, b = _quality(found.get("1", "")), _quality(found.get("2", ""))
    if "summarization" in system:
        return Reply(content=f"{a} {b}\n{a} {b}\n{a} {b}\n{a} {b}\nThe better one is clear.")
    if "Python tuple" in user:
        return Reply(content=f"Let me solve it first.\nSo the scores are ({a}, {b}).")
    if "[[rating]]" in user or "[[rating]]" in system:
        good = "GOOD" in user.split("Assistant", 1)[-1]
        return Reply(content=f"Fine answer. Rating: [[{8 if good else 3}]]")
    return Reply(content=f"{a} {b}\nThe better one is clear.")


class FakeOpenAIServer:
    """A ThreadingHTTPServer on 127.0.0.1 with a free port; records every request."""

    def __init__(self, responder: Responder = quality_reply) -> None:
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests the server was answering at the same moment
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(body)
                    server.auth.append(self.headers.get("Authorization", ""))
                    n = len(server.requests)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer(body, n)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, body: dict[str, Any], n: int) -> None:
                reply = server.responder(body, n)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body
                if payload is None:
                    payload = json.dumps(
                        {
                            "id": f"chatcmpl-{n}",
                            "object": "chat.completion",
                            "created": 0,
                            "model": body.get("model", "fake"),
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": reply.content or ""},
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
                        }
                    ).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    if reply.trickle:
                        for i in range(len(payload)):
                            self.wfile.write(payload[i : i + 1])
                            self.wfile.flush()
                            time.sleep(reply.trickle)
                    else:
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)


def scripted(replies: Sequence[Reply], then: Responder = quality_reply) -> Responder:
    """Answer the first requests with `replies`, in order, then defer to `then`."""

    def respond(request: dict[str, Any], n: int) -> Reply:
        return replies[n - 1] if n <= len(replies) else then(request, n)

    return respond
