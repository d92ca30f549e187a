"""A loopback HTTP server that answers from a script of routes, and a port nobody answers on.

``Scripted`` maps ``(method, path)`` to ``(status, body)`` (or to a callable returning one):
a dict or list body is sent as JSON, bytes as they are, ``None`` as an empty body; other
routes get 404. Every request is recorded (method, path, query pairs, headers, decoded
JSON body). ``scripted_servers`` starts them on demand and closes them all at the end.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


def dead_port() -> int:
    """A loopback port nothing listens on: bound, then closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Scripted:
    """A loopback HTTP server answering from ``routes`` and recording every request."""

    Answer = tuple[int, Any]

    def __init__(self, routes: dict[tuple[str, str], Answer | Callable[[], Answer]]) -> None:
        self.routes = routes
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                url = urlsplit(self.path)
                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size) if size else b""
                fake.requests.append(
                    {
                        "method": self.command,
                        "path": url.path,
                        "params": parse_qsl(url.query),
                        "headers": dict(self.headers.items()),
                        "body": json.loads(raw) if raw else None,
                    }
                )
                found = fake.routes.get((self.command, url.path), (404, None))
                status, body = found() if callable(found) else found
                data = b"" if body is None else body if isinstance(body, bytes) else None
                if data is None:
                    data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def scripted_servers() -> Iterator[Callable[..., Scripted]]:
    """``start(routes)`` starts a ``Scripted`` server; all of them are closed on exit."""
    servers: list[Scripted] = []

    def start(routes: dict[tuple[str, str], Any]) -> Scripted:
        servers.append(Scripted(routes))
        return servers[-1]

    try:
        yield start
    finally:
        for s in servers:
            s.close()
