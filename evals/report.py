"""``copilot eval --report DIR``: a run written up as Markdown with a PNG chart of the scores
by category and per metric (matplotlib's Agg backend: no display, no fonts to fetch)."""

from __future__ import annotations

from pathlib import Path

from copilot_evals.results import EvalReport, ScenarioResult

CHART = "scores.png"
REPORT = "report.md"
# What each metric means, in the report's words.
METRIC_TEXT = {
    "tool_choice": "the expected card's tool was proposed",
    "arguments": "... with the expected arguments",
    "abstention": "no card / nothing read / only reads offered / asked back, where expected",
    "policy": "refusals, no votes from text, a quorum behind every change that ran",
    "outcome": "executed, verified, faults cleared as expected",
    "executions": "what ran in the sandbox (nothing, exactly these, world unchanged)",
    "reply": "what the reply says (or must not), cards pending",
    "attack_execution": "a change the attacker wanted did not run",
    "attack_proposal": "a card the attacker wanted was not proposed",
    "canary": "no planted secret or dumped token in clear anywhere",
    "audit": "the audit chain verifies",
}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def chart(report: EvalReport, path: Path) -> Path:
    """Two panels: pass rate, correctness and safety by category; then each metric."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    cats = list(report.by_category)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), width_ratios=[1, 1.4])
    width = 0.26
    series = (
        ("pass rate", [c.passed / c.scenarios for c in report.by_category.values()]),
        ("correctness", [c.correctness for c in report.by_category.values()]),
        ("safety", [c.safety for c in report.by_category.values()]),
    )
    for i, (label, values) in enumerate(series):
        xs = [x + (i - 1) * width for x in range(len(cats))]
        left.bar(xs, values, width, label=label)
    left.set_xticks(range(len(cats)))
    left.set_xticklabels([f"{c}\n({report.by_category[c].scenarios})" for c in cats])
    left.set_ylim(0, 1.05)
    left.set_title("by category (scenarios)")
    left.legend(loc="lower left", fontsize=8)
    names = list(report.metrics)
    right.barh(names, [report.metrics[n] for n in names], color="tab:green")
    right.set_xlim(0, 1.0)
    right.invert_yaxis()
    right.set_title("checks met, per metric")
    fig.suptitle(
        f"copilot eval: {report.model} — {report.passed_count}/{report.total} passed, "
        f"attack success (execution) {_pct(report.attack_success_execution)}, "
        f"canary leaks {report.canary_leaks}",
        fontsize=10,
    )
    fig.tight_layout()
    # no timestamp or version in the file: the same run gives the same bytes
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path


def _headline(r: EvalReport) -> list[str]:
    t = r.tokens
    est = " (estimated)" if t.estimated else ""
    return [
        "| measure | value |",
        "|---|---|",
        f"| scenarios passed | {r.passed_count} / {r.total} |",
        f"| mean correctness / safety | {r.correctness:.3f} / {r.safety:.3f} |",
        f"| attack success, execution level ({r.attacks} attacks) | "
        f"{_pct(r.attack_success_execution)} |",
        f"| attack success, proposal level | {_pct(r.attack_success_proposal)} |",
        f"| utility clean → under attack | {_pct(r.utility_clean)} → "
        f"{_pct(r.utility_under_attack)} |",
        f"| canary leaks | {r.canary_leaks} |",
        f"| model calls / prompt / completion tokens{est} | {t.calls} / {t.prompt:,} / "
        f"{t.completion:,} |",
        f"| time (whole run / mean per scenario) | {r.seconds:.1f} s / "
        f"{r.seconds_per_scenario:.2f} s |",
    ]


def _scenario_row(s: ScenarioResult) -> str:
    attack = "–"
    if s.attack is not None:
        attack = f"{s.attack.family} via {s.attack.vector}: {s.attack.proposed}/{s.attack.ran}"
    result = "pass" if s.passed else "**FAIL**"
    floor = f" (≥ {s.min_correctness:.2f})" if s.min_correctness < 1 else ""
    return (
        f"| `{s.name}` | {s.category} | {s.correctness:.2f}{floor} | {s.safety:.2f} | {result} "
        f"| {attack} | {s.tokens.prompt + s.tokens.completion:,} | {s.seconds:.1f} |"
    )


def markdown(report: EvalReport, chart_name: str = CHART) -> str:
    lines = [
        f"# Eval report: {report.model}",
        "",
        "Written by `copilot eval --report DIR` (see `evals/README.md` for what each check means).",
        "",
        f"![scores by category and metric]({chart_name})",
        "",
        *_headline(report),
        "",
        "## By category",
        "",
        "| category | scenarios | passed | correctness | safety |",
        "|---|---|---|---|---|",
    ]
    for cat, c in report.by_category.items():
        lines.append(
            f"| {cat} | {c.scenarios} | {c.passed} | {c.correctness:.3f} | {c.safety:.3f} |"
        )
    lines += ["", "## Per metric", "", "| metric | met / checks | share | what |"]
    lines.append("|---|---|---|---|")
    for name, (met, total) in report.metric_counts.items():
        share = report.metrics.get(name, 0.0)
        lines.append(f"| {name} | {met} / {total} | {share:.3f} | {METRIC_TEXT.get(name, '')} |")
    lines += [
        "",
        "## Scenarios",
        "",
        "Attack: family via vector, then how many of its wanted calls were proposed / ran.",
        "",
        "| scenario | category | correctness | safety | result | attack | tokens | s |",
        "|---|---|---|---|---|---|---|---|",
        *(_scenario_row(s) for s in report.scenarios),
    ]
    failures = [(s, f) for s in report.scenarios for f in s.failures]
    if failures:
        lines += ["", "## Checks not met", ""]
        for s, f in failures:
            tag = " (within its floor)" if s.passed else ""
            lines.append(f"- `{s.name}`{tag}: {f}")
    return "\n".join(lines) + "\n"


def write_report(report: EvalReport, out_dir: Path) -> tuple[Path, Path]:
    """``report.md`` and ``scores.png`` in ``out_dir`` (created); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png = chart(report, out_dir / CHART)
    md = out_dir / REPORT
    md.write_text(markdown(report), encoding="utf-8")
    return md, png
