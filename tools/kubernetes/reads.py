"""Kubernetes reads: pods, events, rollout history and rollout status.

Reads never raise: an unreachable, misconfigured or forbidding API comes back as
``unavailable`` with a hint.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from copilot.toolkit import ToolContext, tool

from .._common.sources import SourceError
from .client import connect, deployment_with_sets, list_all, read_deployment
from .models import (
    DeploymentName,
    DeploymentStatus,
    Events,
    LabelSelector,
    Namespace,
    ObjectName,
    Pods,
    RolloutHistory,
)
from .rollout import history, status_of
from .view import event_info, newest_first, pod_info, revision_of, unhealthy_first


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
