"""``copilot serve`` (the web chat and JSON API) and ``copilot demo`` (the same server on the
sandbox with an injected incident and the demo's people, or ``--script``: the terminal
story)."""

from __future__ import annotations

import contextlib
import secrets
import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from copilot.settings import Settings

DEMO_ROLLOUT_S = 3.0
HOST = typer.Option(None, "--host", help="address to listen on (default: [web] host, 127.0.0.1)")
PORT = typer.Option(None, "--port", help="port (default: [web] port, 8080; 0 picks a free one)")


def serve(host: str | None = HOST, port: int | None = PORT) -> None:
    """Serve the web chat and the JSON API (OpenAPI at /api/docs) until Ctrl-C."""
    from copilot.settings import load_settings

    settings = load_settings()
    _run(settings, host, port, banner=None)


def demo(
    script: bool = typer.Option(
        False, "--script", help="play the terminal story instead and exit (0 when it holds)"
    ),
    host: str | None = HOST,
    port: int | None = PORT,
) -> None:
    """The demo: the sandbox with a bad deploy of checkout, the demo's people with fresh
    passwords (printed), served on 127.0.0.1 until Ctrl-C."""
    if script:
        from copilot.demo import main

        raise typer.Exit(main())
    from copilot.settings import DEMO, load_settings

    settings = load_settings(users=DEMO)
    if settings.sandbox.action_delay_s == 0:  # long enough to watch the card run
        settings.sandbox.action_delay_s = DEMO_ROLLOUT_S
    passwords = _demo_passwords(settings)
    from copilot.service import CopilotService

    service = CopilotService.open(settings)
    try:
        print(service.reset_sandbox())
        print(service.inject_fault("bad_deploy", "checkout"))
        from copilot.demo import demo_alert

        got = service.receive_webhook("alertmanager", demo_alert(f"demo-{secrets.token_hex(4)}"))
        incident = got.incident if got is not None else None
    finally:
        service.close()
    lines = ["Sign in as any of the demo's people (passwords are new each run):"]
    for name, password in passwords.items():
        user = settings.users[name]
        lines.append(f"  {name:<6} {password:<16} {user.display_name}")
    lines.append(
        'Try: sign in as alice, say "checkout is returning 500s"; then, in a second browser '
        "(or a private window), sign in as bob and approve the card."
    )
    lines.append(
        'Or ask as you would a colleague, no model needed: "what changed in the last hour?", '
        '"scale checkout to 5 replicas", "is orders-db healthy?", "what\'s firing?".'
    )
    if incident is not None:
        lines.append(
            f"The alert opened {incident.id}: Incidents → {incident.id} has its timeline, "
            "acknowledge and resolve, and the postmortem draft."
        )
    _run(settings, host, port, banner="\n".join(lines))


def _demo_passwords(settings: Settings) -> dict[str, str]:
    """A fresh password for each demo user, hashed into these settings only (never written
    anywhere): the demo is as signed-in as production, with nothing to leak afterwards."""
    from copilot.auth.passwords import hash_password

    out = {}
    for name, user in settings.users.items():
        password = f"{name}-{secrets.token_urlsafe(6)}"
        user.password_hash = hash_password(password)
        out[name] = password
    return out


def _run(settings: Settings, host: str | None, port: int | None, banner: str | None) -> None:
    import socket

    import uvicorn

    from copilot.surfaces.web import create_app

    host = host or settings.web.host
    port = settings.web.port if port is None else port
    # Bind first, so the URL printed is the real one (port 0: a free port) and a port in
    # use is told in one line before anything starts.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        from copilot.errors import InvalidInput

        raise InvalidInput(
            f"cannot listen on {host}:{port} ({exc.strerror})",
            "pick another --port, or stop what uses it",
        ) from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    print(f"copilot serving on http://{shown}:{bound}/  (Ctrl-C stops it)", flush=True)
    from copilot.surfaces.slack.mount import describe

    print(describe(settings), flush=True)
    if banner:
        print(banner, flush=True)
    if host not in ("127.0.0.1", "localhost", "::1") and not settings.web.public_url:
        print(
            "note: listening beyond loopback; put it behind https and set [web] public_url",
            file=sys.stderr,
        )
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        proxy_headers=True,
        forwarded_allow_ips=",".join(settings.web.trusted_proxies) or None,
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises Ctrl-C once it has shut down cleanly: that is a normal stop
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    print("copilot stopped", flush=True)
