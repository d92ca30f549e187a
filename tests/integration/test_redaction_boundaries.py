"""A secret planted anywhere in the flow comes out of no boundary in clear.

Each test plants canary secrets (tests/packs/testpack.py) where real ones turn up — a read
tool's output, a tool's error, a dry-run plan, a proposal's arguments — and then looks
for them in what the svc hands back, in every table of the store, in the audit chain
and in both export formats. The chain must still verify: redaction happens before hashing.
"""

from __future__ import annotations

import json

import pytest
from conftest import approve
from packs.testpack import CANARIES, CANARY_AWS_KEY, CANARY_GITHUB, CANARY_PASSWORD
from sqlalchemy import select

from copilot.audit import AuditLog, verify_chain
from copilot.audit.export import export_lines
from copilot.domain import ApprovalState
from copilot.errors import InvalidInput
from copilot.redact.ruleset import default_redactor
from copilot.store.schema import metadata, proposals


def everything_stored(svc) -> str:
    """Every row of every table, as text: where a leaked secret would sit."""
    out = []
    with svc.door.deps.store.read() as conn:
        for table in metadata.sorted_tables:
            out.extend(repr(tuple(row)) for row in conn.execute(select(table)))
    return "\n".join(out)


def assert_clean(*texts: object) -> None:
    for text in texts:
        blob = text if isinstance(text, str) else json.dumps(text, default=str)
        for canary in CANARIES:
            assert canary not in blob, f"canary {canary[:8]}… leaked: {blob[:300]}"


def assert_store_and_exports_clean(svc) -> None:
    assert_clean(everything_stored(svc))
    for fmt in ("jsonl", "ocsf"):
        assert_clean(
            "\n".join(export_lines(svc.door.deps.audit.events(), fmt, svc.door.deps.redactor.value))
        )
    assert verify_chain(svc.door.deps.store).ok


def test_tool_output_is_redacted_before_it_is_stored_or_returned(make_copilot, db_url):
    svc = make_copilot(db_url)
    _, ran = svc.call(svc.principal("dana"), "testpack.leaky_read", {})
    assert ran is not None and ran.status is ApprovalState.SUCCEEDED
    assert_clean(ran.result)
    text = ran.result["text"]
    # The key names and the shape survive, so the output is still useful to read.
    assert "aws_access_key_id = [REDACTED:" in text
    assert "postgres://checkout:[REDACTED:" in text and "@db.internal:5432" in text
    assert_store_and_exports_clean(svc)


def test_placeholders_are_stable_across_outputs(make_copilot, db_url):
    svc = make_copilot(db_url)
    first = svc.call(svc.principal("dana"), "testpack.leaky_read", {})[1]
    second = svc.call(svc.principal("dana"), "testpack.leaky_read", {"what": "again"})[1]
    assert first is not None and second is not None
    assert first.result == second.result  # the same key → the same placeholder
    line = first.result["lines"][0]
    assert line.startswith("aws_access_key_id = [REDACTED:") and line in first.result["text"]


@pytest.mark.parametrize("foreign", [False, True])
def test_tool_errors_are_redacted(make_copilot, db_url, foreign):
    svc = make_copilot(db_url)
    outcome, ran = svc.call(svc.principal("alice"), "testpack.leaky_failure", {"foreign": foreign})
    assert ran is None  # low risk: it waits for an approver
    done = approve(svc, outcome.approval.id, svc.principal("bob"))
    assert done is not None and done.error
    assert done.status in (ApprovalState.FAILED, ApprovalState.UNKNOWN)
    assert "[REDACTED:" in done.error and "registry.internal" in done.error
    assert_clean(done.error)
    assert_store_and_exports_clean(svc)


def test_plans_are_redacted_and_still_bind_the_approval(make_copilot, db_url):
    svc = make_copilot(db_url)
    outcome, _ = svc.call(svc.principal("alice"), "testpack.leaky_plan", {"name": "k1"})
    plan = outcome.proposal.plan
    assert plan and "[REDACTED:" in plan and "will be revoked" in plan
    assert_clean(plan)
    # The plan is recomputed (and redacted afresh) at execution: it must still match.
    done = approve(svc, outcome.approval.id, svc.principal("bob"))
    assert done is not None and done.status is ApprovalState.SUCCEEDED
    assert_store_and_exports_clean(svc)


@pytest.mark.parametrize(
    "arguments",
    [
        {"name": "x", "value": CANARY_GITHUB},
        {"name": f"aws {CANARY_AWS_KEY}"},
        {"name": "db", "value": f"password={CANARY_PASSWORD}"},
    ],
)
def test_secrets_in_arguments_are_refused_not_stored(make_copilot, db_url, arguments):
    svc = make_copilot(db_url)
    with pytest.raises(InvalidInput) as caught:
        svc.call(svc.principal("alice"), "testpack.takes_anything", arguments)
    assert "looks like a secret" in caught.value.message
    assert_clean(caught.value.one_line())
    with svc.door.deps.store.read() as conn:
        assert conn.execute(select(proposals)).first() is None
    assert [e.kind for e in svc.door.deps.audit.events()] == ["request.refused"]
    assert_store_and_exports_clean(svc)


def test_refused_input_quoting_a_secret_is_redacted(make_copilot, db_url):
    svc = make_copilot(db_url)
    with pytest.raises(InvalidInput) as caught:
        svc.call(svc.principal("alice"), f"deploy {CANARY_GITHUB}", {})
    assert_clean(caught.value.one_line())
    assert_store_and_exports_clean(svc)


