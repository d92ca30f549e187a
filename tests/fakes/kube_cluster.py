"""The in-memory cluster behind the fake Kubernetes API server (tests/fakes/kube_api.py).

It holds Deployments, ReplicaSets, Pods and Events (built by tests/fakes/kube_objects.py),
gives each object its uid, resourceVersion and creationTimestamp, and lets a test set the
scene: ``add_deployment``, ``crash_pod``, ``add_event``.

A tiny deployment controller runs synchronously after each change: a new pod template
becomes a new ReplicaSet revision (or an old ReplicaSet with the same template is adopted
again and given the next revision, as the real controller does), the old ReplicaSets go to
zero, the pods are replaced, and the deployment's revision annotation and status follow.
A real rollout is gradual and asynchronous; here it completes before the PATCH answers.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fakes.kube_objects import (
    HASH_LABEL,
    REVISION,
    Obj,
    deployment,
    deployment_status,
    event,
    merge_patch,
    not_ready_conditions,
    owner_ref,
    pod,
    pod_template,
    replicaset,
    replicaset_status,
    suffix,
    template_hash,
    ts,
    without_hash,
)


class FakeCluster:
    """The objects, keyed by (kind, namespace, name), and the deployment controller."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
        self.objects: dict[tuple[str, str, str], Obj] = {}  # (kind, namespace, name)
        self._rv = 1000
        self._lock = threading.RLock()

    # -- the store -------------------------------------------------------------------------------
    def _meta(self, kind: str, namespace: str, name: str, **extra: Any) -> Obj:
        self._rv += 1
        return {
            "name": name,
            "namespace": namespace,
            "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}/{namespace}/{name}/{self._rv}")),
            "resourceVersion": str(self._rv),
            "creationTimestamp": ts(self.now),
            **extra,
        }

    def _put(self, obj: Obj) -> Obj:
        meta = obj["metadata"]
        self.objects[(obj["kind"], meta["namespace"], meta["name"])] = obj
        return obj

    def get(self, kind: str, namespace: str, name: str) -> Obj:
        return self.objects[(kind, namespace, name)]

    def items(self, kind: str, namespace: str) -> list[Obj]:
        return [o for (k, ns, _), o in self.objects.items() if k == kind and ns == namespace]

    # -- building the cluster ------------------------------------------------------------------
    def add_deployment(
        self, namespace: str, name: str, images: list[str], replicas: int = 3
    ) -> Obj:
        """A deployment rolled out once per image in ``images`` (the last one is current)."""
        with self._lock:
            template = pod_template(name, images[0])
            meta = self._meta("Deployment", namespace, name, generation=1, labels={"app": name})
            dep = self._put(deployment(meta, name, replicas, template))
            self._reconcile(dep)
            for image in images[1:]:
                self.now += timedelta(hours=1)
                dep["spec"]["template"]["spec"]["containers"][0]["image"] = image
                dep["metadata"]["generation"] += 1
                self._reconcile(dep)
            self.now += timedelta(minutes=30)
            return dep

    def crash_pod(
        self, namespace: str, app: str, *, last_reason: str = "OOMKilled", restarts: int = 7
    ) -> Obj:
        """Make the first pod of ``app`` crash-loop: waiting CrashLoopBackOff, last state
        terminated with ``last_reason``."""
        with self._lock:
            found = next(
                p
                for p in sorted(self.items("Pod", namespace), key=lambda p: p["metadata"]["name"])
                if p["metadata"]["labels"].get("app") == app
            )
            name = found["metadata"]["name"]
            status = found["status"]
            status["conditions"] = not_ready_conditions()
            cs = status["containerStatuses"][0]
            cs.update(ready=False, started=False, restartCount=restarts)
            cs["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off 5m0s restarting failed container={app} pod={name}",
                }
            }
            cs["lastState"] = {
                "terminated": {
                    "exitCode": 137 if last_reason == "OOMKilled" else 1,
                    "reason": last_reason,
                    "startedAt": ts(self.now - timedelta(minutes=3)),
                    "finishedAt": ts(self.now - timedelta(minutes=2)),
                    "containerID": f"containerd://{suffix(name + 'c', 16)}",
                }
            }
            return found

    def add_event(
        self,
        namespace: str,
        kind: str,
        name: str,
        reason: str,
        message: str,
        *,
        type: str = "Normal",
        count: int = 1,
        age: timedelta = timedelta(0),
        component: str = "kubelet",
    ) -> Obj:
        with self._lock:
            last = self.now - age
            ev_name = f"{name}.{suffix(f'{name}{reason}{self._rv}', 16)}"
            involved = {
                "kind": kind,
                "namespace": namespace,
                "name": name,
                "apiVersion": "apps/v1" if kind != "Pod" else "v1",
            }
            return self._put(
                event(
                    self._meta("Event", namespace, ev_name),
                    involved,
                    reason,
                    message,
                    type=type,
                    count=count,
                    first=last - timedelta(minutes=5 * (count - 1)),
                    last=last,
                    component=component,
                )
            )

    # -- the deployment controller ---------------------------------------------------------------
    def _owned(self, kind: str, owner: Obj) -> list[Obj]:
        uid = owner["metadata"]["uid"]
        return [
            o
            for o in self.items(kind, owner["metadata"]["namespace"])
            if any(ref["uid"] == uid for ref in o["metadata"].get("ownerReferences", []))
        ]

    def _reconcile(self, dep: Obj) -> None:
        """Bring ReplicaSets, pods and status in line with the deployment's spec, at once."""
        ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        template = dep["spec"]["template"]
        replicas = dep["spec"]["replicas"]
        sets = self._owned("ReplicaSet", dep)
        revisions = [int(rs["metadata"]["annotations"][REVISION]) for rs in sets]
        current = next(
            (rs for rs in sets if without_hash(rs["spec"]["template"]) == template), None
        )
        if current is None:
            pth = template_hash(template)
            labels = {**template["metadata"].get("labels", {}), HASH_LABEL: pth}
            rs_template = merge_patch(template, {"metadata": {"labels": labels}})
            meta = self._meta(
                "ReplicaSet",
                ns,
                f"{name}-{pth}",
                labels=labels,
                annotations={REVISION: str(max(revisions, default=0) + 1)},
                ownerReferences=[owner_ref(dep)],
                generation=1,
            )
            current = self._put(replicaset(meta, dep, rs_template, pth))
        else:
            annotations = current["metadata"]["annotations"]
            if int(annotations[REVISION]) != max(revisions):
                old = annotations[REVISION]
                history = annotations.get("deployment.kubernetes.io/revision-history")
                annotations[REVISION] = str(max(revisions) + 1)
                annotations["deployment.kubernetes.io/revision-history"] = (
                    f"{history},{old}" if history else old
                )
        for rs in self._owned("ReplicaSet", dep):
            want = replicas if rs is current else 0
            rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = str(
                replicas
            )
            self._scale_pods(rs, want)
        revision = current["metadata"]["annotations"][REVISION]
        dep["metadata"].setdefault("annotations", {})[REVISION] = revision
        self._rv += 1
        dep["metadata"]["resourceVersion"] = str(self._rv)
        dep["status"] = deployment_status(dep, replicas, current["metadata"]["name"], self.now)

    def _scale_pods(self, rs: Obj, want: int) -> None:
        ns, rs_name = rs["metadata"]["namespace"], rs["metadata"]["name"]
        before = rs["spec"]["replicas"]
        pods = sorted(self._owned("Pod", rs), key=lambda p: p["metadata"]["name"])
        for gone in pods[want:]:
            del self.objects[("Pod", ns, gone["metadata"]["name"])]
        for i in range(len(pods), want):
            self._new_pod(rs, f"{rs_name}-{suffix(f'{rs_name}{i}{self._rv}', 5)}")
        rs["spec"]["replicas"] = want
        rs["status"] = replicaset_status(rs, want)
        if want != before:
            verb = "up" if want > before else "down"
            owner = rs["metadata"]["ownerReferences"][0]["name"]
            self.add_event(
                ns,
                "Deployment",
                owner,
                "ScalingReplicaSet",
                f"Scaled {verb} replica set {rs_name} from {before} to {want}",
                component="deployment-controller",
            )

    def _new_pod(self, rs: Obj, name: str) -> None:
        template = rs["spec"]["template"]
        started = ts(self.now)
        meta = self._meta(
            "Pod",
            rs["metadata"]["namespace"],
            name,
            labels=dict(template["metadata"]["labels"]),
            annotations=dict(template["metadata"].get("annotations", {})),
            ownerReferences=[owner_ref(rs)],
        )
        self._put(pod(meta, template, started))
