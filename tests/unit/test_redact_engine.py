"""The redaction engine and the gitleaks-format loader (the built-in rules are tested apart)."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot.bench.redact import default_corpus
from copilot.errors import ConfigError
from copilot.redact.engine import Redactor
from copilot.redact.gitleaks import load_gitleaks
from copilot.redact.rules import compile_rule

CORPUS = default_corpus()

PASSWORD = compile_rule(
    "password", r"password=(\S+)", group=1, keywords=("password",), entropy=2.5, allow=(r"^\$\{",)
)
TOKEN = compile_rule("demo-token", r"\bdmo_[A-Za-z0-9]{20}\b", keywords=("dmo_",))


def test_only_the_secret_goes_and_placeholders_are_stable():
    r = Redactor([PASSWORD, TOKEN])
    out = r.redact(
        "login password=Xk9$vQ2!mZ and token dmo_abcdefghij0123456789 "
        "then again password=Xk9$vQ2!mZ other password=Q7#rT1@pL0"
    )
    assert out.text == (
        "login password=[REDACTED:password:1] and token [REDACTED:demo-token:1] "
        "then again password=[REDACTED:password:1] other "
        "password=[REDACTED:password:2]"
    )
    assert [f.rule for f in out.findings] == ["password", "demo-token", "password", "password"]
    # the same secret in a later message of the same conversation keeps its name
    assert r.text("password=Q7#rT1@pL0") == "password=[REDACTED:password:2]"


def test_entropy_allowlist_and_validators_veto():
    r = Redactor([PASSWORD])
    assert r.text("password=aaaaaaaa password=${DB_PASSWORD}") == (
        "password=aaaaaaaa password=${DB_PASSWORD}"
    )
    even = compile_rule("even", r"\b\d{4}\b", validate=lambda s: int(s) % 2 == 0)
    assert Redactor([even]).text("1235 1236") == "1235 [REDACTED:even:1]"


def test_a_secret_across_a_window_boundary_is_caught():
    text = "x" * 95 + " dmo_abcdefghij0123456789 " + "y" * 200
    assert "dmo_" not in Redactor([TOKEN], window=100).text(text)


def test_a_pathological_pattern_fails_closed():
    slow = compile_rule("slow", r"(a|aa)+$")
    out = Redactor([slow], timeout_s=0.02).redact("a" * 5000 + "b and some text")
    assert [f.rule for f in out.findings] == ["scan-timeout"]
    assert "aaaa" not in out.text


def test_json_values_keep_their_shape():
    r = Redactor([PASSWORD])
    got = r.value({"cmd": ["run", "password=Xk9$vQ2!mZ"], "n": 3, "ok": True})
    assert got == {"cmd": ["run", "password=[REDACTED:password:1]"], "n": 3, "ok": True}


def test_gitleaks_file_loads_and_reports_what_it_skips():
    if not (CORPUS / "gitleaks.toml").exists():
        pytest.skip("the shared corpus is not beside the checkout")
    loaded = load_gitleaks(CORPUS / "gitleaks.toml")
    assert len(loaded.rules) >= 200
    assert all(s.line > 0 and s.reason for s in loaded.skipped)
    aws = next(r for r in loaded.rules if r.id == "aws-access-token")
    out = Redactor([aws]).text("key AKIAZ52HGXYRN4WBTEST here")
    assert "AKIAZ52HGXYRN4WBTEST" not in out


def test_broken_rule_files(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nid = "a"\nregex = "ok"\n\n[[rules]\nid = "b"\n')
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML.*line 5"):
        load_gitleaks(bad)
    mixed = tmp_path / "mixed.toml"
    mixed.write_text(
        "[[rules]]\nid = \"good\"\nregex = '''tok_[a-z]{8}\\z'''\n\n"
        "[[rules]]\nid = \"broken\"\nregex = '''(unclosed'''\n\n"
        "[[rules]]\nid = \"paths-only\"\npath = '''\\.pem$'''\n"
    )
    loaded = load_gitleaks(mixed)
    assert [r.id for r in loaded.rules] == ["good"]
    assert [(s.rule, s.line) for s in loaded.skipped] == [("broken", 6), ("paths-only", 10)]
    assert "does not compile" in loaded.skipped[0].reason
    assert Redactor(loaded.rules).text("x tok_abcdefgh") == "x [REDACTED:good:1]"


# --- what the engine learns from a pattern (copilot.redact.patterns) -----------------------
def test_literal_prefixes_are_what_every_match_starts_with():
    from copilot.redact.patterns import literal_prefixes

    assert literal_prefixes(r"\bghp_[A-Za-z0-9]{36}") == ("ghp_",)
    assert literal_prefixes(r"(?i:pass(?:word)?|pwd)=") == ("pass=", "password=", "pwd=")
    assert literal_prefixes(r"(?i:pass(?:word)?|pwd)\s*=") == ("pass", "pwd")  # nested kept once
    assert literal_prefixes(r"(?:proxy-)?Authorization\s") == (
        "authorization",
        "proxy-authorization",
    )
    assert literal_prefixes(r"(?<![\w])sk_(?:live|test)_") == ("sk_live_", "sk_test_")
    for unknown in (r"[a-z]+@", r"(?:x)?y", r"\Gkey", r"a|b"):  # no prefix, or too short
        assert literal_prefixes(unknown) == ()


def test_anchored_cost_bounds_cheap_patterns_and_refuses_catastrophic_ones():
    from copilot.redact.patterns import anchored_cost

    assert anchored_cost(r"ghp_[A-Za-z0-9]{36,251}(?![A-Za-z0-9])") is not None
    assert anchored_cost(r"key\s*[:=]\s*(\S{8,})") is not None  # \s* then ':' cannot overlap
    assert anchored_cost(r"\d(?:[ -]?+\d){12,18}") is not None
    for bad in (r"(a|aa)+$", r"(?:a\s+)*b", r"a*a*b", r"(\w+)\1", r"(?:x\s+)?\s*y"):
        assert anchored_cost(bad) is None, bad


def test_single_line_patterns():
    from copilot.redact.patterns import single_line

    assert single_line(r"ghp_[A-Za-z0-9]{36}(?![\w-])")
    assert single_line(r"[^\"\n]+")
    for spans in (r"key:\s*v", r"[^\"]+", r"(?s)a.b", r"(?s:.)", r"\D"):
        assert not single_line(spans), spans


def test_a_catastrophic_pattern_after_a_prefix_still_fails_closed():
    slow = compile_rule("slow", r"dmo_(a|aa)+$", keywords=("dmo_",))
    text = "ok line\ndmo_" + "a" * 5000 + "b and more\n"
    out = Redactor([slow], timeout_s=0.02).redact(text)
    assert [f.rule for f in out.findings] == ["scan-timeout"]
    assert "aaaa" not in out.text and out.text.startswith("ok line\n")


def test_case_folding_keeps_offsets_and_finds_kelvin_and_long_s():
    rule = compile_rule("k", r"(?i)key=(\w{8,})", group=1, keywords=("key",))
    assert Redactor([rule]).text("\u212aey=abcdefgh1 after") == "\u212aey=[REDACTED:k:1] after"
    tail = "İİ x key=Zq9rT2uV8kLm"
    assert Redactor([rule]).text(tail) == "İİ x key=[REDACTED:k:1]"


def test_digit_rules_scan_only_runs_of_digits_unless_other_digits_appear():
    num = compile_rule("num", r"(?<!\d)\d{13}(?!\d)", shapes=(rb"0{13}",), min_digits=13)
    r = Redactor([num])
    assert r.text("id 1234567890123 x 12345 y") == "id [REDACTED:num:1] x 12345 y"
    arabic = "".join(chr(0x660 + int(d)) for d in "1234567890123")  # \d, not 0-9: no shape
    assert r.text(f"a {arabic} b 1234567890123") == "a [REDACTED:num:2] b [REDACTED:num:1]"


def test_short_texts_take_the_fast_path_with_the_same_findings():
    """Texts under 4 KB collect keyword hits sparsely and skip rules with no keyword hit;
    padded past that size (the general path) they must give the same spans."""
    from copilot.redact.builtin import DEFAULT_RULES
    from copilot.redact.engine import Redactor

    samples = [
        "aws_access_key_id = AKIA" + "Q7ZK3M4N5P6R2S7T",
        "GITHUB_TOKEN=ghp_" + "Zq8Rm2LnX5vB7tK1wY4pS9dF3gH6jC0aE2uI",
        "postgres://app:S3cr3t-Pa55@db.internal:5432/app",
        "mail ops@example.org, card 4111 1111 1111 1111",
        "sandbox.get_metrics",
        "",
    ]
    r = Redactor(DEFAULT_RULES)
    for text in samples:
        short = [(s, e, rule.id) for s, e, rule in r.find(text)]
        long = [(s, e, rule.id) for s, e, rule in r.find(text + "\n" + " " * 5000)]
        assert short == long, text
    assert Redactor(DEFAULT_RULES).text(samples[4]) == samples[4]


def test_placeholder_memory_is_bounded_and_numbers_never_repeat(monkeypatch):
    from copilot.redact import engine
    from copilot.redact.engine import Redactor

    monkeypatch.setattr(engine, "MAX_REMEMBERED", 3)
    r = Redactor([])
    seen = [r.placeholder("k", f"secret-{i}") for i in range(10)]
    assert len(set(seen)) == 10 and len(r._placeholders) <= 3
    assert r.placeholder("k", "secret-9") == seen[9]  # still remembered: stable


def test_a_prefixed_token_after_a_path_or_an_id_separator_is_redacted() -> None:
    from copilot.redact.builtin import BUILTIN_RULES
    from copilot.redact.engine import Redactor

    token = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ2bC4"
    for text in (f"/tmp/{token}", f"inc-{token}", f"see https://x.example/{token} now"):
        assert token not in Redactor(BUILTIN_RULES).text(text), text
