"""Loki reads: a LogQL range query, folded into log templates for a compact answer.

Thousands of lines cost a model thousands of tokens and bury the one line that matters.
``query_range`` fetches up to ``limit`` lines and folds them with
``_common.logtemplates.template_window`` (drain3): one entry per template with its
count, first and last time, highest level and one verbatim example; ERROR and FATAL
templates are always kept, however rare, since the causal line is often the rarest. A few
raw newest lines come along for context. Lines are log content from outside: the result is
untrusted, and the executor redacts it (a token a service logged) before anyone sees it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from copilot.errors import InvalidInput
from copilot.toolkit import ToolContext, tool

from .._common.logtemplates import LogTemplate, normalise_level, template_window
from .._common.series import SeriesSummary, labels_of, summarise
from .._common.sources import (
    SourceError,
    SourceResult,
    SourceUnavailable,
    field,
    read,
    request_json,
)
from .._common.timeargs import (
    Duration,
    TimeArg,
    epoch_ns,
    from_epoch_ns,
    parse_duration,
    resolve_time,
)

LogQL = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description='LogQL, e.g. {app="checkout"} |= "error" or {namespace="prod"} | json',
    ),
]
# A line longer than this is cut before templating and display (stack dumps, JSON blobs).
MAX_LINE = 2000

_LEVEL_LABELS = ("level", "detected_level", "severity", "lvl")
_LEVEL_KV = re.compile(r'(?i)\b(?:level|lvl|severity)"?\s*[=:]\s*"?([a-z]+)')
_LEVEL_WORD = re.compile(
    r"\b(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRITICAL|CRIT|FATAL|PANIC)\b"
)


def level_of(line: str, labels: dict[str, str]) -> str | None:
    """The level of a line: from its stream's labels, a level=/"level": field, or a word."""
    for key in _LEVEL_LABELS:
        if key in labels and (found := normalise_level(labels[key])):
            return found
    if (m := _LEVEL_KV.search(line[:300])) and (found := normalise_level(m.group(1))):
        return found
    if m := _LEVEL_WORD.search(line[:120]):
        return normalise_level(m.group(1))
    return None


class LokiStream(BaseModel):
    labels: dict[str, str]
    lines: int


class RawLine(BaseModel):
    at: datetime
    stream: int = Field(description="index into streams")
    line: str


class LokiLogsResult(SourceResult):
    """Log lines as templates (stream queries), or summarised series (metric queries)."""

    source: str = "loki"
    query: str
    start: datetime | None = None
    end: datetime | None = None
    result_type: str | None = None
    streams: list[LokiStream] = Field(default_factory=list)
    total_lines: int = Field(0, description="lines Loki returned")
    limit_reached: bool = Field(
        False, description="Loki returned `limit` lines: the window holds more than were read"
    )
    templates: list[LogTemplate] = Field(default_factory=list)
    total_templates: int = 0
    dropped_templates: int = Field(0, description="rarer non-error templates left out")
    dropped_lines: int = 0
    newest: list[RawLine] = Field(default_factory=list, description="raw lines, newest first")
    series: list[SeriesSummary] = Field(default_factory=list)
    note: str = ""


def _window(
    ctx: ToolContext, since: str, start: str | None, end: str | None
) -> tuple[datetime, datetime]:
    now = ctx.clock()
    t1 = resolve_time(end, now) if end else now
    t0 = resolve_time(start, now) if start else t1 - parse_duration(since)
    if t0 >= t1:
        raise InvalidInput(
            f"start ({t0.isoformat()}) must be before end ({t1.isoformat()})",
            'use e.g. since="15m", or start="1h" and end="30m"',
        )
    return t0, t1


def _fold(
    out: LokiLogsResult,
    result: list[Any],
    limit: int,
    direction: str,
    raw_lines: int,
    max_templates: int,
) -> None:
    entries: list[tuple[int, int, str]] = []  # (ns, stream index, line)
    for index, stream in enumerate(result):
        labels = labels_of(stream["stream"])
        values = field(stream, "values")
        out.streams.append(LokiStream(labels=labels, lines=len(values)))
        entries.extend((int(v[0]), index, str(v[1])[:MAX_LINE]) for v in values)
    entries.sort(key=lambda e: e[0])
    window = template_window(
        [
            {
                "ts": from_epoch_ns(ns),
                "level": level_of(line, out.streams[i].labels),
                "message": line,
            }
            for ns, i, line in entries
        ],
        max_templates=max_templates,
    )
    out.total_lines = len(entries)
    out.limit_reached = len(entries) >= limit
    out.templates = window.templates
    out.total_templates = window.total_templates
    out.dropped_templates, out.dropped_lines = window.dropped_templates, window.dropped_lines
    newest = entries[::-1][:raw_lines]
    out.newest = [RawLine(at=from_epoch_ns(ns), stream=i, line=line) for ns, i, line in newest]
    if out.limit_reached:
        missed = "older" if direction == "backward" else "newer"
        out.note = (
            f"Loki returned the limit of {limit} lines: {missed} lines in the window may not "
            'have been read; narrow the query (a filter such as |= "error") or the time range'
        )


@tool(risk="read")
def query_range(
    ctx: ToolContext,
    query: LogQL,
    since: Annotated[Duration, Field(description="how far back; ignored with start")] = "15m",
    start: TimeArg | None = None,
    end: Annotated[TimeArg | None, Field(description="default now")] = None,
    limit: Annotated[int, Field(ge=1, le=5000, description="lines to read at most")] = 2000,
    direction: Annotated[
        Literal["backward", "forward"], Field(description="backward: the newest lines first")
    ] = "backward",
    raw_lines: Annotated[int, Field(ge=0, le=100, description="raw newest lines to show")] = 10,
    max_templates: Annotated[int, Field(ge=1, le=200)] = 40,
) -> LokiLogsResult:
    """Read logs with LogQL over a time range, folded into templates with counts and examples.

    Each template has its count, first and last time, level and one verbatim example;
    error templates are always kept. A metric query (rate, count_over_time) returns
    summarised series instead.
    """
    t0, t1 = _window(ctx, since, start, end)

    def run() -> LokiLogsResult:
        params = {
            "query": query,
            "start": str(epoch_ns(t0)),
            "end": str(epoch_ns(t1)),
            "limit": str(limit),
            "direction": direction,
        }
        body = request_json(ctx, "loki", "GET", "/loki/api/v1/query_range", params=params)
        if field(body, "status") != "success":
            raise SourceError(
                SourceUnavailable(
                    source="loki",
                    error=f"loki answered status {str(body.get('status'))[:40]!r}",
                    hint="the query was rejected: fix it and ask again",
                )
            )
        data = field(body, "data")
        kind, result = str(field(data, "resultType")), field(data, "result")
        out = LokiLogsResult(query=query, start=t0, end=t1, result_type=kind)
        if kind == "streams":
            _fold(out, result, limit, direction, raw_lines, max_templates)
        elif kind == "matrix":
            out.series = [summarise(labels_of(s["metric"]), s["values"], 30) for s in result]
        else:
            out.note = f"loki returned a {kind!r} result, which this reader does not summarise"
        return out

    return read("loki", "the query", run, lambda: LokiLogsResult(query=query, start=t0, end=t1))
