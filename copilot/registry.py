"""Tool discovery: the built-in packs in ``tools/``, ``COPILOT_TOOL_PATHS`` and entry points."""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import pkgutil
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from copilot.errors import ConfigError, InvalidInput
from copilot.toolkit import ToolSpec

ENTRY_POINT_GROUP = "copilot.tools"


def _specs_in(module: ModuleType) -> Iterator[ToolSpec]:
    for value in vars(module).values():
        if isinstance(value, ToolSpec):
            yield value


def _builtin_modules() -> Iterator[ModuleType]:
    import tools

    for info in pkgutil.iter_modules(tools.__path__):
        if not info.name.startswith("_"):
            yield _import(f"tools.{info.name}")


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise ConfigError(
            f"tool pack {name} failed to import ({type(exc).__name__}: {exc})",
            "fix or remove the pack; the copilot will not start with a broken tool pack",
        ) from exc


def _path_modules(paths: Iterable[Path]) -> Iterator[ModuleType]:
    for folder in paths:
        if not folder.is_dir():
            raise ConfigError(f"tool path {folder} is not a folder", "fix COPILOT_TOOL_PATHS")
        # A per-folder package name keeps two folders' `ops.py` from colliding.
        tag = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]
        for file in sorted(folder.glob("*.py")):
            if file.name.startswith("_"):
                continue
            name = f"copilot_ext_{tag}.{file.stem}"
            spec = importlib.util.spec_from_file_location(name, file)
            if spec is None or spec.loader is None:
                raise ConfigError(f"cannot load tool pack {file}", "is it a Python file?")
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                raise ConfigError(
                    f"tool pack {file} failed to import ({type(exc).__name__}: {exc})",
                    "fix or remove the file from COPILOT_TOOL_PATHS",
                ) from exc
            yield module


def _entry_point_modules() -> Iterator[ModuleType]:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = ep.load()
        except Exception as exc:
            raise ConfigError(
                f"tool entry point {ep.name} ({ep.value}) failed to load: {type(exc).__name__}",
                "fix or uninstall the package that declares it",
            ) from exc
        if isinstance(loaded, ModuleType):
            yield loaded


class Registry:
    """Every tool the copilot knows, by qualified name (``pack.function``)."""

    def __init__(self, specs: Iterable[ToolSpec]) -> None:
        self._by_name: dict[str, ToolSpec] = {}
        for spec in specs:
            if spec.name in self._by_name and self._by_name[spec.name] is not spec:
                raise ConfigError(f"two tools are named {spec.name}", "rename one of them")
            self._by_name[spec.name] = spec

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(sorted(self._by_name.values(), key=lambda s: s.name))

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str) -> ToolSpec:
        """Find a tool by qualified name, or by its short name when that is unambiguous."""
        if name in self._by_name:
            return self._by_name[name]
        short = [s for s in self._by_name.values() if s.name.split(".", 1)[-1] == name]
        if len(short) == 1:
            return short[0]
        close = difflib.get_close_matches(name, list(self._by_name), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "run `copilot tools list`"
        if len(short) > 1:
            hint = f"{name} is ambiguous: use one of {', '.join(s.name for s in short)}"
        raise InvalidInput(f"unknown tool {name!r}", hint)


def discover(extra_paths: Iterable[Path] = (), *, entry_points_too: bool = True) -> Registry:
    """Import the packs and collect their tools."""
    modules = list(_builtin_modules())
    modules += list(_path_modules(extra_paths))
    if entry_points_too:
        modules += list(_entry_point_modules())
    return Registry(spec for m in modules for spec in _specs_in(m))
