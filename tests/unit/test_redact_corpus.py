"""Built-in redaction rules against gitleaks' public true/false-positive example strings.

The corpus (``../shared/corpora/secrets/gitleaks-examples.json``) is scored with our own
rules only. Its strings were extracted from gitleaks' rule generator, so some "true
positives" are not secrets at all (rule ids, regex sources, file names, bare words) and some
strings are listed both as a true and a false positive. The test reports two views:

* raw: every string as labelled;
* adjudicated: the same corpus minus strings that cannot be judged on their text, by fixed
  mechanical criteria (see ``_adjudicate``), each excluded string printed with ``-s``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from copilot.redact.builtin import BUILTIN_RULES, DEFAULT_RULES, IP_RULES, PII_RULES, luhn_ok
from copilot.redact.rules import Rule, shannon_entropy

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "secrets"
EXAMPLES = CORPUS / "gitleaks-examples.json"

# Measured floors / ceilings (raise them when the rules get better, never lower silently).
RAW_RECALL_FLOOR = 0.68  # measured 0.6831 (250/366)
RAW_FP_CEILING = 0.105  # measured 0.1037 (28/270)
ADJ_RECALL_FLOOR = 0.945  # measured 0.9461 (228/241)
ADJ_FP_CEILING = 0.045  # measured 0.0439 (10/228)


# --- a tiny self-contained scorer ---------------------------------------------------------
def _spans(rules: tuple[Rule, ...], text: str) -> list[tuple[int, int]]:
    low = text.lower()
    out = []
    for rule in rules:
        if rule.keywords and not any(k in low for k in rule.keywords):
            continue
        for m in rule.pattern.finditer(text):
            group = rule.group
            if group == -1:
                group = next(
                    (g for g in range(1, m.re.groups + 1) if m.span(g)[1] > m.span(g)[0]), 0
                )
            start, end = m.span(group)
            if start < 0 or end <= start:
                continue
            secret = text[start:end]
            if rule.entropy is not None and shannon_entropy(secret) < rule.entropy:
                continue
            if any(a.search(secret) for a in rule.allow):
                continue
            if rule.validate is not None and not rule.validate(secret):
                continue
            out.append((start, end))
    return out


def redact(text: str, rules: tuple[Rule, ...] = BUILTIN_RULES) -> str:
    spans = sorted(_spans(rules, text))
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    for s, e in reversed(merged):
        text = text[:s] + "[REDACTED]" + text[e:]
    return text


_SPLIT = re.compile(r"[\s\"'`=,;()<>{}\[\]|:/?&]+")


def _secret_of(text: str) -> str:
    """What must not survive: the token with the most information (length x entropy), once
    URLs and key=value pairs are split; tokens with a digit or mixed case first (key names
    such as ``X-Octopus-ApiKey`` or ``sumologic.accessId`` are words)."""
    tokens = [t for t in _SPLIT.split(text) if t]
    shaped = [t for t in tokens if re.search(r"\d|[a-z][A-Z].*[a-z][A-Z]", t) and len(t) >= 8]
    return max(shaped or tokens, key=lambda t: len(t) * shannon_entropy(t), default=text)


def caught(text: str) -> bool:
    out = redact(text)
    return out != text and _secret_of(text) not in out


# --- which strings can be judged on their text ---------------------------------------------
_REGEX_SOURCE = re.compile(r"\\[sdwbSDWz.+\\]|\(\?|\]\{|\[[a-zA-Z]-[a-zA-Z]")
_FILE_NAME = re.compile(r"^[\w./-]+\.(?:ya?ml|json|xml|config|php|hcl|js|html|p12|pfx|sh)$", re.I)
_CANDIDATE = re.compile(r"[^\s\"'`=,;()<>{}\[\]|]{8,}")


def _has_candidate(text: str) -> bool:
    """A token a secret could be: 8+ characters, entropy >= 3, a letter and a digit, or
    20+ characters of mixed case (letters-only tokens such as hf_...)."""
    for t in _CANDIDATE.findall(text):
        if shannon_entropy(t) < 3.0 or not re.search(r"[A-Za-z]", t):
            continue
        if re.search(r"\d", t):
            return True
        if len(t) >= 20 and re.search(r"[a-z]", t) and re.search(r"[A-Z]", t):
            return True
    return False


def _adjudicate(data: list[dict]) -> tuple[list[str], list[str], dict[str, list[str]]]:
    tps = [t for r in data for t in r["true_positives"]]
    fps = [t for r in data for t in r["false_positives"]]
    tp_set, fp_set = set(tps), set(fps)
    why: dict[str, list[str]] = {
        "both": [],
        "regex": [],
        "filename": [],
        "no-candidate": [],
        "fp-holds-tp": [],
    }
    keep_tp = []
    for t in tps:
        if t in fp_set:
            why["both"].append(t)
        elif _REGEX_SOURCE.search(t):
            why["regex"].append(t)
        elif _FILE_NAME.match(t.strip()):
            why["filename"].append(t)
        elif not _has_candidate(t):
            why["no-candidate"].append(t)
        else:
            keep_tp.append(t)
    secrets = [t for t in keep_tp if len(t) >= 8]
    keep_fp = []
    for f in fps:
        if f in tp_set:
            why["both"].append(f)
        elif any(s in f for s in secrets):
            why["fp-holds-tp"].append(f)
        else:
            keep_fp.append(f)
    return keep_tp, keep_fp, why


def _score(tps: list[str], fps: list[str]) -> tuple[float, float, list[str], list[str]]:
    missed = [t for t in tps if not caught(t)]
    altered = [f for f in fps if redact(f) != f]
    return 1 - len(missed) / len(tps), len(altered) / len(fps), missed, altered


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    if not EXAMPLES.is_file():
        pytest.skip(f"public corpus not found at {EXAMPLES} (see ../shared/corpora/README.md)")
    return json.loads(EXAMPLES.read_text(encoding="utf-8"))


def test_corpus_recall_and_false_positives(corpus: list[dict]) -> None:
    tps = [t for r in corpus for t in r["true_positives"]]
    fps = [t for r in corpus for t in r["false_positives"]]
    recall, fp_rate, missed, altered = _score(tps, fps)
    adj_tps, adj_fps, why = _adjudicate(corpus)
    adj_recall, adj_fp, adj_missed, adj_altered = _score(adj_tps, adj_fps)
    print(f"\nrules: {len(BUILTIN_RULES)} built-in secret rules")
    print(
        f"raw:         recall {recall:.4f} ({len(tps) - len(missed)}/{len(tps)})"
        f"  fp_altered {fp_rate:.4f} ({len(altered)}/{len(fps)})"
    )
    print(
        f"adjudicated: recall {adj_recall:.4f} ({len(adj_tps) - len(adj_missed)}/{len(adj_tps)})"
        f"  fp_altered {adj_fp:.4f} ({len(adj_altered)}/{len(adj_fps)})"
    )
    for reason, items in why.items():
        print(f"  excluded [{reason}] {len(items)}: {[i[:60] for i in items]}")
    for t in adj_missed:
        print(f"  MISSED  {t[:140]!r}")
    for f in adj_altered:
        print(f"  ALTERED {f[:140]!r} -> {redact(f)[:140]!r}")
    assert recall >= RAW_RECALL_FLOOR
    assert fp_rate <= RAW_FP_CEILING
    assert adj_recall >= ADJ_RECALL_FLOOR
    assert adj_fp <= ADJ_FP_CEILING


# --- formats ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("aws_access_key_id = AKIAZ3MSJV4WWNKWW5FG", "AKIAZ3MSJV4WWNKWW5FG"),
        ("aws_secret_access_key = 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", "Zq9/rT2uV+8kLm3nP4"),
        ("export GITHUB_TOKEN=ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ2bC4", "ghp_aB3d"),
        ("token: glpat-" + "Xy7_kQ2mN9pR4sT6vW8z", "glpat-Xy7"),
        ("SLACK=xoxb-" + "781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD", "GkwFDQ"),
        ("https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/Zx8yW7vU6tS5rQ4pO3nM2lK1", "Zx8yW7"),
        ("postgres://app:S3cr3t-Pa55@db.internal:5432/app", "S3cr3t-Pa55"),
        ("DB_PASSWORD=hunter2hunter", "hunter2hunter"),
        ('{"client_secret": "q8Zr2LmN5vX7bT1kW4yP9sD3"}', "q8Zr2LmN5vX7bT1kW4yP9sD3"),
        ("Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0", "9f8e7d6c5b4a39281706f5e4"),
        ("  password: cGFzc3dvcmQxMjM=", "cGFzc3dvcmQxMjM="),
        ("curl -u deploy:Tr0ub4dor3x https://ci.example.org", "Tr0ub4dor3x"),
        ("key=sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc4eC39Hq", "sk_live_4eC"),
        (
            "ANTHROPIC_API_KEY=sk-ant-api03-" + "q8Zr2LmN5vX7bT1kW4yP9sD3-" * 4 + "aAA",
            "sk-ant-api03-q8",
        ),
    ],
)
def test_format_is_redacted(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out, out


def test_assignment_keeps_the_key() -> None:
    assert redact("password=Xk29vLq8zP") == "password=[REDACTED]"
    assert redact('api_key: "q8Zr2LmN5vX7bT1kW4yP9sD3"') == 'api_key: "[REDACTED]"'


@pytest.mark.parametrize(
    "text",
    [
        "password: ${DB_PASSWORD}",
        "password=changeme",
        'token = "<your token here>"',
        "api_key: xxxxxxxxxxxxxxxxxxxx",
        "secretName: postgres-credentials",
        "password = var.db_password",
        "token_url: https://auth.example.com/oauth/token",
        "key: app.kubernetes.io/name",
        "commit 4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39 fixed the leak",
        "request_id=6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b status=500",
    ],
)
def test_placeholders_and_noise_survive(text: str) -> None:
    assert redact(text) == text


def test_private_key_block_spans_lines() -> None:
    body = "MIIEowIBAAKCAQEAx7Y2\nq8Zr2LmN5vX7bT1kW4yP9sD3\n"
    text = f"-----BEGIN RSA PRIVATE KEY-----\n{body}-----END RSA PRIVATE KEY-----\n"
    out = redact(text)
    assert "q8Zr2LmN5vX7bT1kW4yP9sD3" not in out
    assert out.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert any("multiline" in r.tags for r in BUILTIN_RULES)


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert luhn_ok("4111 1111 1111 1111")
    assert luhn_ok("79927398713")
    assert not luhn_ok("4111111111111112")
    assert not luhn_ok("1")


def test_pii_rules() -> None:
    text = "card 4111 1111 1111 1111, not 4111 1111 1111 1112; mail ops@example.org"
    out = redact(text, PII_RULES)
    assert "4111 1111 1111 1111" not in out
    assert "4111 1111 1111 1112" in out
    assert "ops@example.org" not in out
    assert any("luhn" in r.tags for r in PII_RULES)
    assert redact("call +1 415-555-0132 now", PII_RULES) == "call [REDACTED] now"


def test_ips_are_separate_and_off_by_default() -> None:
    line = "connect to 10.0.12.7 failed"
    assert redact(line, DEFAULT_RULES) == line
    assert redact(line, IP_RULES) == "connect to [REDACTED] failed"
    assert not {r.id for r in IP_RULES} & {r.id for r in DEFAULT_RULES}
