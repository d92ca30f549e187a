"""Kubernetes writes: rollout restart, rollout undo and scale, as kubectl does them.

Writes raise ``ToolFailed`` when the API refuses or cannot be reached, so nothing is
recorded as done that was not. They send the patches kubectl sends, so an operator reading
the audit log sees familiar ones. Their plans show the deployment's spec (replicas,
revision, images), never its status: status moves with every pod that becomes ready, and a
plan that changes invalidates its approval.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from pydantic import Field

from copilot.errors import ToolFailed
from copilot.toolkit import ToolContext, tool

from .._common.sources import SourceError, as_failure
from .client import Json, call, connect, deployment_with_sets, no_deployment, read_deployment
from .models import DeploymentChange, DeploymentName, Namespace
from .rollout import restart_patch, strategy, undo_patch, undo_target
from .view import images, revision_of


@contextmanager
def _writing() -> Iterator[None]:
    """A write (or its plan) that cannot reach or is refused by the API fails."""
    try:
        yield
    except SourceError as err:
        raise as_failure(err) from None


def _describe(dep: Json) -> str:
    rev = revision_of(dep)
    return f"revision {rev if rev is not None else '?'} ({', '.join(images(_template(dep)))})"


def _template(dep: Json) -> Json:
    return (dep.get("spec") or {}).get("template") or {}


def _replicas(dep: Json) -> int:
    return int((dep.get("spec") or {}).get("replicas") or 0)


def _load(ctx: ToolContext, args: Any) -> Json:
    with _writing(), connect(ctx) as kube:
        return read_deployment(kube, args.namespace, args.deployment)


def _not_paused(dep: Json, verb: str) -> None:
    """``kubectl rollout restart`` refuses a paused deployment: so does the copilot."""
    if (dep.get("spec") or {}).get("paused"):
        meta = dep.get("metadata") or {}
        raise ToolFailed(
            f"deployment {meta.get('namespace')}/{meta.get('name')} is paused; "
            f"the copilot will not {verb} it",
            "resume it first (kubectl rollout resume)",
        )


def _restart_plan(ctx: ToolContext, args: Any) -> str:
    dep = _load(ctx, args)
    _not_paused(dep, "restart")
    return (
        f"restart deployment {args.namespace}/{args.deployment}: its {_replicas(dep)} pod(s) at "
        f"{_describe(dep)} are replaced by new ones, same image; {strategy(dep)}"
    )


@tool(
    risk="medium",
    idempotent=False,
    resource="k8s:{namespace}/deployment/{deployment}",
    plan=_restart_plan,
)
def rollout_restart(
    ctx: ToolContext, namespace: Namespace, deployment: DeploymentName
) -> DeploymentChange:
    """Restart a deployment's pods (``kubectl rollout restart``): stamps the pod template with
    kubectl.kubernetes.io/restartedAt, so the controller rolls out fresh pods."""
    with _writing(), connect(ctx) as kube:
        dep = read_deployment(kube, namespace, deployment)
        _not_paused(dep, "restart")
        patch = restart_patch(ctx.clock())
        after = call(
            kube,
            kube.apps().patch_namespaced_deployment,
            deployment,
            namespace,
            patch,
            _content_type="application/strategic-merge-patch+json",
            doing=f"patch deployment {namespace}/{deployment}",
            rbac="patch deployments (apps)",
            not_found=no_deployment(namespace, deployment),
            write=True,
        )
    stamp = patch["spec"]["template"]["metadata"]["annotations"]
    return _change(
        dep,
        after,
        "restart",
        f"restart of {namespace}/{deployment} requested ({', '.join(stamp.values())}); "
        "the controller replaces its pods: follow it with kubernetes.deployment_status",
    )


def _change(
    before: Json,
    after: Json,
    action: Any,
    summary: str,
    *,
    to_revision: int | None = None,
    images_after: list[str] | None = None,
    replicas_after: int | None = None,
) -> DeploymentChange:
    meta = before.get("metadata") or {}
    return DeploymentChange(
        namespace=str(meta.get("namespace")),
        deployment=str(meta.get("name")),
        action=action,
        revision_before=revision_of(before),
        to_revision=to_revision,
        images_before=images(_template(before)),
        images_after=images_after if images_after is not None else images(_template(before)),
        replicas_before=_replicas(before),
        replicas_after=replicas_after if replicas_after is not None else _replicas(before),
        generation=(after.get("metadata") or {}).get("generation"),
        summary=summary,
    )


def _undo_plan(ctx: ToolContext, args: Any) -> str:
    with _writing(), connect(ctx) as kube:
        dep, sets = deployment_with_sets(kube, args.namespace, args.deployment)
    target = undo_target(dep, sets, args.to_revision)
    return (
        f"roll back deployment {args.namespace}/{args.deployment} from {_describe(dep)} "
        f"to {_describe(target)}; {_replicas(dep)} replica(s), {strategy(dep)}"
    )


@tool(
    risk="high",
    idempotent=False,
    resource="k8s:{namespace}/deployment/{deployment}",
    plan=_undo_plan,
)
def rollout_undo(
    ctx: ToolContext,
    namespace: Namespace,
    deployment: DeploymentName,
    to_revision: Annotated[
        int | None, Field(ge=1, description="default: the revision before the current one")
    ] = None,
) -> DeploymentChange:
    """Roll a deployment back (``kubectl rollout undo [--to-revision]``): its pod template
    becomes that of an earlier revision's ReplicaSet (default: the previous revision)."""
    with _writing(), connect(ctx) as kube:
        dep, sets = deployment_with_sets(kube, namespace, deployment)
        target = undo_target(dep, sets, to_revision)
        after = call(
            kube,
            kube.apps().patch_namespaced_deployment,
            deployment,
            namespace,
            undo_patch(dep, target),
            _content_type="application/json-patch+json",
            doing=f"patch deployment {namespace}/{deployment}",
            rbac="patch deployments (apps)",
            not_found=no_deployment(namespace, deployment),
            write=True,
        )
    back_to = revision_of(target)
    return _change(
        dep,
        after,
        "undo",
        f"{namespace}/{deployment} rolled back from revision {revision_of(dep)} to the pod "
        f"template of revision {back_to}; the controller rolls it out as a new revision: "
        "follow it with kubernetes.deployment_status",
        to_revision=back_to,
        images_after=images(target.get("spec", {}).get("template") or {}),
    )


