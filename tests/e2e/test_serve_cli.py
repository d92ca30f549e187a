"""``copilot demo`` and ``copilot serve`` as people run them: a real process on loopback,
signed in to with the passwords it prints, stopped with Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

COPILOT = str(Path(sys.executable).parent / "copilot")


def _start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [COPILOT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    url = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"serving on (http://\S+/)", line)
        if found:
            url = found.group(1)
        if url and (
            line.startswith("Try:") or "--port" not in " ".join(args) or "demo" not in args
        ):
            break
    assert url, "".join(lines) + (proc.stderr.read() if proc.poll() is not None else "")
    return proc, url.rstrip("/"), "".join(lines)


def _ready(url: str) -> httpx.Response:
    deadline = time.monotonic() + 120
    while True:
        try:
            return httpx.get(url + "/readyz", timeout=10)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=60)


def test_demo_serves_the_incident_and_its_people_sign_in_with_the_printed_passwords() -> None:
    env = {k: v for k, v in os.environ.items() if k != "COPILOT_USERS"}
    proc, url, out = _start(["demo", "--port", "0"], env)
    try:
        assert url.startswith("http://127.0.0.1:")
        assert "bad_deploy" in out
        passwords = dict(re.findall(r"^\s+(\w+)\s+(\S+)\s+\S", out, re.M))
        assert set(passwords) >= {"alice", "bob", "dana"}
        assert _ready(url).json()["status"] == "ok"
        with httpx.Client(base_url=url) as client:
            wrong = client.post("/api/session", json={"username": "alice", "password": "nope"})
            assert wrong.status_code == 401
            me = client.post(
                "/api/session", json={"username": "alice", "password": passwords["alice"]}
            )
            assert me.status_code == 200 and me.json()["roles"]
            token = me.json()["csrf_token"]
            reply = client.post(
                "/api/conversations/demo-e2e/messages",
                json={"text": "checkout is returning 500s"},
                headers={"X-CSRF-Token": token},
                timeout=120,
            )
            assert reply.status_code == 200
            assert reply.json()["cards"][0]["tool"] == "sandbox.rollback_deployment"
    finally:
        code = _stop(proc)
    assert code == 0


def test_serve_refuses_a_port_in_use_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [COPILOT, "serve", "--port", str(port)], capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_answers_health_and_readiness() -> None:
    proc, url, _ = _start(["serve", "--port", "0"], dict(os.environ))
    try:
        assert _ready(url).status_code == 200
        assert httpx.get(url + "/healthz").json() == {"status": "ok", "checks": {}}
        page = httpx.get(url + "/", follow_redirects=True)
        assert page.status_code == 200 and "Sign in" in page.text
    finally:
        assert _stop(proc) == 0
