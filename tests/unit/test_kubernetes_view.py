"""The Kubernetes pack's pure parts: kubectl's STATUS column, rollout history and undo
logic on plain API JSON, error texts, and that importing the pack does not import the client."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from copilot.errors import ToolFailed
from copilot_tools._common.sources import SourceError
from copilot_tools.kubernetes import rollout, view
from copilot_tools.kubernetes.client import ChangeUnconfirmed, Kube, translate

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).parents[2]


def _pod(*statuses: dict[str, Any], inits: list[dict[str, Any]] | None = None, **status: Any):
    return {
        "metadata": {"name": "p", "creationTimestamp": "2026-11-27T09:55:00Z"},
        "spec": {"containers": [{"name": s["name"], "image": "img"} for s in statuses]},
        "status": {
            "phase": "Running",
            "containerStatuses": list(statuses),
            "initContainerStatuses": inits or [],
            **status,
        },
    }


def _cs(name: str, state: dict[str, Any], ready: bool = False, restarts: int = 0):
    return {"name": name, "image": "img", "ready": ready, "restartCount": restarts, "state": state}


RUNNING = {"running": {"startedAt": "2026-11-27T10:00:00Z"}}


@pytest.mark.parametrize(
    ("pod", "status"),
    [
        (_pod(_cs("a", RUNNING, ready=True)), "Running"),
        (_pod(_cs("a", {"waiting": {"reason": "ImagePullBackOff"}})), "ImagePullBackOff"),
        (_pod(_cs("a", {"terminated": {"exitCode": 0, "reason": "Completed"}})), "Completed"),
        (_pod(_cs("a", {"terminated": {"exitCode": 2}})), "ExitCode:2"),
        (_pod(_cs("a", {"terminated": {"exitCode": 137, "signal": 9}})), "Signal:9"),
        # the first container's reason wins, as in kubectl
        (
            _pod(
                _cs("a", {"waiting": {"reason": "CrashLoopBackOff"}}),
                _cs("b", {"waiting": {"reason": "CreateContainerConfigError"}}),
            ),
            "CrashLoopBackOff",
        ),
        (
            _pod(
                _cs("a", {"waiting": {"reason": "PodInitializing"}}),
                inits=[
                    _cs("init", {"terminated": {"exitCode": 0}}),
                    _cs("init2", {"waiting": {"reason": "ImagePullBackOff"}}),
                ],
            ),
            "Init:ImagePullBackOff",
        ),
        (
            _pod(
                _cs("a", {"waiting": {"reason": "PodInitializing"}}),
                inits=[_cs("init", RUNNING)],
            ),
            "Init:0/1",
        ),
        (_pod(phase="Failed", reason="Evicted"), "Evicted"),
    ],
)
def test_status_column_follows_kubectl(pod, status):
    assert view.pod_info(pod, NOW).status == status


def test_a_terminating_pod_and_its_age():
    pod = _pod(_cs("a", RUNNING, ready=True, restarts=2))
    pod["metadata"]["deletionTimestamp"] = "2026-11-27T11:59:00Z"
    info = view.pod_info(pod, NOW)
    assert info.status == "Terminating" and info.age == "2h5m" and info.restarts == 2
    assert info.ready == "1/1" and info.containers[0].state == "running"
    assert [view.age(datetime(2026, 11, 27, 12, 0, s, tzinfo=UTC), NOW) for s in (0,)] == ["0s"]
    assert view.age(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), NOW) == "3d3h"
    assert view.age(datetime(2026, 11, 27, 11, 15, tzinfo=UTC), NOW) == "45m"


def test_unhealthy_pods_sort_first():
    ok = view.pod_info(_pod(_cs("a", RUNNING, ready=True)), NOW)
    not_ready = view.pod_info(_pod(_cs("a", RUNNING, ready=False)), NOW)
    crashing = view.pod_info(_pod(_cs("a", {"waiting": {"reason": "CrashLoopBackOff"}})), NOW)
    ok.name, not_ready.name, crashing.name = "a", "b", "c"
    assert [p.name for p in view.unhealthy_first([ok, not_ready, crashing])] == ["b", "c", "a"]


def test_event_times_fall_back_for_new_style_events():
    ev = view.event_info(
        {
            "metadata": {"creationTimestamp": "2026-11-27T10:00:00Z"},
            "regarding": {"kind": "Pod", "name": "p"},
            "note": "x" * 900,
            "eventTime": "2026-11-27T10:01:00.123456Z",
            "series": {"count": 4, "lastObservedTime": "2026-11-27T11:00:00.000000Z"},
            "reportingComponent": "kubelet",
            "type": "Warning",
        }
    )
    assert ev.object == "Pod/p" and ev.count == 4 and len(ev.message) == 500
    assert ev.last_seen == datetime(2026, 11, 27, 11, 0, tzinfo=UTC) and ev.source == "kubelet"
    old = view.event_info({"lastTimestamp": "2026-11-27T09:00:00Z", "message": "m"})
    undated = view.event_info({"message": "n"})
    assert view.newest_first([undated, old, ev]) == [ev, old, undated]


def test_selector_string_renders_expressions():
    selector = {
        "matchLabels": {"tier": "web", "app": "shop"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "canary"]},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    }
    assert view.selector_string(selector) == "app=shop,tier=web,env in (prod,canary),!legacy"


# -- rollout history and undo ---------------------------------------------------------------
UID = "uid-web"


def _template(image: str, hash_: str | None = None) -> dict[str, Any]:
    labels = {"app": "web", **({"pod-template-hash": hash_} if hash_ else {})}
    return {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "w", "image": image}]}}


def _rs(revision: int, image: str, owner: str = UID, **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"web-{revision}",
            "annotations": {view.REVISION: str(revision), **annotations},
            "ownerReferences": [{"uid": owner, "controller": True, "kind": "Deployment"}],
        },
        "spec": {"replicas": 0, "template": _template(image, f"h{revision}")},
    }


def _deployment(revision: int, image: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": UID,
            "annotations": {
                view.REVISION: str(revision),
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        },
        "spec": {"replicas": 3, "template": _template(image), **spec},
    }


SETS = [_rs(2, "v2", **{"kubernetes.io/change-cause": "ship v2"}), _rs(5, "v5"), _rs(7, "v7")]


def test_history_goes_by_owner_and_marks_the_current():
    stranger = _rs(9, "other", owner="uid-other")
    revs = rollout.history(_deployment(7, "v7"), [*SETS, stranger])
    assert [(r.revision, r.images, r.current) for r in revs] == [
        (7, ["v7"], True),
        (5, ["v5"], False),
        (2, ["v2"], False),
    ]
    assert revs[2].change_cause == "ship v2"


def test_undo_targets_the_highest_earlier_revision_and_builds_kubectls_patch():
    dep = _deployment(7, "v7")
    target = rollout.undo_target(dep, SETS, None)
    assert view.revision_of(target) == 5
    ops = rollout.undo_patch(dep, rollout.undo_target(dep, SETS, 2))
    assert ops[0] == {
        "op": "test",
        "path": "/metadata/annotations/deployment.kubernetes.io~1revision",
        "value": "7",
    }
    assert ops[1] == {"op": "replace", "path": "/spec/template", "value": _template("v2")}
    assert ops[2]["value"] == {
        view.REVISION: "7",  # bookkeeping stays the deployment's
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
        "kubernetes.io/change-cause": "ship v2",  # the rest comes from the ReplicaSet
    }
    assert SETS[0]["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == "h2"


@pytest.mark.parametrize(
    ("dep", "sets", "to", "message"),
    [
        (_deployment(7, "v7", paused=True), SETS, None, "is paused"),
        (_deployment(2, "v2"), SETS[:1], None, r"no previous revision .*\(revisions kept: 2\)"),
        (_deployment(7, "v7"), SETS, 3, r"has no revision 3 \(revisions kept: 2, 5, 7\)"),
        (_deployment(7, "v5"), SETS, None, "already runs the pod template of revision 5"),
    ],
)
def test_undo_refuses_clearly(dep, sets, to, message):
    with pytest.raises(ToolFailed, match=message):
        rollout.undo_target(dep, sets, to)


def test_rollout_state_reads_like_kubectl():
    dep = _deployment(7, "v7")
    dep["metadata"]["generation"] = 4
    dep["status"] = {"observedGeneration": 3}
    assert rollout.rollout_state(dep) == "waiting for the controller to observe the latest spec"
    dep["status"] = {"observedGeneration": 4, "updatedReplicas": 1, "replicas": 3}
    assert rollout.rollout_state(dep) == "in progress: 1 of 3 replicas updated"
    dep["status"]["conditions"] = [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]
    assert rollout.rollout_state(dep) == "stalled: ProgressDeadlineExceeded"
    dep["status"] = {
        "observedGeneration": 4,
        "updatedReplicas": 3,
        "replicas": 3,
        "availableReplicas": 3,
    }
    assert rollout.rollout_state(dep) == "complete"


# -- error texts -------------------------------------------------------------------------------
KUBE = Kube(api=None, timeout_s=5, host="https://10.0.0.1:6443")


def _api_error(status: int, body: Any, reason: str = "r") -> Exception:
    from kubernetes.client.exceptions import ApiException

    return ApiException(status=status, reason=reason, body=body)


def _translate(exc: Exception, write: bool = False) -> Exception:
    return translate(
        exc, KUBE, doing="list pods in shop", rbac="list pods", not_found=None, write=write
    )


def test_errors_quote_the_status_message_never_the_exception():
    body = json.dumps({"kind": "Status", "message": 'pods is forbidden: User "x" cannot list'})
    err = _translate(_api_error(403, body))
    assert isinstance(err, SourceError)
    assert err.detail.error == (
        "the Kubernetes API forbids the copilot to list pods in shop (HTTP 403): pods is "
        'forbidden: User "x" cannot list'
    )
    tls = _translate(_api_error(0, None, reason="SSLError\n[SSL] token=abc123secret"))
    assert isinstance(tls, SourceError) and "abc123secret" not in tls.detail.error
    assert "TLS" in tls.detail.error
    opaque = _translate(_api_error(500, "<html>oops</html>", reason="Internal Server Error"))
    assert isinstance(opaque, SourceError)
    assert opaque.detail.error.endswith("(HTTP 500): Internal Server Error")


def test_write_transport_errors_are_unconfirmed_only_once_sent():
    import urllib3.exceptions as u3

    refused = u3.MaxRetryError(None, "/x", u3.NewConnectionError(None, "refused"))  # type: ignore[arg-type]
    assert isinstance(_translate(refused, write=True), SourceError)
    late = u3.ReadTimeoutError(None, "/x", "read timed out")  # type: ignore[arg-type]
    assert isinstance(_translate(late, write=True), ChangeUnconfirmed)
    assert isinstance(_translate(late), SourceError)
    assert isinstance(_translate(_api_error(504, None), write=True), ChangeUnconfirmed)
    assert isinstance(_translate(RuntimeError("boom secret"), write=True), ChangeUnconfirmed)


def test_importing_the_pack_does_not_import_the_client():
    code = "import sys, copilot_tools.kubernetes; print('kubernetes' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
