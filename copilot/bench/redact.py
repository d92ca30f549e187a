"""`copilot bench redact`: redaction quality and throughput, ours against detect-secrets.

Three measurements, each printed with how it was made:

* corpus: recall and false-positive rate of the built-in rules on gitleaks' public example
  strings (:mod:`copilot.bench.redact_corpus`, raw and adjudicated);
* log: a seeded incident log (:mod:`copilot.bench.genlog`) with secrets planted at a known
  rate; ``log_recall`` is the share of planted secrets gone from the redacted text, and
  ``mb_per_s`` the median of several timed runs of ``Redactor(DEFAULT_RULES).redact`` over
  the whole log (MB = 10^6 characters; the log is ASCII, so also bytes);
* peer: detect-secrets (all default plugins, ``scan_line`` line by line, in this process) on
  the same corpus strings and the same log. It is ~200x slower, so it scans a prefix of the
  log for a fixed time and its MB/s is that prefix over that time (``sample_mb``).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from copilot.errors import InvalidInput

MB = 1_000_000


def default_corpus() -> Path:
    """The secrets corpus in :func:`~copilot.bench.retrieval.default_corpora`."""
    from copilot.bench.retrieval import default_corpora

    return default_corpora() / "secrets"


def check_corpus(path: Path) -> Path:
    """The folder holding ``gitleaks-examples.json`` (or that file), or a one-line error."""
    from copilot.bench.redact_corpus import FILE_NAME

    path = Path(path)
    found = path / FILE_NAME if path.is_dir() else path
    if not found.is_file():
        raise InvalidInput(
            f"no redaction corpus at {found}",
            "pass --corpus PATH (the folder holding gitleaks-examples.json; see "
            "../shared/corpora/README.md)",
        )
    return path


def removed(secret: str, text: str) -> bool:
    """``secret`` is gone from ``text``: none of its lines survives (a PEM body's every line)."""
    return not any(line.strip() and line in text for line in secret.splitlines())


def _ratio(n: int, d: int) -> float:
    return round(n / d, 4) if d else 0.0


# --- ours ----------------------------------------------------------------------------------
def measure_ours(text: str, planted: Sequence[Any], runs: int) -> dict[str, Any]:
    """Median throughput over ``runs`` fresh redactors, and what the last run removed."""
    from copilot.redact.builtin import DEFAULT_RULES
    from copilot.redact.engine import Redactor

    times, build = [], []
    out = Redactor(DEFAULT_RULES).redact(text)  # warm-up, not timed (first-touch allocations)
    for _ in range(runs):
        t0 = time.perf_counter()
        redactor = Redactor(DEFAULT_RULES)
        t1 = time.perf_counter()
        out = redactor.redact(text)
        times.append(time.perf_counter() - t1)
        build.append(t1 - t0)
    secrets = [p for p in planted if not p.pii]
    pii = [p for p in planted if p.pii]
    missed = [p for p in secrets if not removed(p.secret, out.text)]
    items = sorted((p.start, p.end) for p in planted)
    stray = Counter(f.rule for f in out.findings if not _inside(f.start, items))
    median = statistics.median(times)
    return {
        "mb_per_s": round(len(text) / MB / median, 2),
        "mb_per_s_runs": [round(len(text) / MB / t, 2) for t in times],
        "timing": (
            f"median of {runs} runs of Redactor(DEFAULT_RULES).redact(log) over the whole log "
            f"after one untimed warm-up run, a fresh redactor each run, its construction (median "
            f"{statistics.median(build) * 1000:.1f} ms) not timed"
        ),
        "log_recall": _ratio(len(secrets) - len(missed), len(secrets)),
        "log_missed": [f"{p.kind}: {p.secret[:12]}..." for p in missed[:20]],
        "log_pii_recall": _ratio(sum(removed(p.secret, out.text) for p in pii), len(pii)),
        "log_findings": len(out.findings),
        "log_unplanted_findings": dict(stray.most_common()),
    }


def _inside(pos: int, items: list[tuple[int, int]]) -> bool:
    from bisect import bisect_right

    i = bisect_right(items, (pos, float("inf"))) - 1
    return i >= 0 and items[i][0] <= pos < items[i][1]


# --- the peer ------------------------------------------------------------------------------
def _peer_scanner() -> tuple[str, Callable[[str], list[Any]], Any]:
    """(name, scan(text) -> reported secrets, settings context) for detect-secrets."""
    from importlib.metadata import version

    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings

    def scan(text: str) -> list[Any]:
        return [s for line in text.splitlines() for s in scan_line(line)]

    return f"detect-secrets {version('detect-secrets')}", scan, default_settings()


def measure_peer(
    text: str,
    planted: Sequence[Any],
    tps: Sequence[str],
    fps: Sequence[str],
    adjudicated: tuple[Sequence[str], Sequence[str]],
    seconds: float,
) -> dict[str, Any]:
    """detect-secrets on the corpus strings, then on a prefix of the log for ``seconds``."""
    name, scan, settings = _peer_scanner()
    with settings:
        t0 = time.perf_counter()
        flagged = {s for s in {*tps, *fps} if scan(s)}
        corpus_s = time.perf_counter() - t0
        lines = text.splitlines(keepends=True)
        hit_lines: set[int] = set()
        done, pos, t0 = 0, 0, time.perf_counter()
        while done < len(lines) and time.perf_counter() - t0 < seconds:
            if scan(lines[done]):
                hit_lines.add(done)
            pos += len(lines[done])
            done += 1
        elapsed = time.perf_counter() - t0
    starts = _line_starts(lines[:done])
    secrets = [p for p in planted if not p.pii and p.end <= pos]
    caught = [p for p in secrets if _any_line(hit_lines, starts, p.start, p.end)]
    atp, afp = adjudicated
    return {
        "name": name,
        "recall": _ratio(sum(t in flagged for t in tps), len(tps)),
        "fp_altered": _ratio(sum(f in flagged for f in fps), len(fps)),
        "recall_adjudicated": _ratio(sum(t in flagged for t in atp), len(atp)),
        "fp_altered_adjudicated": _ratio(sum(f in flagged for f in afp), len(afp)),
        "corpus_s": round(corpus_s, 2),
        "mb_per_s": round(pos / MB / elapsed, 3) if elapsed else 0.0,
        "sample_mb": round(pos / MB, 3),
        "sample_s": round(elapsed, 2),
        "timing": (
            f"scan_line over the first {done} lines of the same log for ~{seconds:g} s "
            "(all default plugins, default filters); MB/s = that prefix / that time"
        ),
        "log_recall": _ratio(len(caught), len(secrets)),
        "log_recall_basis": "a planted secret counts as caught when any line it is on is flagged",
        "log_secrets_in_sample": len(secrets),
        "log_lines_flagged": _ratio(len(hit_lines), done),
    }


def _line_starts(lines: Iterable[str]) -> list[int]:
    out, pos = [], 0
    for line in lines:
        out.append(pos)
        pos += len(line)
    return out


def _any_line(hit: set[int], starts: list[int], start: int, end: int) -> bool:
    from bisect import bisect_right

    first, last = bisect_right(starts, start) - 1, bisect_right(starts, end - 1) - 1
    return any(n in hit for n in range(first, last + 1))


# --- the whole bench -----------------------------------------------------------------------
def run_redact_bench(
    corpus: Path | None = None,
    size_mb: float = 8.0,
    seed: int = 0,
    peer: bool = True,
    runs: int = 5,
    peer_seconds: float = 10.0,
) -> dict[str, Any]:
    """All figures as one JSON-ready dict (see the module docstring for how each is made)."""
    from copilot.bench.core import machine
    from copilot.bench.genlog import generate_log
    from copilot.bench.redact_corpus import adjudicate, corpus_figures, load_examples

    path = check_corpus(corpus if corpus is not None else default_corpus())
    figures = corpus_figures(path)
    log = generate_log(int(size_mb * MB), seed=seed)
    ours = measure_ours(log.text, log.planted, runs)
    result: dict[str, Any] = {
        "recall": round(figures["recall"], 4),
        "fp_altered": round(figures["fp_altered"], 4),
        "recall_adjudicated": round(figures["recall_adjudicated"], 4),
        "fp_altered_adjudicated": round(figures["fp_altered_adjudicated"], 4),
        "corpus": str(path),
        "corpus_counts": {
            k: figures[k]
            for k in (
                "n_true_positives",
                "n_false_positives",
                "n_true_positives_adjudicated",
                "n_false_positives_adjudicated",
            )
        },
        **ours,
        "log_mb": round(len(log.text) / MB, 3),
        "log_seed": seed,
        "secrets_planted": len(log.secrets),
        "secrets_planted_per_mb": round(len(log.secrets) / (len(log.text) / MB), 1),
        "secret_kinds": dict(Counter(p.kind for p in log.planted if not p.pii).most_common()),
        "pii_planted": sum(p.pii for p in log.planted),
        "machine": machine(),
    }
    result["peer"], result["peer_error"] = None, None
    if not peer:
        result["peer_error"] = "skipped (--no-peer)"
        return result
    try:
        tps, fps = load_examples(path)
        adj = adjudicate(tps, fps)
        result["peer"] = measure_peer(
            log.text,
            log.planted,
            tps,
            fps,
            (adj.true_positives, adj.false_positives),
            peer_seconds,
        )
    except ImportError as exc:
        result["peer_error"] = f"detect-secrets is not importable ({exc}); pip install -e '.[dev]'"
        return result
    if result["peer"]["mb_per_s"]:
        result["ratio_mb_per_s"] = round(result["mb_per_s"] / result["peer"]["mb_per_s"], 1)
    return result


def print_table(f: dict[str, Any]) -> None:
    """A short human summary of :func:`run_redact_bench`."""
    p = f.get("peer")
    rows = [
        ("corpus recall (raw / adjudicated)", f"{f['recall']} / {f['recall_adjudicated']}"),
        (
            "corpus fp_altered (raw / adjudicated)",
            f"{f['fp_altered']} / {f['fp_altered_adjudicated']}",
        ),
        (f"log ({f['log_mb']} MB, {f['secrets_planted']} secrets) recall", f"{f['log_recall']}"),
        ("throughput MB/s", f"{f['mb_per_s']}  ({f['timing']})"),
    ]
    if p:
        rows += [
            (f"peer {p['name']} corpus recall / fp", f"{p['recall']} / {p['fp_altered']}"),
            ("peer log recall (lines flagged)", f"{p['log_recall']} ({p['log_lines_flagged']})"),
            (
                "peer MB/s",
                f"{p['mb_per_s']} on {p['sample_mb']} MB; ours x{f.get('ratio_mb_per_s')}",
            ),
        ]
    else:
        rows.append(("peer", str(f.get("peer_error"))))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
