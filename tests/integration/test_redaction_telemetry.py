"""Canary secrets never reach an OpenTelemetry exporter or a log handler in clear."""

from __future__ import annotations

import io
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import approve
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from packs.testpack import CANARIES, CANARY_AWS_KEY, CANARY_GITHUB

from copilot import telemetry
from copilot.errors import InvalidInput
from copilot.redact.ruleset import default_redactor


@pytest.fixture
def spans():
    memory = InMemorySpanExporter()
    provider = telemetry.configure_telemetry(default_redactor(), memory)
    assert provider is not None

    def finished() -> str:
        provider.force_flush()
        return json.dumps(
            [
                {
                    "name": s.name,
                    "attributes": dict(s.attributes or {}),
                    "events": [dict(e.attributes or {}) for e in s.events],
                    "status": s.status.description,
                }
                for s in memory.get_finished_spans()
            ]
        )

    yield finished
    telemetry.configure_telemetry(default_redactor(), None)
    provider.shutdown()


def assert_clean(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"canary {canary[:8]}… leaked: {text[:300]}"


def test_spans_of_the_core_carry_no_secret(make_copilot, spans):
    svc = make_copilot("sqlite:///:memory:")
    svc.call(svc.principal("dana"), "testpack.leaky_read", {})
    outcome, _ = svc.call(svc.principal("alice"), "testpack.leaky_failure", {"foreign": True})
    approve(svc, outcome.approval.id, svc.principal("bob"))
    with pytest.raises(InvalidInput):  # the raw tool name lands in a span attribute
        svc.call(svc.principal("alice"), f"deploy {CANARY_GITHUB}", {})
    exported = spans()
    assert "copilot.execute" in exported and "copilot.propose" in exported
    assert "[REDACTED:" in exported
    assert_clean(exported)


def test_the_exporter_redacts_what_any_code_puts_in_a_span(spans):
    with telemetry.tracer().start_as_current_span(f"query {CANARY_AWS_KEY}") as span:
        span.set_attribute("db.statement", f"SELECT 1 -- key={CANARY_AWS_KEY}")
        span.set_attribute("tokens", [CANARY_GITHUB, "plain"])
        span.add_event("note", {"text": f"Authorization: token {CANARY_GITHUB}"})
        try:
            raise RuntimeError(f"login failed for {CANARY_GITHUB}")
        except RuntimeError as exc:
            span.record_exception(exc)
    exported = spans()
    assert "plain" in exported and "SELECT 1" in exported
    assert_clean(exported)


def test_log_records_are_redacted_at_the_handler():
    stream = io.StringIO()
    handler = telemetry.redact_log_handler(logging.StreamHandler(stream), default_redactor())
    handler.setFormatter(logging.Formatter("%(message)s %(detail)s"))
    log = logging.getLogger("copilot.test.child")  # a child: the handler still sees it
    parent = logging.getLogger("copilot.test")
    parent.addHandler(handler)
    parent.setLevel(logging.INFO)
    try:
        try:
            raise ValueError(f"bad token {CANARY_GITHUB}")
        except ValueError:
            log.exception("key %s failed", CANARY_AWS_KEY, extra={"detail": CANARY_GITHUB})
    finally:
        parent.removeHandler(handler)
    text = stream.getvalue()
    assert "failed" in text and "ValueError" in text and "[REDACTED:" in text
    assert_clean(text)


def test_spans_sent_over_otlp_carry_no_secret():
    """The real OTLP/HTTP exporter, to a loopback collector: the protobuf bytes on the wire."""
    received: list[bytes] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    provider = telemetry.configure_telemetry(default_redactor(), "otlp", otlp_endpoint=endpoint)
    assert provider is not None
    try:
        with telemetry.tracer().start_as_current_span("copilot.execute") as span:
            span.set_attribute("copilot.error", f"login with {CANARY_GITHUB} failed")
            span.set_attribute("copilot.tool", "sandbox.get_logs")
        assert provider.force_flush()
    finally:
        telemetry.configure_telemetry(default_redactor(), None)
        provider.shutdown()
        server.shutdown()
        server.server_close()
    wire = b"".join(received)
    assert b"sandbox.get_logs" in wire and b"[REDACTED:" in wire
    for canary in CANARIES:
        assert canary.encode() not in wire