def _scale_plan(ctx: ToolContext, args: Any) -> str:
    dep = _load(ctx, args)
    before, after = _replicas(dep), args.replicas
    where = f"deployment {args.namespace}/{args.deployment}"
    if before == after:
        return f"{where} already has {after} replica(s) at {_describe(dep)}: no change"
    plan = f"scale {where} from {before} to {after} replica(s) at {_describe(dep)}"
    if after == 0:
        plan += "; WARNING: 0 stops every pod, the service is down until scaled up again"
    return plan


@tool(
    risk="medium",
    idempotent=True,
    resource="k8s:{namespace}/deployment/{deployment}",
    plan=_scale_plan,
)
def scale(
    ctx: ToolContext,
    namespace: Namespace,
    deployment: DeploymentName,
    replicas: Annotated[int, Field(ge=0, le=100, description="desired replicas; 0 stops it")],
) -> DeploymentChange:
    """Set a deployment's replica count (``kubectl scale``, through the scale subresource).

    Risk is medium for every count: risk is declared per tool, so the plan spells out when
    a count of 0 takes the service down. A HorizontalPodAutoscaler may override the count.
    """
    with _writing(), connect(ctx) as kube:
        dep = read_deployment(kube, namespace, deployment)
        after = call(
            kube,
            kube.apps().patch_namespaced_deployment_scale,
            deployment,
            namespace,
            {"spec": {"replicas": replicas}},
            _content_type="application/merge-patch+json",
            doing=f"scale deployment {namespace}/{deployment}",
            rbac="patch deployments/scale (apps)",
            not_found=no_deployment(namespace, deployment),
            write=True,
        )
    return _change(
        dep,
        after,
        "scale",
        f"{namespace}/{deployment} scaled from {_replicas(dep)} to {replicas} replica(s)",
        replicas_after=replicas,
    )
