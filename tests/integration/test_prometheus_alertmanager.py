"""A real Prometheus scrapes the sandbox exporter and a real Alertmanager receives its alert.

Debian's ``prometheus`` and ``prometheus-alertmanager`` run as subprocesses on loopback,
on free ports with temporary data dirs; a fault injected into the sandbox must come out
as a firing ``SandboxHighErrorRate`` in Prometheus, in Alertmanager's API and at a webhook.
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
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

RULES = Path(__file__).parents[2] / "tools" / "sandbox_alerts.yml"
DEADLINE_S = 60.0


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    why = f"{' / '.join(names)} not installed (apt-get install prometheus prometheus-alertmanager)"
    if os.environ.get("CI"):
        pytest.fail(f"{why}: .ci/run installs it, so under CI it must be there")
    pytest.skip(why)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(what: str, check: Callable[[], Any], procs: list[Proc], timeout: float) -> Any:
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


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Exporter, Prometheus and Alertmanager on loopback; everything stopped afterwards."""
    prometheus = _binary("prometheus")
    alertmanager = _binary("prometheus-alertmanager", "alertmanager")
    from copilot.settings import Settings
    from copilot.store.db import open_store
    from tools.sandbox_exporter import serve_metrics

    settings = Settings(data_dir=tmp_path / "data")
    store = open_store(settings.db_url)
    exporter, exporter_port = serve_metrics(settings)  # its own store, real time
    hook = Webhook()
    procs: list[Proc] = []
    try:
        am_port, prom_port = _free_port(), _free_port()
        am_cfg = tmp_path / "alertmanager.yml"
        am_cfg.write_text(
            json.dumps(  # JSON is YAML
                {
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
                            ],
                        }
                    ],
                }
            )
        )
        procs.append(
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
        prom_cfg.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(RULES)],
                    "alerting": {
                        "alertmanagers": [
                            {"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}
                        ]
                    },
                    "scrape_configs": [
                        {
                            "job_name": "sandbox",
                            "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
                        }
                    ],
                }
            )
        )
        procs.append(
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
        yield {
            "store": store,
            "settings": settings,
            "prometheus": f"http://127.0.0.1:{prom_port}",
            "alertmanager": f"http://127.0.0.1:{am_port}",
            "hook": hook,
            "procs": procs,
        }
    finally:
        for p in procs:
            p.stop()
        hook.close()
        exporter.shutdown()
        exporter.server_close()
        store.dispose()


def test_bad_deploy_fires_in_prometheus_and_reaches_alertmanager(stack: dict[str, Any]) -> None:
    import httpx

    from tools import sandbox as sb

    procs, prom, am = stack["procs"], stack["prometheus"], stack["alertmanager"]
    client = httpx.Client(timeout=5)

    def ok(url: str) -> bool:
        return client.get(url).status_code == 200

    started = time.monotonic()
    _wait_for("alertmanager ready", lambda: ok(f"{am}/-/ready"), procs, DEADLINE_S)
    _wait_for("prometheus ready", lambda: ok(f"{prom}/-/ready"), procs, DEADLINE_S)

    def target_up() -> bool:
        active = client.get(f"{prom}/api/v1/targets").json()["data"]["activeTargets"]
        return any(t["health"] == "up" for t in active)

    _wait_for("the exporter scraped", target_up, procs, DEADLINE_S)

    def firing_in_prometheus() -> list[dict[str, Any]]:
        alerts = client.get(f"{prom}/api/v1/alerts").json()["data"]["alerts"]
        return [
            a
            for a in alerts
            if a["labels"].get("alertname") == "SandboxHighErrorRate" and a["state"] == "firing"
        ]

    assert not firing_in_prometheus(), "a healthy sandbox must not fire SandboxHighErrorRate"

    sb.inject_fault(stack["store"], stack["settings"], "bad_deploy", "checkout", datetime.now(UTC))

    fired = _wait_for("SandboxHighErrorRate firing", firing_in_prometheus, procs, DEADLINE_S)
    assert [a["labels"]["service"] for a in fired] == ["checkout"]
    alert = fired[0]
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["environment"] == "prod"
    assert alert["annotations"]["runbook_url"] == "runbooks/sandbox/sandboxhigherrorrate"
    assert float(alert["value"]) > 0.05

    def in_alertmanager() -> list[dict[str, Any]]:
        alerts = client.get(f"{am}/api/v2/alerts", params={"active": "true"}).json()
        return [
            a
            for a in alerts
            if a["labels"].get("alertname") == "SandboxHighErrorRate"
            and a["labels"].get("service") == "checkout"
        ]

    received = _wait_for("the alert in Alertmanager", in_alertmanager, procs, DEADLINE_S)
    assert received[0]["status"]["state"] == "active"
    assert "checkout" in received[0]["annotations"]["summary"]

    def delivered() -> list[dict[str, Any]]:
        return [
            a
            for post in stack["hook"].posts
            for a in post["alerts"]
            if a["labels"].get("alertname") == "SandboxHighErrorRate" and a["status"] == "firing"
        ]

    hooked = _wait_for("the webhook notification", delivered, procs, DEADLINE_S)
    assert hooked[0]["labels"]["service"] == "checkout"
    assert time.monotonic() - started < 3 * DEADLINE_S
    client.close()
