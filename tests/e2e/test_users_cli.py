"""``copilot users`` through the real command: the TOML config gets ``[users.NAME]`` tables
with an argon2id hash, keeps its comments and other settings, and the password shows up
nowhere (file, stdout, stderr)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from copilot.auth.passwords import verify_password
from copilot.settings import load_settings

PASSWORD = "tr0ub4dor & three horses"
OTHER = "a different passphrase entirely"
EXISTING = """\
# hand-written: keep this comment
environment = "staging"  # and this one

[roles]  # a site role on top of the defaults
viewer = []
responder = ["viewer"]
sre = ["responder"]
oncall-lead = ["sre"]
admin = ["oncall-lead"]
dba = ["sre"]

[executor]
approval_ttl_s = 600
"""


def users(
    config: Path, *args: str, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``copilot users ARGS`` on ``config``; a password goes in on stdin."""
    env = {**os.environ, "COPILOT_CONFIG": str(config)}
    # conftest asks for the demo's people; they would replace the file's users
    env.pop("COPILOT_USERS", None)
    stdin_args = ("--password-stdin",) if password is not None else ()
    proc = subprocess.run(
        [sys.executable, "-m", "copilot", "users", *args, *stdin_args],
        capture_output=True,
        text=True,
        env=env,
        input=f"{password}\n" if password is not None else "",
        timeout=120,
    )
    # the password, whatever happened, is never echoed back
    for secret in (PASSWORD, OTHER, password):
        if secret:
            assert secret not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    return proc


