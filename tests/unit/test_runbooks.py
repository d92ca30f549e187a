"""Runbook parsing: front matter, heading chunks, playbooks, bad files, the public corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot.bench.retrieval import default_corpora
from copilot.knowledge.runbooks import (
    RunbookError,
    discover_runbooks,
    parse_runbook,
    read_runbook,
)

CORPORA = default_corpora()
RUNBOOKS = CORPORA / "runbooks" / "prometheus-operator"

EXECUTABLE = """---
title: Checkout returns 500s after a deploy
alerts: SandboxHighErrorRate
services: [checkout]
playbook:
  steps:
    - tool: sandbox.get_logs
      args: {service: "{{ service }}", level: ERROR}
    - tool: sandbox.rollback_deployment
      args: {service: "{{ service }}"}
      when: "error_rate > 0.05"
  rollback:
    - tool: sandbox.deploy_revision
      args: {service: "{{ service }}", revision: "{{ previous_revision }}"}
---
# Checkout 500s

## Meaning
Requests fail after a deploy.

## Mitigation
```shell
# not a heading: a comment in a shell block
kubectl rollout undo deploy/checkout
```
Roll back.
"""


def test_front_matter_playbook_and_chunks():
    book = parse_runbook(EXECUTABLE, "sandbox/checkout-500.md")
    assert book.title == "Checkout returns 500s after a deploy"
    assert book.alerts == ["SandboxHighErrorRate"] and book.services == ["checkout"]
    assert book.playbook is not None
    steps = book.playbook.steps
    assert [s.tool for s in steps] == ["sandbox.get_logs", "sandbox.rollback_deployment"]
    assert steps[1].when == "error_rate > 0.05" and steps[0].args["service"] == "{{ service }}"
    assert book.playbook.rollback[0].tool == "sandbox.deploy_revision"
    headings = [c.heading for c in book.chunks]
    assert headings == [
        "Checkout returns 500s after a deploy > Checkout 500s > Meaning",
        "Checkout returns 500s after a deploy > Checkout 500s > Mitigation",
    ]
    assert "# not a heading" in book.chunks[1].text  # fenced code keeps its lines
    assert all(c.services == ["checkout"] for c in book.chunks)
    assert len({c.chunk_hash for c in book.chunks}) == 2
    assert parse_runbook(EXECUTABLE, "x").content_hash == book.content_hash


def test_a_change_changes_only_its_chunk_hash():
    before = parse_runbook(EXECUTABLE, "a.md")
    after = parse_runbook(EXECUTABLE.replace("Roll back.", "Roll back now."), "a.md")
    assert before.chunks[0].chunk_hash == after.chunks[0].chunk_hash
    assert before.chunks[1].chunk_hash != after.chunks[1].chunk_hash
    assert before.content_hash != after.content_hash


def test_long_sections_are_cut_at_paragraphs():
    para = "word " * 100
    text = "# T\n## Big\n" + "\n\n".join(para.strip() for _ in range(20)) + "\n" + "x" * 5000
    book = parse_runbook(text, "big.md", max_chunk_chars=1500)
    assert len(book.chunks) > 5 and all(len(c.text) <= 1500 for c in book.chunks)
    assert book.chunks[0].text.startswith("word") and book.chunks[0].text.endswith("word")


@pytest.mark.parametrize(
    ("front", "needle"),
    [
        ("title: [unclosed\n", "not valid YAML"),
        ("- a list\n", "not a mapping"),
        ("playbook:\n  steps:\n    - args: {}\n", "playbook.steps.0.tool: required"),
        ("playbook:\n  steps: []\n", "playbook.steps"),
        ("playbook:\n  steps:\n    - tool: x\n      run: now\n", "unknown argument"),
    ],
)
def test_bad_front_matter_names_the_file(front, needle):
    with pytest.raises(RunbookError) as err:
        parse_runbook(f"---\n{front}---\n# T\nbody\n", "team/bad.md")
    assert err.value.message.startswith("team/bad.md: front matter")
    assert needle in err.value.message


def test_discovery_skips_bad_files_with_a_warning(tmp_path):
    (tmp_path / "good.md").write_text(EXECUTABLE, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bad.md").write_text("---\ntitle: [x\n---\n# B\n", encoding="utf-8")
    (tmp_path / "sub" / "binary.md").write_bytes(b"# Bin\n\xff\xfe text \x00\n")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    books, warnings = discover_runbooks([tmp_path, tmp_path / "missing"])
    assert sorted(b.source.split("/", 1)[1] for b in books) == ["good.md", "sub/binary.md"]
    assert any("sub/bad.md: front matter is not valid YAML" in w for w in warnings)
    assert any("missing: no such file or folder" in w for w in warnings)


def test_huge_file_is_truncated_not_loaded_whole(tmp_path, monkeypatch):
    from copilot.knowledge import runbooks

    monkeypatch.setattr(runbooks, "MAX_FILE_BYTES", 10_000)
    path = tmp_path / "huge.md"
    path.write_text("# Huge\n" + ("line of text\n" * 5000), encoding="utf-8")
    book = read_runbook(path)
    assert book.truncated and sum(len(c.text) for c in book.chunks) < 10_000


@pytest.mark.skipif(not RUNBOOKS.is_dir(), reason="public runbook corpus not beside the checkout")
def test_the_public_runbooks_parse_with_their_alert_names():
    books, warnings = discover_runbooks([RUNBOOKS])
    real = [b for b in books if not b.source.endswith("_index.md")]
    # 117 Markdown files: 108 runbooks and the 9 `_index.md` pages of the site's sections
    assert not warnings and len(books) == 117 and len(real) == 108
    for book in real:
        stem = Path(book.source).stem
        assert stem in book.alerts, (book.source, book.alerts)
        assert book.chunks and all(c.text for c in book.chunks)
    meanings = [c for b in real for c in b.chunks if c.heading.endswith("> Meaning")]
    assert len(meanings) >= 100


def test_bundled_sandbox_runbooks_name_real_tools_with_valid_arguments():
    """Every playbook step of the shipped runbooks names a registered tool, and its
    arguments, templates filled as an incident would fill them, pass the tool's schema."""
    import re

    from copilot.knowledge.runbooks import bundled_runbooks_dir
    from copilot.toolkit.registry import discover

    registry = discover([])
    facts = {
        "service": "checkout",
        "job": "nightly-reindex",
        "domain": "api.shop.example.com",
        "blocking_pid": "43756",
        "recommended_replicas": "9",
        "last_flag_change_flag": "new_tax_engine",
        "exposed_secret_name": "payments-psp-key",
    }
    books, warnings = discover_runbooks([bundled_runbooks_dir()])
    assert not warnings and len(books) == 12
    for book in books:
        assert book.playbook is not None and book.alerts, book.source
        for step in [*book.playbook.steps, *book.playbook.rollback]:
            spec = registry.get(step.tool)
            filled = {
                k: re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: facts[m.group(1)], v)
                if isinstance(v, str)
                else v
                for k, v in step.args.items()
            }
            spec.validate(filled)
