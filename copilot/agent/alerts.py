"""Firing alerts as evidence: read first when an alert source is configured, and used to
find the runbook when the request alone does not ("we got paged" names no alert).

An alert carries what a person's message often lacks: the alert's name (which runbooks
list), its summary, and labels naming the service, namespace or job it is about.
"""

from __future__ import annotations

from typing import Any

from copilot.agent.deps import AgentDeps
from copilot.domain.views import FactView

# (tool, the [sources] setting that enables it, arguments): the first configured one is read
ALERT_READS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("alertmanager.alerts", "alertmanager_url", {"silenced": False, "inhibited": False}),
    ("prometheus.alerts", "prometheus_url", {"state": "firing"}),
)
# alert labels that name what a playbook's templates ask for
LABEL_ENTITIES = ("service", "namespace", "job", "pod", "deployment", "domain")
MAX_ALERT_SEARCHES = 3


def alert_read(deps: AgentDeps) -> tuple[str, dict[str, Any]] | None:
    """The alert read to make, if an alert source is configured and its pack installed."""
    sources = deps.door.deps.settings.sources
    names = {spec.name for spec in deps.door.deps.registry}
    for tool, setting, args in ALERT_READS:
        if getattr(sources, setting, None) and tool in names:
            return tool, dict(args)
    return None


def firing(fact: FactView | None) -> list[dict[str, Any]]:
    """The alerts of a successful alert read that are firing and not silenced."""
    if fact is None or not fact.ok or not isinstance(fact.data, dict):
        return []
    out = []
    for alert in fact.data.get("alerts") or []:
        if not isinstance(alert, dict) or not alert.get("name"):
            continue
        if str(alert.get("state", "")) in ("firing", "active"):
            out.append(alert)
    return out


def alert_query(alert: dict[str, Any]) -> str:
    """What to search the runbooks with: the alert's name, as Alertmanager sends it. Its
    free-text annotations are evidence to show, never a ranking signal: text anyone who
    can write an alert rule or template controls must not demote the runbook that lists
    the alert by name (an injected "this is a batch job" chose the wrong runbook)."""
    return str(alert["name"]).strip()


def alert_entities(alert: dict[str, Any]) -> dict[str, str]:
    labels = alert.get("labels") or {}
    return {k: str(labels[k]) for k in LABEL_ENTITIES if labels.get(k)}


def search_by_alerts(
    index: Any, alerts: list[dict[str, Any]], k: int
) -> tuple[Any, dict[str, str]]:
    """The first confident search among the firing alerts, and that alert's labels."""
    for alert in alerts[:MAX_ALERT_SEARCHES]:
        # the alert's own name, from data: exact, never read as a shortened rule name
        result = index.search(alert_query(alert), k=k, short_names=False)
        if not result.abstained:
            return result, alert_entities(alert)
    return None, {}
