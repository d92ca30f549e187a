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

from copilot.toolkit import ToolSpec

from .changes import rollout_restart, rollout_undo, scale
from .reads import deployment_status, events, pods, rollout_history

TOOLS: list[ToolSpec] = [
    pods,
    events,
    rollout_history,
    deployment_status,
    rollout_restart,
    rollout_undo,
    scale,
]
