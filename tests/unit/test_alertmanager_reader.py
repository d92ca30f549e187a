"""The Alertmanager reader and its silence writes against a scripted loopback Alertmanager.

Reads return alerts and silences; a silence plan lists the alerts it would hide and does
not depend on the clock, so its approval hash holds. Writes raise ``ToolFailed`` rather
than return ``unavailable``, so a silence that was not made is recorded as failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fakes.scripted_http import Scripted, dead_port, scripted_servers
from fakes.tool_context import NOW, context, run

from copilot.errors import InvalidInput, ToolFailed
from copilot_tools import alertmanager

SILENCE_ID = "0b7c9f2e-3a41-4d6b-8e5f-9a1c2d3e4f50"
SILENCE_ARGS = {
    "matchers": [
        {"name": "service", "value": "checkout"},
        {"name": "alertname", "value": "SandboxHighErrorRate"},
    ],
    "duration": "2h",
    "comment": "INC-42: rollback in progress",
}
FIRING = [
    {
        "fingerprint": "a1b2c3d4e5f60718",
        "labels": {"alertname": "SandboxHighErrorRate", "service": "checkout", "severity": "crit"},
        "annotations": {"summary": "checkout is failing"},
        "startsAt": "2026-11-27T11:52:03.000Z",
        "endsAt": "2026-11-27T12:10:00.000Z",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        "receivers": [{"name": "oncall"}],
    }
]


@pytest.fixture
def scripted() -> Iterator[Callable[..., Scripted]]:
    with scripted_servers() as start:
        yield start


def test_the_silence_plan_lists_the_alerts_it_would_hide_and_ignores_the_clock(scripted):
    am = scripted({("GET", "/api/v2/alerts"): (200, FIRING)})
    spec = alertmanager.create_silence
    args = spec.validate(SILENCE_ARGS)
    ctx = context("alice", alertmanager_url=am.url)
    plan = spec.plan(ctx, args)
    assert plan is not None
    assert "for 2h from when it runs, created by alice" in plan
    assert 'alertname="SandboxHighErrorRate", service="checkout"' in plan
    assert 'SandboxHighErrorRate {service="checkout", severity="crit"}' in plan
    ctx.clock = lambda: NOW + timedelta(minutes=7)
    assert spec.plan(ctx, args) == plan  # the approval is bound to its hash
    filters = [v for k, v in am.requests[0]["params"] if k == "filter"]
    assert sorted(filters) == ['alertname="SandboxHighErrorRate"', 'service="checkout"']
    assert spec.resource(args) == (
        'alertmanager:silence:alertname="SandboxHighErrorRate",service="checkout"'
    )


def test_the_silence_plan_says_when_alertmanager_cannot_be_read():
    spec = alertmanager.create_silence
    ctx = context("alice", alertmanager_url=f"http://127.0.0.1:{dead_port()}", timeout_s=2)
    plan = spec.plan(ctx, spec.validate(SILENCE_ARGS))
    assert plan is not None and "Could not read the firing alerts" in plan
    assert "cannot reach alertmanager" in plan


def test_create_silence_posts_alertmanagers_wire_format(scripted):
    am = scripted({("POST", "/api/v2/silences"): (200, {"silenceID": SILENCE_ID})})
    spec = alertmanager.create_silence
    args = {
        **SILENCE_ARGS,
        "matchers": [
            *SILENCE_ARGS["matchers"],
            {"name": "pod", "value": "canary-.*", "is_regex": True, "is_equal": False},
        ],
    }
    ctx = context("alice", approval_id="apr_123", alertmanager_url=am.url)
    out = spec.run_unchecked(ctx, spec.validate(args))
    body = am.requests[0]["body"]
    assert body["matchers"][2] == {
        "name": "pod",
        "value": "canary-.*",
        "isRegex": True,
        "isEqual": False,
    }
    assert body["createdBy"] == "alice"
    assert body["comment"] == "INC-42: rollback in progress [incident copilot apr_123]"
    starts, ends = (datetime.fromisoformat(body[k]) for k in ("startsAt", "endsAt"))
    assert starts == NOW and ends - starts == timedelta(hours=2)
    assert out.silence_id == SILENCE_ID and 'pod!~"canary-.*"' in out.matchers


def test_create_silence_fails_cleanly_when_alertmanager_is_down():
    spec = alertmanager.create_silence
    ctx = context(alertmanager_url=f"http://127.0.0.1:{dead_port()}", timeout_s=2)
    with pytest.raises(ToolFailed, match="cannot reach alertmanager"):
        spec.run_unchecked(ctx, spec.validate(SILENCE_ARGS))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"matchers": [{"name": "alertname", "value": ".*", "is_regex": True}]}, "empty value"),
        ({"matchers": [{"name": "service", "value": "x", "is_equal": False}]}, "empty value"),
        ({"matchers": [{"name": "a", "value": "(", "is_regex": True}]}, "regular expression"),
        ({"matchers": []}, "at least 1"),
        ({"matchers": [{"name": "bad-name", "value": "x"}]}, "pattern"),
        ({"duration": "1m"}, "5m to 24h"),
        ({"duration": "25h"}, "5m to 24h"),
        ({"comment": ""}, "at least 3"),
    ],
)
def test_silences_are_bounded(change, message):
    with pytest.raises(InvalidInput, match=message):
        alertmanager.create_silence.validate({**SILENCE_ARGS, **change})


def _silence(state: str) -> dict[str, Any]:
    return {
        "id": SILENCE_ID,
        "status": {"state": state},
        "matchers": [{"name": "service", "value": "checkout", "isRegex": False, "isEqual": True}],
        "startsAt": "2026-11-27T11:00:00Z",
        "endsAt": "2026-11-27T13:00:00Z",
        "createdBy": "bob",
        "comment": "deploy",
    }


def test_expiring_an_expired_silence_changes_nothing(scripted):
    am = scripted({("GET", f"/api/v2/silence/{SILENCE_ID}"): (200, _silence("expired"))})
    spec = alertmanager.expire_silence
    ctx = context(alertmanager_url=am.url)
    args = spec.validate({"silence_id": SILENCE_ID})
    assert "already expired: nothing will change" in (spec.plan(ctx, args) or "")
    out = spec.run_unchecked(ctx, args)
    assert out.already_expired and out.was == "expired"
    assert [r["method"] for r in am.requests] == ["GET", "GET"]  # plan, run: no DELETE


def test_expire_silence_deletes_an_active_one_and_refuses_an_unknown_id(scripted):
    am = scripted(
        {
            ("GET", f"/api/v2/silence/{SILENCE_ID}"): (200, _silence("active")),
            ("DELETE", f"/api/v2/silence/{SILENCE_ID}"): (200, None),
            ("GET", "/api/v2/alerts"): (200, FIRING),
        }
    )
    spec = alertmanager.expire_silence
    ctx = context(alertmanager_url=am.url)
    args = spec.validate({"silence_id": SILENCE_ID})
    plan = spec.plan(ctx, args) or ""
    assert "created by bob: deploy" in plan and 'service="checkout"' in plan
    assert "notify again" in plan and "SandboxHighErrorRate" in plan
    out = spec.run_unchecked(ctx, args)
    assert out.was == "active" and not out.already_expired
    assert ("DELETE", f"/api/v2/silence/{SILENCE_ID}") in [
        (r["method"], r["path"]) for r in am.requests
    ]
    other = spec.validate({"silence_id": SILENCE_ID.replace("0b7c", "ffff")})
    assert "no silence" in (spec.plan(ctx, other) or "")
    with pytest.raises(ToolFailed, match="has no silence"):
        spec.run_unchecked(ctx, other)


def test_alertmanager_alerts_and_silences_are_read(scripted):
    silenced = {**FIRING[0], "status": {"state": "suppressed", "silencedBy": [SILENCE_ID]}}
    # Someone else's silence with a value the copilot would not create must still list.
    odd = {**_silence("pending"), "id": "x"}
    odd["matchers"] = [{"name": "msg", "value": 'a "b"\n' + "c" * 600, "isRegex": False}]
    am = scripted(
        {
            ("GET", "/api/v2/alerts"): (200, [silenced]),
            ("GET", "/api/v2/silences"): (200, [_silence("expired"), _silence("active"), odd]),
        }
    )
    out = run(
        alertmanager.alerts,
        {"filter": ['service="checkout"'], "inhibited": False},
        alertmanager_url=am.url,
    )
    (alert,) = out.alerts
    assert alert.state == "suppressed" and alert.silenced_by == [SILENCE_ID]
    assert alert.receivers == ["oncall"] and alert.name == "SandboxHighErrorRate"
    assert ("filter", 'service="checkout"') in am.requests[0]["params"]
    assert ("inhibited", "false") in am.requests[0]["params"]
    out = run(alertmanager.silences, {}, alertmanager_url=am.url)
    assert [s.state for s in out.silences] == ["active", "pending", "expired"]
    assert out.silences[0].matchers == ['service="checkout"']
    assert out.silences[1].matchers[0].startswith('msg="a \\"b\\"\\nccc')
    assert run(alertmanager.silences, {"state": "active"}, alertmanager_url=am.url).total == 1
