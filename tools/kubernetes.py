"""Kubernetes: pods, events, rollout history and status; rollout restart, undo and scale.

Every call goes through the official ``kubernetes`` client, configured from ``[sources]``
(a kubeconfig and context, or the pod's service account) and turned on by
``sources.kubernetes``. Reads never raise: an unreachable, misconfigured or forbidding API
comes back as ``unavailable`` with a hint. Writes raise ``ToolFailed`` when the API refuses
or cannot be reached, so nothing is recorded as done that was not.

The writes do what kubectl does (``rollout restart``, ``rollout undo``, ``scale``), so an
operator reading the audit log sees familiar patches. Their plans show the deployment's
spec (replicas, revision, images), never its status: status moves with every pod that
becomes ready, and a plan that changes invalidates its approval.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from pydantic import Field

from copilot.errors import ToolFailed
from copilot.toolkit import ToolContext, tool
from tools._kube_client import (
    Json,
    call,
    connect,
    deployment_with_sets,
    list_all,
    no_deployment,
    read_deployment,
)
from tools._kube_models import DeploymentChange, DeploymentStatus, Events, Pods, RolloutHistory
from tools._kube_rollout import (
    history,
    restart_patch,
    status_of,
    strategy,
    undo_patch,
    undo_target,
)
from tools._kube_view import (
    event_info,
    images,
    newest_first,
    pod_info,
    revision_of,
    unhealthy_first,
)
from tools._sources import SourceError, as_failure

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

Namespace = Annotated[
    str, Field(max_length=63, pattern=DNS1123_LABEL, description="the namespace, e.g. shop")
]
DeploymentName = Annotated[
    str, Field(max_length=253, pattern=DNS1123_SUBDOMAIN, description="the deployment's name")
]
ObjectName = Annotated[
    str, Field(max_length=253, pattern=DNS1123_SUBDOMAIN, description="a pod, deployment, ...")
]
LabelSelector = Annotated[
    str,
    Field(
        max_length=400,
        pattern=r"^[A-Za-z0-9._/=!,() -]+$",
        description="a label selector, e.g. app=web,tier!=cache",
    ),
]


@contextmanager
def _writing() -> Iterator[None]:
    """A write (or its plan) that cannot reach or is refused by the API fails."""
    try:
        yield
    except SourceError as err:
        raise as_failure(err) from None


# -- reads --------------------------------------------------------------------------------------
@tool(risk="read")
def pods(
    ctx: ToolContext,
    namespace: Namespace,
    selector: LabelSelector | None = None,
    limit: Annotated[int, Field(ge=1, le=500, description="at most this many pods")] = 100,
) -> Pods:
    """List a namespace's pods, unhealthy first: status as kubectl shows it (CrashLoopBackOff,
    OOMKilled, ...), ready containers, restarts, last termination reason, node and age."""
    try:
        with connect(ctx) as kube:
            items, more = list_all(
                kube,
                kube.core().list_namespaced_pod,
                namespace,
                doing=f"list pods in {namespace}",
                rbac="list pods",
                label_selector=selector,
            )
    except SourceError as err:
        return Pods(namespace=namespace, selector=selector, unavailable=err.detail)
    now = ctx.clock()
    found = unhealthy_first([pod_info(p, now) for p in items])
    return Pods(
        namespace=namespace,
        selector=selector,
        pods=found[:limit],
        total=len(found),
        truncated=more or len(found) > limit,
    )


@tool(risk="read")
def events(
    ctx: ToolContext,
    namespace: Namespace,
    object_name: ObjectName | None = None,
    warnings_only: bool = False,
    limit: Annotated[int, Field(ge=1, le=200, description="at most this many events")] = 50,
) -> Events:
    """Recent events of a namespace, or of one object in it, newest first: type, reason,
    message, count and when they were last seen."""
    fields = [f"involvedObject.name={object_name}"] if object_name else []
    fields += ["type=Warning"] if warnings_only else []
    try:
        with connect(ctx) as kube:
            items, more = list_all(
                kube,
                kube.core().list_namespaced_event,
                namespace,
                doing=f"list events in {namespace}",
                rbac="list events",
                field_selector=",".join(fields) or None,
            )
    except SourceError as err:
        return Events(namespace=namespace, object_name=object_name, unavailable=err.detail)
    found = newest_first([event_info(e) for e in items])
    return Events(
        namespace=namespace,
        object_name=object_name,
        events=found[:limit],
        total=len(found),
        truncated=more or len(found) > limit,
    )


@tool(risk="read")
def rollout_history(
    ctx: ToolContext, namespace: Namespace, deployment: DeploymentName
) -> RolloutHistory:
    """A deployment's revisions, newest first, as ``kubectl rollout history`` finds them: its
    ReplicaSets with their revision, images, replicas and creation time; the current marked."""
    try:
        with connect(ctx) as kube:
            dep, sets = deployment_with_sets(kube, namespace, deployment)
    except SourceError as err:
        return RolloutHistory(namespace=namespace, deployment=deployment, unavailable=err.detail)
    return RolloutHistory(
        namespace=namespace,
        deployment=deployment,
        current_revision=revision_of(dep),
        revisions=history(dep, sets),
    )


@tool(risk="read")
def deployment_status(
    ctx: ToolContext, namespace: Namespace, deployment: DeploymentName
) -> DeploymentStatus:
    """A deployment's rollout state (like ``kubectl rollout status``): revision, images,
    desired/updated/ready/available replicas, strategy and conditions."""
    try:
        with connect(ctx) as kube:
            dep = read_deployment(kube, namespace, deployment)
    except SourceError as err:
        return DeploymentStatus(namespace=namespace, deployment=deployment, unavailable=err.detail)
    return status_of(dep)


# -- writes -------------------------------------------------------------------------------------
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
