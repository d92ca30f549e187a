"""The redaction engine and the gitleaks-format loader (the built-in rules are tested apart)."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot.errors import ConfigError
from copilot.redact.engine import Redactor
from copilot.redact.gitleaks import load_gitleaks
from copilot.redact.rules import compile_rule

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "secrets"

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
