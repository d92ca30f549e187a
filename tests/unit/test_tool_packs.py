"""Tool packs: each declares its tools in TOOLS, built-ins load as entry points like any
third-party pack, the pack name comes from where it is registered, and nothing but the
declared packs is imported at start."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from copilot.errors import ConfigError
from copilot.toolkit.registry import ENTRY_POINT_GROUP, discover
from copilot_tools import sandbox as sb

ROOT = Path(__file__).resolve().parents[2]
PING = 'from copilot import tool\n\n@tool(risk="read")\ndef ping() -> str:\n    """Ping."""\n'


def _fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """An installed distribution declaring ``acme = acme_pack`` in our entry-point group."""
    (tmp_path / "acme_pack.py").write_text(module)
    dist = tmp_path / "acme_pack-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-pack\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nacme = acme_pack\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "acme_pack", raising=False)


def test_discovery_imports_only_the_declared_packs():
    code = (
        "import json, sys\n"
        "from copilot.toolkit.registry import discover\n"
        "discover()\n"
        "print(json.dumps(sorted(m for m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(out.stdout)
    packs = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert packs == {"sandbox", "kubernetes", "prometheus", "alertmanager", "loki"}
    assert not [m for m in loaded if m.split(".")[0] == "prometheus_client"]
    assert "copilot_tools.sandbox.exporter" not in loaded
    ours = [m for m in loaded if m.startswith("copilot_tools.")]
    assert {m.split(".")[1] for m in ours} == packs | {"_common"}
    assert not [m for m in loaded if m.split(".")[0] in ("tools", "evals", "copilot_evals")]


def test_built_in_tools_are_named_by_their_package_and_bound_without_copies():
    registry = discover()
    assert registry.get("sandbox.rollback_deployment") is sb.rollback_deployment
    assert {s.pack for s in sb.TOOLS} == {"sandbox"}
    # No pack repeats its own name: the decorator takes it from the package.
    for path in (ROOT / "tools").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "tool":
                assert "pack" not in {k.arg for k in node.keywords}, path


def test_a_pack_without_tools_list_is_refused_by_name(tmp_path: Path):
    (tmp_path / "ops.py").write_text(PING)
    with pytest.raises(ConfigError, match=r"ops\.py declares no TOOLS list") as err:
        discover([tmp_path])
    assert "TOOLS = [" in err.value.hint


def test_only_the_listed_tools_exist(tmp_path: Path):
    (tmp_path / "ops.py").write_text(
        PING + '\n@tool(risk="read")\ndef pong() -> str:\n    """Pong."""\n\nTOOLS = [pong]\n'
    )
    names = {s.name for s in discover([tmp_path])}
    assert "ops.pong" in names and "ops.ping" not in names


def test_a_tools_entry_that_is_not_a_tool_is_refused(tmp_path: Path):
    (tmp_path / "ops.py").write_text(PING + "\nTOOLS = [ping, print]\n")
    with pytest.raises(ConfigError, match=r"ops\.py: TOOLS holds builtin_function_or_method"):
        discover([tmp_path])


def test_an_entry_point_pack_is_named_by_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _fake_distribution(tmp_path, monkeypatch, PING + "\nTOOLS = [ping]\n")
    names = {s.name for s in discover()}
    assert "acme.ping" in names and "acme_pack.ping" not in names


def test_an_entry_point_without_tools_list_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _fake_distribution(tmp_path, monkeypatch, PING)
    with pytest.raises(ConfigError, match=r"entry point acme \(acme_pack\) declares no TOOLS"):
        discover()
