"""What operators do besides conversations: the audit log, the runbook index, the tool
catalogue, the policy check, telemetry, and the sandbox where its tool pack is installed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from copilot.domain import PolicySummary, ToolInfo
from copilot.errors import InvalidInput
from copilot.service.outbound import errors_redacted, inbound, outbound
from copilot.service.wiring import Parts
from copilot.toolkit import ToolSpec

if TYPE_CHECKING:
    from copilot.audit import VerifyReport

EXPORT_FORMATS = ("jsonl", "ocsf")


class Operator:
    _parts: Parts

    # -- audit ----------------------------------------------------------------------------
    @errors_redacted
    def verify_audit(self, anchor: str | None = None) -> VerifyReport:
        """Recompute the hash chain, optionally against a head (``SEQ:HASH``) kept elsewhere,
        and name the approval, vote and execution rows that no audit event backs."""
        from copilot.audit import verify_log

        parsed = None
        if anchor:
            seq, _, digest = anchor.partition(":")
            if not seq.isdigit() or len(digest) != 64:
                raise InvalidInput(
                    f"anchor {anchor!r} is not SEQ:HASH", "copy it from a verify run"
                )
            parsed = (int(seq), digest)
        return verify_log(self._parts.door.deps.store, parsed)

    @errors_redacted
    def export_audit(self, fmt: str = "jsonl") -> Iterator[str]:
        """The audit log as JSON lines or OCSF API Activity, redacted on the way out."""
        from copilot.audit.export import export_lines

        if fmt not in EXPORT_FORMATS:
            raise InvalidInput(f"unknown format {fmt!r}", "use --format jsonl or --format ocsf")
        deps = self._parts.door.deps
        return export_lines(deps.audit.events(), fmt, deps.redactor.value, deps.redactor.identity)

    # -- readiness ------------------------------------------------------------------------
    def readiness(self) -> dict[str, str]:
        """Whether what a turn needs answers now: the store, the runbook index, and the
        model when one is configured (its API base answering at all; a hosted provider
        with no base URL is not probed). Each value is "ok..." or why not, by type only."""
        checks: dict[str, str] = {}
        try:
            from sqlalchemy import text

            with self._parts.door.deps.store.read() as conn:
                conn.execute(text("SELECT 1"))
            checks["store"] = "ok"
        except Exception as exc:  # a readiness probe reports, it does not raise
            checks["store"] = f"unavailable ({type(exc).__name__})"
        try:
            index = self._parts.index
            count = getattr(index, "count", None)
            checks["runbooks"] = f"ok ({count()} chunks)" if callable(count) else "ok"
        except Exception as exc:
            checks["runbooks"] = f"unavailable ({type(exc).__name__})"
        checks["model"] = _model_check(self._parts.settings)
        return checks

    # -- runbooks -------------------------------------------------------------------------
    @outbound
    def ingest_runbooks(self, paths: list[Path]) -> Any:
        """Add new and changed runbooks, drop those removed from these folders (a report)."""
        return self._index().ingest(paths)

    @outbound
    def search_runbooks(self, text: str, k: int = 3) -> Any:
        """Ranked runbook chunks for ``text`` (redacted first), or an explicit abstention."""
        return self._index().search(inbound(self._parts, text), k=k)

    @outbound
    def runbook_chunk(self, chunk_id: str) -> Any:
        """The runbook chunk a card cites (title, heading, text), or ``InvalidInput``."""
        finder = getattr(self._index(), "chunk", None)
        hit = finder(chunk_id) if finder is not None and len(chunk_id) <= 300 else None
        if hit is None:
            raise InvalidInput(f"no runbook chunk {chunk_id!r}", "it may have been re-ingested")
        return hit

    def _index(self) -> Any:
        index = self._parts.index
        if index is None:
            raise InvalidInput("this copilot runs without a runbook index", "open it with one")
        return index

    # -- catalogue, policy, telemetry -----------------------------------------------------
    @errors_redacted
    def tools(self) -> list[ToolInfo]:
        """Every tool with its risk, side effects and idempotency."""
        return [_info(spec) for spec in self._parts.registry]

    @errors_redacted
    def tool(self, name: str) -> ToolInfo:
        """One tool, with its argument schema."""
        return _info(self._parts.registry.get(name), schema=True)

    @errors_redacted
    def check_policy(self) -> PolicySummary:
        """Load and validate the policies against the schema and the tools (or raise), and
        find the changes they let run with no approval."""
        engine = self._parts.policy
        return PolicySummary(
            tools=len(engine.tools),
            users=len(engine.users),
            unapproved=engine.unapproved_writes(self._parts.settings.environment),
        )

    def setup_telemetry(self) -> None:
        """Redacted logs and spans for this process, as configured (a surface calls it once)."""
        from copilot.telemetry import setup_process_telemetry

        setup_process_telemetry(self._parts.settings.telemetry, self._parts.redactor)

    # -- the sandbox ----------------------------------------------------------------------
    @outbound
    def sandbox_faults(self) -> dict[str, str]:
        """The faults that can be injected, with what each does."""
        return dict(self._sandbox().FAULTS)

    @outbound
    def sandbox_status(self) -> dict[str, Any]:
        """Services, faults, database, certificates and jobs of the sandbox."""
        deps = self._parts.door.deps
        status: dict[str, Any] = self._sandbox().world_status(
            deps.store, deps.settings, deps.clock()
        )
        return status

    @outbound
    def inject_fault(self, fault: str, target: str | None = None) -> str:
        """Break the sandbox on purpose (an operator action, not a tool: not audited)."""
        deps = self._parts.door.deps
        done: str = self._sandbox().inject_fault(
            deps.store, deps.settings, fault, target, deps.clock()
        )
        return done

    @outbound
    def reset_sandbox(self) -> str:
        """Put the sandbox back to its healthy initial state (same seed); says what it did."""
        deps = self._parts.door.deps
        done: str = self._sandbox().reset_world(deps.store, deps.settings, deps.clock())
        return done

    @errors_redacted
    def serve_sandbox_metrics(self, host: str, port: int) -> tuple[Any, int]:
        """A server with the sandbox's metrics at /metrics, and the port it is bound to."""
        self._sandbox()
        from copilot_tools.sandbox.exporter import serve_metrics

        return serve_metrics(self._parts.settings, host=host, port=port)

    def _sandbox(self) -> Any:
        if not any(spec.pack == "sandbox" for spec in self._parts.registry):
            raise InvalidInput(
                "the sandbox tool pack is not installed here",
                "the sandbox commands act on the simulated production of the embedded default",
            )
        from copilot_tools import sandbox

        return sandbox


def _model_check(settings: Any) -> str:
    if not settings.model:
        return "ok (offline planner)"
    base = settings.model_api_base
    if not base:
        return "ok (configured; hosted provider not probed)"
    import httpx

    try:
        httpx.get(base.rstrip("/") + "/models", timeout=2.0)
    except httpx.HTTPError as exc:
        return f"unavailable ({type(exc).__name__})"
    return "ok"


def _info(spec: ToolSpec, schema: bool = False) -> ToolInfo:
    return ToolInfo(
        name=spec.name,
        description=spec.description,
        risk=spec.risk,
        side_effects=spec.side_effects,
        idempotent=spec.idempotent,
        timeout_s=spec.timeout_s,
        has_plan=spec.plan_fn is not None,
        arguments=spec.schema() if schema else {},
    )
