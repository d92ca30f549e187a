"""A loopback Loki speaking ``GET /loki/api/v1/query_range``, with realistic log streams.

Fifteen minutes of logs up to ``END`` (the tests' ``FakeClock`` time) from three streams —
two checkout pods and payments — 5,000 lines in all: request logs, slow-upstream warnings,
payment lines, one causal error (an expired upstream certificate) and one line where a
service dumps its request headers, bearer token included. The answer has Loki's shape
(``resultType: streams``, values ``[nanosecond string, line]``, newest first for
``direction=backward``); stream selectors with ``=`` matchers, ``|= "text"`` filters,
``start``/``end``/``limit``/``direction`` and ``count_over_time({...}[1m])`` are honoured.
What is not LogQL to this fake is refused with Loki's 400 and plain-text parse error.
Every request is recorded with its headers.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

END = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
TOTAL_LINES = 5000

# A JWT-shaped bearer token as services really log them (made up; signature is noise).
TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImNoZWNrb3V0LTIwMjYtMTEifQ."
    "eyJzdWIiOiJjaGVja291dC1zdmMiLCJhdWQiOiJwYXltZW50cyIsImV4cCI6MTc5NTc4ODgwMH0."
    "kQ7vR2xN9pLmW4tYb8HcJ3sEfA6uZ1gD5oKiT0nVqXr"
)
CAUSAL = (
    'level=error msg="charge failed" upstream=payments-gateway.internal:443 '
    'err="x509: certificate has expired or is not yet valid: current time '
    '2026-11-27T11:52:03Z is after 2026-11-27T11:50:00Z" '
    "order_id=5f0c2a9e-7d41-4b8a-9c1e-2b6f3d8a4e70"
)
LEAK = (
    'level=error msg="upstream answered 401, dumping request" method=POST '
    f'path=/v1/charges headers="Authorization: Bearer {TOKEN}"'
)
STREAMS = (
    {"app": "checkout", "namespace": "prod", "pod": "checkout-7d9f8b6c5d-x2k4p"},
    {"app": "checkout", "namespace": "prod", "pod": "checkout-7d9f8b6c5d-q8w3n"},
    {"app": "payments", "namespace": "prod", "pod": "payments-5c6b7d8e9f-m4n5b"},
)
PARSE_ERROR = "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER"


def _ns(at: datetime) -> int:
    return int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1000


def _hex(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789abcdef") for _ in range(n))


def _checkout_line(r: random.Random) -> str:
    if r.random() < 0.06:
        return (
            f'level=warn msg="slow upstream" upstream=payments duration={r.randint(700, 2400)}ms '
            f"trace_id={_hex(r, 16)}"
        )
    path = r.choice(["/api/cart", "/api/checkout", "/api/items", "/healthz"])
    return (
        f'level=info msg="request served" method={r.choice(["GET", "POST"])} '
        f"path={path}/{r.randint(1, 99999)} status={r.choice([200, 200, 200, 201, 304])} "
        f"duration={r.randint(2, 180)}ms trace_id={_hex(r, 16)}"
    )


def _payments_line(r: random.Random) -> str:
    return (
        f'level=info msg="charge authorised" order_id={_hex(r, 8)}-{_hex(r, 4)}-4{_hex(r, 3)}-'
        f"a{_hex(r, 3)}-{_hex(r, 12)} amount={r.randint(100, 99999) / 100:.2f} currency=EUR"
    )


def generate(seed: int = 4) -> list[tuple[int, int, str]]:
    """(ns timestamp, stream index, line) for the whole window, oldest first."""
    r = random.Random(seed)
    start_ns, span_ns = _ns(END - WINDOW), int(WINDOW.total_seconds() * 1e9)
    entries = []
    for _ in range(TOTAL_LINES - 2):
        stream = r.choice([0, 0, 1, 1, 2])
        line = _payments_line(r) if stream == 2 else _checkout_line(r)
        entries.append((start_ns + r.randrange(span_ns), stream, line))
    entries.append((_ns(datetime(2026, 11, 27, 11, 52, 3, 120000, tzinfo=UTC)), 2, CAUSAL))
    entries.append((_ns(datetime(2026, 11, 27, 11, 52, 4, 480000, tzinfo=UTC)), 2, LEAK))
    entries.sort()
    return entries


_SELECTOR = re.compile(r'^\{\s*((?:[a-zA-Z_]\w*\s*=\s*"[^"]*"\s*,?\s*)*)\}')
_MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*=\s*"([^"]*)"')
_FILTER = re.compile(r'\|=\s*"([^"]*)"')
_COUNT = re.compile(r"^count_over_time\((.*)\[1m\]\)$")


class FakeLoki:
    def __init__(self) -> None:
        self.entries = generate()
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(url.query).items()}
                fake.requests.append(
                    {"path": url.path, "params": params, "headers": dict(self.headers.items())}
                )
                if url.path != "/loki/api/v1/query_range":
                    self._send(404, b"404 page not found\n", "text/plain")
                    return
                answer = fake.answer(params)
                if answer is None:
                    self._send(400, PARSE_ERROR.encode() + b"\n", "text/plain; charset=utf-8")
                    return
                self._send(200, json.dumps(answer).encode(), "application/json")

            def _send(self, status: int, data: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _select(self, query: str) -> list[tuple[int, int, str]] | None:
        m = _SELECTOR.match(query.strip())
        if m is None:
            return None
        wanted = dict(_MATCHER.findall(m.group(1)))
        needles = _FILTER.findall(query[m.end() :])
        return [
            e
            for e in self.entries
            if all(STREAMS[e[1]].get(k) == v for k, v in wanted.items())
            and all(n in e[2] for n in needles)
        ]

    def answer(self, params: dict[str, str]) -> dict[str, Any] | None:
        query = params.get("query", "")
        counting = _COUNT.match(query.strip())
        picked = self._select(counting.group(1) if counting else query)
        if picked is None:
            return None
        end = int(params.get("end", _ns(END)))
        start = int(params.get("start", end - 3600 * 10**9))
        picked = [e for e in picked if start <= e[0] < end]
        if counting:
            return self._matrix(picked)
        backward = params.get("direction", "backward") == "backward"
        picked.sort(key=lambda e: e[0], reverse=backward)
        picked = picked[: int(params.get("limit", 100))]
        result = []
        for index, labels in enumerate(STREAMS):
            values = [[str(ns), line] for ns, i, line in picked if i == index]
            if values:
                result.append({"stream": labels, "values": values})
        stats = {"summary": {"totalLinesProcessed": len(picked)}}
        return {
            "status": "success",
            "data": {"resultType": "streams", "result": result, "stats": stats},
        }

    def _matrix(self, picked: list[tuple[int, int, str]]) -> dict[str, Any]:
        counts: dict[tuple[int, int], int] = {}
        for ns, i, _ in picked:
            minute = ns // 10**9 // 60 * 60
            counts[(i, minute)] = counts.get((i, minute), 0) + 1
        result = []
        for index, labels in enumerate(STREAMS):
            values = [[m, str(c)] for (i, m), c in sorted(counts.items()) if i == index]
            if values:
                result.append({"metric": labels, "values": values})
        return {"status": "success", "data": {"resultType": "matrix", "result": result}}


@contextmanager
def fake_loki() -> Iterator[FakeLoki]:
    fake = FakeLoki()
    thread = threading.Thread(
        target=fake.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
