"""The Kubernetes pack's results, and pure functions from the API's JSON to them.

No I/O here: pods, events, deployments and ReplicaSets come in as the API's JSON, typed
summaries and patches come out, so the logic of ``kubectl get pods`` (the STATUS column),
``kubectl rollout history`` and ``kubectl rollout undo`` can be tested on plain data.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from copilot.errors import ToolFailed
from tools._kube_models import (
    Condition,
    ContainerInfo,
    DeploymentStatus,
    EventInfo,
    PodInfo,
    Revision,
)

Json = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# Annotations ``kubectl rollout undo`` keeps from the deployment rather than the ReplicaSet.
_KEEP_ON_UNDO = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
}
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


# -- deployments and their ReplicaSets -------------------------------------------------------------
def owned_sets(deployment: Json, sets: list[Json]) -> list[Json]:
    """The ReplicaSets the deployment controls (by owner uid, as kubectl does)."""
    uid = _get(deployment, "metadata", "uid")
    return [
        rs
        for rs in sets
        if any(
            ref.get("uid") == uid and ref.get("controller")
            for ref in _get(rs, "metadata", "ownerReferences") or []
        )
    ]


def history(deployment: Json, sets: list[Json]) -> list[Revision]:
    current = revision_of(deployment)
    revisions = []
    for rs in owned_sets(deployment, sets):
        number = revision_of(rs)
        if number is None:
            continue
        revisions.append(
            Revision(
                revision=number,
                replicaset=str(_get(rs, "metadata", "name")),
                images=images(_get(rs, "spec", "template") or {}),
                replicas=int(_get(rs, "spec", "replicas") or 0),
                ready=int(_get(rs, "status", "readyReplicas") or 0),
                created_at=_time(_get(rs, "metadata", "creationTimestamp")),
                change_cause=_get(rs, "metadata", "annotations", "kubernetes.io/change-cause"),
                current=number == current,
            )
        )
    return sorted(revisions, key=lambda r: r.revision, reverse=True)


def _without_hash(template: Json) -> Json:
    clean = copy.deepcopy(template)
    labels = _get(clean, "metadata", "labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return clean


def undo_target(deployment: Json, sets: list[Json], to_revision: int | None) -> Json:
    """The ReplicaSet ``kubectl rollout undo [--to-revision]`` would go back to, or why not."""
    ns, name = _get(deployment, "metadata", "namespace"), _get(deployment, "metadata", "name")
    if _get(deployment, "spec", "paused"):
        raise ToolFailed(
            f"deployment {ns}/{name} is paused; a paused deployment cannot be rolled back",
            "resume it first (kubectl rollout resume)",
        )
    current = revision_of(deployment)
    by_revision = {n: rs for rs in owned_sets(deployment, sets) if (n := revision_of(rs))}
    kept = ", ".join(str(n) for n in sorted(by_revision)) or "none"
    if to_revision is None:
        earlier = [n for n in by_revision if current is None or n < current]
        if not earlier:
            raise ToolFailed(
                f"deployment {ns}/{name} has no previous revision to roll back to "
                f"(revisions kept: {kept})",
                "see kubernetes.rollout_history; old ReplicaSets beyond revisionHistoryLimit "
                "are deleted",
            )
        to_revision = max(earlier)
    target = by_revision.get(to_revision)
    if target is None:
        raise ToolFailed(
            f"deployment {ns}/{name} has no revision {to_revision} (revisions kept: {kept})",
            "pick one from kubernetes.rollout_history",
        )
    if _without_hash(_get(target, "spec", "template") or {}) == _without_hash(
        _get(deployment, "spec", "template") or {}
    ):
        raise ToolFailed(
            f"deployment {ns}/{name} already runs the pod template of revision {to_revision}: "
            "nothing to roll back",
            "pick another revision from kubernetes.rollout_history",
        )
    return target


def undo_patch(deployment: Json, target: Json) -> list[Json]:
    """``kubectl rollout undo``'s JSON patch, after a test that the revision has not moved.

    kubectl replaces the pod template with the ReplicaSet's (minus its pod-template-hash
    label) and the annotations with the deployment's bookkeeping ones plus the
    ReplicaSet's others. The leading ``test`` makes the API refuse the patch if another
    rollout happened since this was planned and approved.
    """
    annotations = {
        k: v
        for k, v in (_get(deployment, "metadata", "annotations") or {}).items()
        if k in _KEEP_ON_UNDO
    }
    for k, v in (_get(target, "metadata", "annotations") or {}).items():
        if k not in _KEEP_ON_UNDO:
            annotations[k] = v
    ops: list[Json] = []
    current = _get(deployment, "metadata", "annotations", REVISION)
    if current is not None:
        path = "/metadata/annotations/" + REVISION.replace("~", "~0").replace("/", "~1")
        ops.append({"op": "test", "path": path, "value": current})
    ops.append(
        {
            "op": "replace",
            "path": "/spec/template",
            "value": _without_hash(_get(target, "spec", "template") or {}),
        }
    )
    ops.append({"op": "replace", "path": "/metadata/annotations", "value": annotations})
    return ops


def restart_patch(at: datetime) -> Json:
    """What ``kubectl rollout restart`` sends (as a strategic merge patch)."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}


def strategy(deployment: Json) -> str:
    spec = _get(deployment, "spec", "strategy") or {}
    if spec.get("type") == "Recreate":
        return "Recreate (every pod stops before new ones start)"
    rolling = spec.get("rollingUpdate") or {}
    return (
        f"RollingUpdate (maxUnavailable {rolling.get('maxUnavailable', '25%')}, "
        f"maxSurge {rolling.get('maxSurge', '25%')})"
    )


def rollout_state(deployment: Json) -> str:
    """What ``kubectl rollout status`` would say about the deployment, in one line."""
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    generation = _get(deployment, "metadata", "generation") or 0
    if generation > (status.get("observedGeneration") or 0):
        return "waiting for the controller to observe the latest spec"
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return "stalled: ProgressDeadlineExceeded"
    want = spec.get("replicas", 1)
    updated = status.get("updatedReplicas") or 0
    if spec.get("paused"):
        return "paused"
    if updated < want:
        return f"in progress: {updated} of {want} replicas updated"
    if (status.get("replicas") or 0) > updated:
        return f"in progress: {(status.get('replicas') or 0) - updated} old replicas terminating"
    if (status.get("availableReplicas") or 0) < updated:
        return f"in progress: {status.get('availableReplicas') or 0} of {updated} available"
    return "complete"


def status_of(deployment: Json) -> DeploymentStatus:
    status = deployment.get("status") or {}
    return DeploymentStatus(
        namespace=str(_get(deployment, "metadata", "namespace")),
        deployment=str(_get(deployment, "metadata", "name")),
        revision=revision_of(deployment),
        images=images(_get(deployment, "spec", "template") or {}),
        replicas=int(_get(deployment, "spec", "replicas") or 0),
        updated=int(status.get("updatedReplicas") or 0),
        ready=int(status.get("readyReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        unavailable_replicas=int(status.get("unavailableReplicas") or 0),
        paused=bool(_get(deployment, "spec", "paused")),
        strategy=strategy(deployment),
        rollout=rollout_state(deployment),
        conditions=[
            Condition(
                type=str(c.get("type")),
                status=str(c.get("status")),
                reason=c.get("reason"),
                message=_short(c.get("message")),
            )
            for c in status.get("conditions") or []
        ],
    )
