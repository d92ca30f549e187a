"""The Kubernetes pack's argument types (DNS-1123 names, selectors) and its results: what
its reads return and what its writes report.

Read results are ``SourceResult``s (untrusted, possibly ``unavailable``); every field has a
default so an unavailable result needs only its namespace and the reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from .._common.sources import SourceResult

# -- what the tools take ----------------------------------------------------------------
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


# -- what the tools return --------------------------------------------------------------
class KubeResult(SourceResult):
    source: str = "kubernetes"
    namespace: str = ""


class ContainerInfo(BaseModel):
    name: str
    image: str = ""
    ready: bool = False
    restarts: int = 0
    state: Literal["running", "waiting", "terminated", "unknown"] = "unknown"
    reason: str | None = Field(None, description="why it waits or ended, e.g. CrashLoopBackOff")
    message: str | None = None
    last_termination_reason: str | None = Field(None, description="e.g. OOMKilled, Error")
    last_exit_code: int | None = None
    last_finished_at: datetime | None = None


class PodInfo(BaseModel):
    name: str
    phase: str
    status: str = Field(description="as kubectl's STATUS column: Running, CrashLoopBackOff, ...")
    ready: str = Field(description="ready containers / containers")
    restarts: int
    node: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    age: str | None = None
    containers: list[ContainerInfo] = Field(default_factory=list)


class Pods(KubeResult):
    """Pods of a namespace, unhealthy ones first."""

    selector: str | None = None
    pods: list[PodInfo] = Field(default_factory=list)
    total: int = 0
    truncated: bool = False


class EventInfo(BaseModel):
    type: str | None = None
    reason: str | None = None
    object: str = Field("", description="Kind/name of the object the event is about")
    message: str = ""
    count: int = 1
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    source: str | None = None


class Events(KubeResult):
    """Events of a namespace, newest first."""

    object_name: str | None = None
    events: list[EventInfo] = Field(default_factory=list)
    total: int = 0
    truncated: bool = False


class Revision(BaseModel):
    revision: int
    replicaset: str
    images: list[str]
    replicas: int = 0
    ready: int = 0
    created_at: datetime | None = None
    change_cause: str | None = None
    current: bool = False


class RolloutHistory(KubeResult):
    """The revisions of a deployment (its ReplicaSets), newest first."""

    deployment: str = ""
    current_revision: int | None = None
    revisions: list[Revision] = Field(default_factory=list)


class Condition(BaseModel):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None


class DeploymentStatus(KubeResult):
    deployment: str = ""
    revision: int | None = None
    images: list[str] = Field(default_factory=list)
    replicas: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    unavailable_replicas: int = 0
    paused: bool = False
    strategy: str = ""
    rollout: str = Field("", description="like `kubectl rollout status`: complete, ...")
    conditions: list[Condition] = Field(default_factory=list)


class DeploymentChange(BaseModel):
    """What a write asked the API for; the controller rolls it out afterwards."""

    namespace: str
    deployment: str
    action: Literal["restart", "undo", "scale"]
    revision_before: int | None = None
    to_revision: int | None = None
    images_before: list[str] = Field(default_factory=list)
    images_after: list[str] = Field(default_factory=list)
    replicas_before: int = 0
    replicas_after: int = 0
    generation: int | None = None
    summary: str
