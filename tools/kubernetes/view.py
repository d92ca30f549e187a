"""Pure functions from the Kubernetes API's JSON to the pack's results: pods and events.

No I/O here: objects come in as the API's JSON and typed summaries come out, so the logic
of ``kubectl get pods`` (the STATUS column) can be tested on plain data. Deployments,
ReplicaSets and rollout patches are in ``rollout``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .models import ContainerInfo, EventInfo, PodInfo

Json = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
_MESSAGE_MAX = 500


# -- small helpers ----------------------------------------------------------------------------
def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _short(text: Any, limit: int = _MESSAGE_MAX) -> str | None:
    if not text:
        return None
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def age(since: datetime | None, now: datetime) -> str | None:
    """``kubectl``-style age: 45s, 12m, 3h5m, 2d4h."""
    if since is None:
        return None
    s = max(0, int((now - since).total_seconds()))
    if s < 120:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60}m"
    return f"{s // 86400}d{(s % 86400) // 3600}h"


def revision_of(obj: Json) -> int | None:
    value = _get(obj, "metadata", "annotations", REVISION)
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def images(template: Json) -> list[str]:
    return [str(c.get("image", "")) for c in _get(template, "spec", "containers") or []]


def selector_string(selector: Json | None) -> str:
    """A LabelSelector as the query syntax (``app=web,tier in (a,b)``)."""
    terms = [f"{k}={v}" for k, v in sorted((_get(selector, "matchLabels") or {}).items())]
    for expr in _get(selector, "matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            terms.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            terms.append(str(key))
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms)


# -- pods ------------------------------------------------------------------------------------
def _ended(term: Json) -> str:
    if term.get("reason"):
        return str(term["reason"])
    if term.get("signal"):
        return f"Signal:{term['signal']}"
    return f"ExitCode:{term.get('exitCode', 0)}"


def _container(spec: Json, cs: Json | None) -> ContainerInfo:
    name, image = str(spec.get("name", "")), str(spec.get("image", ""))
    if cs is None:
        return ContainerInfo(name=name, image=image)
    state = cs.get("state") or {}
    kind = next((k for k in ("waiting", "terminated", "running") if k in state), None)
    detail = (state.get(kind) or {}) if kind else {}
    last = _get(cs, "lastState", "terminated")
    last = last if isinstance(last, dict) else None
    return ContainerInfo(
        name=name,
        image=str(cs.get("image") or image),
        ready=bool(cs.get("ready")),
        restarts=int(cs.get("restartCount") or 0),
        state=kind or "unknown",
        reason=_ended(detail) if kind == "terminated" else detail.get("reason"),
        message=_short(detail.get("message")),
        last_termination_reason=_ended(last) if last else None,
        last_exit_code=last.get("exitCode") if last else None,
        last_finished_at=_time(last.get("finishedAt")) if last else None,
    )


def _status_column(pod: Json, containers: list[ContainerInfo]) -> str:
    """What ``kubectl get pods`` prints in STATUS (init containers summarised)."""
    status = pod.get("status") or {}
    reason = str(status.get("reason") or status.get("phase") or "Unknown")
    inits = status.get("initContainerStatuses") or []
    for i, ic in enumerate(inits):
        state = ic.get("state") or {}
        if "terminated" in state and (state["terminated"] or {}).get("exitCode") == 0:
            continue
        if "terminated" in state:
            reason = f"Init:{_ended(state['terminated'] or {})}"
        elif (state.get("waiting") or {}).get("reason", "PodInitializing") != "PodInitializing":
            reason = f"Init:{state['waiting']['reason']}"
        else:
            reason = f"Init:{i}/{len(inits)}"
        break
    else:
        running = False
        for c in reversed(containers):
            if c.state in ("waiting", "terminated") and c.reason:
                reason = c.reason
            elif c.state == "running" and c.ready:
                running = True
        if reason == "Completed" and running:
            reason = "Running"
    if _get(pod, "metadata", "deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


def pod_info(pod: Json, now: datetime) -> PodInfo:
    statuses = {cs.get("name"): cs for cs in _get(pod, "status", "containerStatuses") or []}
    specs = _get(pod, "spec", "containers") or []
    containers = [_container(c, statuses.get(c.get("name"))) for c in specs]
    created = _time(_get(pod, "metadata", "creationTimestamp"))
    return PodInfo(
        name=str(_get(pod, "metadata", "name")),
        phase=str(_get(pod, "status", "phase") or "Unknown"),
        status=_status_column(pod, containers),
        ready=f"{sum(c.ready for c in containers)}/{len(containers)}",
        restarts=sum(c.restarts for c in containers),
        node=_get(pod, "spec", "nodeName"),
        created_at=created,
        started_at=_time(_get(pod, "status", "startTime")),
        age=age(created, now),
        containers=containers,
    )


def unhealthy_first(pods: list[PodInfo]) -> list[PodInfo]:
    def healthy(p: PodInfo) -> bool:
        done, total = p.ready.split("/")
        return p.status in ("Running", "Completed", "Succeeded") and (
            done == total or p.status != "Running"
        )

    return sorted(pods, key=lambda p: (healthy(p), -p.restarts, p.name))


# -- events ------------------------------------------------------------------------------------
def event_info(ev: Json) -> EventInfo:
    obj = ev.get("involvedObject") or ev.get("regarding") or {}
    last = (
        _time(ev.get("lastTimestamp"))
        or _time(_get(ev, "series", "lastObservedTime"))
        or _time(ev.get("eventTime"))
        or _time(_get(ev, "metadata", "creationTimestamp"))
    )
    return EventInfo(
        type=ev.get("type"),
        reason=ev.get("reason"),
        object=f"{obj.get('kind', '')}/{obj.get('name', '')}",
        message=_short(ev.get("message") or ev.get("note")) or "",
        count=int(ev.get("count") or _get(ev, "series", "count") or 1),
        first_seen=_time(ev.get("firstTimestamp")) or _time(ev.get("eventTime")) or last,
        last_seen=last,
        source=_get(ev, "source", "component") or ev.get("reportingComponent") or None,
    )


def newest_first(events: list[EventInfo]) -> list[EventInfo]:
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(events, key=lambda e: e.last_seen or floor, reverse=True)
