"""Which configuration keys name no setting, found by walking the settings' models.

pydantic-settings ignores ``PREFIX_*`` variables that match no field (``extra="forbid"``
does not see them), and a misspelt key anywhere would silently leave its setting at the
default; these helpers name such keys, with the settings they were probably meant to be.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel


def spelling_hint(near: list[str]) -> str:
    if near:
        return f"did you mean {' or '.join(near)}? (settings are listed in README.md, Settings)"
    return "remove it or fix its spelling (settings are listed in README.md, Settings)"


def unknown_env_name(
    model: type[BaseModel], name: str, prefix: str, allowed: frozenset[str]
) -> list[str] | None:
    """None if ``name`` does not start with ``prefix``, is ``allowed``, or names a setting
    (``__`` between nested keys, any case); else the variables it may have meant."""
    upper = name.upper()
    if not upper.startswith(prefix) or upper in allowed:
        return None
    parts = upper[len(prefix) :].lower().split("__")
    found = _unknown_path(model, parts)
    if found is None:
        return None
    near, rest = found
    stem = "__".join(parts[: len(parts) - len(rest)]).upper()
    return [f"{prefix}{stem}{'__' if stem else ''}{n.upper()}" for n in near]


def unknown_toml_keys(model: type[BaseModel], table: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Every dotted key of a parsed TOML table that names no setting, with near misses."""
    out: list[tuple[str, list[str]]] = []

    def walk(annotation: Any, data: dict[str, Any], prefix: list[str]) -> None:
        for key, value in data.items():
            child = _child(annotation, key, fold_case=False)
            if child is _NO_SUCH:
                out.append((".".join([*prefix, key]), _near(annotation, key, False)))
            elif isinstance(value, dict) and _container(child) is not None:
                walk(child, value, [*prefix, key])

    walk(model, table, [])
    return out


_NO_SUCH = object()
_UNIONS = (typing.Union, types.UnionType)


def _unknown_path(annotation: Any, parts: list[str]) -> tuple[list[str], list[str]] | None:
    """None if ``parts`` leads to a setting; else (near misses, the parts from the bad one)."""
    for i, part in enumerate(parts):
        child = _child(annotation, part, fold_case=True)
        if child is _NO_SUCH:
            return _near(annotation, part, True), parts[i:]
        annotation = child
    return None


def _container(annotation: Any) -> Any:
    """The model class or ``dict[...]`` type inside ``annotation`` (unwrapping ``X | None``),
    or None for a plain value."""
    for option in get_args(annotation) if get_origin(annotation) in _UNIONS else (annotation,):
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
        if get_origin(option) is dict:
            return option
    return None


def _child(annotation: Any, key: str, *, fold_case: bool) -> Any:
    """The annotation under ``key``, or ``_NO_SUCH`` when ``annotation`` has no such key."""
    container = _container(annotation)
    if container is None or not key:
        return _NO_SUCH
    if get_origin(container) is dict:
        return get_args(container)[1]  # any name: a user, a role
    for name, field in container.model_fields.items():
        if name == key or (fold_case and name.lower() == key.lower()):
            return field.annotation
    return _NO_SUCH


def _near(annotation: Any, key: str, fold_case: bool) -> list[str]:
    container = _container(annotation)
    if container is None or get_origin(container) is dict:
        return []
    names = list(container.model_fields)
    return difflib.get_close_matches(key.lower() if fold_case else key, names, n=2)
