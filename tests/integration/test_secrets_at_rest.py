"""Secrets typed in chat and put in runbooks are replaced by placeholders where they enter
(the service boundary, runbook ingest), so no file of the data dir holds them; and the
data dir is its owner's only (dirs 0700, files 0600)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.canaries import (
    AWS_KEY_ID,
    GITHUB_TOKEN,
    PASSWORD,
    PASTE,
    PEM_BLOCK,
    leaks,
    leaks_in_files,
)

from copilot.service import CopilotService
from copilot.settings import Settings

ASK = "checkout is returning 500s"

RUNBOOK = f"""---
title: Payments credentials rotation {GITHUB_TOKEN}
services: [payments]
---
# Rotating the payments credentials

## Where they live
The deploy bot uses {GITHUB_TOKEN} to tag releases.
The AWS user for the bucket is {AWS_KEY_ID}.

## Database
Connect with:

    psql "host=db.internal user=payments" password={PASSWORD}

## Signing key
{PEM_BLOCK}
"""


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """A process that starts with the usual umask (022): files born 0644 unless the
    service makes them private. (An earlier test's service may have tightened it.)"""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _open(data_dir: Path) -> CopilotService:
    return CopilotService.open(Settings(data_dir=data_dir))


def _runbooks(tmp_path: Path) -> Path:
    books = tmp_path / "runbooks"
    books.mkdir()
    (books / "payments-creds.md").write_text(RUNBOOK, encoding="utf-8")
    (books / "clean.md").write_text("# Nothing secret\n\nRestart the pod.\n", encoding="utf-8")
    return books


def test_chat_text_is_redacted_before_the_graph_checkpoints_it(tmp_path: Path) -> None:
    """Start and follow-up: the checkpoint's request, its history and every table hold
    placeholders; the secrets are nowhere in the data dir (WAL files included)."""
    data = tmp_path / "data"
    svc = _open(data)
    try:
        svc.reset_sandbox()
        svc.inject_fault("bad_deploy", "checkout")
        alice = svc.principal("alice")
        first = svc.handle_message(alice, "inc-1", f"{ASK}; the deploy token is {GITHUB_TOKEN}")
        assert first.pending, first.text  # the card waits: the next message resumes the run
        config = {"configurable": {"thread_id": "inc-1"}}
        state = svc.parts.graph.get_state(config).values
        # what the graph was given, as it checkpointed it: placeholders in place of secrets
        assert "[REDACTED:github-token:1]" in state["request"] and ASK in state["request"]
        follow = svc.handle_message(alice, "inc-1", f"more from the logs:\n{PASTE}")
        state = svc.parts.graph.get_state(config).values
        assert "[REDACTED:private-key:1]" in state["request"]
        everything = repr(state)  # both messages (the history), the resume event
        assert "[REDACTED:github-token:1]" in everything and not leaks(everything)
        assert not leaks(first.model_dump_json()) and not leaks(follow.model_dump_json())
        assert not leaks_in_files(data)  # while open: the WAL files are there too
    finally:
        svc.close()
    assert not leaks_in_files(data)


def test_runbook_secrets_are_replaced_at_ingest_and_counted_per_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    books = _runbooks(tmp_path)
    svc = _open(data)
    try:
        report = svc.ingest_runbooks([books])
        # four distinct secrets (the token in the title and the body is one secret)
        assert report.secrets == {"runbooks/payments-creds.md": 4}
        found = svc.search_runbooks("rotating the payments credentials deploy bot", k=3)
        hit = next(h for h in found.hits if h.source == "runbooks/payments-creds.md")
        assert "[REDACTED:github-token:1]" in hit.title + hit.heading
        assert not leaks(found.model_dump_json())
        chunks = svc.search_runbooks("psql signing key database", k=3).hits
        assert any("[REDACTED:" in h.text for h in chunks)
        # stored redacted: a raw read of the collection finds placeholders only
        stored = svc.parts.index._collection.get(include=["documents", "metadatas"])
        ours = [
            (d, m)
            for d, m in zip(stored["documents"], stored["metadatas"], strict=True)
            if m["source"] == "runbooks/payments-creds.md"
        ]
        assert ours and not leaks(repr(ours))
        assert any("[REDACTED:aws-access-key-id:1]" in d for d, _ in ours)
        # the same file redacts to the same chunks: nothing re-embedded, still counted
        again = svc.ingest_runbooks([books])
        assert again.added == again.updated == 0 and again.secrets == report.secrets
    finally:
        svc.close()
    assert not leaks_in_files(data)


def test_runbooks_stored_in_clear_by_an_earlier_release_are_replaced(tmp_path: Path) -> None:
    """A chunk stored before ingest redacted has another hash: the next ingest rewrites it."""
    from copilot.knowledge.index import RunbookIndex

    data = tmp_path / "data"
    books = _runbooks(tmp_path)
    index = RunbookIndex(Settings(data_dir=data))
    index._team._rules = ()  # as the previous release ingested: no redaction
    index.ingest([books])
    stored = index._collection.get(include=["documents"])
    assert leaks(" ".join(stored["documents"]))  # the clear text was there
    now = RunbookIndex(Settings(data_dir=data)).ingest([books])
    assert now.updated > 0
    after = RunbookIndex(Settings(data_dir=data))._collection.get(include=["documents"])
    assert not leaks(" ".join(after["documents"]))


def _modes(root: Path) -> dict[str, str]:
    out = {".": oct(stat.S_IMODE(root.stat().st_mode))}
    for path in root.rglob("*"):
        out[str(path.relative_to(root))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return out


@pytest.mark.usefixtures("loose_umask")
def test_data_dir_is_private_after_a_conversation_and_an_ingest(tmp_path: Path) -> None:
    data = tmp_path / "data"
    svc = _open(data)
    try:
        svc.reset_sandbox()
        alice = svc.principal("alice")
        svc.handle_message(alice, "inc-1", ASK)
        svc.ingest_runbooks([_runbooks(tmp_path)])
        open_modes = _modes(data)  # WAL and SHM files exist while the service is open
    finally:
        svc.close()
    assert any(name.endswith("-wal") for name in open_modes)
    assert (data / "chroma" / "chroma.sqlite3").is_file() and (data / "checkpoints.db").is_file()
    for modes in (open_modes, _modes(data)):
        dirs = {n: m for n, m in modes.items() if n == "." or (data / n).is_dir()}
        files = {n: m for n, m in modes.items() if n not in dirs}
        assert set(dirs.values()) == {"0o700"}, dirs
        assert set(files.values()) == {"0o600"}, files


@pytest.mark.usefixtures("loose_umask")
def test_a_data_dir_made_by_an_earlier_release_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "chroma").mkdir(parents=True, mode=0o755)
    data.chmod(0o755)
    (data / "notes.txt").write_text("left over")
    (data / "notes.txt").chmod(0o644)
    svc = _open(data)
    try:
        svc.cards()  # opens the store (and so the data dir)
    finally:
        svc.close()
    modes = _modes(data)
    assert modes["."] == modes["chroma"] == "0o700"
    assert modes["notes.txt"] == modes["copilot.db"] == "0o600"
