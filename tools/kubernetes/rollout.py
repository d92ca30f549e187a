"""Pure functions for deployments and their ReplicaSets: ``kubectl rollout history``,
``rollout status`` and the patches of ``rollout undo`` and ``rollout restart``.

No I/O here: the API's JSON comes in, typed summaries and patches come out.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from copilot.errors import ToolFailed

from .models import Condition, DeploymentStatus, Revision
from .view import REVISION, Json, _get, _short, _time, images, revision_of

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
