"""Real Prometheus and Alertmanager processes on loopback, for integration tests.

Debian's ``prometheus`` and ``prometheus-alertmanager`` run as subprocesses on free ports
with temporary data dirs; ``start_stack`` wires them to a scrape target and a webhook
receiver and stops everything afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


def binary(*names: str) -> str:
    """The path of the first installed binary of ``names``; skip (fail under CI) if none."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    why = f"{' / '.join(names)} not installed (apt-get install prometheus prometheus-alertmanager)"
    if os.environ.get("CI"):
        pytest.fail(f"{why}: .ci/run installs it, so under CI it must be there")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    def __init__(self, name: str, argv: list[str], log: Path) -> None:
        self.name, self.log = name, log
        self._out = log.open("wb")
        self.popen = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT)

    def log_tail(self, n: int = 4000) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")[-n:]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._out.close()


def wait_for(what: str, check: Callable[[], Any], procs: list[Proc], timeout: float) -> Any:
    """Poll ``check`` until it returns something truthy; fail on timeout or a dead process."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        for p in procs:
            if p.popen.poll() is not None:
                pytest.fail(f"{p.name} exited with {p.popen.returncode}:\n{p.log_tail()}")
        try:
            last = check()
        except Exception as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.25)
    logs = "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in procs)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})\n{logs}")


class Webhook:
    """A loopback HTTP server that records Alertmanager's webhook posts."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                posts.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Stack:
    prometheus: str
    alertmanager: str
    hook: Webhook
    procs: list[Proc] = field(default_factory=list)


def _alertmanager_config(
    hook: Webhook, extra: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A route to the test's recording hook and to ``extra`` webhook configs (the copilot's
    own webhook, with the bearer token Alertmanager's http_config sends)."""
    return {
        "route": {
            "receiver": "test",
            "group_by": ["alertname", "service"],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "test",
                "webhook_configs": [
                    {"url": f"http://127.0.0.1:{hook.port}/alerts"},
                    *(extra or []),
                ],
            }
        ],
    }


def _prometheus_config(rules: Path, am_port: int, target: str) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
        },
        "scrape_configs": [{"job_name": "sandbox", "static_configs": [{"targets": [target]}]}],
    }


@contextmanager
def start_stack(
    tmp_path: Path, rules: Path, target: str, webhooks: list[dict[str, Any]] | None = None
) -> Iterator[Stack]:
    """Alertmanager, then Prometheus scraping ``target`` with ``rules``; stopped afterwards."""
    prometheus = binary("prometheus")
    alertmanager = binary("prometheus-alertmanager", "alertmanager")
    hook = Webhook()
    am_port, prom_port = free_port(), free_port()
    stack = Stack(f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}", hook)
    try:
        am_cfg = tmp_path / "alertmanager.yml"
        am_cfg.write_text(json.dumps(_alertmanager_config(hook, webhooks)))  # JSON is YAML
        stack.procs.append(
            Proc(
                "alertmanager",
                [
                    alertmanager,
                    f"--config.file={am_cfg}",
                    f"--storage.path={tmp_path / 'am-data'}",
                    f"--web.listen-address=127.0.0.1:{am_port}",
                    "--cluster.listen-address=",  # no gossip port, no peers
                ],
                tmp_path / "alertmanager.log",
            )
        )
        prom_cfg = tmp_path / "prometheus.yml"
        prom_cfg.write_text(json.dumps(_prometheus_config(rules, am_port, target)))
        stack.procs.append(
            Proc(
                "prometheus",
                [
                    prometheus,
                    f"--config.file={prom_cfg}",
                    f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                    "--rules.alert.resend-delay=1s",
                ],
                tmp_path / "prometheus.log",
            )
        )
        yield stack
    finally:
        for p in stack.procs:
            p.stop()
        hook.close()
