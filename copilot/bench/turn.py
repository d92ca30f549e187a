"""`copilot bench turn`: the copilot's own overhead per turn, with a model that takes no time.

One turn is one ``CopilotService.handle_message`` in a fresh conversation (event in, reply
out) against the sandbox with a bad deploy on checkout: retrieval, the playbook's reads
(policy, executor, redaction, audit), a model round that asks for one more read (run at
once), a second round that proposes the rollback (a card: proposal, dry-run plan, approval
record), and a checkpoint after every step. The model answers instantly.

The tools' own work (the sandbox computing an hour of logs for ``get_logs``) stands for
the time a real Prometheus or Loki takes to answer: it is measured apart (``tool_work``)
and left out of the overhead figures, which the goals apply to; ``wall_*`` include it.
Runs in a throw-away data dir on SQLite (the embedded default).
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from copilot.bench.core import machine

ASK = "checkout is returning 500s"
MODEL_MS = 1000.0  # the model the share is computed for
GOALS = {"p50_ms": 30.0, "p99_ms": 150.0, "share_with_1s_model": 0.05}
CONCURRENT = {"checkpoint"}
_ROUND = re.compile(r'"round":\s*(\d+)')


class InstantModel:
    """A zero-latency stand-in for ``ModelGateway``: round 1 asks for one read, round 2
    proposes the rollback. The calls are fixed: reading the request costs it nothing."""

    def __init__(self) -> None:
        self.calls = 0

    def complete(self, messages: list[dict[str, Any]], tools: Any = None) -> Any:
        from copilot.model.gateway import ModelReply, ToolCall, Usage

        self.calls += 1
        found = _ROUND.search(str(messages[-1].get("content", "")))
        if found is None or found.group(1) == "1":
            name, args = "sandbox.service_status", {"service": "checkout"}
        else:
            name, args = "sandbox.rollback_deployment", {"service": "checkout"}
        call = ToolCall(
            id=f"call_{self.calls}",
            name=name,
            raw_name=name.replace(".", "__"),
            arguments=json.dumps(args),
        )
        return ModelReply(tool_calls=[call], usage=Usage(calls=1))


class _Timer:
    """Wall time inside wrapped callables, by part.

    Parts on the turn's path nest: one inside another counts only for itself (a read's
    proposal counts as the read's, the tool's own work as tool work; a tool runs in a
    thread of its own, but the turn waits for it). ``concurrent`` parts (the checkpointer,
    which LangGraph's default "async" durability writes from a background thread) are
    summed apart as the CPU time they take, and never subtracted from anything.
    """

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self._inner: list[float] = []  # time spent in nested parts, per open frame
        self._lock = threading.Lock()

    def wrap(
        self, part: str, fn: Callable[..., Any], *, concurrent: bool = False
    ) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            # CPU time of this thread: its wall time mostly waits for the turn's thread
            t = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self._add(part, time.thread_time() - t)

        def nested(*args: Any, **kwargs: Any) -> Any:
            self._inner.append(0.0)
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t
                own = elapsed - self._inner.pop()
                if self._inner:
                    self._inner[-1] += elapsed
                self._add(part, own)

        return timed if concurrent else nested

    def _add(self, part: str, seconds: float) -> None:
        with self._lock:
            self.spent[part] = self.spent.get(part, 0.0) + seconds
            self.counts[part] = self.counts.get(part, 0) + 1

    def take(self) -> tuple[dict[str, float], dict[str, int]]:
        with self._lock:
            out = self.spent, self.counts
            self.spent, self.counts = {}, {}
        return out


class _TimedIndex:
    def __init__(self, index: Any, timer: _Timer) -> None:
        self.search = timer.wrap("retrieval", index.search)
        self.section = index.section


def open_bench_service(data_dir: Path, timer: _Timer, model: InstantModel) -> Any:
    """A ``CopilotService`` as ``CopilotService.open`` builds it, with the instant model and
    timers around retrieval, reads, proposals, the checkpointer and the tools' own work."""
    from copilot.service import CopilotService, open_runbook_index
    from copilot.settings import DEMO, ExecutorSettings, Settings

    settings = Settings(
        data_dir=data_dir,
        database_url=None,
        users=DEMO,
        executor=ExecutorSettings(user_rate="1000000/minute", tool_rate="1000000/minute"),
    )
    model.complete = timer.wrap("model", model.complete)  # type: ignore[method-assign]
    service = CopilotService.open(
        settings,
        gateway=lambda _settings, _redactor: model,
        runbooks=lambda s, r: _TimedIndex(open_runbook_index(s, r), timer),
    )
    saver = service.parts.checkpointer
    for method in ("put", "put_writes", "get_tuple"):
        wrapped = timer.wrap("checkpoint", getattr(saver, method), concurrent=True)
        setattr(saver, method, wrapped)
    door = service.door
    for spec in door.deps.registry:
        for method in ("run_unchecked", "plan"):
            object.__setattr__(spec, method, timer.wrap("tool_work", getattr(spec, method)))
    door.call = timer.wrap("reads", door.call)  # type: ignore[method-assign]
    door.proposer.propose = timer.wrap("proposals", door.proposer.propose)  # type: ignore[method-assign]
    return service


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def run_turn_bench(turns: int = 200, warmup: int = 20) -> dict[str, Any]:
    """Per-turn time of ``handle_message`` with an instant model, and where it goes."""
    timer, model = _Timer(), InstantModel()
    wall: list[float] = []
    own: list[float] = []
    parts: dict[str, float] = {}
    calls: dict[str, int] = {}
    cards = 0
    with tempfile.TemporaryDirectory(prefix="copilot-bench-turn-") as tmp:
        service = open_bench_service(Path(tmp), timer, model)
        try:
            service.reset_sandbox()
            service.inject_fault("bad_deploy", "checkout")
            assert service.parts.index is not None  # opening it (Chroma, the embedder) is no turn
            who = service.principal("alice")
            for i in range(warmup + turns):
                timer.take()
                t = time.perf_counter()
                reply = service.handle_message(who, f"bench-{i}", ASK)
                elapsed = time.perf_counter() - t
                spent, counted = timer.take()
                if len(reply.cards) != 1:
                    raise RuntimeError(f"turn {i} made {len(reply.cards)} cards: {reply.text}")
                if i < warmup:
                    continue
                wall.append(elapsed)
                own.append(elapsed - spent.get("tool_work", 0.0))
                cards += len(reply.cards)
                for part, seconds in spent.items():
                    parts[part] = parts.get(part, 0.0) + seconds
                    calls[part] = calls.get(part, 0) + counted.get(part, 0)
        finally:
            service.close()
    p50_ms = _percentile(own, 0.5) * 1e3
    breakdown = {part: round(s / turns * 1e3, 2) for part, s in sorted(parts.items())}
    on_path = sum(s for part, s in parts.items() if part not in CONCURRENT)
    breakdown["other"] = round((sum(wall) - on_path) / turns * 1e3, 2)
    return {
        "turns": turns,
        "warmup": warmup,
        "p50_ms": round(p50_ms, 2),
        "p99_ms": round(_percentile(own, 0.99) * 1e3, 2),
        "share_with_1s_model": round(p50_ms / (p50_ms + MODEL_MS), 4),
        "wall_p50_ms": round(_percentile(wall, 0.5) * 1e3, 2),
        "wall_p99_ms": round(_percentile(wall, 0.99) * 1e3, 2),
        # mean ms per turn. "other": the graph itself, prompts, validation, waiting for
        # checkpoint writes; "checkpoint": CPU time of the checkpointer, which runs in a
        # background thread, overlapping the rest
        "breakdown_ms": breakdown,
        "calls_per_turn": {part: round(n / turns, 2) for part, n in sorted(calls.items())},
        "cards_per_turn": round(cards / turns, 2),
        "goals": GOALS,
        "backend": "sqlite",
        "machine": machine(),
    }


def print_table(f: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("figure", "value", "goal", title=f"copilot bench turn — {f['machine']['cpu']}")
    table.add_row("overhead p50", f"{f['p50_ms']} ms", f"≤ {GOALS['p50_ms']:.0f} ms")
    table.add_row("overhead p99", f"{f['p99_ms']} ms", f"≤ {GOALS['p99_ms']:.0f} ms")
    table.add_row(
        "share of a turn with a 1 s model",
        f"{f['share_with_1s_model']:.1%}",
        f"≤ {GOALS['share_with_1s_model']:.0%}",
    )
    table.add_row(
        "wall p50 / p99 (with the tools' own work)",
        f"{f['wall_p50_ms']} ms / {f['wall_p99_ms']} ms",
        "",
    )
    for part, ms in f["breakdown_ms"].items():
        calls = f["calls_per_turn"].get(part)
        label = f"  {part} (mean{', in the background' if part in CONCURRENT else ''})"
        table.add_row(label, f"{ms} ms" + (f" ({calls} calls)" if calls else ""), "")
    table.add_row("turns (after warm-up)", str(f["turns"]), "")
    Console().print(table)
