"""Operator commands: tools, sandbox, audit, policy and bench."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from copilot.surfaces.cli.common import open_service, print_json

tools_app = typer.Typer(help="The tool catalogue.", no_args_is_help=True)
sandbox_app = typer.Typer(
    help="The simulated production the demo and tests act on.", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
policy_app = typer.Typer(help="Cedar policy.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks (timings live here, never in tests).", no_args_is_help=True
)
JSON = typer.Option(False, "--json", help="print JSON")


@tools_app.command("list")
def tools_list(as_json: bool = JSON) -> None:
    """List every tool with its risk, side effects and idempotency."""
    from rich.console import Console
    from rich.table import Table

    with open_service(telemetry=False) as service:
        tools = service.tools()
    if as_json:
        print_json(
            [
                {
                    "name": t.name,
                    "risk": t.risk.value,
                    "side_effects": t.side_effects,
                    "idempotent": t.idempotent,
                    "description": t.description,
                    "has_plan": t.has_plan,
                }
                for t in tools
            ]
        )
        return
    table = Table()
    table.add_column("tool", no_wrap=True)
    for col in ("risk", "writes", "idempotent", "description"):
        table.add_column(col)
    for t in tools:
        table.add_row(
            t.name,
            t.risk.value,
            "yes" if t.side_effects else "no",
            "yes" if t.idempotent else "no",
            t.description,
        )
    Console().print(table)


@tools_app.command("show")
def tools_show(name: str) -> None:
    """Show one tool's description and argument schema."""
    with open_service(telemetry=False) as service:
        t = service.tool(name)
    print_json(
        {
            "name": t.name,
            "description": t.description,
            "risk": t.risk.value,
            "side_effects": t.side_effects,
            "idempotent": t.idempotent,
            "timeout_s": t.timeout_s,
            "arguments": t.arguments,
        }
    )


@sandbox_app.command("status")
def sandbox_status(as_json: bool = JSON) -> None:
    """Summarise the sandbox: services, faults, database, certificates, jobs."""
    with open_service() as service:
        status = service.sandbox_status()
    if as_json:
        print_json(status)
        return
    from rich.console import Console

    Console(highlight=False).print_json(data=status)


@sandbox_app.command("inject")
def sandbox_inject(
    fault: str = typer.Argument(..., help="fault name; see `copilot sandbox faults`"),
    target: str | None = typer.Option(None, help="service, job, domain... (default: per fault)"),
) -> None:
    """Inject a fault into the sandbox (an operator action, not a tool: it is not audited)."""
    with open_service() as service:
        print(service.inject_fault(fault, target))


@sandbox_app.command("faults")
def sandbox_faults() -> None:
    """List the faults that can be injected."""
    with open_service(telemetry=False) as service:
        faults = service.sandbox_faults()
    for name, text in faults.items():
        print(f"{name:18} {text}")


@sandbox_app.command("reset")
def sandbox_reset() -> None:
    """Put the sandbox back to its healthy initial state (same seed)."""
    with open_service() as service:
        service.reset_sandbox()
    print("sandbox reset")


@sandbox_app.command("serve-metrics")
def sandbox_serve_metrics(
    port: int = typer.Option(9464, help="port to listen on (0: any free port)"),
    host: str = typer.Option("127.0.0.1", help="address to bind"),
) -> None:
    """Serve the sandbox's metrics for Prometheus to scrape at /metrics (Ctrl-C stops)."""
    import threading

    with open_service() as service:
        server, bound = service.serve_sandbox_metrics(host, port)
        print(f"serving sandbox metrics on http://{host}:{bound}/metrics", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
            server.server_close()


@audit_app.command("verify")
def audit_verify(
    anchor: str | None = typer.Option(None, help="SEQ:HASH of a head recorded earlier"),
    as_json: bool = JSON,
) -> None:
    """Recompute the hash chain; exit 1 naming the first edited, deleted or reordered event."""
    with open_service() as service:
        report = service.verify_audit(anchor)
    if as_json:
        print_json(report.__dict__)
    elif report.ok:
        print(f"ok: {report.events} events verify; head {report.head_seq}:{report.head_hash}")
        print("  (record that head elsewhere and pass it as --anchor to detect a full rewrite)")
    else:
        print(
            f"TAMPERED: {report.problem} — keep this database for investigation, restore the "
            "log from a backup, and compare `copilot audit export` against your last anchor",
            file=sys.stderr,
        )
        for row in report.unbacked:
            print(f"  unbacked: {row}", file=sys.stderr)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or ocsf"),
    output: Path | None = typer.Option(None, "--output", "-o", help="file (default stdout)"),
) -> None:
    """Export the audit log as JSON lines or OCSF API Activity (class 6003)."""
    from copilot.errors import InvalidInput

    with open_service() as service:
        lines = service.export_audit(fmt)
        try:
            out = output.open("w", encoding="utf-8") if output else sys.stdout
        except OSError as exc:
            raise InvalidInput(
                f"cannot write {output}: {exc.strerror}", "pick a writable path"
            ) from None
        try:
            for line in lines:
                out.write(line + "\n")
        finally:
            if output:
                out.close()


