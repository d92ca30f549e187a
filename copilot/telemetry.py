"""The copilot's own telemetry (OpenTelemetry traces, Python logs), redacted on the way out.

Spans are written by the core with values it has already redacted, but a span attribute,
an exception event or a log line can still quote something raw (a foreign exception's
text, say). So the exporter is wrapped: every span is copied with its name, attributes,
events and status description redacted before any exporter sees it, and log records pass
a filter that does the same to the formatted message, the traceback and string extras.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Status

from copilot import __version__
from copilot.redact.engine import Redactor
from copilot.settings import TelemetrySettings

_provider: TracerProvider | None = None


def tracer() -> trace.Tracer:
    """The copilot's tracer: the configured provider's, else the global one (a no-op
    until someone configures OpenTelemetry)."""
    provider = _provider or trace.get_tracer_provider()
    return provider.get_tracer("copilot", __version__)


def _redact_value(redactor: Redactor, value: Any) -> Any:
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, list | tuple):
        return tuple(_redact_value(redactor, v) for v in value)
    return value


def _redact_attributes(redactor: Redactor, attributes: Any) -> dict[str, Any]:
    return {k: _redact_value(redactor, v) for k, v in (attributes or {}).items()}


def redact_span(span: ReadableSpan, redactor: Redactor) -> ReadableSpan:
    """A copy of ``span`` whose text (name, attributes, events, status) is redacted."""
    status = span.status
    if status.description:
        status = Status(status.status_code, redactor.text(status.description))
    events = [
        Event(e.name, _redact_attributes(redactor, e.attributes), e.timestamp) for e in span.events
    ]
    return ReadableSpan(
        name=redactor.text(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_redact_attributes(redactor, span.attributes),
        events=events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingSpanExporter(SpanExporter):
    """Wraps any exporter; nothing reaches it unredacted."""

    def __init__(self, inner: SpanExporter, redactor: Redactor) -> None:
        self.inner = inner
        self.redactor = redactor

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([redact_span(s, self.redactor) for s in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class RedactingLogFilter(logging.Filter):
    """Put on a handler: the record it lets through is redacted (message, traceback,
    string extras). Handlers see records from every child logger; logger filters do not."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor.text(record.getMessage())
        record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.redactor.text(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.redactor.text(value))
        return True


def _exporter(name: str, otlp_endpoint: str | None) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=otlp_endpoint)
    raise ValueError(f"unknown span exporter {name!r}")


def configure_telemetry(
    redactor: Redactor,
    exporter: SpanExporter | str | None = None,
    *,
    otlp_endpoint: str | None = None,
) -> TracerProvider | None:
    """Send the copilot's spans to ``exporter`` ("console", "otlp", an exporter object, or
    None for none), always through redaction. Returns the provider (flush it before exit)."""
    global _provider
    if exporter is None or exporter == "none":
        _provider = None
        return None
    inner = _exporter(exporter, otlp_endpoint) if isinstance(exporter, str) else exporter
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": "incident-copilot", "service.version": __version__}
        )
    )
    provider.add_span_processor(BatchSpanProcessor(RedactingSpanExporter(inner, redactor)))
    _provider = provider
    return provider


def redact_log_handler(handler: logging.Handler, redactor: Redactor) -> logging.Handler:
    """Add the redacting filter to ``handler`` (any handler: stream, file, OTel's)."""
    handler.addFilter(RedactingLogFilter(redactor))
    return handler


def setup_process_telemetry(settings: TelemetrySettings, redactor: Redactor) -> None:
    """What a surface calls once at start: redacted stderr logs at the configured level,
    spans to the configured exporter, flushed at exit."""
    root = logging.getLogger("copilot")
    if not any(isinstance(f, RedactingLogFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(redact_log_handler(handler, redactor))
    root.setLevel(settings.log_level)
    provider = configure_telemetry(
        redactor, settings.exporter, otlp_endpoint=settings.otlp_endpoint
    )
    if provider is not None:
        atexit.register(provider.shutdown)
