"""The flow's direction, checked by import-linter (the contracts are in pyproject.toml):
surfaces reach the engine only through ``CopilotService``; lower layers never import
higher ones. Imports inside functions count too."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_contracts_hold():
    out = _lint_imports(ROOT, ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "broken" not in out.stdout.lower().replace("0 broken", "")


def test_the_contracts_would_notice_a_surface_reaching_the_store(tmp_path):
    # the same check on a copy of the tree in which the CLI imports the store, lazily
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "copilot", copy / "copilot", ignore=shutil.ignore_patterns("data"))
    calls = copy / "copilot" / "surfaces" / "cli" / "calls.py"
    calls.write_text(
        calls.read_text() + "\n\ndef _sneak() -> None:\n    from copilot.store import Store\n"
    )
    out = _lint_imports(copy, tmp_path)
    assert out.returncode != 0
    assert "copilot.surfaces.cli.calls -> copilot.store" in out.stdout


def test_surfaces_use_no_private_or_engine_attribute_of_the_service():
    """What import-linter cannot see: ``service.door`` and ``service.parts`` are the engine,
    for tests and benches; a surface calls the service's methods."""
    used = set()
    for path in (ROOT / "copilot" / "surfaces").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("door", "parts", "_parts"):
                used.add(f"{path.relative_to(ROOT)}: .{node.attr}")
    assert not used, used
