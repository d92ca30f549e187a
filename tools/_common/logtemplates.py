"""Log templating: a window of log lines folded into its templates, for a compact prompt.

Lines are clustered with drain3's ``TemplateMiner`` (in memory, nothing persisted) after
masking the parts that differ between otherwise identical lines: UUIDs, IP addresses,
Kubernetes pod names,
hex ids, durations such as ``123ms``, long opaque tokens and numbers. Each template keeps
its count, first and last timestamp, the highest level seen and one verbatim example (the
first occurrence). Templates are ordered by count; beyond ``max_templates`` the rarer
ones are summarised in one line, except that every ERROR/FATAL template is always kept:
the causal line of an incident is often the rarest one.

The examples are verbatim: they are log content, so whoever puts the rendered window into
a prompt must redact it and label it as untrusted data, as for any other log text.

``count_tokens`` counts tokens the way the model gateway would, through
``litellm.token_counter`` in offline mode, loaded by the gateway (the one module that
imports litellm) (litellm ships tiktoken's ``cl100k_base`` file,
so nothing is downloaded); without litellm it falls back to ``len(text) / 4``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_LEVEL_ALIASES = {
    "TRACE": "DEBUG",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "NOTICE": "INFO",
    "WARN": "WARN",
    "WARNING": "WARN",
    "ERROR": "ERROR",
    "ERR": "ERROR",
    "CRITICAL": "FATAL",
    "CRIT": "FATAL",
    "FATAL": "FATAL",
    "PANIC": "FATAL",
    "EMERG": "FATAL",
}
SEVERE = frozenset({"ERROR", "FATAL"})
TOKENIZER_MODEL = "gpt-4o-mini"

# A plain-text line may start with a timestamp and a level: "2025-03-04T14:30:12Z ERROR ...".
_TS = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
_TS_PREFIX = re.compile(rf"^\s*\[?(?P<ts>{_TS})\]?\s*")
_LEVEL_PREFIX = re.compile(r"^\[?(?P<level>[A-Za-z]{3,8})\]?:?\s+")

# Masks applied before clustering, most specific first. Each must match a whole token.
_L = r"(?<![A-Za-z0-9_])"
_R = r"(?![A-Za-z0-9_])"
MASKS: tuple[tuple[str, str], ...] = (
    (_L + _TS + _R, "TS"),
    (
        _L + r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}" + _R,
        "UUID",
    ),
    (_L + r"[a-z][a-z0-9-]*-[a-z0-9]{8,10}-[a-z0-9]{5}" + _R, "POD"),
    (_L + r"(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?" + _R, "IP"),
    (
        _L + r"(?:0x[0-9a-fA-F]+|(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,})" + _R,
        "HEX",
    ),
    (_L + r"\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d)" + _R, "DURATION"),
    (_L + r"(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{24,}" + _R, "TOKEN"),
    (_L + r"[-+]?\d+(?:\.\d+)?" + _R, "NUM"),
)


class LogLike(Protocol):
    """A structured log line: ``copilot``'s and the sandbox's ``LogLine`` both fit."""

    @property
    def ts(self) -> datetime | str | None: ...

    @property
    def level(self) -> str | None: ...

    @property
    def message(self) -> str: ...


LineInput = str | LogLike | Mapping[str, Any]


class LogTemplate(BaseModel):
    template: str
    count: int
    level: str | None = None
    first: datetime | None = None
    last: datetime | None = None
    example: str


class TemplatedWindow(BaseModel):
    templates: list[LogTemplate]
    total_lines: int
    total_templates: int
    dropped_templates: int = 0
    dropped_lines: int = 0

    @property
    def dropped_summary(self) -> str:
        """``"N rarer templates, M lines"`` (empty when nothing was dropped)."""
        if not self.dropped_templates:
            return ""
        return f"{self.dropped_templates} rarer templates, {self.dropped_lines} lines"


def normalise_level(level: object) -> str | None:
    if level is None:
        return None
    return _LEVEL_ALIASES.get(str(level).strip().upper())


def _parse_ts(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return datetime.fromisoformat(value.strip().replace(",", "."))
        except ValueError:
            return None
    return None


def _split(line: LineInput) -> tuple[datetime | None, str | None, str, str]:
    """(timestamp, level, text to template, verbatim example) of one input line."""
    if isinstance(line, str):
        ts, level, rest = None, None, line
        if m := _TS_PREFIX.match(rest):
            ts, rest = _parse_ts(m.group("ts")), rest[m.end() :]
        if (m := _LEVEL_PREFIX.match(rest)) and (level := normalise_level(m.group("level"))):
            rest = rest[m.end() :]
        return ts, level, rest.strip(), line.rstrip("\n")
    if isinstance(line, Mapping):
        message = str(line.get("message", line.get("msg", "")))
        return _parse_ts(line.get("ts")), normalise_level(line.get("level")), message, message
    message = str(line.message)
    return _parse_ts(line.ts), normalise_level(line.level), message, message


def _rank(level: str | None) -> int:
    return LEVELS.index(level) if level in LEVELS else -1


def _miner() -> Any:
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.drain_sim_th = 0.5
    config.drain_depth = 4
    config.drain_max_children = 100
    config.parametrize_numeric_tokens = True
    config.masking_instructions = [MaskingInstruction(p, name) for p, name in MASKS]
    return TemplateMiner(persistence_handler=None, config=config)


def template_window(lines: Sequence[LineInput], max_templates: int = 50) -> TemplatedWindow:
    """Fold ``lines`` into templates (see the module docstring)."""
    miner = _miner()
    stats: dict[int, dict[str, Any]] = {}
    for line in lines:
        ts, level, text, example = _split(line)
        cid = int(miner.add_log_message(text)["cluster_id"])
        s = stats.get(cid)
        if s is None:
            stats[cid] = {"level": level, "first": ts, "last": ts, "example": example, "n": 1}
            continue
        s["n"] += 1
        if _rank(level) > _rank(s["level"]):
            s["level"] = level
        if ts is not None:
            s["first"] = ts if s["first"] is None or ts < s["first"] else s["first"]
            s["last"] = ts if s["last"] is None or ts > s["last"] else s["last"]
    clusters = {c.cluster_id: c for c in miner.drain.clusters}
    templates = [
        LogTemplate(
            template=clusters[cid].get_template(),
            count=s["n"],
            level=s["level"],
            first=s["first"],
            last=s["last"],
            example=s["example"],
        )
        for cid, s in stats.items()
    ]
    templates.sort(key=lambda t: (-t.count, -_rank(t.level), t.first is None, t.first or 0))
    kept = [t for i, t in enumerate(templates) if i < max_templates or t.level in SEVERE]
    dropped = [t for i, t in enumerate(templates) if i >= max_templates and t.level not in SEVERE]
    return TemplatedWindow(
        templates=kept,
        total_lines=len(lines),
        total_templates=len(templates),
        dropped_templates=len(dropped),
        dropped_lines=sum(t.count for t in dropped),
    )


def _when(ts: datetime | None, date: bool) -> str:
    if ts is None:
        return "?"
    return ts.strftime("%Y-%m-%dT%H:%M:%S" if date else "%H:%M:%S")


def render(window: TemplatedWindow) -> str:
    """One line per template: ``count× [LEVEL] first..last  template  | e.g. example``."""
    stamps = [t for tpl in window.templates for t in (tpl.first, tpl.last) if t is not None]
    date = len({t.date() for t in stamps}) > 1
    head = f"{window.total_lines} lines, {window.total_templates} templates"
    if stamps:
        head += f", {_when(min(stamps), True)}..{_when(max(stamps), True)}"
    out = [head]
    for t in window.templates:
        parts = [f"{t.count}×"]
        if t.level:
            parts.append(f"[{t.level}]")
        if t.first is not None:
            parts.append(f"{_when(t.first, date)}..{_when(t.last, date)}")
        line = " ".join(parts) + f"  {t.template}"
        if not t.example.rstrip().endswith(t.template.strip()):  # else the template says it
            line += f"  | e.g. {t.example}"
        out.append(line)
    if window.dropped_templates:
        out.append(f"… {window.dropped_summary}")
    return "\n".join(out)


_TOKENIZER: str | None = None


def _token_counter() -> Any:
    # Only the model gateway imports litellm (tests/unit/test_one_door.py): its loader sets
    # LITELLM_OFFLINE_MODE and LITELLM_LOCAL_MODEL_COST_MAP first, so nothing is fetched.
    from copilot.model.gateway import load_litellm

    return load_litellm(offline=True).token_counter


def count_tokens(text: str) -> int:
    """Tokens of ``text`` for ``gpt-4o-mini`` via litellm (offline), else ``len(text) / 4``."""
    global _TOKENIZER
    try:
        counter = _token_counter()
        n = int(counter(model=TOKENIZER_MODEL, text=text))
    except ImportError:
        _TOKENIZER = "approximation: len(text)/4"
        return math.ceil(len(text) / 4)
    _TOKENIZER = f"litellm.token_counter(model={TOKENIZER_MODEL!r}): tiktoken cl100k_base bundled"
    return n


def tokenizer_name() -> str:
    """Which counter ``count_tokens`` uses (it counts one empty string to find out)."""
    if _TOKENIZER is None:
        count_tokens("")
    assert _TOKENIZER is not None
    return _TOKENIZER
