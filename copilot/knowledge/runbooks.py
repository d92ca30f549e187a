"""Markdown runbooks: front matter, heading-sized chunks with metadata, and playbooks.

A runbook is a Markdown file with optional YAML front matter::

    ---
    title: Checkout returns 500s after a deploy
    alerts: [SandboxHighErrorRate]
    services: [checkout]
    playbook:
      steps:
        - tool: sandbox.rollback_deployment
          args: {service: "{{ service }}"}
          when: "error_rate > 0.05"
    ---
    # SandboxHighErrorRate
    ## Meaning ...

It is cut into one chunk per section (heading lines inside fenced code do not count), a
long section into paragraph-aligned pieces, each carrying the heading path, the
runbook's title, alert names and services, and hashes so re-ingestion touches only what
changed. Broken front matter makes the file an error naming it (the caller skips it with
a warning); a huge file is read in full only up to ``MAX_FILE_BYTES``.

Secrets are replaced by placeholders as a file is parsed (:class:`IngestRedaction`), before
anything is cut, hashed, embedded or stored: a key pasted into a runbook never reaches the
index, a search result or an agent's checkpoint.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from copilot.errors import InvalidInput, describe_validation_error
from copilot.redact.engine import Redactor
from copilot.redact.rules import Rule

MAX_CHUNK_CHARS = 1500  # ~300 tokens: a section an embedding model reads whole
MAX_FILE_BYTES = 2_000_000  # a runbook larger than this is truncated (and says so)

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^[ \t]*(```|~~~)")
_ALERT_NAME = re.compile(
    r"^[A-Za-z][a-z0-9]*(?:[A-Z][A-Za-z0-9]*)+$"
)  # KubePodCrashLooping, etcdNoLeader


class RunbookError(InvalidInput):
    """A runbook file that cannot be used (bad front matter, unreadable)."""


class PlaybookStep(BaseModel):
    """One step of an executable runbook: a tool, argument templates, a condition."""

    model_config = ConfigDict(extra="forbid")

    tool: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)  # values may hold {{ templates }}
    when: str | None = None  # a condition on gathered facts, e.g. "error_rate > 0.05"
    description: str = ""


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: list[PlaybookStep] = Field(min_length=1)
    rollback: list[PlaybookStep] = Field(default_factory=list)


class FrontMatter(BaseModel):
    """Known keys are checked; unknown ones (``weight`` in Hugo sites) are kept aside."""

    model_config = ConfigDict(extra="allow")

    title: str | None = None
    alerts: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    playbook: Playbook | None = None


class Chunk(BaseModel):
    id: str  # stable: source path + ordinal
    source: str
    title: str
    heading: str  # "Title > Diagnosis > Logs"
    text: str
    ordinal: int
    alerts: list[str]
    services: list[str]
    chunk_hash: str
    # The runbook's playbook (JSON, "" when none): every chunk carries it, so a search hit
    # can show the steps of the runbook it came from.
    playbook_json: str = ""


class Runbook(BaseModel):
    source: str
    title: str
    alerts: list[str]
    services: list[str]
    tags: list[str]
    playbook: Playbook | None
    content_hash: str
    chunks: list[Chunk]
    truncated: bool = False
    secrets: int = 0  # distinct secrets replaced by placeholders at ingest


class IngestRedaction:
    """Replaces the secrets of one runbook file, counting the distinct ones.

    Only secret rules run: a runbook's PII (the on-call's address) is written by the team
    for the team, and is redacted where it leaves (model context, replies). Each file gets
    a fresh placeholder memory, so the same file always redacts to the same text and its
    chunk hashes stay stable across ingests (nothing is re-embedded for nothing)."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self._redactor = Redactor([r for r in rules if r.kind == "secret"])
        self._found: set[str] = set()

    @property
    def count(self) -> int:
        return len(self._found)

    def text(self, text: str) -> str:
        done = self._redactor.redact(text)
        self._found.update(f.placeholder for f in done.findings)
        return done.text

    def value(self, value: Any) -> Any:
        """Every string inside parsed front matter (keys too), keeping its shape."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _front_matter(
    text: str, source: str, redaction: IngestRedaction | None
) -> tuple[FrontMatter, str]:
    m = _FRONT.match(text)
    if not m:
        return FrontMatter(), text
    try:
        raw = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise RunbookError(
            f"{source}: front matter is not valid YAML{where}", "fix the block between the ---"
        ) from None
    if not isinstance(raw, dict):
        raise RunbookError(f"{source}: front matter is not a mapping", "use key: value lines")
    if redaction is not None:  # parsed first: a placeholder in YAML would change its shape
        raw = redaction.value(raw)
    for key in ("alerts", "services", "tags"):
        if isinstance(raw.get(key), str):
            raw[key] = [raw[key]]
    try:
        meta = FrontMatter.model_validate(raw)
    except ValidationError as exc:
        raise RunbookError(
            f"{source}: front matter: {describe_validation_error(exc)}", "fix those keys"
        ) from None
    return meta, text[m.end() :]


def _sections(body: str) -> list[tuple[list[str], str]]:
    """(heading path, section text) in order; headings inside fenced code are text."""
    path: list[tuple[int, str]] = []
    out: list[tuple[list[str], list[str]]] = [([], [])]
    fenced = False
    for line in body.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        m = None if fenced else _HEADING.match(line)
        if m:
            level = len(m.group(1))
            path = [p for p in path if p[0] < level] + [(level, m.group(2).strip())]
            out.append(([h for _, h in path], []))
        else:
            out[-1][1].append(line)
    return [(heads, "\n".join(lines).strip()) for heads, lines in out]


def _pieces(text: str, limit: int) -> list[str]:
    """``text`` in paragraph-aligned pieces of at most ``limit`` characters (a paragraph
    longer than that is cut at line, then character, boundaries)."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for para in re.split(r"\n\s*\n", text):
        parts = [para] if len(para) <= limit else _hard_split(para, limit)
        for part in parts:
            if current and len(current) + 2 + len(part) > limit:
                pieces.append(current)
                current = part
            else:
                current = f"{current}\n\n{part}" if current else part
    if current:
        pieces.append(current)
    return pieces


