"""`copilot bench core`: policy latency, audit append and verify rates, executor overhead.

Runs in a throw-away data dir on SQLite (the embedded default). Figures are medians and
percentiles of one run on this machine; the machine is printed with them.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from copilot.toolkit import tool


class _Nothing(BaseModel):
    ok: bool = True


@tool(risk="read", pack="bench")
def noop_read(name: str) -> _Nothing:
    """Do nothing, read-only: measures the executor's own overhead."""
    return _Nothing()


@tool(risk="low", pack="bench", resource="bench/{name}", plan=lambda ctx, a: f"touch {a.name}")
def noop_write(name: str) -> _Nothing:
    """Do nothing, as a low-risk write with a lock and a plan."""
    return _Nothing()


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def _percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return statistics.median(samples), p99


def _time_each(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def extend_chain(store: Any, total: int) -> None:
    """Grow the audit chain to ``total`` events in bulk, hashed exactly as appends hash them."""
    from datetime import UTC, datetime

    from copilot.audit.chain import chain_hash, leaf_hash
    from copilot.canonical import canonical_json

    with store.write() as conn:
        head = conn.exec_driver_sql("SELECT seq, chain_hash FROM audit_head WHERE id = 1").first()
    seq, prev = (int(head[0]), str(head[1])) if head else (0, "0" * 64)
    ts = datetime.now(UTC).isoformat(timespec="microseconds")
    while seq < total:
        rows = []
        for _ in range(min(20000, total - seq)):
            seq += 1
            body = canonical_json(
                {
                    "seq": seq,
                    "ts": ts,
                    "kind": "bench.bulk",
                    "actor": "bench",
                    "subject": None,
                    "data": {"i": seq},
                }
            )
            leaf = leaf_hash(body)
            prev = chain_hash(prev, leaf)
            rows.append((seq, body.decode(), leaf, prev))
        with store.write() as conn:
            cur = conn.connection.dbapi_connection.cursor()
            cur.executemany("INSERT INTO audit_events VALUES (?, ?, ?, ?)", rows)
            cur.execute("UPDATE audit_head SET seq = ?, chain_hash = ? WHERE id = 1", (seq, prev))


def run_core_bench(
    events: int = 20000, decisions: int = 5000, calls: int = 300, verify_events: int = 1_000_000
) -> dict[str, Any]:
    from copilot.audit import verify_chain
    from copilot.policy import RequestContext
    from copilot.service import CopilotService
    from copilot.settings import DEMO, ExecutorSettings, Settings
    from copilot.toolkit.registry import Registry, discover

    with tempfile.TemporaryDirectory(prefix="copilot-bench-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=None,
            users=DEMO,
            executor=ExecutorSettings(user_rate="1000000/minute", tool_rate="1000000/minute"),
        )
        registry = Registry([*discover(), noop_read, noop_write])
        service = CopilotService.open(settings, registry=registry)
        door = service.door
        policy, audit, store = door.deps.policy, door.deps.audit, door.deps.store
        try:
            ctx = RequestContext(
                environment="prod",
                approval_count=2,
                approver_roles=frozenset({"sre", "oncall-lead"}),
            )
            tool_name = noop_write.name
            policy.decide("execute", "alice", tool_name, ctx)
            pol = _time_each(lambda: policy.decide("execute", "alice", tool_name, ctx), decisions)
            pol_p50, pol_p99 = _percentiles(pol)

            t = time.perf_counter()
            for i in range(events):
                audit.record("bench.event", actor="bench", subject=str(i), data={"i": i})
            append_s = time.perf_counter() - t

            extend_chain(store, verify_events)
            t = time.perf_counter()
            report = verify_chain(store)
            verify_s = time.perf_counter() - t
            assert report.ok, report.problem

            alice, bob = door.principal("alice"), door.principal("bob")
            reads = _time_each(lambda: door.call(alice, noop_read.name, {"name": "x"}), calls)

            def approved_write() -> Callable[[], Any]:
                out, _ = door.call(alice, tool_name, {"name": "x"})
                door.approvals.vote(out.approval.id, bob, "approve")
                return lambda: door.executor.execute(out.approval.id, bob)

            runs = []
            for _ in range(calls):
                go = approved_write()
                t = time.perf_counter()
                go()
                runs.append(time.perf_counter() - t)
            read_p50, read_p99 = _percentiles(reads)
            run_p50, run_p99 = _percentiles(runs)
        finally:
            service.close()
    total_events = report.events
    return {
        "machine": machine(),
        "policy_decision_us": {
            "p50": round(pol_p50 * 1e6, 1),
            "p99": round(pol_p99 * 1e6, 1),
            "n": decisions,
        },
        "audit_appends_per_s": round(events / append_s),
        "audit_verify_events_per_s": round(total_events / verify_s),
        "audit_verify_events": total_events,
        "audit_verify_s": round(verify_s, 2),
        "executor_ms": {
            "read_call_p50": round(read_p50 * 1e3, 2),
            "read_call_p99": round(read_p99 * 1e3, 2),
            "approved_write_p50": round(run_p50 * 1e3, 2),
            "approved_write_p99": round(run_p99 * 1e3, 2),
            "n": calls,
        },
        "backend": "sqlite",
    }


def print_table(f: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("figure", "value", "goal", title=f"copilot bench core — {f['machine']['cpu']}")
    pol = f["policy_decision_us"]
    table.add_row("policy decision p50 / p99", f"{pol['p50']} µs / {pol['p99']} µs", "p50 ≤ 100 µs")
    table.add_row(
        "audit appends (SQLite, 1 tx each)", f"{f['audit_appends_per_s']:,}/s", "≥ 5,000/s"
    )
    table.add_row(
        "audit verify",
        f"{f['audit_verify_events']:,} events in {f['audit_verify_s']} s "
        f"({f['audit_verify_events_per_s']:,}/s)",
        "1M ≤ 10 s",
    )
    ex = f["executor_ms"]
    table.add_row(
        "read call (propose + run) p50 / p99",
        f"{ex['read_call_p50']} ms / {ex['read_call_p99']} ms",
        "",
    )
    table.add_row(
        "approved write execute p50 / p99",
        f"{ex['approved_write_p50']} ms / {ex['approved_write_p99']} ms",
        "",
    )
    Console().print(table)