@policy_app.command("check")
def policy_check() -> None:
    """Load and validate the policies and schema (exit 78 with file:line on error); warn
    of changes they let run with no approval (exit 11)."""
    from copilot.surfaces.cli.errors import UnapprovedWrites

    with open_service(telemetry=False) as service:
        summary = service.check_policy()
    loaded = f"policies load and match the schema ({summary.tools} tools, {summary.users} users)"
    print(f"{'' if summary.unapproved else 'ok: '}{loaded}")
    if not summary.users:
        print('note: no users are configured ([users.NAME] in copilot.toml, or users = "demo")')
    for w in summary.unapproved:
        who = "anyone (even a user with no role)" if w.who == ["anyone"] else ", ".join(w.who)
        print(
            f"warning: {w.tool} ({w.risk.value} risk) runs with no approval for {who}; "
            f"allowed by {', '.join(w.policy_ids) or 'policy'}",
            file=sys.stderr,
        )
    if summary.unapproved:
        raise UnapprovedWrites(
            f"policy lets {len(summary.unapproved)} change(s) run with no approval",
            "require approvals in the permit that allows them (context.approval_count >= 1); "
            "exit 11 means only this, for a policy that allows it on purpose",
        )


@bench_app.command("core")
def bench_core(
    as_json: bool = JSON,
    events: int = typer.Option(20000, min=100, help="audit events to append, one tx each"),
    verify_events: int = typer.Option(1_000_000, min=1000, help="length of chain to verify"),
) -> None:
    """Policy latency, audit appends/s, verify rate and executor overhead."""
    from copilot.bench.core import print_table, run_core_bench

    figures = run_core_bench(events=events, verify_events=verify_events)
    if as_json:
        print_json(figures)
    else:
        print_table(figures)


@bench_app.command("turn")
def bench_turn(
    as_json: bool = JSON,
    turns: int = typer.Option(200, min=1, help="timed turns, each a fresh conversation"),
    warmup: int = typer.Option(20, min=0, help="untimed turns first"),
) -> None:
    """The copilot's own time per turn (event in, reply out) with an instant model."""
    from copilot.bench.turn import print_table as print_turn
    from copilot.bench.turn import run_turn_bench

    figures = run_turn_bench(turns=turns, warmup=warmup)
    if as_json:
        print_json(figures)
    else:
        print_turn(figures)


@bench_app.command("web")
def bench_web(
    as_json: bool = JSON,
    clients: int = typer.Option(4, min=1, max=32, help="signed-in people asking at once"),
    turns: int = typer.Option(5, min=1, help="turns per person, each a new conversation"),
) -> None:
    """The web surface on loopback: turn latency over HTTP, /healthz while turns run, and
    how soon a second person's live page shows a reply."""
    from copilot.bench.web import print_table as print_web
    from copilot.bench.web import run_web_bench

    figures = run_web_bench(clients=clients, turns=turns)
    if as_json:
        print_json(figures)
    else:
        print_web(figures)


@bench_app.command("slack")
def bench_slack(
    as_json: bool = JSON,
    threads: int = typer.Option(50, min=1, max=200, help="senders at once, a channel each"),
    pace: float = typer.Option(0.25, min=0, max=10, help="mean pause before each request (s)"),
) -> None:
    """The Slack surface on loopback against a fake Slack: acknowledgement latency of signed
    events and button presses, errors, and retried events answered twice."""
    from copilot.bench.slack import print_table as print_slack
    from copilot.bench.slack import run_slack_bench

    figures = run_slack_bench(threads=threads, pace_s=pace)
    if as_json:
        print_json(figures)
    else:
        print_slack(figures)


@bench_app.command("retrieval")
def bench_retrieval(
    corpora: Path | None = typer.Option(None, "--corpora", help="the corpora folder"),
    distractors: int = typer.Option(
        10_000, min=0, help="pad the index with about this many distractor chunks"
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The public retrieval benchmark: recall@1/3, MRR, abstention, latency, ingest rate."""
    from copilot.bench.retrieval import run_retrieval_bench

    figures = run_retrieval_bench(corpora, distractors)
    if as_json:
        print_json(figures)
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")


@bench_app.command("redact")
def bench_redact(
    as_json: bool = JSON,
    corpus: Path | None = typer.Option(
        None, help="folder holding gitleaks-examples.json (default: ../shared/corpora/secrets)"
    ),
    size_mb: float = typer.Option(8.0, min=0.01, help="size of the generated incident log"),
    seed: int = typer.Option(0, help="seed of the generated log"),
    runs: int = typer.Option(5, min=1, help="timed runs over the log (the median is reported)"),
    peer_seconds: float = typer.Option(10.0, min=0.1, help="time detect-secrets gets on the log"),
    no_peer: bool = typer.Option(False, "--no-peer", help="skip detect-secrets"),
) -> None:
    """Redaction recall, false positives and MB/s, against detect-secrets on the same input."""
    from copilot.bench.redact import print_table as print_redact
    from copilot.bench.redact import run_redact_bench

    figures = run_redact_bench(
        corpus, size_mb=size_mb, seed=seed, peer=not no_peer, runs=runs, peer_seconds=peer_seconds
    )
    if as_json:
        print_json(figures)
    else:
        print_redact(figures)


@bench_app.command("tokens")
def bench_tokens(
    as_json: bool = JSON,
    sizes: str = typer.Option("1000,10000", help="window sizes in lines, comma-separated"),
    max_templates: int = typer.Option(50, min=1, help="templates kept besides ERROR/FATAL ones"),
    seed: int = typer.Option(7, help="sandbox seed"),
) -> None:
    """Tokens of a raw sandbox log tail against its template window, causal line kept."""
    from copilot.bench.tokens import print_table as print_tokens
    from copilot.bench.tokens import run_tokens_bench

    try:
        windows = tuple(int(s) for s in sizes.split(",") if s.strip())
    except ValueError:
        raise typer.BadParameter("sizes: comma-separated integers", param_hint="--sizes") from None
    if not windows or min(windows) < 1:
        raise typer.BadParameter("sizes: at least one positive integer", param_hint="--sizes")
    figures = run_tokens_bench(sizes=windows, seed=seed, max_templates=max_templates)
    if as_json:
        print_json(figures)
    else:
        print_tokens(figures)
