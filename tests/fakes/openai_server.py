"""A loopback OpenAI-compatible server: records every request body, answers from a script.

``POST /v1/chat/completions`` and ``POST /v1/embeddings`` are served. ``script`` maps a
chat request body to the assistant message to return (content and/or tool calls); the
default says "ok". Embeddings are deterministic hashed word counts (``embed_text``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Script = Callable[[dict[str, Any]], dict[str, Any]]


def _say_ok(body: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": "ok"}


EMBEDDING_DIM = 256


def embed_text(text: str) -> list[float]:
    """A deterministic stand-in for a provider's embedding: hashed word counts, unit
    length, so texts sharing words are close (enough for retrieval to be tested)."""
    vector = [0.0] * EMBEDDING_DIM
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % EMBEDDING_DIM] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def embeddings_reply(body: dict[str, Any]) -> dict[str, Any]:
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    return {
        "object": "list",
        "model": body.get("model", "fake"),
        "data": [
            {"object": "embedding", "index": i, "embedding": embed_text(t)}
            for i, t in enumerate(texts)
        ],
        "usage": {"prompt_tokens": 5 * len(texts), "total_tokens": 5 * len(texts)},
    }


class FakeOpenAI:
    def __init__(self, script: Script = _say_ok) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.embedding_requests: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.raw.append(raw)
                if self.path.rstrip("/").endswith("/embeddings"):
                    body = json.loads(raw)
                    fake.embedding_requests.append(body)
                    self._send(embeddings_reply(body))
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self.send_error(404)
                    return
                body = json.loads(raw)
                fake.requests.append(body)
                message = fake.script(body)
                reply = {
                    "id": f"chatcmpl-{len(fake.requests)}",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model", "fake"),
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
                }
                self._send(reply)

            def _send(self, reply: dict[str, Any]) -> None:
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@contextmanager
def fake_openai(script: Script = _say_ok) -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(script)
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
