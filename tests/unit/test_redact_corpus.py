"""Built-in redaction rules against gitleaks' public true/false-positive example strings.

The corpus (``../shared/corpora/secrets/gitleaks-examples.json``) is scored with our own
rules only. Its strings were extracted from gitleaks' rule generator, so some "true
positives" are not secrets at all (rule ids, regex sources, file names, bare words) and some
strings are listed both as a true and a false positive. The test reports two views:

* raw: every string as labelled;
* adjudicated: the same corpus minus strings that cannot be judged on their text, by fixed
  mechanical criteria (see ``copilot.bench.redact_corpus.adjudicate``), each excluded
  string printed with ``-s``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from copilot.bench.redact_corpus import FILE_NAME, corpus_figures, report
from copilot.redact.builtin import BUILTIN_RULES, DEFAULT_RULES, IP_RULES, PII_RULES, luhn_ok
from copilot.redact.engine import Redactor
from copilot.redact.rules import Rule

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "secrets"

# Measured floors / ceilings (raise them when the rules get better, never lower silently).
RAW_RECALL_FLOOR = 0.68  # measured 0.6831 (250/366)
RAW_FP_CEILING = 0.105  # measured 0.1037 (28/270)
ADJ_RECALL_FLOOR = 0.945  # measured 0.9461 (228/241)
ADJ_FP_CEILING = 0.045  # measured 0.0439 (10/228)


def redact(text: str, rules: tuple[Rule, ...] = BUILTIN_RULES) -> str:
    """The real engine, placeholders flattened to ``[REDACTED]`` for readable asserts."""
    return re.sub(r"\[REDACTED:[^\]]*\]", "[REDACTED]", Redactor(rules).text(text))


def test_corpus_recall_and_false_positives() -> None:
    if not (CORPUS / FILE_NAME).is_file():
        pytest.skip(f"public corpus not found at {CORPUS} (see ../shared/corpora/README.md)")
    figures = corpus_figures(CORPUS)
    print("\n" + report(figures, Redactor(BUILTIN_RULES)))
    assert figures["recall"] >= RAW_RECALL_FLOOR
    assert figures["fp_altered"] <= RAW_FP_CEILING
    assert figures["recall_adjudicated"] >= ADJ_RECALL_FLOOR
    assert figures["fp_altered_adjudicated"] <= ADJ_FP_CEILING


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
