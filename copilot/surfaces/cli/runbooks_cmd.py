"""`copilot runbooks ingest|search`: the runbook index from the command line."""

from __future__ import annotations

from pathlib import Path

import typer

from copilot.surfaces.cli.common import open_service, print_json

runbooks_app = typer.Typer(help="Ingest and search runbooks (offline embeddings + BM25).")


@runbooks_app.command("ingest")
def ingest(
    paths: list[Path] = typer.Argument(..., help="Markdown files or folders of runbooks"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Add new and changed runbooks; drop the chunks of files removed from those folders."""
    import sys

    with open_service(telemetry=False) as service:
        report = service.ingest_runbooks(paths)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for source, count in sorted(report.secrets.items()):
        # Stored redacted already; the author should still take them out of the file.
        secrets = "secret" if count == 1 else "secrets"
        print(
            f"warning: {source}: {count} {secrets} replaced by placeholders "
            "(keep secrets in your secret store, not in runbooks)",
            file=sys.stderr,
        )
    if as_json:
        print_json(report.model_dump())
        return
    print(
        f"{report.runbooks} runbooks: {report.added} chunks added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.removed} removed"
    )


@runbooks_app.command("search")
def search(
    text: str = typer.Argument(..., help="an alert name, a symptom, a question"),
    k: int = typer.Option(3, "--k", min=1, max=20, help="runbooks to show"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Ranked runbooks with their scores, or an explicit abstention."""
    with open_service(telemetry=False) as service:
        result = service.search_runbooks(text, k=k)
    if as_json:
        print_json(result.model_dump())
        return
    if result.abstained:
        print(f"no runbook matches: {result.reason}")
    for n, hit in enumerate(result.hits, 1):
        mark = "  (below the confidence threshold)" if result.abstained else ""
        print(
            f"{n}. {hit.source} — {hit.heading}  score {hit.score:.4f} "
            f"similarity {hit.similarity} bm25 {hit.lexical}{mark}"
        )
