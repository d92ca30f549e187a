"""Settings precedence and entry-point discovery of tool packs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from copilot.settings import load_settings
from copilot.toolkit.registry import discover


def test_precedence_defaults_toml_dotenv_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("COPILOT_USERS")  # conftest asks for the demo's people
    assert load_settings().environment == "prod"
    (tmp_path / "copilot.toml").write_text(
        'environment = "staging"\nchange_freeze = true\n'
        '[users.zoe]\nroles = ["sre"]\n[executor]\napproval_ttl_s = 60\n'
    )
    s = load_settings()
    assert s.environment == "staging" and s.change_freeze and s.executor.approval_ttl_s == 60
    assert list(s.users) == ["zoe"]
    (tmp_path / ".env").write_text("COPILOT_ENVIRONMENT=dr-site\n")
    assert load_settings().environment == "dr-site"
    monkeypatch.setenv("COPILOT_ENVIRONMENT", "prod-eu")
    monkeypatch.setenv("COPILOT_EXECUTOR__APPROVAL_TTL_S", "120")
    s = load_settings()
    assert s.environment == "prod-eu" and s.executor.approval_ttl_s == 120


def test_data_dir_holds_the_database(tmp_path: Path):
    s = load_settings()
    assert s.db_url == f"sqlite:///{(tmp_path / 'data' / 'copilot.db').resolve()}"
    assert load_settings(database_url="postgresql://x/y").db_url == "postgresql://x/y"


def test_entry_point_packs_are_discovered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "acme_tools.py").write_text(
        'from copilot import tool\n\n@tool(risk="read")\ndef whoami() -> str:\n'
        '    """Say who is on call."""\n    return "carol"\n\nTOOLS = [whoami]\n'
    )
    dist = tmp_path / "acme_tools-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-tools\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[copilot.tools]\nacme = acme_tools\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        names = {s.name for s in discover()}
    finally:
        sys.modules.pop("acme_tools", None)
    # the pack is named by its entry point, not by the module behind it
    assert "acme.whoami" in names and "sandbox.rollback_deployment" in names


def test_agent_budgets_come_from_settings_and_are_bounded(monkeypatch: pytest.MonkeyPatch):
    from copilot.agent.deps import Limits
    from copilot.errors import ConfigError

    monkeypatch.setenv("COPILOT_AGENT__MAX_ROUNDS", "2")
    monkeypatch.setenv("COPILOT_AGENT__VERIFY_DELAY_S", "5")
    limits = Limits.from_settings(load_settings())
    assert (limits.max_rounds, limits.verify_delay_s, limits.max_tool_calls) == (2, 5.0, 8)
    monkeypatch.setenv("COPILOT_AGENT__MAX_ROUNDS", "0")
    with pytest.raises(ConfigError, match="max_rounds"):
        load_settings()


def test_no_users_unless_configured_or_asked_for_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from copilot.errors import ConfigError
    from copilot.policy.engine import load_policy_engine
    from copilot.settings import DEMO_USERS

    monkeypatch.delenv("COPILOT_USERS")
    bare = load_settings()
    assert bare.users == {}  # no silent default, above all no admin who may break glass
    engine = load_policy_engine(bare, [])
    with pytest.raises(ConfigError) as refused:
        engine.principal("root")
    assert "no users are configured" in refused.value.message
    assert "[users.NAME]" in refused.value.hint and 'users = "demo"' in refused.value.hint

    (tmp_path / "copilot.toml").write_text('users = "demo"\n')
    assert load_settings().users == DEMO_USERS
    (tmp_path / "copilot.toml").unlink()
    monkeypatch.setenv("COPILOT_USERS", "demo")
    assert set(load_settings().users) == {"dana", "alice", "bob", "sam", "carol", "root"}
    assert load_policy_engine(load_settings(), []).principal("root").roles[0] == "admin"
    monkeypatch.setenv("COPILOT_USERS", "everyone")
    with pytest.raises(ConfigError, match='users: "demo" or a table of users'):
        load_settings()


def test_a_named_config_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from copilot.errors import ConfigError

    monkeypatch.setenv("COPILOT_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=f"config file {tmp_path / 'missing.toml'} "):
        load_settings()
    (tmp_path / "missing.toml").write_text('environment = "staging"\n')
    assert load_settings().environment == "staging"
    monkeypatch.delenv("COPILOT_CONFIG")  # the default ./copilot.toml may be absent
    assert load_settings().environment == "prod"


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('environmnt = "staging"\n', "'environmnt'"),
        ("[executor]\naproval_ttl_s = 60\n", "'executor.aproval_ttl_s'"),
        ('[users.zoe]\nroles = ["sre"]\nrole = "admin"\n', "'users.zoe.role'"),
        ('[sourcez]\nprometheus_url = "http://p"\n', "'sourcez'"),
    ],
)
def test_an_unknown_key_in_the_toml_stops_start_up(tmp_path: Path, toml: str, named: str):
    from copilot.errors import ConfigError

    (tmp_path / "copilot.toml").write_text(toml)
    with pytest.raises(ConfigError, match=f"copilot.toml: unknown setting {named}"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("COPILOT_EXECUTOR__APROVAL_TTL_S", "COPILOT_EXECUTOR__APPROVAL_TTL_S"),
        ("COPILOT_CHANGE_FREZE", "COPILOT_CHANGE_FREEZE"),
        ("COPILOT_SOURCES__PROMETHEUS_URL__X", None),
        ("COPILOT_USERS__ZOE__ROLEZ", "COPILOT_USERS__ZOE__ROLES"),
        ("copilot_modle", "COPILOT_MODEL"),
    ],
)
def test_an_unknown_copilot_variable_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str, meant: str | None
):
    from copilot.errors import ConfigError

    monkeypatch.setenv(name, "1")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert refused.value.message == f"environment variable {name}: unknown setting"
    assert (meant or "remove it or fix its spelling") in refused.value.hint


def test_known_variables_and_dotenv_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from copilot.errors import ConfigError

    for name in ("COPILOT_CONFIG", "COPILOT_DEBUG", "COPILOT_CORPORA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "copilot.toml") if "CONFIG" in name else "1")
    (tmp_path / "copilot.toml").write_text("")
    monkeypatch.delenv("COPILOT_USERS")
    monkeypatch.setenv("COPILOT_USERS__ZOE__ROLES", '["sre"]')
    monkeypatch.setenv("COPILOT_SOURCES__TIMEOUT_S", "5")
    monkeypatch.setenv("UNRELATED_THING", "x")
    s = load_settings()
    assert s.users["zoe"].roles == ["sre"] and s.sources.timeout_s == 5
    (tmp_path / ".env").write_text("OTHER_TOOL_KEY=x\nCOPILOT_ENVIRONMENT=dr\n")
    assert load_settings().environment == "dr"
    (tmp_path / ".env").write_text("COPILOT_ENVIRONMNT=dr\n")
    with pytest.raises(ConfigError, match=r"\.env COPILOT_ENVIRONMNT: unknown setting"):
        load_settings()


@pytest.mark.parametrize(("ttl", "ok"), [(59, False), (60, True), (604800, True), (604801, False)])
def test_approval_ttl_is_bounded(monkeypatch: pytest.MonkeyPatch, ttl: int, ok: bool):
    from copilot.errors import ConfigError

    monkeypatch.setenv("COPILOT_EXECUTOR__APPROVAL_TTL_S", str(ttl))
    if ok:
        assert load_settings().executor.approval_ttl_s == ttl
    else:
        with pytest.raises(ConfigError, match=r"executor\.approval_ttl_s"):
            load_settings()
