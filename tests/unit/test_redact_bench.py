"""`copilot bench redact`: the log generator, the figures' shape, recall on the generated
log, and that the faster engine finds exactly what a plain scan of each region finds.

Quality and shape only: no timing is asserted here (timings live in the bench)."""

from __future__ import annotations

import json
import subprocess
import sys
from bisect import bisect_right
from pathlib import Path

import pytest
import regex

from copilot.bench.genlog import TOKENS, generate_log
from copilot.bench.redact import default_corpus, removed, run_redact_bench
from copilot.ids import inside_digest, inside_system_id
from copilot.redact.builtin import DEFAULT_RULES, IP_RULES
from copilot.redact.engine import Redactor, _resolve
from copilot.redact.rules import Rule

CORPUS = default_corpus()
HAVE_CORPUS = (CORPUS / "gitleaks-examples.json").is_file()
BENCH = (sys.executable, "-m", "copilot", "bench", "redact")
LOG_RECALL_FLOOR = 0.995  # measured 1.0 on seeds 0-2 (every planted secret removed)


def test_the_generator_is_deterministic_per_seed():
    a, b = generate_log(150_000, seed=3), generate_log(150_000, seed=3)
    assert a.text == b.text and a.planted == b.planted
    assert generate_log(150_000, seed=4).text != a.text
    assert 150_000 <= len(a.text) < 160_000 and a.text.isascii()


def test_the_generator_plants_what_it_says():
    log = generate_log(400_000, seed=1)
    assert len(log.secrets) >= 40  # ~160 a MB at the default rate
    for p in log.planted:
        assert p.secret in log.text[p.start : p.end], p
    kinds = {p.kind for p in log.planted if not p.pii}
    assert {"private-key", "password-assignment", "url-credentials", "jwt"} <= kinds
    assert {p.kind for p in log.planted if p.pii} == {"email"}
    # numeric trace ids that pass the Luhn check are there to tempt the card rule
    assert regex.search(r'"trace_id": "\d{16}"', log.text)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_planted_secret_is_redacted(seed: int):
    log = generate_log(300_000, seed=seed)
    out = Redactor(DEFAULT_RULES).text(log.text)
    missed = [p for p in log.planted if not p.pii and not removed(p.secret, out)]
    recall = 1 - len(missed) / len(log.secrets)
    assert recall >= LOG_RECALL_FLOOR, [(p.kind, log.text[p.start : p.end]) for p in missed]


def test_each_generated_token_format_is_redacted_alone():
    import random

    rng = random.Random(0)
    redactor = Redactor(DEFAULT_RULES)
    for kind, make in TOKENS.items():
        secret = make(rng)
        assert secret not in redactor.text(f"value {secret} end"), kind


def test_removed_means_every_line_gone():
    assert removed("abc", "x [REDACTED] y")
    assert not removed("line one\nline two", "line two survived")


# --- the faster engine finds what a plain scan finds -------------------------------------
def plain_find(rules: tuple[Rule, ...], text: str) -> list[tuple[int, int, str]]:
    """The engine before it was made fast: every rule's pattern searched over whole keyword
    lines (with the lines around them for multiline rules), keyword-less rules over the
    whole text, merged exactly as the engine merges."""
    starts = [0] + [m.end() for m in regex.finditer("\n", text)]
    last, low = len(starts) - 1, text.lower()
    spans = []
    for rule in rules:
        if rule.keywords:
            lines = set()
            for k in rule.keywords:
                at = low.find(k)
                while at != -1:
                    lines.add(bisect_right(starts, at) - 1)
                    at = low.find(k, at + 1)
            before, after = (5, 100) if "multiline" in rule.tags else (0, 0)
            regions: list[list[int]] = []
            for n in sorted(lines):
                lo = starts[max(0, n - before)]
                top = min(last, n + after) + 1
                hi = starts[top] if top <= last else len(text)
                if regions and lo <= regions[-1][1]:
                    regions[-1][1] = max(regions[-1][1], hi)
                else:
                    regions.append([lo, hi])
        else:
            regions = [[0, len(text)]]
        for lo, hi in regions:
            for m in rule.pattern.finditer(text, lo, hi):
                span = Redactor._accept(rule, m)
                if span is not None:
                    spans.append((*span, rule))
    # ... less what lies inside the copilot's own ids and digests, as the engine leaves out.
    spans = [
        (s, e, r)
        for s, e, r in spans
        if not inside_system_id(text, s, e) and not (r.kind == "pii" and inside_digest(text, s, e))
    ]
    return [(s, e, r.id) for s, e, r in _resolve(spans)]


