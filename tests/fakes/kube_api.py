"""A loopback fake of the Kubernetes API server, for the real ``kubernetes`` client.

It holds Deployments, ReplicaSets, Pods and Events in memory, as the JSON a real API server
sends (metadata with uid, resourceVersion, ownerReferences and annotations; statuses), and
serves exactly what the Kubernetes pack calls:

- ``GET /api/v1/namespaces/{ns}/pods`` and ``.../events`` (``labelSelector``,
  ``fieldSelector`` with ``=``/``==``/``!=`` terms, ``limit`` and ``continue``);
- ``GET|PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}`` and its ``/scale``;
- ``GET /apis/apps/v1/namespaces/{ns}/replicasets``.

Patches: ``application/json-patch+json`` (RFC 6902: add, replace, remove, test),
``application/merge-patch+json`` (RFC 7386) and ``application/strategic-merge-patch+json``,
which is treated as a merge patch (maps merge, lists are replaced rather than merged by key:
enough for the patches the pack sends). Other content types get 415.

A tiny deployment controller runs synchronously after each change: a new pod template
becomes a new ReplicaSet revision (or an old ReplicaSet with the same template is adopted
again and given the next revision, as the real controller does), the old ReplicaSets go to
zero, the pods are replaced, and the deployment's revision annotation and status follow.
A real rollout is gradual and asynchronous; here it completes before the PATCH answers.

Every request needs ``Authorization: Bearer <token>`` (else 401). Every request is
recorded (method, path, query, headers, decoded body); ``inject`` scripts failures.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for name suffixes


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Injection:
    method: str
    path_re: str
    status: int = 500
    message: str = "injected failure"
    reason: str = "InternalError"
    drop: bool = False  # close the connection without answering
    delay_s: float = 0.0
    times: int = 1  # how many matching requests it affects (-1: all)


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


def _ts(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _suffix(seed: str, n: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:n])


def _template_hash(template: Obj) -> str:
    return _suffix(json.dumps(template, sort_keys=True), 10)


def _without_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template)
    t.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    return t


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


def _selector_terms(selector: str) -> list[tuple[str, str, str]]:
    terms = []
    for raw in filter(None, (t.strip() for t in selector.split(","))):
        m = re.fullmatch(r"([^!=\s]+)\s*(==|!=|=)\s*(\S*)", raw)
        if m is None:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {raw!r}")
        key, op, value = m.groups()
        terms.append((key, "!=" if op == "!=" else "=", value))
    return terms


def _matches(values: dict[str, str], selector: str | None) -> bool:
    if not selector:
        return True
    for key, op, value in _selector_terms(selector):
        if (values.get(key) == value) != (op == "="):
            return False
    return True


def _fields(obj: Obj, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            flat.update(_fields(value, f"{prefix}{key}."))
        elif isinstance(value, str | int):
            flat[f"{prefix}{key}"] = str(value)
    return flat


class FakeKubeAPI:
    """The in-memory cluster and its HTTP front; start it with ``with FakeKubeAPI() as k``."""

    def __init__(self, token: str = "fake-token-for-tests") -> None:
        self.token = token
        self.now = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
        self.objects: dict[tuple[str, str, str], Obj] = {}  # (kind, namespace, name)
        self.requests: list[Recorded] = []
        self.injections: list[Injection] = []
        self._rv = 1000
        self._lock = threading.RLock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> FakeKubeAPI:
        # A short poll interval: shutdown() waits for it, once per test.
        serve = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        serve.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def write_kubeconfig(self, path: Path, token: str | None = None) -> Path:
        """A kubeconfig with context ``fake`` (the right token) and ``stale`` (a wrong one)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [
                {"name": "copilot", "user": {"token": token or self.token}},
                {"name": "stale", "user": {"token": "an-expired-token"}},
            ],
            "contexts": [
                {"name": "fake", "context": {"cluster": "fake", "user": "copilot"}},
                {"name": "stale", "context": {"cluster": "fake", "user": "stale"}},
            ],
            "current-context": "fake",
        }
        path.write_text(json.dumps(config, indent=2))
        return path

    def inject(self, method: str, path_re: str, **kw: Any) -> Injection:
        injection = Injection(method, path_re, **kw)
        self.injections.append(injection)
        return injection

    def calls(self, method: str | None = None, contains: str = "") -> list[Recorded]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and contains in r.path
        ]

    # -- building the cluster ------------------------------------------------------------------
    def _meta(self, kind: str, namespace: str, name: str, **extra: Any) -> Obj:
        self._rv += 1
        return {
            "name": name,
            "namespace": namespace,
            "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}/{namespace}/{name}/{self._rv}")),
            "resourceVersion": str(self._rv),
            "creationTimestamp": _ts(self.now),
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

    def add_deployment(
        self, namespace: str, name: str, images: list[str], replicas: int = 3
    ) -> Obj:
        """A deployment rolled out once per image in ``images`` (the last one is current)."""
        with self._lock:
            template = {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": images[0],
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
            dep = self._put(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": self._meta(
                        "Deployment", namespace, name, generation=1, labels={"app": name}
                    ),
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
            )
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
            pod = next(
                p
                for p in sorted(self.items("Pod", namespace), key=lambda p: p["metadata"]["name"])
                if p["metadata"]["labels"].get("app") == app
            )
            name = pod["metadata"]["name"]
            status = pod["status"]
            status["conditions"] = [
                {"type": t, "status": "False" if t in ("Ready", "ContainersReady") else "True"}
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ]
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
                    "startedAt": _ts(self.now - timedelta(minutes=3)),
                    "finishedAt": _ts(self.now - timedelta(minutes=2)),
                    "containerID": f"containerd://{_suffix(name + 'c', 16)}",
                }
            }
            return pod

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
            ev_name = f"{name}.{_suffix(f'{name}{reason}{self._rv}', 16)}"
            return self._put(
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": self._meta("Event", namespace, ev_name),
                    "involvedObject": {
                        "kind": kind,
                        "namespace": namespace,
                        "name": name,
                        "apiVersion": "apps/v1" if kind != "Pod" else "v1",
                    },
                    "reason": reason,
                    "message": message,
                    "source": {"component": component},
                    "firstTimestamp": _ts(last - timedelta(minutes=5 * (count - 1))),
                    "lastTimestamp": _ts(last),
                    "count": count,
                    "type": type,
                    "reportingComponent": component,
                    "reportingInstance": "",
                }
            )

    # -- the deployment controller ---------------------------------------------------------------
    def _owned(self, kind: str, owner: Obj) -> list[Obj]:
        uid = owner["metadata"]["uid"]
        return [
            o
            for o in self.items(kind, owner["metadata"]["namespace"])
            if any(ref["uid"] == uid for ref in o["metadata"].get("ownerReferences", []))
        ]

    @staticmethod
    def _owner_ref(owner: Obj) -> Obj:
        return {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def _reconcile(self, dep: Obj) -> None:
        """Bring ReplicaSets, pods and status in line with the deployment's spec, at once."""
        ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        template = dep["spec"]["template"]
        replicas = dep["spec"]["replicas"]
        sets = self._owned("ReplicaSet", dep)
        revisions = [int(rs["metadata"]["annotations"][REVISION]) for rs in sets]
        current = next(
            (rs for rs in sets if _without_hash(rs["spec"]["template"]) == template), None
        )
        if current is None:
            pth = _template_hash(template)
            labels = {**template["metadata"].get("labels", {}), HASH_LABEL: pth}
            rs_template = merge_patch(template, {"metadata": {"labels": labels}})
            current = self._put(
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": self._meta(
                        "ReplicaSet",
                        ns,
                        f"{name}-{pth}",
                        labels=labels,
                        annotations={REVISION: str(max(revisions, default=0) + 1)},
                        ownerReferences=[self._owner_ref(dep)],
                        generation=1,
                    ),
                    "spec": {
                        "replicas": 0,
                        "selector": {"matchLabels": {**dep["spec"]["selector"]["matchLabels"]}},
                        "template": rs_template,
                    },
                    "status": {"replicas": 0},
                }
            )
            current["spec"]["selector"]["matchLabels"][HASH_LABEL] = pth
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
        dep["status"] = {
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
                    "lastUpdateTime": _ts(self.now),
                    "lastTransitionTime": _ts(self.now),
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable",
                    "message": f'ReplicaSet "{current["metadata"]["name"]}" has successfully '
                    "progressed.",
                    "lastUpdateTime": _ts(self.now),
                    "lastTransitionTime": _ts(self.now),
                },
            ],
        }

    def _scale_pods(self, rs: Obj, want: int) -> None:
        ns, rs_name = rs["metadata"]["namespace"], rs["metadata"]["name"]
        before = rs["spec"]["replicas"]
        pods = sorted(self._owned("Pod", rs), key=lambda p: p["metadata"]["name"])
        for pod in pods[want:]:
            del self.objects[("Pod", ns, pod["metadata"]["name"])]
        for i in range(len(pods), want):
            self._new_pod(rs, f"{rs_name}-{_suffix(f'{rs_name}{i}{self._rv}', 5)}")
        rs["spec"]["replicas"] = want
        rs["status"] = {
            "replicas": want,
            "fullyLabeledReplicas": want,
            "readyReplicas": want,
            "availableReplicas": want,
            "observedGeneration": rs["metadata"]["generation"],
        }
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
        ns = rs["metadata"]["namespace"]
        started = _ts(self.now)
        containers = template["spec"]["containers"]
        self._put(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": self._meta(
                    "Pod",
                    ns,
                    name,
                    labels=dict(template["metadata"]["labels"]),
                    annotations=dict(template["metadata"].get("annotations", {})),
                    ownerReferences=[self._owner_ref(rs)],
                ),
                "spec": {**copy.deepcopy(template["spec"]), "nodeName": "node-a"},
                "status": {
                    "phase": "Running",
                    "conditions": [
                        {"type": t, "status": "True"}
                        for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
                    ],
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
                        for c in containers
                    ],
                },
            }
        )

    # -- API handlers ----------------------------------------------------------------------------
    def _list(self, kind: str, ns: str, query: dict[str, list[str]]) -> Obj:
        labels = query.get("labelSelector", [None])[0]
        fields = query.get("fieldSelector", [None])[0]
        found = [
            o
            for o in sorted(self.items(kind, ns), key=lambda o: o["metadata"]["name"])
            if _matches(o["metadata"].get("labels", {}), labels) and _matches(_fields(o), fields)
        ]
        start = int(query.get("continue", ["0"])[0] or 0)
        limit = int(query.get("limit", ["0"])[0] or 0)
        page = found[start : start + limit] if limit else found[start:]
        meta: Obj = {"resourceVersion": str(self._rv)}
        if limit and start + limit < len(found):
            meta["continue"] = str(start + limit)
            meta["remainingItemCount"] = len(found) - start - limit
        version = "apps/v1" if kind in ("Deployment", "ReplicaSet") else "v1"
        return {"kind": f"{kind}List", "apiVersion": version, "metadata": meta, "items": page}

    def _deployment(self, ns: str, name: str) -> Obj:
        try:
            return self.get("Deployment", ns, name)
        except KeyError:
            raise ApiError(
                404,
                "NotFound",
                f'deployments.apps "{name}" not found',
                {"name": name, "group": "apps", "kind": "deployments"},
            ) from None

    def _scale_of(self, dep: Obj) -> Obj:
        meta = dep["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            },
            "spec": {"replicas": dep["spec"]["replicas"]},
            "status": {
                "replicas": dep["status"].get("replicas", 0),
                "selector": ",".join(
                    f"{k}={v}" for k, v in dep["spec"]["selector"]["matchLabels"].items()
                ),
            },
        }

    def _patch(self, doc: Obj, content_type: str, body: Any) -> Obj:
        if content_type == "application/json-patch+json" and isinstance(body, list):
            return json_patch(doc, body)
        if content_type in (
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        ) and isinstance(body, dict):
            return merge_patch(doc, body)
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format: "
            f"accepted media types include: application/json-patch+json, "
            f"application/merge-patch+json, application/strategic-merge-patch+json "
            f"(got {content_type})",
        )

    def _apply_deployment(self, dep: Obj, patched: Obj) -> Obj:
        patched["metadata"] = {
            **patched["metadata"],
            **{k: dep["metadata"][k] for k in ("name", "namespace", "uid", "creationTimestamp")},
        }
        replicas = patched["spec"].get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(422, "Invalid", "spec.replicas: Invalid value: must be >= 0")
        if patched["spec"] != dep["spec"]:
            patched["metadata"]["generation"] = dep["metadata"]["generation"] + 1
        dep.clear()
        dep.update(patched)
        self._reconcile(dep)
        return dep

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], ctype: str, body: Any
    ) -> Obj:
        m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/(pods|events)", path)
        if m and method == "GET":
            return self._list("Pod" if m[2] == "pods" else "Event", m[1], query)
        m = re.fullmatch(r"/apis/apps/v1/namespaces/([^/]+)/replicasets", path)
        if m and method == "GET":
            return self._list("ReplicaSet", m[1], query)
        m = re.fullmatch(r"/apis/apps/v1/namespaces/([^/]+)/deployments/([^/]+)(/scale)?", path)
        if m and method in ("GET", "PATCH"):
            dep = self._deployment(m[1], m[2])
            if method == "GET":
                return self._scale_of(dep) if m[3] else dep
            if m[3]:
                scale = self._patch(self._scale_of(dep), ctype, body)
                spec = merge_patch(dep["spec"], {"replicas": scale["spec"].get("replicas")})
                self._apply_deployment(dep, {**copy.deepcopy(dep), "spec": spec})
                return self._scale_of(dep)
            return self._apply_deployment(dep, self._patch(dep, ctype, body))
        raise ApiError(404, "NotFound", "the server could not find the requested resource")


def _handler(fake: FakeKubeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.loads(raw) if raw else None
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            fake.requests.append(
                Recorded(self.command, url.path, query, dict(self.headers.items()), body)
            )
            for inj in list(fake.injections):
                if inj.method == self.command and re.search(inj.path_re, url.path):
                    if inj.times > 0:
                        inj.times -= 1
                        if inj.times == 0:
                            fake.injections.remove(inj)
                    time.sleep(inj.delay_s)
                    if inj.drop:
                        # shutdown, not close: the handler's file objects keep the socket open
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self._send(ApiError(inj.status, inj.reason, inj.message).status(), inj.status)
                    return
            if self.headers.get("Authorization") != f"Bearer {fake.token}":
                self._send(ApiError(401, "Unauthorized", "Unauthorized").status(), 401)
                return
            try:
                with fake._lock:
                    out = copy.deepcopy(fake.handle(self.command, url.path, query, ctype, body))
            except ApiError as err:
                self._send(err.status(), err.code)
                return
            self._send(out, 200)

        do_GET = do_PATCH = _serve

        def _send(self, doc: Obj, status: int) -> None:
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            # The client may have given up already (a timeout test): nobody to answer.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
