"""The web app under uvicorn in a background thread of this process, on a free loopback
port: for the browser tests and ``copilot bench web`` (``copilot serve`` runs it in the
foreground instead)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class RunningServer:
    url: str
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def serve_in_thread(
    app: Any, host: str = "127.0.0.1", start_timeout_s: float = 60
) -> RunningServer:
    import uvicorn

    with socket.socket() as probe:
        probe.bind((host, 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="copilot-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the web server did not start")
        time.sleep(0.05)
    return RunningServer(f"http://{host}:{port}", server, thread)
