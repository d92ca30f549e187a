"""What ships: every package pyproject installs is in the container image, and every
package-data pattern matches files (a template or model left out fails at run time)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_image_copies_every_installed_package():
    include = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    for pattern in include:
        package = pattern.rstrip("*")
        assert f"COPY {package} ./{package}" in dockerfile, f"Dockerfile misses {package}/"


def test_every_package_data_pattern_matches_files():
    data = _pyproject()["tool"]["setuptools"]["package-data"]
    for package, patterns in data.items():
        for pattern in patterns:
            assert list((ROOT / package).glob(pattern)), f"{package}/{pattern} matches nothing"
