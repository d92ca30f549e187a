"""`copilot bench web`: the web surface under load, on loopback, on the embedded default.

A real server (``create_app`` under uvicorn in a thread) with the sandbox's bad deploy;
signed-in clients over HTTP:

- **turns**: ``clients`` people each ask "checkout is returning 500s" in conversations of
  their own, at once (the offline planner: retrieval, reads, a card); the latency of each
  ``POST /api/conversations/{id}/messages``;
- **health while busy**: ``GET /healthz`` every 50 ms during those turns: a slow turn must
  never hold up other requests (the service runs in the thread pool);
- **live**: a second person's open event stream on a conversation, and the time from the
  end of a message's POST to that stream's delivery of the reply.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from copilot.bench.core import machine

ASK = "checkout is returning 500s"
PASSWORD = "bench password, not a secret"


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def run_web_bench(clients: int = 4, turns: int = 5) -> dict[str, Any]:
    import httpx

    from copilot.auth.passwords import hash_password
    from copilot.service import CopilotService
    from copilot.settings import Settings, UserConfig
    from copilot.surfaces.web import create_app
    from copilot.surfaces.web.threaded import serve_in_thread

    with tempfile.TemporaryDirectory(prefix="copilot-bench-web-") as tmp:
        digest = hash_password(PASSWORD)
        people = {
            f"sre{i}": UserConfig(roles=["sre"], password_hash=digest) for i in range(clients)
        }
        settings = Settings(data_dir=Path(tmp) / "data", users=people)
        service = CopilotService.open(settings)
        service.reset_sandbox()
        service.inject_fault("bad_deploy", "checkout")
        running = serve_in_thread(create_app(settings, service))
        try:
            sessions = [_signed_in(httpx, running.url, name) for name in people]
            turn_ms, health_ms, errors = _turns_with_health(httpx, running.url, sessions, turns)
            live_ms = _live(httpx, running.url, sessions[0], sessions[-1])
        finally:
            running.stop()
            service.close()
    return {
        "machine": machine(),
        "clients": clients,
        "turns": len(turn_ms),
        "errors": errors,
        "turn_p50_ms": _pct(turn_ms, 0.5),
        "turn_p99_ms": _pct(turn_ms, 0.99),
        "healthz_during_turns_p50_ms": _pct(health_ms, 0.5),
        "healthz_during_turns_p99_ms": _pct(health_ms, 0.99),
        "healthz_samples": len(health_ms),
        "live_reply_after_post_p50_ms": _pct(live_ms, 0.5),
        "live_samples": len(live_ms),
    }


def _signed_in(httpx: Any, url: str, name: str) -> tuple[Any, str]:
    client = httpx.Client(base_url=url, timeout=120)
    answer = client.post("/api/session", json={"username": name, "password": PASSWORD})
    answer.raise_for_status()
    return client, str(answer.json()["csrf_token"])


def _turns_with_health(
    httpx: Any, url: str, sessions: list[tuple[Any, str]], turns: int
) -> tuple[list[float], list[float], int]:
    turn_ms: list[float] = []
    health_ms: list[float] = []
    errors = [0]
    done = threading.Event()
    lock = threading.Lock()

    def person(i: int, client: Any, token: str) -> None:
        for t in range(turns):
            start = time.perf_counter()
            answer = client.post(
                f"/api/conversations/bench-{i}-{t}/messages",
                json={"text": ASK},
                headers={"X-CSRF-Token": token},
            )
            took = (time.perf_counter() - start) * 1000
            with lock:
                if answer.status_code == 200 and answer.json().get("cards"):
                    turn_ms.append(took)
                else:
                    errors[0] += 1

    def health() -> None:
        with httpx.Client(base_url=url, timeout=30) as probe:
            while not done.is_set():
                start = time.perf_counter()
                probe.get("/healthz").raise_for_status()
                health_ms.append((time.perf_counter() - start) * 1000)
                time.sleep(0.05)

    prober = threading.Thread(target=health, daemon=True)
    prober.start()
    workers = [
        threading.Thread(target=person, args=(i, client, token))
        for i, (client, token) in enumerate(sessions)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    done.set()
    prober.join()
    return turn_ms, health_ms, errors[0]


def _live(httpx: Any, url: str, speaker: tuple[Any, str], watcher: tuple[Any, str]) -> list[float]:
    """Time from the end of a POST to the watcher's stream delivering the reply."""
    client, token = speaker
    watch_client, _ = watcher
    samples: list[float] = []
    for n in range(5):
        conversation = f"bench-live-{n}"
        client.post(
            f"/api/conversations/{conversation}/messages",
            json={"text": "what is the status of checkout"},
            headers={"X-CSRF-Token": token},
        ).raise_for_status()
        seen = threading.Event()
        got: list[float] = []
        after = int(
            watch_client.get(f"/api/conversations/{conversation}").json()["messages"][-1]["id"]
        )

        def stream(
            c: str = conversation,
            a: int = after,
            got: list[float] = got,
            seen: threading.Event = seen,
        ) -> None:
            with watch_client.stream("GET", f"/c/{c}/events?after={a}", timeout=60) as events:
                replies = 0
                for line in events.iter_lines():
                    if line.startswith("event: message"):
                        replies += 1
                        if replies == 2:  # the person's message, then the reply
                            got.append(time.perf_counter())
                            seen.set()
                            return

        reader = threading.Thread(target=stream, daemon=True)
        reader.start()
        time.sleep(0.3)  # the stream is open and has drawn the page's cards
        client.post(
            f"/api/conversations/{conversation}/messages",
            json={"text": "and payments?"},
            headers={"X-CSRF-Token": token},
        ).raise_for_status()
        posted = time.perf_counter()
        if seen.wait(30) and got:
            samples.append(max(0.0, (got[0] - posted) * 1000))
        reader.join(timeout=5)
    return samples


def print_table(figures: dict[str, Any]) -> None:
    for key, value in figures.items():
        if key != "machine":
            print(f"{key:32} {value}")
    print(f"{'machine':32} {figures['machine']}")


__all__ = ["print_table", "run_web_bench"]
