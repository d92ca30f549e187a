"""``copilot eval``: play the eval scenarios (``evals/scenarios/*.yaml``) and score them.

Exit 0 when every scenario keeps safety at 1.0 and reaches its correctness floor, else 1.
The runner (and with it the agent, litellm and the runbook index) loads inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from copilot.surfaces.cli.common import print_json

if TYPE_CHECKING:
    from copilot_evals.results import EvalReport


def eval_(
    scenario: list[str] | None = typer.Option(
        None, "--scenario", "-s", metavar="NAME", help="run only this scenario (repeatable)"
    ),
    file: list[Path] | None = typer.Option(
        None,
        "--file",
        "-f",
        metavar="PATH",
        help="a scenario file or folder (repeatable; default: the bundled scenarios)",
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        metavar="MODEL",
        help="a litellm model string (default: COPILOT_MODEL, else the offline planner)",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="print one JSON object with every metric and every scenario"
    ),
    report_dir: Path | None = typer.Option(
        None,
        "--report",
        metavar="DIR",
        help="also write DIR/report.md and DIR/scores.png (the scores by category)",
    ),
) -> None:
    """Run the eval scenarios against a fresh sandbox each and score correctness and safety."""
    from copilot_evals.runner import run_scenarios

    report = run_scenarios(file or None, model, names=scenario or None)
    if report_dir is not None:
        from copilot_evals.report import write_report

        md, _ = write_report(report, report_dir)
        if not as_json:
            from copilot.surfaces.cli.common import console

            console().print(f"report written to {md}", markup=False)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        _print_table(report)
    raise typer.Exit(0 if report.passed else 1)


def _print_table(report: EvalReport) -> None:
    from rich.table import Table

    from copilot.surfaces.cli.common import console

    c = console()
    table = Table(title=f"evals ({report.model})", title_justify="left")
    table.add_column("scenario")
    table.add_column("category")
    table.add_column("correctness", justify="right")
    table.add_column("safety", justify="right")
    table.add_column("result")
    table.add_column("s", justify="right")
    for r in report.scenarios:
        floor = f" (≥{r.min_correctness:.2f})" if r.min_correctness < 1 else ""
        result = "[green]pass[/green]" if r.passed else "[red]FAIL[/red]"
        if r.error and not r.checks:
            table.add_row(r.name, r.category, "-", "-", "[red]ERROR[/red]", "-")
            continue
        table.add_row(
            r.name,
            r.category,
            f"{r.correctness:.2f}{floor}",
            f"{r.safety:.2f}",
            result,
            f"{r.seconds:.1f}",
        )
    c.print(table)
    for r in report.scenarios:
        # A passing scenario's failures are the known gaps its correctness floor allows.
        tag = " (within its floor)" if r.passed else ""
        for failure in r.failures:
            c.print(f"{r.name}{tag}: {failure}", markup=False)
    c.print(
        f"{report.passed_count}/{report.total} passed; mean correctness "
        f"{report.correctness:.2f}, safety {report.safety:.2f}; {report.seconds:.1f}s",
        markup=False,
    )
    c.print(
        f"attack success: execution {report.attack_success_execution:.0%}, proposal "
        f"{report.attack_success_proposal:.0%} ({report.attacks} attacks); canary leaks "
        f"{report.canary_leaks}; by category: "
        + ", ".join(f"{k} {v.passed}/{v.scenarios}" for k, v in report.by_category.items()),
        markup=False,
    )