def _hard_split(text: str, limit: int) -> list[str]:
    out, current = [], ""
    for line in text.splitlines():
        while len(line) > limit:
            out.append(line[:limit])
            line = line[limit:]
        if current and len(current) + 1 + len(line) > limit:
            out.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        out.append(current)
    return out


def parse_runbook(
    text: str,
    source: str,
    *,
    max_chunk_chars: int = MAX_CHUNK_CHARS,
    redaction: IngestRedaction | None = None,
) -> Runbook:
    """Parse one runbook's text; ``source`` names it (a path relative to its root). With
    ``redaction``, secrets in front matter, body and title become placeholders."""
    meta, body = _front_matter(text, source, redaction)
    if redaction is not None:
        # The whole body at once, before it is cut: a PEM block never straddles two chunks.
        body = redaction.text(body)
    sections = _sections(body)
    h1 = next((heads[0] for heads, _ in sections if heads), None)
    title = meta.title or h1 or Path(source).stem
    if redaction is not None:
        title = redaction.text(title)  # a file named after a key
    alerts = list(meta.alerts)
    # prometheus-operator style: the H1 is the alert's name, or the file is named after
    # it and the H1 or title spells it with spaces ("CPU Throttling High")
    stem = Path(source).stem
    for name in (h1, stem):
        if not name or name in alerts or not name.isidentifier():
            continue
        spelled = any(
            t is not None and t.replace(" ", "").lower() == stem.lower() for t in (h1, meta.title)
        )
        if (name == h1 and _ALERT_NAME.match(name)) or (name == stem and spelled):
            alerts.append(name)
    chunks: list[Chunk] = []
    playbook_json = meta.playbook.model_dump_json() if meta.playbook else ""
    # front matter is part of every chunk's hash: a changed playbook or alert list re-ingests
    meta_digest = _sha(f"{alerts}{list(meta.services)}{playbook_json}")
    for heads, section in sections:
        if not section:
            continue
        heading = " > ".join([title, *[h for h in heads if h != title]])
        for piece in _pieces(section, max_chunk_chars):
            n = len(chunks)
            chunks.append(
                Chunk(
                    id=f"{source}#{n}",
                    source=source,
                    title=title,
                    heading=heading,
                    text=piece,
                    ordinal=n,
                    alerts=alerts,
                    services=list(meta.services),
                    chunk_hash=_sha(f"{heading}\n{piece}\n{meta_digest}"),
                    playbook_json=playbook_json,
                )
            )
    return Runbook(
        source=source,
        title=title,
        alerts=alerts,
        services=list(meta.services),
        tags=list(meta.tags),
        playbook=meta.playbook,
        content_hash=_sha(text),
        chunks=chunks,
        secrets=0 if redaction is None else redaction.count,
    )


def read_runbook(
    path: Path, source: str | None = None, rules: tuple[Rule, ...] | None = None
) -> Runbook:
    """Read and parse one file; undecodable bytes are replaced, a huge file truncated.
    With ``rules``, its secrets become placeholders (:class:`IngestRedaction`)."""
    source = source or str(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise RunbookError(f"{source}: cannot read ({exc.strerror})", "check the path") from None
    truncated = len(raw) > MAX_FILE_BYTES
    redaction = None if rules is None else IngestRedaction(rules)
    text = raw[:MAX_FILE_BYTES].decode("utf-8", errors="replace")
    book = parse_runbook(text, source, redaction=redaction)
    return book.model_copy(update={"truncated": truncated}) if truncated else book


def discover_runbooks(
    paths: list[Path], rules: tuple[Rule, ...] | None = None
) -> tuple[list[Runbook], list[str]]:
    """Every ``*.md`` under ``paths`` (files or folders), parsed (redacted with ``rules``);
    a file that cannot be used is skipped with a warning naming it, never fatal for the
    others."""
    runbooks: list[Runbook] = []
    warnings: list[str] = []
    for root in paths:
        if root.is_file():
            files = [(root, root.name)]
        elif root.is_dir():
            files = [(f, str(f.relative_to(root))) for f in sorted(root.rglob("*.md"))]
        else:
            warnings.append(f"{root}: no such file or folder")
            continue
        for path, rel in files:
            try:
                source = f"{root.name}/{rel}" if root.is_dir() else rel
                runbooks.append(read_runbook(path, source, rules))
            except RunbookError as err:
                warnings.append(f"skipped {err.one_line()}")
    return runbooks, warnings


def bundled_runbooks_dir() -> Path:
    """The runbooks that ship with the package (the sandbox's faults)."""
    return Path(__file__).parent / "bundled"
