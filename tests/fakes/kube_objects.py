"""The objects of the fake Kubernetes API server (tests/fakes/kube_api.py), as the JSON a real
API server sends, and the rules it applies to them.

- Builders for Deployments, ReplicaSets, Pods, Events, their statuses and the ``/scale``
  subresource: pure functions, given the metadata the cluster assigns (uid,
  resourceVersion, ownerReferences, annotations) by tests/fakes/kube_cluster.py.
- ``merge_patch`` (RFC 7386) and ``json_patch`` (RFC 6902: add, replace, remove, test).
- Label and field selectors: comma-separated ``=``/``==``/``!=`` terms.
- ``ApiError``: a failure, as the ``Status`` object the API server answers with.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for name suffixes
_POD_CONDITIONS = ("Initialized", "Ready", "ContainersReady", "PodScheduled")


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details or {},
            "code": self.code,
        }


# -- names and times -----------------------------------------------------------------------------
def ts(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def suffix(seed: str, n: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:n])


def template_hash(template: Obj) -> str:
    return suffix(json.dumps(template, sort_keys=True), 10)


def without_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template)
    t.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    return t


# -- patches -------------------------------------------------------------------------------------
def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def json_patch(doc: Obj, ops: list[Obj]) -> Obj:
    """RFC 6902 JSON patch: add, replace, remove and test on object members."""
    out = copy.deepcopy(doc)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = out
        for part in parts[:-1]:
            if not isinstance(parent, dict) or part not in parent:
                raise ApiError(422, "Invalid", f"jsonpatch {op['op']} {op['path']}: missing path")
            parent = parent[part]
        last = parts[-1]
        kind = op["op"]
        if kind == "test":
            if parent.get(last) != op["value"]:
                raise ApiError(422, "Invalid", f"the test of {op['path']} failed")
        elif kind in ("add", "replace"):
            if kind == "replace" and last not in parent:
                raise ApiError(422, "Invalid", f"jsonpatch replace {op['path']}: missing value")
            parent[last] = copy.deepcopy(op["value"])
        elif kind == "remove":
            if parent.pop(last, None) is None:
                raise ApiError(422, "Invalid", f"jsonpatch remove {op['path']}: missing value")
        else:
            raise ApiError(422, "Invalid", f"unsupported jsonpatch op {kind}")
    return out


# -- selectors -----------------------------------------------------------------------------------
def _selector_terms(selector: str) -> list[tuple[str, str, str]]:
    terms = []
    for raw in filter(None, (t.strip() for t in selector.split(","))):
        m = re.fullmatch(r"([^!=\s]+)\s*(==|!=|=)\s*(\S*)", raw)
        if m is None:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {raw!r}")
        key, op, value = m.groups()
        terms.append((key, "!=" if op == "!=" else "=", value))
    return terms


def matches(values: dict[str, str], selector: str | None) -> bool:
    if not selector:
        return True
    for key, op, value in _selector_terms(selector):
        if (values.get(key) == value) != (op == "="):
            return False
    return True


def fields(obj: Obj, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            flat.update(fields(value, f"{prefix}{key}."))
        elif isinstance(value, str | int):
            flat[f"{prefix}{key}"] = str(value)
    return flat


# -- builders ------------------------------------------------------------------------------------
def owner_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_template(name: str, image: str) -> Obj:
    """The pod template of a one-container deployment, with the defaults the API fills in."""
    return {
        "metadata": {"labels": {"app": name}},
        "spec": {
            "containers": [
                {
                    "name": name,
                    "image": image,
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent",
                }
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "securityContext": {},
        },
    }


def deployment(meta: Obj, name: str, replicas: int, template: Obj) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {},
    }


def deployment_status(dep: Obj, replicas: int, current: str, now: datetime) -> Obj:
    """A deployment whose ReplicaSet ``current`` has all ``replicas`` available."""
    return {
        "observedGeneration": dep["metadata"]["generation"],
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
                "lastUpdateTime": ts(now),
                "lastTransitionTime": ts(now),
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{current}" has successfully progressed.',
                "lastUpdateTime": ts(now),
                "lastTransitionTime": ts(now),
            },
        ],
    }


def replicaset(meta: Obj, dep: Obj, template: Obj, pth: str) -> Obj:
    """A ReplicaSet of ``dep`` for ``template`` (whose pod-template-hash is ``pth``), at 0."""
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": meta,
        "spec": {
            "replicas": 0,
            "selector": {
                "matchLabels": {**dep["spec"]["selector"]["matchLabels"], HASH_LABEL: pth}
            },
            "template": template,
        },
        "status": {"replicas": 0},
    }


def replicaset_status(rs: Obj, replicas: int) -> Obj:
    return {
        "replicas": replicas,
        "fullyLabeledReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "observedGeneration": rs["metadata"]["generation"],
    }


def pod(meta: Obj, template: Obj, started: str) -> Obj:
    """A running, ready pod of ``template`` on node-a."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {**copy.deepcopy(template["spec"]), "nodeName": "node-a"},
        "status": {
            "phase": "Running",
            "conditions": [{"type": t, "status": "True"} for t in _POD_CONDITIONS],
            "hostIP": "10.0.0.11",
            "podIP": "10.244.1.17",
            "startTime": started,
            "containerStatuses": [
                {
                    "name": c["name"],
                    "image": c["image"],
                    "imageID": f"{c['image']}@sha256:{'0' * 64}",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": started}},
                    "lastState": {},
                }
                for c in template["spec"]["containers"]
            ],
        },
    }


def not_ready_conditions() -> list[Obj]:
    return [
        {"type": t, "status": "False" if t in ("Ready", "ContainersReady") else "True"}
        for t in _POD_CONDITIONS
    ]


def event(
    meta: Obj,
    involved: Obj,
    reason: str,
    message: str,
    *,
    type: str,
    count: int,
    first: datetime,
    last: datetime,
    component: str,
) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": meta,
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": ts(first),
        "lastTimestamp": ts(last),
        "count": count,
        "type": type,
        "reportingComponent": component,
        "reportingInstance": "",
    }


def scale_of(dep: Obj) -> Obj:
    """The ``/scale`` subresource of a deployment."""
    meta = dep["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        },
        "spec": {"replicas": dep["spec"]["replicas"]},
        "status": {
            "replicas": dep["status"].get("replicas", 0),
            "selector": ",".join(
                f"{k}={v}" for k, v in dep["spec"]["selector"]["matchLabels"].items()
            ),
        },
    }
