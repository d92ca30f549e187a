"""Settings precedence and entry-point discovery of tool packs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from copilot.settings import load_settings
from copilot.toolkit.registry import discover


def test_precedence_defaults_toml_dotenv_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assert load_settings().environment == "prod"
    (tmp_path / "copilot.toml").write_text(
        'environment = "staging"\nchange_freeze = true\n'
        '[users.zoe]\nroles = ["sre"]\n[executor]\napproval_ttl_s = 60\n'
    )
    s = load_settings()
    assert s.environment == "staging" and s.change_freeze and s.executor.approval_ttl_s == 60
    assert list(s.users) == ["zoe"]  # configured users replace the demo ones
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