def refused(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def table(config: Path) -> dict:  # type: ignore[type-arg]
    with config.open("rb") as fh:
        return tomllib.load(fh)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "conf" / "copilot.toml"
    path.parent.mkdir()
    return path


def test_add_creates_a_private_file_with_only_the_hash(config: Path):
    out = users(
        config, "add", "alice", "--role", "sre", "--display-name", "Alice", password=PASSWORD
    )
    assert out.returncode == 0, out.stderr
    assert "added alice (sre)" in out.stdout
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert PASSWORD not in config.read_text()
    alice = table(config)["users"]["alice"]
    assert alice["roles"] == ["sre"] and alice["display_name"] == "Alice"
    assert alice["password_hash"].startswith("$argon2id$")
    assert verify_password(alice["password_hash"], PASSWORD)
    assert not verify_password(alice["password_hash"], OTHER)
    assert [p.name for p in config.parent.iterdir()] == ["copilot.toml"]  # no temp file left


def test_the_written_file_loads_as_settings(config: Path, monkeypatch: pytest.MonkeyPatch):
    assert users(config, "add", "bob", "--role", "oncall-lead", password=PASSWORD).returncode == 0
    monkeypatch.setenv("COPILOT_CONFIG", str(config))
    monkeypatch.delenv("COPILOT_USERS")
    bob = load_settings().users["bob"]
    assert bob.roles == ["oncall-lead"]
    assert bob.password_hash is not None and verify_password(bob.password_hash, PASSWORD)


def test_add_keeps_comments_other_settings_and_the_mode(config: Path):
    config.write_text(EXISTING)
    config.chmod(0o640)
    out = users(config, "add", "dora", "-r", "dba", "-r", "viewer", "-r", "dba", password=PASSWORD)
    assert out.returncode == 0, out.stderr
    text = config.read_text()
    assert text.startswith(EXISTING)  # every byte of the old file is still there, in order
    assert "[users.dora]" in text
    parsed = table(config)
    assert parsed["environment"] == "staging" and parsed["executor"]["approval_ttl_s"] == 600
    assert parsed["users"]["dora"]["roles"] == ["dba", "viewer"]  # a configured role; no repeats
    # an existing file keeps its mode, but a file readable by others is pointed out
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    assert "warning:" in out.stderr and "chmod 600" in out.stderr


def test_a_second_add_of_the_same_name_is_refused_unless_update(config: Path):
    assert users(config, "add", "alice", "--role", "sre", password=PASSWORD).returncode == 0
    before = config.read_text()
    again = users(config, "add", "alice", "--role", "viewer", password=OTHER)
    assert "already exists" in refused(again, 2) and "--update" in again.stderr
    assert config.read_text() == before
    updated = users(config, "add", "alice", "--role", "viewer", "--update", password=OTHER)
    assert updated.returncode == 0, updated.stderr
    alice = table(config)["users"]["alice"]
    assert alice["roles"] == ["viewer"] and verify_password(alice["password_hash"], OTHER)
    assert not verify_password(alice["password_hash"], PASSWORD)


def test_unknown_role_bad_name_and_short_password_change_nothing(config: Path):
    config.write_text(EXISTING)
    config.chmod(0o600)
    role = users(config, "add", "eve", "--role", "superuser", password=PASSWORD)
    assert "unknown role 'superuser'" in refused(role, 2) and "dba" in role.stderr
    name = users(config, "add", "Eve/../x", "--role", "sre", password=PASSWORD)
    assert "invalid user name" in refused(name, 2)
    assert "invalid user name" in refused(users(config, "add", "x" * 65, "-r", "sre"), 2)
    short = "eleven-char"
    too_short = users(config, "add", "eve", "--role", "sre", password=short)
    assert "at least 12 characters" in refused(too_short, 2)
    assert short not in too_short.stderr
    empty = users(config, "add", "eve", "--role", "sre", password="")
    assert "no password on stdin" in refused(empty, 2)
    assert config.read_text() == EXISTING


def test_passwd_changes_only_the_hash(config: Path):
    users(config, "add", "alice", "-r", "sre", "--display-name", "Alice", password=PASSWORD)
    before = table(config)["users"]["alice"]
    out = users(config, "passwd", "alice", password=OTHER)
    assert out.returncode == 0, out.stderr
    after = table(config)["users"]["alice"]
    assert verify_password(after["password_hash"], OTHER)
    assert not verify_password(after["password_hash"], PASSWORD)
    assert {k: v for k, v in after.items() if k != "password_hash"} == {
        k: v for k, v in before.items() if k != "password_hash"
    }
    nobody = users(config, "passwd", "nobody", password=OTHER)
    assert "no user 'nobody'" in refused(nobody, 2)
    assert users(config, "passwd", "alice", password="n0pe-11char").returncode == 2
    assert verify_password(table(config)["users"]["alice"]["password_hash"], OTHER)


def test_list_shows_who_has_a_password_never_the_hash(config: Path):
    config.write_text(
        '[users.carol]\nroles = ["oncall-lead"]  # no password: CLI only\n'
        'display_name = "Carol [lead]"\n'
    )
    users(config, "add", "alice", "--role", "sre", password=PASSWORD)
    rows = json.loads(users(config, "list", "--json").stdout)
    assert rows == [
        {
            "name": "carol",
            "roles": ["oncall-lead"],
            "display_name": "Carol [lead]",
            "password": False,
        },
        {"name": "alice", "roles": ["sre"], "display_name": "", "password": True},
    ]
    shown = users(config, "list")
    assert shown.returncode == 0 and "alice" in shown.stdout
    assert "Carol [lead]" in shown.stdout  # shown as written, not read as markup
    assert "argon2" not in shown.stdout and "$" not in shown.stdout


def test_remove_deletes_the_table_and_keeps_the_rest(config: Path):
    config.write_text(EXISTING)
    users(config, "add", "alice", "--role", "sre", password=PASSWORD)
    users(config, "add", "bob", "--role", "dba", password=OTHER)
    assert users(config, "remove", "alice").returncode == 0
    parsed = table(config)
    assert list(parsed["users"]) == ["bob"] and parsed["executor"]["approval_ttl_s"] == 600
    assert config.read_text().startswith(EXISTING)
    assert "no user 'alice'" in refused(users(config, "remove", "alice"), 2)
    assert users(config, "remove", "bob").returncode == 0
    assert "users" not in table(config)
    assert "no users in" in users(config, "list").stdout


def test_the_demo_people_cannot_get_passwords(config: Path):
    config.write_text('users = "demo"\n')
    out = users(config, "add", "alice", "--role", "sre", password=PASSWORD)
    assert "users = 'demo'" in refused(out, 78) and "delete that line" in out.stderr
    assert config.read_text() == 'users = "demo"\n'


def test_an_environment_that_overrides_the_users_is_pointed_out(config: Path):
    env = {**os.environ, "COPILOT_CONFIG": str(config), "COPILOT_USERS": "demo"}
    out = subprocess.run(
        [sys.executable, "-m", "copilot", "users", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0 and "COPILOT_USERS is set" in out.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_add_on_a_terminal_asks_twice_without_echo(config: Path):
    import pty
    import select

    env = {**os.environ, "COPILOT_CONFIG": str(config)}
    env.pop("COPILOT_USERS", None)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command on the terminal's far side
        argv = [sys.executable, "-m", "copilot", "users", "add", "tina", "--role", "viewer"]
        try:
            os.execve(sys.executable, argv, env)
        finally:
            os._exit(127)  # never run the rest of the test suite in the child
    seen = b""

    def answer(prompt: bytes, reply: bytes) -> None:
        nonlocal seen
        while prompt not in seen:
            assert select.select([fd], [], [], 60)[0], seen
            seen += os.read(fd, 1024)
        os.write(fd, reply)

    answer(b"Password: ", PASSWORD.encode() + b"\n")
    answer(b"Repeat for confirmation: ", PASSWORD.encode() + b"\n")
    while select.select([fd], [], [], 60)[0]:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0, seen
    assert b"added tina" in seen and PASSWORD.encode() not in seen  # no echo
    assert verify_password(table(config)["users"]["tina"]["password_hash"], PASSWORD)


def test_sign_out_ends_a_users_web_sessions(config: Path, monkeypatch: pytest.MonkeyPatch):
    from copilot.service import CopilotService
    from copilot.settings import load_settings

    assert users(config, "add", "bob", "--role", "sre", password=PASSWORD).returncode == 0
    monkeypatch.setenv("COPILOT_CONFIG", str(config))
    monkeypatch.delenv("COPILOT_USERS")
    service = CopilotService.open(load_settings())
    try:
        token = service.open_session("bob", "password", 3600)
        assert service.session_user(token) == "bob"
        done = users(config, "sign-out", "bob")
        assert done.returncode == 0 and "ended 1 session of bob" in done.stdout
        assert service.session_user(token) is None
    finally:
        service.close()