def test_audit_events_are_redacted_before_hashing(make_copilot, db_url):
    svc = make_copilot(db_url)
    with svc.door.deps.store.write() as conn:
        svc.door.deps.audit.append(
            conn, "note", actor="alice", data={"said": f"key {CANARY_AWS_KEY}"}
        )
    (event,) = list(svc.door.deps.audit.events())
    assert "[REDACTED:" in event.data["said"]
    assert_store_and_exports_clean(svc)


def test_exports_redact_events_written_without_redaction(make_copilot, db_url):
    """A chain written before redaction was configured still exports without secrets."""
    svc = make_copilot(db_url)
    bare = AuditLog(svc.door.deps.store)
    with svc.door.deps.store.write() as conn:
        bare.append(conn, "legacy", data={"env": f"GITHUB_TOKEN={CANARY_GITHUB}"})
    assert any(CANARY_GITHUB in line for line in export_lines(bare.events(), "jsonl"))
    for fmt in ("jsonl", "ocsf"):
        lines = list(export_lines(bare.events(), fmt, default_redactor().value))
        assert_clean("\n".join(lines))
    assert verify_chain(svc.door.deps.store).ok  # the stored hashes are untouched


def test_sandbox_logs_never_show_the_token_they_dump(make_copilot, db_url, clock):
    """The sandbox's error handler logs request headers; reading them shows placeholders."""
    from copilot_tools.sandbox import inject_fault, reset_world
    from copilot_tools.sandbox.telemetry import SLOT_S, _session_token

    svc = make_copilot(db_url)
    reset_world(svc.door.deps.store, svc.settings, clock())
    inject_fault(svc.door.deps.store, svc.settings, "bad_deploy", "checkout", clock())
    clock.advance(180)
    _, ran = svc.call(
        svc.principal("dana"),
        "sandbox.get_logs",
        {"service": "checkout", "contains": "Authorization", "limit": 20},
    )
    assert ran is not None and ran.result is not None
    lines = [line["message"] for line in ran.result["lines"]]
    assert lines and all("'Bearer [REDACTED:" in line for line in lines)
    # the clear tokens exist in the world (the test can compute them) but never come out
    seed, stored = svc.settings.sandbox.seed, everything_stored(svc)
    last = int(clock().timestamp()) // SLOT_S
    tokens = [_session_token(seed, "checkout", slot) for slot in range(last - 40, last + 1)]
    assert all(token not in stored for token in tokens)


def test_a_team_rule_file_applies_at_every_boundary(make_copilot, tmp_path, caplog):
    """Rules from a gitleaks-format file join the built-ins; a rule that does not compile
    is reported with its line, and the rest still load."""
    rules = tmp_path / "team.toml"
    rules.write_text(
        "[[rules]]\n"
        'id = "acme-deploy-key"\n'
        'regex = """acme_dk_[0-9a-f]{24}"""\n'
        'keywords = ["acme_dk_"]\n'
        "\n"
        "[[rules]]\n"
        'id = "broken"\n'
        'regex = """(unclosed"""\n',
        encoding="utf-8",
    )
    with caplog.at_level("WARNING", logger="copilot.redact"):
        svc = make_copilot("sqlite:///:memory:", redaction={"rules_file": rules})
        svc.check()
    assert any("team.toml:7: rule broken skipped" in r.getMessage() for r in caplog.records)
    key = "acme_dk_" + "0123456789abcdef01234567"
    with svc.door.deps.store.write() as conn:
        svc.door.deps.audit.append(conn, "note", data={"said": f"deploying with {key}"})
    assert "[REDACTED:acme-deploy-key:1]" in next(iter(svc.door.deps.audit.events())).data["said"]
    assert key not in everything_stored(svc)


def test_an_unreadable_rule_file_stops_start_up(make_copilot, tmp_path):
    from copilot.errors import ConfigError

    bad = tmp_path / "bad.toml"
    bad.write_text("[[rules]\nid = 1\n", encoding="utf-8")
    db = tmp_path / "copilot.db"
    svc = make_copilot(f"sqlite:///{db}", redaction={"rules_file": bad})
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML"):
        svc.check()
    # nothing that redacts can run without its rules: the first call refuses before the
    # store is even opened, so no tool ran and nothing was written
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML"):
        svc.call(svc.principal("alice"), "testpack.read_counter", {"name": "a"})
    assert not db.exists()


def test_log_patterns_examples_are_redacted_and_keep_the_error(make_copilot, db_url, clock):
    """Templated windows quote one verbatim example per template: those pass redaction too."""
    from copilot_tools.sandbox import inject_fault, reset_world
    from copilot_tools.sandbox.telemetry import SLOT_S, _session_token

    svc = make_copilot(db_url)
    reset_world(svc.door.deps.store, svc.settings, clock())
    inject_fault(svc.door.deps.store, svc.settings, "bad_deploy", "checkout", clock())
    clock.advance(300)
    _, ran = svc.call(
        svc.principal("dana"), "sandbox.log_patterns", {"service": "checkout", "minutes": 10}
    )
    assert ran is not None and ran.result is not None
    window = ran.result["window"]
    assert window["total_lines"] > 10 * len(window["templates"])  # folded, not copied
    examples = [t["example"] for t in window["templates"]]
    assert any("'Bearer [REDACTED:" in e for e in examples)
    assert any(t["level"] == "ERROR" for t in window["templates"])
    seed, stored = svc.settings.sandbox.seed, everything_stored(svc)
    last = int(clock().timestamp()) // SLOT_S
    tokens = [_session_token(seed, "checkout", slot) for slot in range(last - 40, last + 1)]
    assert all(token not in stored and token not in json.dumps(window) for token in tokens)
