"""A loopback fake of the Kubernetes API server, for the real ``kubernetes`` client.

It serves the in-memory cluster of tests/fakes/kube_cluster.py (Deployments, ReplicaSets,
Pods and Events, as the JSON a real API server sends, built by tests/fakes/kube_objects.py)
and exactly what the Kubernetes pack calls:

- ``GET /api/v1/namespaces/{ns}/pods`` and ``.../events`` (``labelSelector``,
  ``fieldSelector`` with ``=``/``==``/``!=`` terms, ``limit`` and ``continue``);
- ``GET|PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}`` and its ``/scale``;
- ``GET /apis/apps/v1/namespaces/{ns}/replicasets``.

Patches: ``application/json-patch+json`` (RFC 6902: add, replace, remove, test),
``application/merge-patch+json`` (RFC 7386) and ``application/strategic-merge-patch+json``,
which is treated as a merge patch (maps merge, lists are replaced rather than merged by key:
enough for the patches the pack sends). Other content types get 415. A patched deployment
goes through the cluster's deployment controller before the PATCH answers.

Every request needs ``Authorization: Bearer <token>`` (else 401). Every request is
recorded (method, path, query, headers, decoded body); ``inject`` scripts failures.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakes.kube_cluster import FakeCluster
from fakes.kube_objects import ApiError, Obj, fields, json_patch, matches, merge_patch, scale_of


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


class FakeKubeAPI(FakeCluster):
    """The in-memory cluster and its HTTP front; start it with ``with FakeKubeAPI() as k``."""

    def __init__(self, token: str = "fake-token-for-tests") -> None:
        super().__init__()
        self.token = token
        self.requests: list[Recorded] = []
        self.injections: list[Injection] = []
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

    # -- API handlers ----------------------------------------------------------------------------
    def _list(self, kind: str, ns: str, query: dict[str, list[str]]) -> Obj:
        labels = query.get("labelSelector", [None])[0]
        by_fields = query.get("fieldSelector", [None])[0]
        found = [
            o
            for o in sorted(self.items(kind, ns), key=lambda o: o["metadata"]["name"])
            if matches(o["metadata"].get("labels", {}), labels) and matches(fields(o), by_fields)
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
                return scale_of(dep) if m[3] else dep
            if m[3]:
                scale = self._patch(scale_of(dep), ctype, body)
                spec = merge_patch(dep["spec"], {"replicas": scale["spec"].get("replicas")})
                self._apply_deployment(dep, {**copy.deepcopy(dep), "spec": spec})
                return scale_of(dep)
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
