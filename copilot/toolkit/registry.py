"""Tool discovery: the packs registered as ``copilot.tools`` entry points and the folders in
``COPILOT_TOOL_PATHS``.

The built-in packs (``copilot_tools.sandbox``, ``.kubernetes``, ...) are entry points of our
own distribution, so they load exactly as a third-party pack does. A pack is a module that
lists its tools in ``TOOLS``; only the listed tools exist, and each takes its pack name from
where it is registered (the entry point's name, or the file's name in a tools folder).
Only the declared packs are imported: nothing else under ``copilot_tools`` loads at start.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from copilot.errors import ConfigError, InvalidInput
from copilot.toolkit import ToolSpec

ENTRY_POINT_GROUP = "copilot.tools"
_HOW_TO_DECLARE = "add TOOLS = [first_tool, second_tool, ...] listing the tools the pack offers"


def declared_tools(pack: str, module: ModuleType, where: str) -> list[ToolSpec]:
    """The tools ``module`` lists in ``TOOLS``, bound to ``pack``; a clear error otherwise."""
    listed = getattr(module, "TOOLS", None)
    if not isinstance(listed, list | tuple):
        raise ConfigError(f"tool pack {where} declares no TOOLS list", _HOW_TO_DECLARE)
    specs = []
    for entry in listed:
        if not isinstance(entry, ToolSpec):
            raise ConfigError(
                f"tool pack {where}: TOOLS holds {type(entry).__name__}, not a tool",
                "list only functions decorated with @tool",
            )
        specs.append(entry.in_pack(pack))
    return specs


def _path_packs(paths: Iterable[Path]) -> Iterator[ToolSpec]:
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
            yield from declared_tools(file.stem, module, str(file))


def _entry_point_packs() -> Iterator[ToolSpec]:
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        where = f"entry point {ep.name} ({ep.value})"
        try:
            loaded = ep.load()
        except Exception as exc:
            raise ConfigError(
                f"tool {where} failed to load: {type(exc).__name__}",
                "fix or uninstall the package that declares it",
            ) from exc
        if not isinstance(loaded, ModuleType):
            raise ConfigError(
                f"tool {where} is not a module",
                "point the entry point at the pack's module, which declares TOOLS",
            )
        yield from declared_tools(ep.name, loaded, where)


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


def discover(extra_paths: Iterable[Path] = ()) -> Registry:
    """Import the declared packs (entry points, then tool folders) and collect their tools."""
    return Registry([*_entry_point_packs(), *_path_packs(extra_paths)])
