"""Cedar policy: the default role table, reasons, fail-closed, and file:line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from copilot.errors import ConfigError
from copilot.policy import RequestContext, load_policy_engine
from copilot.policy.sources import DEFAULT_DIR
from copilot.settings import DEMO, Settings
from copilot.toolkit.registry import discover

PACKS = Path(__file__).parent.parent / "packs"


@pytest.fixture(scope="module")
def registry():
    return discover([PACKS])


@pytest.fixture(scope="module")
def engine(registry):
    return load_policy_engine(Settings(users=DEMO), registry)


def ctx(**kw):
    return RequestContext(environment=kw.pop("environment", "prod"), **kw)


@pytest.mark.parametrize(
    ("user", "tool", "allowed"),
    [
        ("dana", "testpack.read_counter", True),
        ("dana", "testpack.low_note", False),
        ("alice", "testpack.drop_all", True),
        ("bob", "testpack.reset_counter", True),
    ],
)
def test_who_may_propose(engine, user, tool, allowed):
    assert engine.decide("propose", user, tool, ctx(is_requester=True)).allowed is allowed


@pytest.mark.parametrize(
    ("user", "tool", "is_requester", "allowed"),
    [
        ("alice", "testpack.low_note", False, True),  # responders approve low
        ("alice", "testpack.low_note", True, True),  # ...even their own low change
        ("alice", "testpack.bump_counter", False, False),  # but not medium
        ("bob", "testpack.bump_counter", False, True),
        ("bob", "testpack.bump_counter", True, False),  # no self-approval of medium+
        ("bob", "testpack.drop_all", False, False),  # critical needs an on-call lead
        ("carol", "testpack.drop_all", False, True),
        ("dana", "testpack.low_note", False, False),  # viewers never approve
        ("root", "testpack.drop_all", True, False),  # admin without break-glass: a lead
    ],
)
def test_who_may_approve(engine, user, tool, is_requester, allowed):
    d = engine.decide("approve", user, tool, ctx(is_requester=is_requester))
    assert d.allowed is allowed, d.reason


def test_break_glass_admin(engine):
    d = engine.decide(
        "approve", "root", "testpack.drop_all", ctx(is_requester=True, break_glass=True)
    )
    assert d.allowed and "approve-break-glass" in d.policy_ids
    run = engine.decide(
        "execute",
        "root",
        "testpack.drop_all",
        ctx(
            break_glass=True,
            change_freeze=True,
            approval_count=1,
            approver_roles=engine.role_closure(["admin"]),
        ),
    )
    assert run.allowed


def test_decisions_carry_ids_and_reasons(engine):
    d = engine.decide("approve", "bob", "testpack.bump_counter", ctx(is_requester=True))
    assert not d.allowed and d.policy_ids == ("no-self-approval",)
    assert "two-person rule" in d.reason
    none = engine.decide("approve", "dana", "testpack.low_note", ctx())
    assert not none.allowed and none.policy_ids == ()
    assert none.reason == "no policy permits dana to approve testpack.low_note (low risk)"
    ok = engine.decide("execute", "alice", "testpack.read_counter", ctx())
    assert ok.allowed and ok.policy_ids == ("run-reads",)


def test_required_approvers_follow_policy(engine):
    base = ctx()
    assert engine.required_approvers("testpack.read_counter", "alice", base) == "none"
    assert engine.required_approvers("testpack.low_note", "alice", base) == "1 approval: responder"
    assert engine.required_approvers("testpack.bump_counter", "alice", base) == "1 approval: sre"
    assert engine.required_approvers("testpack.reset_counter", "alice", base) == (
        "2 approvals: sre + oncall-lead"
    )
    # only on-call leads approve critical changes, and it takes two of them
    assert engine.required_approvers("testpack.drop_all", "alice", base) == (
        "2 approvals: oncall-lead + oncall-lead"
    )
    assert (
        engine.required_approvers("testpack.reset_counter", "alice", ctx(environment="staging"))
        == "1 approval: sre"
    )


def _policy_dir(tmp_path: Path) -> Path:
    d = tmp_path / "policy"
    shutil.copytree(DEFAULT_DIR, d)
    return d


def test_evaluation_error_denies(tmp_path, registry):
    # A forbid that errors at run time is skipped by Cedar; we must not turn that into allow.
    # Integer overflow passes schema validation but errors at evaluation time.
    d = _policy_dir(tmp_path)
    (d / "extra.cedar").write_text(
        '@id("overflow")\nforbid (principal, action, resource)\n'
        "when { context.approval_count + 9223372036854775807 > 0 };\n"
    )
    engine = load_policy_engine(Settings(policy_dir=d), registry)
    d1 = engine.decide("execute", "alice", "testpack.read_counter", ctx(approval_count=1))
    assert not d1.allowed and d1.errors and "fail closed" in d1.reason


def test_broken_policy_names_file_and_line(tmp_path, registry):
    d = _policy_dir(tmp_path)
    text = (d / "policies.cedar").read_text()
    lines = text.splitlines()
    target = next(i for i, ln in enumerate(lines) if "resource.risk_level == 1 && context" in ln)
    lines[target] = lines[target].replace("== 1 &&", "== &&")
    (d / "policies.cedar").write_text("\n".join(lines))
    with pytest.raises(ConfigError) as err:
        load_policy_engine(Settings(policy_dir=d), registry)
    assert f"policies.cedar:{target + 1}:" in err.value.message


def test_policy_not_matching_schema_names_file_and_line(tmp_path, registry):
    d = _policy_dir(tmp_path)
    (d / "zz.cedar").write_text(
        '// comment\n\n@id("typo")\npermit (principal, action, resource)\n'
        "when { resource.rsik == 1 };\n"
    )
    with pytest.raises(ConfigError) as err:
        load_policy_engine(Settings(policy_dir=d), registry)
    assert "zz.cedar:3:" in err.value.message and "rsik" in err.value.message


def test_broken_schema_refuses_start(tmp_path, registry):
    d = _policy_dir(tmp_path)
    (d / "schema.cedarschema").write_text(
        "namespace Copilot {\n  entity Role in [Role];\n  entity ;\n}\n"
    )
    with pytest.raises(ConfigError, match=r"schema.cedarschema:3:"):
        load_policy_engine(Settings(policy_dir=d), registry)


def test_unknown_role_in_config_refuses_start(registry):
    from copilot.settings import UserConfig

    with pytest.raises(ConfigError, match="unknown role 'superuser'"):
        load_policy_engine(Settings(users={"eve": UserConfig(roles=["superuser"])}), registry)
