"""Read policy and schema files and turn Cedar's parse errors into ``file:line`` messages.

cedarpy reports parse errors without positions, so each policy statement is parsed on its
own (statement starts are found by a small scanner that respects strings and comments), and
within a bad statement the first line after which it stops being merely incomplete is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cedarpy

from copilot.errors import ConfigError

DEFAULT_DIR = Path(__file__).resolve().parent / "default"


@dataclass(frozen=True)
class Statement:
    path: Path
    line: int  # first line of code of the statement
    text: str
    text_line: int  # the file line where ``text`` begins (may be blank or a comment)


def split_statements(text: str, path: Path) -> list[Statement]:
    """Split Cedar source into statements ending with a top-level ``;``."""
    out: list[Statement] = []
    start, line, start_line, text_line = 0, 1, None, 1
    i, n = 0, len(text)
    in_str = False
    while i < n:
        ch = text[i]
        if in_str:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_str = False
        elif ch == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif ch == '"':
            in_str = True
        elif ch == ";":
            out.append(Statement(path, start_line or line, text[start : i + 1], text_line))
            start, start_line, text_line = i + 1, None, line
        if ch == "\n":
            line += 1
        elif start_line is None and not ch.isspace() and not in_str:
            start_line = line
        if in_str and start_line is None:
            start_line = line
        i += 1
    if text[start:].strip() and start_line is not None:
        tail = "\n".join(ln for ln in text[start:].splitlines() if not ln.strip().startswith("//"))
        if tail.strip():
            out.append(Statement(path, start_line, text[start:], text_line))
    return out


def _first_bad_line(stmt: Statement) -> int:
    """The file line where ``stmt`` first fails to parse for a reason other than EOF."""
    lines = stmt.text.split("\n")
    for k in range(1, len(lines) + 1):
        try:
            cedarpy.PolicySet.from_str("\n".join(lines[:k]))
        except ValueError as exc:
            if "end of input" not in str(exc):
                return stmt.text_line + k - 1
    return stmt.line


def read_policies(policy_dir: Path) -> tuple[str, list[Statement]]:
    """All ``*.cedar`` files of ``policy_dir`` as one text, checked statement by statement."""
    files = sorted(policy_dir.glob("*.cedar"))
    if not files:
        raise ConfigError(
            f"no *.cedar policy files in {policy_dir}",
            "point COPILOT_POLICY_DIR at a folder of Cedar policies (copy the defaults)",
        )
    statements: list[Statement] = []
    for path in files:
        for stmt in split_statements(path.read_text(encoding="utf-8"), path):
            try:
                cedarpy.PolicySet.from_str(stmt.text)
            except ValueError as exc:
                raise ConfigError(
                    f"{path}:{_first_bad_line(stmt)}: Cedar policy does not parse: {exc}",
                    "fix the policy; the copilot refuses to start with a broken policy",
                ) from None
            statements.append(stmt)
    return "\n".join(s.text for s in statements), statements


def read_schema(policy_dir: Path) -> tuple[str, Path]:
    """The one ``*.cedarschema`` of ``policy_dir`` (the packaged one if the folder has none)."""
    found = sorted(policy_dir.glob("*.cedarschema"))
    path = found[0] if found else DEFAULT_DIR / "schema.cedarschema"
    text = path.read_text(encoding="utf-8")
    try:
        cedarpy.Schema.from_str(text)
    except ValueError as exc:
        raise ConfigError(
            f"{path}:{_schema_bad_line(text)}: Cedar schema does not parse: {exc}",
            "fix the schema; the copilot refuses to start with a broken schema",
        ) from None
    return text, path


def _schema_bad_line(text: str) -> int:
    lines = text.split("\n")
    for k in range(1, len(lines) + 1):
        try:
            cedarpy.Schema.from_str("\n".join(lines[:k]))
        except ValueError as exc:
            if "end of input" not in str(exc):
                return k
    return len(lines)  # still incomplete at the end: the error is the missing end
