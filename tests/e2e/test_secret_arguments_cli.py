"""`copilot call` with a password as an ordinary argument: refused, and stored nowhere.

The value is planted through the real CLI; then every file of the data dir (SQLite and its
WAL, the checkpoints, Chroma) and the audit export are searched for it, and the sandbox
is checked to be as it was. A reference (``secret:NAME``) is accepted and runs.
"""

from __future__ import annotations

import json
from pathlib import Path

from test_cli import cli

VALUE = "hunter2hunter2"
USERS = """
[users.alice]
roles = ["responder"]
[users.bob]
roles = ["sre"]
[users.dana]
roles = ["viewer"]
"""


def files_holding(root: Path, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def payments(user: str = "dana") -> dict:
    out = cli(
        "call", "sandbox.service_status", "-a", "service=payments", "--as", user, "--json"
    ).stdout
    (service,) = json.loads(out)["execution"]["result"]["services"]
    return service


def test_a_password_argument_is_refused_and_left_nowhere(tmp_path: Path) -> None:
    (tmp_path / "copilot.toml").write_text(USERS)  # COPILOT_CONFIG (tests/conftest.py)
    data = tmp_path / "data"
    cli("sandbox", "reset")
    before = payments()

    refused = cli(
        "call",
        "sandbox.set_config_value",
        "-a",
        "service=payments",
        "-a",
        "key=PAYMENTS_PASSWORD",
        "-a",
        f"value={VALUE}",
        "--as",
        "alice",
        ok=False,
    )
    assert refused.returncode != 0
    err = refused.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "'value'" in err and "PAYMENTS_PASSWORD" in err and "value=secret:NAME" in err
    assert VALUE not in refused.stdout + refused.stderr

    # The audit log records the refusal, without the value.
    exported = cli("audit", "export").stdout + cli("audit", "export", "--format", "ocsf").stdout
    assert "request.refused" in exported and VALUE not in exported
    assert cli("audit", "verify").returncode == 0

    after = payments()
    assert after["revision"] == before["revision"] and after["config"] == before["config"]
    assert "PAYMENTS_PASSWORD" not in after["config"]
    assert files_holding(data, VALUE.encode()) == []

    # The way the hint shows: a reference to the secret store, which runs.
    card = json.loads(
        cli(
            "call",
            "sandbox.set_config_value",
            "-a",
            "service=payments",
            "-a",
            "key=PAYMENTS_PASSWORD",
            "-a",
            "value=secret:PAYMENTS_PASSWORD",
            "--as",
            "alice",
            "--json",
        ).stdout
    )
    assert card["state"] == "proposed"
    cli("approve", card["id"], "--as", "bob")
    changed = payments()
    assert changed["config"]["PAYMENTS_PASSWORD"] == "secret:PAYMENTS_PASSWORD"
    assert changed["revision"] == before["revision"] + 1
    assert files_holding(data, VALUE.encode()) == []
