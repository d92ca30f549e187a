"""A stand-in for Slack on loopback: its Web API (the methods the copilot calls) and, for
Socket Mode, a WebSocket endpoint the test or bench drives. Slack's servers cannot be
reached here, so ``copilot bench slack`` and the tests talk to this over real HTTP and a
real WebSocket, through the same ``slack_sdk`` clients production uses.

The Web API checks what Slack checks that matters to us: the bot token (or the app token
for ``apps.connections.open``), and every ``blocks`` payload against Block Kit's rules
(``slack_sdk.models.blocks``, at most 50 blocks, text within its limits); a message Slack
would refuse is refused here the same way (``invalid_blocks``, ``msg_too_long``). A method
can be told to answer 429 with ``Retry-After`` a number of times. Every call is recorded.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT_TOKEN = "xoxb-fake-bot-token-0000"
APP_TOKEN = "xapp-1-fake-app-token-0000"
SIGNING_SECRET = "fake-signing-secret-0123456789abcdef"
BOT_USER = "UCOPILOT"
TEAM = "TFAKE"
MAX_BLOCKS = 50
MAX_TEXT = 40_000


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str
    at: float
    status: int = 200
    answer: dict[str, Any] = field(default_factory=dict)


class FakeSlack:
    """The fake's state: recorded calls, people (for ``users.info``), scripted 429s."""

    def __init__(self, emails: dict[str, str] | None = None) -> None:
        self.calls: list[Call] = []
        self.emails = dict(emails or {})  # Slack user id -> e-mail
        self._lock = threading.Lock()
        self._ts = 1_700_000_000.0
        self._limited: dict[str, tuple[int, int]] = {}  # method -> (times left, retry after)
        self.socket: FakeSocket | None = None
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # -- running ----------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        fake = self

        class Handler(_Handler):
            slack = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/api/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self.socket is not None:
            self.socket.stop()

    def open_socket(self) -> FakeSocket:
        """Serve Socket Mode: ``apps.connections.open`` hands out this WebSocket's URL."""
        self.socket = FakeSocket().start()
        return self.socket

    # -- scripting and reading ----------------------------------------------------------------
    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        with self._lock:
            self._limited[method] = (times, retry_after)

    def of(self, *methods: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method in methods and c.status == 200]

    def wait_for(self, check: Any, timeout: float = 30.0, what: str = "") -> Any:
        """Poll ``check()`` until it returns something truthy (the calls arrive from other
        threads); fail with ``what`` and the calls so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.05)
        seen = [(c.method, c.status, _short(c.args)) for c in self.calls]
        raise AssertionError(f"timed out waiting for {what or check}; calls: {seen}")

    # -- answering ------------------------------------------------------------------------
    def answer(
        self, method: str, args: dict[str, Any], token: str
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self._lock:
            call = Call(method, args, token, time.monotonic())
            self.calls.append(call)
            left, after = self._limited.get(method, (0, 0))
            if left > 0:
                self._limited[method] = (left - 1, after)
                call.status = 429
                return 429, {"Retry-After": str(after)}, {"ok": False, "error": "ratelimited"}
            body = self._answer(method, args, token)
            call.answer = body
            return 200, {}, body

    def _answer(self, method: str, args: dict[str, Any], token: str) -> dict[str, Any]:
        if method == "apps.connections.open":
            if token != APP_TOKEN:
                return {"ok": False, "error": "invalid_auth"}
            if self.socket is None:
                return {"ok": False, "error": "socket_mode_disabled"}
            return {"ok": True, "url": self.socket.url}
        if token != BOT_TOKEN:
            return {"ok": False, "error": "invalid_auth"}
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": "BCOPILOT", "team_id": TEAM}
        if method == "users.info":
            user = str(args.get("user", ""))
            if user not in self.emails:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": user, "profile": {"email": self.emails[user]}}}
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            refused = check_message(args)
            if refused:
                return {"ok": False, "error": refused}
            if method == "chat.postEphemeral":
                return {"ok": True, "message_ts": self._next_ts()}
            ts = str(args.get("ts") or self._next_ts())
            return {"ok": True, "channel": args.get("channel"), "ts": ts}
        if method == "views.open":
            return {"ok": True, "view": {"id": "VFAKE"}}
        return {"ok": False, "error": "unknown_method"}

    def _next_ts(self) -> str:
        self._ts += 1
        return f"{self._ts:.6f}"


def check_message(args: dict[str, Any]) -> str | None:
    """Slack's refusal of a message, or None."""
    from slack_sdk.models.blocks import Block

    if len(str(args.get("text") or "")) > MAX_TEXT:
        return "msg_too_long"
    blocks = args.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if blocks is None:
        return None if args.get("text") else "no_text"
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    try:
        for raw in blocks:
            block = Block.parse(raw)
            if block is None:
                return "invalid_blocks"
            block.validate_json()
    except Exception:  # the SDK's SlackObjectFormationError and friends
        return "invalid_blocks"
    return None


class _Handler(BaseHTTPRequestHandler):
    slack: FakeSlack

    def log_message(self, *_: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle({k: v[0] for k, v in parse_qs(self.path.partition("?")[2]).items()})

    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(size).decode() if size else ""
        ctype = self.headers.get("Content-Type", "")
        if "json" in ctype and raw:
            args = json.loads(raw)
        else:
            args = {k: v[0] for k, v in parse_qs(raw).items()}
        args.update({k: v[0] for k, v in parse_qs(self.path.partition("?")[2]).items()})
        self._handle(args)

    def _handle(self, args: dict[str, Any]) -> None:
        method = self.path.partition("?")[0].rsplit("/", 1)[-1]
        auth = self.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or str(args.pop("token", ""))
        status, headers, body = self.slack.answer(method, args, token)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


class FakeSocket:
    """Socket Mode's WebSocket: the test sends envelopes, the app's acks come back."""

    def __init__(self) -> None:
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connected = threading.Event()
        self._conns: list[Any] = []
        self._server: Any = None
        self.url = ""

    def start(self) -> FakeSocket:
        from websockets.sync.server import serve

        self._server = serve(self._session, "127.0.0.1", 0)
        port = self._server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/link"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()

    def _session(self, conn: Any) -> None:
        self._conns.append(conn)
        conn.send(json.dumps({"type": "hello", "num_connections": 1}))
        self.connected.set()
        try:
            for message in conn:
                data = json.loads(message)
                if isinstance(data, dict) and "envelope_id" in data:
                    self.acks.put(data)
        except Exception:  # the client went away
            return

    def send(self, kind: str, payload: dict[str, Any], envelope_id: str, retry: int = 0) -> None:
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry,
            "retry_reason": "timeout" if retry else "",
        }
        self._conns[-1].send(json.dumps(envelope))

    def ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got = self.acks.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if got.get("envelope_id") == envelope_id:
                return got
        raise AssertionError(f"no ack for envelope {envelope_id}")


def _short(args: dict[str, Any]) -> str:
    text = json.dumps(args, default=str)
    return text if len(text) < 200 else text[:200] + "…"
