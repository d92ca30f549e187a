"""What ships: every package folder is listed in pyproject (under its installed name), the
container image copies every folder, every package-data pattern matches files (a template
or model left out fails at run time), and every tool pack is registered as an entry point."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
INSTALLED = ("copilot", "tools", "evals", "prompts")


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _folder(package: str) -> Path:
    """Where ``package`` lives in the repository, through ``package-dir``."""
    top, *rest = package.split(".")
    return ROOT / _setuptools().get("package-dir", {}).get(top, top) / "/".join(rest)


def test_every_package_folder_is_listed():
    listed = {_folder(p).resolve() for p in _setuptools()["packages"]}
    on_disk = {
        init.parent.resolve()
        for folder in INSTALLED
        for init in (ROOT / folder).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert not on_disk - listed, f"missing from [tool.setuptools] packages: {on_disk - listed}"
    assert all((f / "__init__.py").is_file() for f in listed), "a listed package has no folder"


def test_the_image_copies_every_installed_folder():
    dockerfile = (ROOT / "Dockerfile").read_text()
    folders = {_folder(p).relative_to(ROOT).parts[0] for p in _setuptools()["packages"]}
    assert folders == set(INSTALLED)
    for folder in folders:
        assert f"COPY {folder} ./{folder}" in dockerfile, f"Dockerfile misses {folder}/"


def test_every_package_data_pattern_matches_files():
    data = _setuptools()["package-data"]
    for package, patterns in data.items():
        assert package in _setuptools()["packages"], f"package-data names unknown {package}"
        for pattern in patterns:
            assert list(_folder(package).glob(pattern)), f"{package}: {pattern} matches nothing"


def test_every_tool_pack_is_an_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    registered = project["entry-points"]["copilot.tools"]
    packs = {d.name for d in (ROOT / "tools").iterdir() if (d / "__init__.py").is_file()} - {
        "_common"
    }
    assert registered == {name: f"copilot_tools.{name}" for name in packs}
