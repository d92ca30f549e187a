"""`copilot incident …` and `copilot postmortem …` as a person runs them: subprocesses on
the same SQLite data dir, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "copilot", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_an_incident_from_the_command_line(tmp_path: Path) -> None:
    opened = cli(
        "incident", "open", "checkout 500s after deploy", "--severity", "high", "--as", "alice"
    )
    assert opened.stdout.startswith("INC-1 opened")
    assert "acknowledged" in cli("incident", "ack", "INC-1", "--as", "bob").stdout
    assert "commander carol" in cli("incident", "commander", "INC-1", "carol", "--as", "bob").stdout
    again = cli("incident", "ack", "INC-1", "--as", "bob", ok=False)
    assert again.returncode != 0 and "already acknowledged" in again.stderr
    assert "Traceback" not in again.stderr
    viewer = cli("incident", "resolve", "INC-1", "--as", "dana", ok=False)
    assert viewer.returncode != 0 and "may not change incidents" in viewer.stderr
    assert "resolved" in cli("incident", "resolve", "1", "--as", "bob").stdout

    listed = json.loads(cli("incident", "list", "--json").stdout)
    (only,) = listed["incidents"]
    assert only["status"] == "resolved" and listed["stats"]["resolved"] == 1
    assert listed["stats"]["mttr_median_s"] is not None
    shown = json.loads(cli("incident", "show", "INC-1", "--json").stdout)
    assert shown["commander"] == "carol" and shown["mttr_s"] is not None

    timeline = json.loads(cli("incident", "timeline", "INC-1", "--json").stdout)
    texts = [e["text"] for e in timeline["events"]]
    assert [e["id"] for e in timeline["events"]] == [f"E{n}" for n in range(1, len(texts) + 1)]
    assert any("opened by alice" in t for t in texts) and any("resolved" in t for t in texts)

    markdown = cli("postmortem", "draft", "INC-1", "--as", "bob").stdout
    assert markdown.startswith("# Postmortem: INC-1") and "[E1]" in markdown
    edited = tmp_path / "pm.md"
    edited.write_text(markdown + "\nReviewed in the retro.\n")
    assert (
        "v2 stored"
        in cli("postmortem", "edit", "INC-1", "--file", str(edited), "--as", "bob").stdout
    )
    assert "Reviewed in the retro." in cli("postmortem", "show", "INC-1").stdout
    audit = [json.loads(line) for line in cli("audit", "export").stdout.splitlines()]
    kinds = [e["kind"] for e in audit if e.get("subject") == "INC-1"]
    assert kinds == [
        "incident.opened",
        "incident.ack",
        "incident.commander",
        "incident.resolve",
        "postmortem.drafted",
        "postmortem.edited",
    ]
    missing = cli("incident", "show", "INC-42", ok=False)
    assert missing.returncode != 0 and "no incident 'INC-42'" in missing.stderr
