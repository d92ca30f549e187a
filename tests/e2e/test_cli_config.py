"""Start-up configuration through the real ``copilot`` command: a named config that does not
exist, unknown keys and no users stop it with one line naming what to fix; and the smaller
things a new user met (chat's slash commands, the proposals listing, expiry dates)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKS = Path(__file__).parent.parent / "packs"
ISO_UTC = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, users: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``copilot``; ``users=False`` drops the demo's people conftest asks for."""
    run_env = {**os.environ, "COPILOT_TOOL_PATHS": str(PACKS), "LITELLM_OFFLINE_MODE": "true"}
    if not users:
        run_env.pop("COPILOT_USERS")
    return subprocess.run(
        [sys.executable, "-m", "copilot", *args],
        capture_output=True,
        text=True,
        env={**run_env, **(env or {})},
        input=stdin,
        timeout=180,
    )


def refused(out: subprocess.CompletedProcess[str], code: int = 78) -> str:
    assert out.returncode == code, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def data_dir() -> Path:
    return Path(os.environ["COPILOT_DATA_DIR"])


def test_a_named_config_that_does_not_exist_stops_start_up(tmp_path: Path):
    missing = tmp_path / "missing.toml"
    # it used to run on built-in users, an admin who may declare break-glass among them
    out = cli(
        *("approve", "apr_x", "--as", "root", "--break-glass", "--reason", "now"),
        env={"COPILOT_CONFIG": str(missing)},
        users=False,
    )
    assert f"config file {missing} (COPILOT_CONFIG) does not exist" in refused(out)
    assert not data_dir().exists()  # refused before anything was opened
    listed = cli("tools", "list", env={"COPILOT_CONFIG": str(missing)})
    assert str(missing) in refused(listed)
    # an absent ./copilot.toml (nothing named) is fine
    assert cli("tools", "list").returncode == 0


@pytest.mark.parametrize(
    ("toml", "env", "named"),
    [
        ('environment = "prod"\nchange_freez = true\n', {}, "unknown setting 'change_freez'"),
        ("[executor]\naproval_ttl_s = 60\n", {}, "unknown setting 'executor.aproval_ttl_s'"),
        ("", {"COPILOT_EXECUTOR__APROVAL_TTL_S": "600"}, "COPILOT_EXECUTOR__APROVAL_TTL_S"),
        ("", {"COPILOT_CHANGE_FREZE": "true"}, "did you mean COPILOT_CHANGE_FREEZE"),
        ("", {"COPILOT_EXECUTOR__APPROVAL_TTL_S": "99999999999"}, "executor.approval_ttl_s"),
    ],
)
def test_an_unknown_or_out_of_range_key_stops_start_up(
    tmp_path: Path, toml: str, env: dict[str, str], named: str
):
    (tmp_path / "copilot.toml").write_text(toml)
    out = cli("call", "low_note", "-a", "name=a", "--as", "alice", env=env)
    assert named in refused(out)
    assert not data_dir().exists()  # nothing was proposed


def test_without_users_commands_say_how_to_add_them(tmp_path: Path):
    hint = 'add [users.NAME] roles = [...] to copilot.toml, or set users = "demo"'
    for args in (
        ("ask", "checkout is returning 500s", "--as", "root"),
        ("call", "low_note", "-a", "name=a", "--as", "alice"),
    ):
        line = refused(cli(*args, users=False))
        assert "no users are configured" in line and hint in line
    assert "0 users" in cli("policy", "check", users=False).stdout
    assert json.loads(cli("proposals", "--all", "--json", users=False).stdout) == []

    # demo mode by an explicit word in the config file, or one's own people
    (tmp_path / "copilot.toml").write_text('users = "demo"\n')
    assert cli("call", "read_counter", "-a", "name=a", "--as", "dana", users=False).returncode == 0
    (tmp_path / "copilot.toml").write_text('[users.zoe]\nroles = ["viewer"]\n')
    assert cli("call", "read_counter", "-a", "name=a", "--as", "zoe", users=False).returncode == 0
    other = refused(cli("call", "read_counter", "-a", "name=a", "--as", "root", users=False), 2)
    assert "unknown user 'root'" in other and "zoe" in other


def test_chat_handles_slash_commands_itself():
    out = cli(
        "chat",
        "--as",
        "alice",
        "--conversation",
        "slash-1",
        stdin="/help\n/xyz please\n/approve\n/quit\nthis line is never read\n",
    )
    assert out.returncode == 0, out.stderr
    assert "/approve ID [--break-glass] [REASON]" in out.stdout  # the help
    assert "unknown command /xyz: /help lists the commands" in out.stdout
    assert "usage: /approve ID" in out.stdout
    # none of it reached the copilot: a reply always ends with its conversation id
    assert "[conversation slash-1]" not in out.stdout


def test_proposals_list_changes_whole_with_dates():
    made = cli("call", "bump_counter", "-a", "name=a", "--as", "alice")
    assert made.returncode == 0, made.stderr
    assert re.search(rf"expires {ISO_UTC}\n", made.stdout), made.stdout
    card_id = re.search(r"apr_[0-9a-z]+", made.stdout)
    assert card_id is not None
    assert cli("call", "read_counter", "-a", "name=a", "--as", "dana").returncode == 0

    listed = cli("proposals", env={"COLUMNS": "40"})  # a narrow terminal cuts nothing
    lines = listed.stdout.splitlines()
    assert len(lines) == 2 and lines[0].split()[:4] == ["ID", "TOOL", "RISK", "STATE"]
    row = lines[1].split()
    assert row[:4] == [card_id.group(), "testpack.bump_counter", "medium", "proposed"]
    assert re.fullmatch(ISO_UTC, row[-1]) and re.fullmatch(ISO_UTC, row[-2])

    pending = cli("proposals", "--state", "pending").stdout.splitlines()
    assert len(pending) == 2 and card_id.group() in pending[1]
    everything = cli("proposals", "--all").stdout
    assert "testpack.read_counter" in everything and "testpack.bump_counter" in everything
