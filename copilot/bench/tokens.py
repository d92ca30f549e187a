"""Tokens of a raw log tail against its template window (``copilot bench tokens``).

Each window is the newest ``lines`` log lines of the whole sandbox (every service, merged
by time, formatted as a log store prints them) a few minutes after a fault was injected:
a bad deploy of checkout (the causal line: ``unhandled exception on ...``) or a crash
loop (the causal line: the FATAL missing-config line). For each window: the tokens of the
raw tail, the tokens of ``render(template_window(...))``, their ratio, and whether the
first causal line is still in the rendered text verbatim.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

from copilot_tools._common.logtemplates import count_tokens, render, template_window, tokenizer_name

T0 = datetime(2025, 3, 4, 14, 30, 12, tzinfo=UTC)
FAULT_LEAD = timedelta(minutes=4)  # how long before the window's end the fault went in
HISTORY_HOURS = 3  # enough for 10k lines across the sandbox's services
CAUSAL = {"bad_deploy": "unhandled exception on ", "crash_loop": "missing"}


def sandbox_window(lines: int, fault: str = "bad_deploy", seed: int = 7) -> list[str]:
    """The newest ``lines`` lines of every sandbox service, ``FAULT_LEAD`` after ``fault``."""
    from copilot_tools.sandbox.faults import inject
    from copilot_tools.sandbox.genesis import new_world
    from copilot_tools.sandbox.telemetry import logs

    world = new_world(seed, T0 - timedelta(hours=HISTORY_HOURS + 1))
    world, _ = inject(world, fault, None, T0 - FAULT_LEAD)
    merged = []
    for service in sorted(world.services):
        seen = set()
        for hour in range(HISTORY_HOURS):  # one call reaches one hour back
            for line in logs(world, service, T0 - timedelta(hours=hour), limit=lines):
                if (line.ts, line.message) not in seen:
                    seen.add((line.ts, line.message))
                    merged.append((line.ts, service, line))
    merged.sort(key=lambda item: (item[0], item[1]))
    return [
        f"{ts.isoformat().replace('+00:00', 'Z')} {line.level} {service}/{line.pod} "
        f"{line.logger}: {line.message}"
        for ts, service, line in merged[-lines:]
    ]


def _causal(raw: list[str], fault: str) -> str | None:
    needle = CAUSAL[fault]
    for line in raw:
        if (" ERROR " in line or " FATAL " in line) and needle in line:
            return line.split(": ", 1)[1]
    return None


def measure(raw: list[str], fault: str, max_templates: int = 50) -> dict[str, Any]:
    rendered = render(template_window(raw, max_templates=max_templates))
    raw_tokens = count_tokens("\n".join(raw))
    templated = count_tokens(rendered)
    causal = _causal(raw, fault)
    return {
        "lines": len(raw),
        "fault": fault,
        "raw_tokens": raw_tokens,
        "templated_tokens": templated,
        "ratio": round(raw_tokens / max(1, templated), 2),
        "causal_kept": causal is not None and causal in rendered,
    }


def run_tokens_bench(
    sizes: tuple[int, ...] = (1000, 10000),
    faults: tuple[str, ...] = ("bad_deploy", "crash_loop"),
    seed: int = 7,
    max_templates: int = 50,
) -> dict[str, Any]:
    windows = [
        measure(sandbox_window(n, fault, seed), fault, max_templates)
        for n in sizes
        for fault in faults
    ]
    return {
        "windows": windows,
        "median_ratio": round(statistics.median(w["ratio"] for w in windows), 2),
        "tokenizer": tokenizer_name(),
    }


def print_table(figures: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("lines", "fault", "raw tokens", "templated", "ratio", "causal kept")
    for w in figures["windows"]:
        table.add_row(
            str(w["lines"]),
            w["fault"],
            str(w["raw_tokens"]),
            str(w["templated_tokens"]),
            f"{w['ratio']}×",
            "yes" if w["causal_kept"] else "NO",
        )
    console = Console()
    console.print(table)
    console.print(f"median ratio {figures['median_ratio']}×; tokenizer: {figures['tokenizer']}")
