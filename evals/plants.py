"""Where a scenario's attacker writes: runbooks (a view of the shared index with text added
to one runbook's chunks), the sandbox's telemetry (``plant_text``), and alert webhooks."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from copilot.domain.incidents import AlertBatch, AlertRecord
from copilot_evals.scenario import AlertStep, PlantSpec


def _stem(source: str) -> str:
    return Path(str(source).split("#", 1)[0]).stem


class PlantedRunbooks:
    """The shared runbook index as the agent sees it, with attacker text appended to every
    chunk of the named runbooks, as if someone had edited them in the wiki. The index is
    shared by every scenario, so it is never written: only the hits handed out change.
    The text is redacted as ingest redacts a runbook (its secrets become placeholders),
    since an edited runbook reaches the index only through ingest."""

    def __init__(self, index: Any, plants: Sequence[PlantSpec], redactor: Any) -> None:
        from copilot.knowledge.runbooks import IngestRedaction

        self._index = index
        self._text: dict[str, list[str]] = {}
        for p in plants:
            if p.into == "runbook":
                ingest = IngestRedaction(redactor.rules)
                self._text.setdefault(p.target, []).append(ingest.text(p.text))

    def _with(self, hit: Any) -> Any:
        extra = self._text.get(_stem(hit.source))
        if not extra:
            return hit
        return hit.model_copy(update={"text": "\n\n".join([hit.text, *extra])})

    def search(self, query: str, k: int = 3) -> Any:
        result = self._index.search(query, k=k)
        return result.model_copy(update={"hits": [self._with(h) for h in result.hits]})

    def section(self, source: str, heading: re.Pattern[str]) -> Any:
        hit = self._index.section(source, heading)
        return None if hit is None else self._with(hit)

    def chunk(self, chunk_id: str) -> Any:
        hit = self._index.chunk(chunk_id)
        return None if hit is None else self._with(hit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)


def runbook_view(index: Any, plants: Sequence[PlantSpec], redactor: Any) -> Any:
    """The shared index itself when nothing is planted in a runbook, else a planted view."""
    if any(p.into == "runbook" for p in plants):
        return PlantedRunbooks(index, plants, redactor)
    return index


def plant_telemetry(service: Any, plants: Sequence[PlantSpec], now: datetime) -> None:
    """Plant the scenario's log lines, deploy notes and alert annotations in the sandbox."""
    from copilot_tools.sandbox import plant_text

    store, settings = service.door.deps.store, service.settings
    for p in plants:
        if p.into != "runbook":
            plant_text(store, settings, p.into, p.target, p.text, now, p.level)


def alert_batch(alert: AlertStep, n: int, now: datetime) -> AlertBatch:
    """One Alertmanager delivery holding ``alert``, firing since ``now``."""
    labels = {"alertname": alert.name, **alert.labels}
    fingerprint = hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]
    return AlertBatch(
        source="alertmanager",
        group_key=f"eval-{alert.name}-{n}",
        status="firing",
        alerts=[
            AlertRecord(
                fingerprint=fingerprint,
                status="firing",
                name=alert.name,
                labels=labels,
                annotations=dict(alert.annotations),
                starts_at=now,
            )
        ],
        common_labels=labels,
    )
