"""The Kubernetes pack through the svc, with the real ``kubernetes`` client against a fake
API server on loopback (tests/fakes/kube_api.py): what the tools read, what the writes send,
and how approvals, failures and redaction work for them."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from conftest import approve
from fakes.kube_api import FakeKubeAPI

from copilot.domain import ApprovalState
from copilot.errors import ApprovalInvalid, InvalidInput, ToolFailed

V1, V2, V3 = (f"ghcr.io/acme/web:{v}" for v in ("1.4.1", "1.4.2", "1.5.0"))
REVISION = "deployment.kubernetes.io/revision"


@pytest.fixture
def kube(tmp_path: Path) -> Any:
    with FakeKubeAPI() as fake:
        fake.add_deployment("shop", "web", [V1, V2, V3], replicas=3)
        fake.add_deployment("shop", "worker", ["ghcr.io/acme/worker:2.0.0"], replicas=1)
        fake.crash_pod("shop", "web", last_reason="OOMKilled", restarts=7)
        fake.kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
        fake.requests.clear()
        yield fake


@pytest.fixture
def svc(make_copilot: Any, kube: FakeKubeAPI, tmp_path: Path) -> Any:
    return _core(make_copilot, tmp_path, kubeconfig=str(kube.kubeconfig))


def _core(make_copilot: Any, tmp_path: Path, **sources: Any) -> Any:
    sources = {"kubernetes": True, "timeout_s": 2, **sources}
    return make_copilot(f"sqlite:///{tmp_path / 'data' / 'copilot.db'}", sources=sources)


def _read(svc: Any, tool: str, **args: Any) -> dict[str, Any]:
    out, ran = svc.call(svc.principal("alice"), f"kubernetes.{tool}", args)
    assert out.runs_without_approval and ran is not None
    assert ran.status is ApprovalState.SUCCEEDED, ran.error
    result: dict[str, Any] = ran.result
    assert result["source"] == "kubernetes" and result["untrusted"] is True
    return result


def _image(kube: FakeKubeAPI, name: str = "web") -> str:
    dep = kube.get("Deployment", "shop", name)
    return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])


# -- reads ---------------------------------------------------------------------------------
def test_pods_show_the_crash_loop_first_with_its_reason_and_restarts(svc, kube):
    result = _read(svc, "pods", namespace="shop", selector="app=web")
    assert result["unavailable"] is None and result["total"] == 3
    crashing, *healthy = result["pods"]
    assert crashing["status"] == "CrashLoopBackOff" and crashing["ready"] == "0/1"
    assert crashing["restarts"] == 7 and crashing["phase"] == "Running"
    (container,) = crashing["containers"]
    assert container["state"] == "waiting" and container["reason"] == "CrashLoopBackOff"
    assert container["last_termination_reason"] == "OOMKilled"
    assert container["last_exit_code"] == 137 and container["image"] == V3
    assert [p["status"] for p in healthy] == ["Running", "Running"]
    assert all(p["ready"] == "1/1" and p["node"] == "node-a" for p in healthy)
    assert crashing["age"] == "2h0m"  # created at 10:00 in the fake; the svc's clock says 12:00
    (req,) = kube.calls("GET", "/pods")
    assert req.path == "/api/v1/namespaces/shop/pods"
    assert req.query["labelSelector"] == ["app=web"]
    assert req.headers["authorization"] == f"Bearer {kube.token}"


def test_pods_limit_and_selector(svc):
    result = _read(svc, "pods", namespace="shop", limit=2)
    assert result["total"] == 4 and len(result["pods"]) == 2 and result["truncated"]
    assert result["pods"][0]["status"] == "CrashLoopBackOff"
    assert _read(svc, "pods", namespace="shop", selector="app=nope")["pods"] == []


def test_events_come_newest_first_and_filter_by_object(svc, kube):
    kube.add_event("shop", "Pod", "web-a", "Pulled", "pulled image", age=_min(30))
    kube.add_event(
        "shop",
        "Pod",
        "web-a",
        "BackOff",
        "back-off restarting",
        type="Warning",
        count=12,
        age=_min(1),
    )
    kube.add_event("shop", "Pod", "web-a", "Created", "created container", age=_min(10))
    kube.add_event("shop", "Pod", "web-b", "Killing", "stopping container", age=_min(0))
    result = _read(svc, "events", namespace="shop", object_name="web-a")
    assert [e["reason"] for e in result["events"]] == ["BackOff", "Created", "Pulled"]
    first = result["events"][0]
    assert first["type"] == "Warning" and first["count"] == 12 and first["object"] == "Pod/web-a"
    assert first["source"] == "kubelet" and first["last_seen"] == "2026-11-27T10:59:00Z"
    assert kube.calls("GET", "/events")[-1].query["fieldSelector"] == ["involvedObject.name=web-a"]
    warnings = _read(svc, "events", namespace="shop", warnings_only=True, limit=1)
    assert [e["reason"] for e in warnings["events"]] == ["BackOff"] and not warnings["truncated"]
    capped = _read(svc, "events", namespace="shop", limit=2)
    assert len(capped["events"]) == 2 and capped["truncated"] and capped["total"] > 2
    assert capped["events"][0]["object"] == "Pod/web-b"  # the newest of the whole namespace


def _min(n: int) -> Any:
    from datetime import timedelta

    return timedelta(minutes=n)


def test_rollout_history_lists_revisions_with_images_and_marks_the_current(svc, kube):
    result = _read(svc, "rollout_history", namespace="shop", deployment="web")
    assert result["current_revision"] == 3
    revs = result["revisions"]
    assert [(r["revision"], r["images"], r["current"]) for r in revs] == [
        (3, [V3], True),
        (2, [V2], False),
        (1, [V1], False),
    ]
    assert revs[0]["replicas"] == 3 and revs[1]["replicas"] == 0
    assert all(r["replicaset"].startswith("web-") for r in revs)
    # the worker's ReplicaSet is not web's: history goes by owner, not by name
    (rs_call,) = kube.calls("GET", "/replicasets")
    assert rs_call.query["labelSelector"] == ["app=web"]


def test_deployment_status_and_a_missing_deployment(svc):
    status = _read(svc, "deployment_status", namespace="shop", deployment="web")
    assert status["revision"] == 3 and status["images"] == [V3]
    assert status["rollout"] == "complete" and status["replicas"] == 3
    missing = _read(svc, "rollout_history", namespace="shop", deployment="nope")
    assert missing["unavailable"]["error"] == "no deployment nope in namespace shop"
    assert missing["revisions"] == []


# -- writes --------------------------------------------------------------------------------
def test_rollout_undo_needs_sre_and_oncall_lead_and_sends_kubectls_patch(svc, kube):
    rs2 = next(
        rs
        for rs in kube.items("ReplicaSet", "shop")
        if rs["metadata"]["annotations"][REVISION] == "2"
    )
    template = json.loads(json.dumps(rs2["spec"]["template"]))
    del template["metadata"]["labels"]["pod-template-hash"]

    out, ran = svc.call(
        svc.principal("alice"),
        "kubernetes.rollout_undo",
        {"namespace": "shop", "deployment": "web"},
    )
    assert ran is None and out.approval.state is ApprovalState.PROPOSED
    assert out.proposal.risk.value == "high"
    assert out.approval.required == "2 approvals: sre + oncall-lead"
    assert out.proposal.plan == (
        f"roll back deployment shop/web from revision 3 ({V3}) to revision 2 ({V2}); "
        "3 replica(s), RollingUpdate (maxUnavailable 25%, maxSurge 25%)"
    )
    assert kube.calls("PATCH") == []  # proposing only reads
    assert approve(svc, out.approval.id, svc.principal("bob")) is None  # one SRE: not enough
    ex = approve(svc, out.approval.id, svc.principal("carol"))
    assert ex is not None and ex.status is ApprovalState.SUCCEEDED, ex.error
    (patch,) = kube.calls("PATCH")
    assert patch.path == "/apis/apps/v1/namespaces/shop/deployments/web"
    assert patch.headers["Content-Type"] == "application/json-patch+json"
    assert patch.body == [
        {
            "op": "test",
            "path": "/metadata/annotations/deployment.kubernetes.io~1revision",
            "value": "3",
        },
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": {REVISION: "3"}},
    ]
    assert _image(kube) == V2
    # the controller adopted revision 2's ReplicaSet again, as revision 4
    assert kube.get("Deployment", "shop", "web")["metadata"]["annotations"][REVISION] == "4"
    assert rs2["metadata"]["annotations"][REVISION] == "4" and rs2["spec"]["replicas"] == 3
    assert ex.result is not None
    assert (ex.result["revision_before"], ex.result["to_revision"]) == (3, 2)
    assert (ex.result["images_before"], ex.result["images_after"]) == ([V3], [V2])


def test_rollout_undo_to_a_revision_and_the_clear_refusals(svc, kube):
    alice = svc.principal("alice")
    with pytest.raises(ToolFailed, match=r"has no revision 7 \(revisions kept: 1, 2, 3\)"):
        svc.call(
            alice, "rollout_undo", {"namespace": "shop", "deployment": "web", "to_revision": 7}
        )
    with pytest.raises(ToolFailed, match="already runs the pod template of revision 3"):
        svc.call(
            alice, "rollout_undo", {"namespace": "shop", "deployment": "web", "to_revision": 3}
        )
    with pytest.raises(ToolFailed, match="no previous revision to roll back to"):
        svc.call(alice, "rollout_undo", {"namespace": "shop", "deployment": "worker"})
    with pytest.raises(ToolFailed, match="no deployment ghost in namespace shop"):
        svc.call(alice, "rollout_undo", {"namespace": "shop", "deployment": "ghost"})
    out, _ = svc.call(
        alice, "rollout_undo", {"namespace": "shop", "deployment": "web", "to_revision": 1}
    )
    assert f"to revision 1 ({V1})" in (out.proposal.plan or "")
    assert kube.calls("PATCH") == []


def test_a_paused_deployment_is_neither_restarted_nor_rolled_back(svc, kube):
    kube.get("Deployment", "shop", "web")["spec"]["paused"] = True
    for tool in ("rollout_restart", "rollout_undo"):
        with pytest.raises(ToolFailed, match="shop/web is paused"):
            svc.call(svc.principal("alice"), tool, {"namespace": "shop", "deployment": "web"})
    assert kube.calls("PATCH") == []


def test_a_rollout_after_approval_invalidates_the_undo(svc, kube):
    out, _ = svc.call(
        svc.principal("alice"), "rollout_undo", {"namespace": "shop", "deployment": "web"}
    )
    approve(svc, out.approval.id, svc.principal("bob"))
    # someone ships 1.6.0 with kubectl meanwhile: "undo" would now mean something else
    with kube._lock:
        dep = kube.get("Deployment", "shop", "web")
        dep["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/acme/web:1.6.0"
        dep["metadata"]["generation"] += 1
        kube._reconcile(dep)
    with pytest.raises(ApprovalInvalid, match=r"plan .* changed since it was approved"):
        approve(svc, out.approval.id, svc.principal("carol"))
    assert kube.calls("PATCH") == []


def test_scale_sends_a_merge_patch_to_the_scale_subresource(svc, kube):
    out, ran = svc.call(
        svc.principal("alice"),
        "kubernetes.scale",
        {"namespace": "shop", "deployment": "web", "replicas": 5},
    )
    assert ran is None and out.approval.required == "1 approval: sre"
    assert (
        out.proposal.plan
        == f"scale deployment shop/web from 3 to 5 replica(s) at revision 3 ({V3})"
    )
    ex = approve(svc, out.approval.id, svc.principal("bob"))
    assert ex is not None and ex.status is ApprovalState.SUCCEEDED, ex.error
    (patch,) = kube.calls("PATCH")
    assert patch.path == "/apis/apps/v1/namespaces/shop/deployments/web/scale"
    assert patch.headers["Content-Type"] == "application/merge-patch+json"
    assert patch.body == {"spec": {"replicas": 5}}
    assert kube.get("Deployment", "shop", "web")["spec"]["replicas"] == 5
    assert (
        len([p for p in kube.items("Pod", "shop") if p["metadata"]["labels"]["app"] == "web"]) == 5
    )
    assert ex.result is not None and (
        ex.result["replicas_before"],
        ex.result["replicas_after"],
    ) == (3, 5)
    stop, _ = svc.call(
        svc.principal("alice"),
        "kubernetes.scale",
        {"namespace": "shop", "deployment": "web", "replicas": 0},
    )
    assert "from 5 to 0" in (stop.proposal.plan or "") and "WARNING: 0 stops every pod" in (
        stop.proposal.plan or ""
    )
    with pytest.raises(InvalidInput, match="replicas"):
        svc.call(
            svc.principal("alice"),
            "kubernetes.scale",
            {"namespace": "shop", "deployment": "web", "replicas": 500},
        )


def test_rollout_restart_stamps_restarted_at_like_kubectl(svc, kube, clock):
    out, _ = svc.call(
        svc.principal("alice"),
        "kubernetes.rollout_restart",
        {"namespace": "shop", "deployment": "web"},
    )
    assert out.proposal.plan == (
        f"restart deployment shop/web: its 3 pod(s) at revision 3 ({V3}) are replaced by new "
        "ones, same image; RollingUpdate (maxUnavailable 25%, maxSurge 25%)"
    )
    # pods flapping between proposal and approval do not change the plan (spec only)
    kube.crash_pod("shop", "web", restarts=9)
    ex = approve(svc, out.approval.id, svc.principal("sam"))
    assert ex is not None and ex.status is ApprovalState.SUCCEEDED, ex.error
    (patch,) = kube.calls("PATCH")
    assert patch.headers["Content-Type"] == "application/strategic-merge-patch+json"
    stamp = "2026-11-27T12:00:00Z"
    assert clock().strftime("%Y-%m-%dT%H:%M:%SZ") == stamp
    assert patch.body == {
        "spec": {
            "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}
        }
    }
    dep = kube.get("Deployment", "shop", "web")
    assert dep["metadata"]["annotations"][REVISION] == "4" and _image(kube) == V3
    pods = [p for p in kube.items("Pod", "shop") if p["metadata"]["labels"]["app"] == "web"]
    assert len(pods) == 3
    assert all(
        p["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] == stamp for p in pods
    )


# -- failures ------------------------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_api_is_unavailable_for_reads_and_fails_writes(make_copilot, kube, tmp_path):
    config = json.loads(Path(kube.kubeconfig).read_text())
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{_closed_port()}"
    (tmp_path / "down").write_text(json.dumps(config))
    svc = _core(make_copilot, tmp_path, kubeconfig=str(tmp_path / "down"))
    for tool, args in [
        ("pods", {}),
        ("events", {}),
        ("rollout_history", {"deployment": "web"}),
        ("deployment_status", {"deployment": "web"}),
    ]:
        result = _read(svc, tool, namespace="shop", **args)
        assert result["unavailable"]["error"].startswith("cannot reach the Kubernetes API at"), tool
        assert "NewConnectionError" in result["unavailable"]["error"]
    with pytest.raises(ToolFailed, match="cannot reach the Kubernetes API"):
        svc.call(
            svc.principal("alice"),
            "kubernetes.scale",
            {"namespace": "shop", "deployment": "web", "replicas": 2},
        )
    assert "request.refused" in [e.kind for e in svc.door.deps.audit.events()]


def test_a_refused_patch_is_recorded_as_failed(svc, kube):
    kube.inject(
        "PATCH",
        "/scale$",
        status=409,
        reason="Conflict",
        message='Operation cannot be fulfilled on deployments.apps "web": the object '
        "has been modified; please apply your changes to the latest version",
    )
    out, _ = svc.call(
        svc.principal("alice"),
        "kubernetes.scale",
        {"namespace": "shop", "deployment": "web", "replicas": 4},
    )
    ex = approve(svc, out.approval.id, svc.principal("bob"))
    assert ex is not None and ex.status is ApprovalState.FAILED
    assert ex.error is not None and "HTTP 409" in ex.error and "has been modified" in ex.error
    assert kube.get("Deployment", "shop", "web")["spec"]["replicas"] == 3
    kinds = [e.kind for e in svc.door.deps.audit.events()]
    assert "execution.failed" in kinds


def test_a_patch_without_an_answer_is_unknown_not_failed(svc, kube):
    kube.inject("PATCH", "/deployments/web$", drop=True)
    out, _ = svc.call(
        svc.principal("alice"),
        "kubernetes.rollout_restart",
        {"namespace": "shop", "deployment": "web"},
    )
    ex = approve(svc, out.approval.id, svc.principal("bob"))
    assert ex is not None and ex.status is ApprovalState.UNKNOWN
    assert ex.error is not None and "dropped the connection" in ex.error
    assert len(kube.calls("PATCH")) == 1  # a non-idempotent write is never sent twice


def test_a_patch_that_times_out_is_unknown_and_sent_once(make_copilot, kube, tmp_path):
    svc = _core(make_copilot, tmp_path, kubeconfig=str(kube.kubeconfig), timeout_s=0.3)
    kube.inject("PATCH", "/deployments/worker/scale$", delay_s=0.6)
    out, _ = svc.call(
        svc.principal("alice"),
        "kubernetes.scale",
        {"namespace": "shop", "deployment": "worker", "replicas": 2},
    )
    ex = approve(svc, out.approval.id, svc.principal("bob"))
    assert ex is not None and ex.status is ApprovalState.UNKNOWN
    assert ex.error is not None and "did not answer within 0.3s" in ex.error
    assert len(kube.calls("PATCH")) == 1  # idempotent, but a timeout is never retried


def test_forbidden_and_unauthorized_say_what_to_fix(svc, kube, make_copilot, tmp_path):
    kube.inject(
        "GET",
        "/pods$",
        status=403,
        reason="Forbidden",
        times=-1,
        message='pods is forbidden: User "system:serviceaccount:ops:copilot" cannot '
        'list resource "pods" in API group "" in the namespace "shop"',
    )
    result = _read(svc, "pods", namespace="shop")
    assert result["unavailable"]["error"].startswith(
        "the Kubernetes API forbids the copilot to list pods in shop (HTTP 403): pods is forbidden"
    )
    assert "RBAC permission `list pods`" in result["unavailable"]["hint"]
    stale = _core(make_copilot, tmp_path, kubeconfig=str(kube.kubeconfig), kube_context="stale")
    denied = _read(stale, "events", namespace="shop")
    assert "rejected the credentials (HTTP 401" in denied["unavailable"]["error"]
    assert kube.calls("GET", "/events")[-1].headers["authorization"] == "Bearer an-expired-token"


def test_turned_off_the_pack_says_how_to_turn_it_on(make_copilot, kube, tmp_path):
    svc = _core(make_copilot, tmp_path, kubernetes=False, kubeconfig=str(kube.kubeconfig))
    result = _read(svc, "pods", namespace="shop")
    assert result["unavailable"]["error"] == "the Kubernetes tools are turned off"
    assert "COPILOT_SOURCES__KUBERNETES=true" in result["unavailable"]["hint"]
    with pytest.raises(ToolFailed) as err:
        svc.call(
            svc.principal("alice"),
            "kubernetes.rollout_restart",
            {"namespace": "shop", "deployment": "web"},
        )
    assert "COPILOT_SOURCES__KUBERNETES=true" in err.value.hint
    assert kube.requests == []


def test_a_bad_kubeconfig_is_unavailable_not_a_crash(make_copilot, tmp_path):
    svc = _core(make_copilot, tmp_path, kubeconfig=str(tmp_path / "missing"))
    result = _read(svc, "pods", namespace="shop")
    assert result["unavailable"]["error"].startswith("cannot load the Kubernetes configuration")
    assert "COPILOT_SOURCES__KUBECONFIG" in result["unavailable"]["hint"]


def test_a_secret_in_an_event_is_redacted_through_the_core(svc, kube):
    kube.add_event(
        "shop",
        "Pod",
        "web-a",
        "Failed",
        "probe failed: GET /health?password=Hunter2Secret!x returned 500",
        type="Warning",
    )
    result = _read(svc, "events", namespace="shop", object_name="web-a")
    assert "Hunter2Secret" not in json.dumps(result)
    assert "probe failed" in result["events"][0]["message"]
    assert all("Hunter2Secret" not in json.dumps(e.data) for e in svc.door.deps.audit.events())


@pytest.mark.parametrize(
    "args",
    [
        {"namespace": "Shop"},
        {"namespace": "shop", "selector": "app=web&x=1"},
        {"namespace": "a" * 64},
    ],
)
def test_names_and_selectors_are_validated(svc, kube, args):
    with pytest.raises(InvalidInput):
        svc.call(svc.principal("alice"), "kubernetes.pods", args)
    assert kube.requests == []