def test_findings_are_those_of_a_plain_scan_on_a_fixed_sample():
    rules = (*DEFAULT_RULES, *IP_RULES)
    parts = [generate_log(250_000, seed=7).text]
    parts += [
        "card 4111 1111 1111 1111, 4111-1111-1111-1111 and 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 x",
        "call +1 (415) 555-0132 or 415.555.0132 or +4915112345678; not 10.0.0.1 or v1.2.3.4",
        "api_key:\n  Zq9rT2uV8kLm3nP4qR7sT1vW5\npassword = 'Xk29vLq8zP' token=ghp_short",
        "key" * 500 + " sk" * 300 + "\n" + "4" * 40 + " 0" * 30,
    ]
    if HAVE_CORPUS:
        data = json.loads((CORPUS / "gitleaks-examples.json").read_text(encoding="utf-8"))
        parts += [t for r in data for t in (*r["true_positives"], *r["false_positives"])]
    for text in ("\n".join(parts), *parts[1:5]):
        got = [(s, e, r.id) for s, e, r in Redactor(rules).find(text)]
        assert got == plain_find(rules, text)


def test_a_value_keyed_as_an_id_is_not_a_card():
    r = Redactor(DEFAULT_RULES)
    assert r.text('{"trace_id": "4111111111111111"}') == '{"trace_id": "4111111111111111"}'
    assert r.text("orderId=4111111111111111") == "orderId=4111111111111111"
    assert "4111" not in r.text('{"card": "4111111111111111"}')
    assert "4111" not in r.text("paid with 4111 1111 1111 1111")


# --- the bench itself ----------------------------------------------------------------------
@pytest.mark.skipif(not HAVE_CORPUS, reason="the shared corpus is not beside the checkout")
def test_bench_prints_the_documented_figures():
    out = subprocess.run(
        [*BENCH, "--json", "--size-mb", "0.3", "--runs", "1", "--peer-seconds", "0.5"],
        capture_output=True,
        timeout=300,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    f = json.loads(out.stdout)
    for key in ("recall", "fp_altered", "recall_adjudicated", "fp_altered_adjudicated"):
        assert 0.0 <= f[key] <= 1.0
    assert f["mb_per_s"] > 0 and 0.25 <= f["log_mb"] <= 0.35 and f["secrets_planted"] > 0
    assert f["log_recall"] >= LOG_RECALL_FLOOR
    assert "median of 1 runs" in f["timing"] and "warm-up" in f["timing"]
    assert isinstance(f["machine"], dict)
    peer = f["peer"]
    if peer is None:  # detect-secrets is a dev dependency; without it the bench says why
        assert f["peer_error"]
        return
    assert peer["name"].startswith("detect-secrets")
    for key in ("recall", "fp_altered", "log_recall", "log_lines_flagged"):
        assert 0.0 <= peer[key] <= 1.0
    assert peer["mb_per_s"] > 0 and 0 < peer["sample_mb"] <= f["log_mb"]
    assert f["ratio_mb_per_s"] > 1


def test_bench_without_peer_and_its_keys():
    if not HAVE_CORPUS:
        pytest.skip("the shared corpus is not beside the checkout")
    f = run_redact_bench(size_mb=0.1, runs=1, peer=False)
    assert f["peer"] is None and "no-peer" in f["peer_error"]
    assert f["recall"] > 0.5 and f["fp_altered"] < 0.5


def test_a_missing_corpus_is_one_line_with_a_hint(tmp_path: Path):
    out = subprocess.run(
        [*BENCH, "--corpus", str(tmp_path)],
        capture_output=True,
        timeout=60,
        text=True,
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "no redaction corpus" in out.stderr
    assert "--corpus" in out.stderr
