"""Contract line 1, statically: only the executor calls a tool's function."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _callers(attr: str) -> set[str]:
    found = set()
    for folder in ("copilot", "tools"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and node.attr == attr:
                    found.add(str(path.relative_to(ROOT)))
    return found


def test_only_the_executor_runs_tools():
    assert _callers("run_unchecked") == {"copilot/door/executor.py"}
    # the function itself is private to the spec: only the toolkit and executor touch it
    assert _callers("_func") <= {"copilot/toolkit/__init__.py"}


def test_the_check_would_notice_a_second_door(tmp_path):
    # the scan is real: it finds the attribute wherever it is used
    assert "copilot/toolkit/__init__.py" in _callers("plan_fn")


def _importers(module: str) -> set[str]:
    found = set()
    for folder in ("copilot", "tools"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(n == module or n.startswith(module + ".") for n in names):
                    found.add(str(path.relative_to(ROOT)))
    return found


def test_only_the_gateway_talks_to_models():
    """Contract line 5 for the model: every call goes through the gateway, which redacts
    the context first; nothing else may import litellm (or a provider SDK) directly."""
    assert _importers("litellm") == {"copilot/model/gateway.py"}
    assert _importers("openai") == set() and _importers("anthropic") == set()


def _writers(table: str) -> set[str]:
    """Files that call ``insert(table)`` or ``update(table)`` (SQLAlchemy Core)."""
    found = set()
    for path in (ROOT / "copilot").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("insert", "update")
                and any(isinstance(a, ast.Name) and a.id == table for a in node.args)
            ):
                found.add(str(path.relative_to(ROOT)))
    return found


def test_only_the_transition_helper_writes_approval_states():
    """One state machine: every change of an approval's state (and its run record) is a
    ``transition`` with its audit event, never a hand-written UPDATE somewhere else."""
    assert _writers("approvals") == {"copilot/door/transition.py"}
    assert _writers("executions") == {"copilot/door/transition.py"}
    assert _writers("proposals") == {"copilot/door/transition.py"}
    # the scan is real: it sees the votes the approvals module writes
    assert "copilot/door/approvals.py" in _writers("approval_votes")
