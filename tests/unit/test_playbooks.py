"""Playbook mechanics: entities, variables from real sandbox facts, templates, conditions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from test_sandbox import Sandbox, dump

from copilot.domain.views import FactView, StepView
from copilot.knowledge.playbooks import (
    check_when,
    collect_variables,
    entities_from_text,
    entity_candidates,
    evaluate_when,
    fact_variables,
    fill_args,
)
from copilot.knowledge.runbooks import PlaybookStep, bundled_runbooks_dir, discover_runbooks
from copilot_tools import sandbox as sb

SPECS = {spec.name: spec for spec in sb.TOOLS}
BOOKS = {
    b.source.rsplit("/", 1)[-1][:-3]: b for b in discover_runbooks([bundled_runbooks_dir()])[0]
}

# runbook -> (fault, target, request, hours to let it develop)
SCENARIOS: dict[str, tuple[str, str | None, str, float]] = {
    "bad-deploy": ("bad_deploy", "checkout", "checkout returns 500s", 0),
    "crash-loop": ("crash_loop", "checkout", "checkout pods crash-loop", 0),
    "memory-leak": ("memory_leak", "search", "search is OOMKilled", 1),
    "runaway-job": ("runaway_job", None, "nightly-reindex runs forever, cost spikes", 0),
    "expiring-certificate": ("expiring_cert", None, "a certificate expires soon", 0),
    "replication-lag": ("replication_lag", None, "replica lag on orders-db", 0),
}


def gather(box: Sandbox, book_name: str, request: str) -> tuple[list[FactView], dict[str, Any]]:
    """Run the runbook's read steps against the sandbox as the agent would: fill each step
    from the request's entities and the facts so far; a step that cannot be filled yet is
    retried after the others."""
    book = BOOKS[book_name]
    assert book.playbook is not None
    reads = [s for s in book.playbook.steps if SPECS[s.tool].risk.value == "read"]
    facts: list[FactView] = []
    for _ in range(3):
        candidates = entity_candidates(facts, {"service": book.services})
        entities = entities_from_text(request, candidates)
        values = fact_variables(facts, box.now, entities)
        if "service" not in values and len(book.services) == 1:
            values["service"] = book.services[0]
        for step in reads:
            args = fill_args(step, values)
            if args is None or any(f.tool == step.tool and f.arguments == args for f in facts):
                continue
            data = dump(box.run(SPECS[step.tool], **args))
            facts.append(
                FactView(id=f"f{len(facts) + 1}", tool=step.tool, arguments=args, data=data)
            )
    entities = entities_from_text(request, entity_candidates(facts, {"service": book.services}))
    return facts, entities


# -- the bundled runbooks' conditions, on real sandbox output ---------------------------------
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_bundled_condition_is_decided_by_its_playbooks_reads(name: str) -> None:
    fault, target, request, hours = SCENARIOS[name]
    for broken in (True, False):
        box = Sandbox()
        if broken:
            box.inject(fault, target)
            box.now += timedelta(hours=hours)
        facts, entities = gather(box, name, request)
        variables = fact_variables(facts, box.now, entities)
        book = BOOKS[name]
        assert book.playbook is not None
        for step in book.playbook.steps:
            assert fill_args(step, variables) is not None, (name, step.tool, variables)
            if step.when is None:
                continue
            result = check_when(step.when, variables)
            assert result.holds is broken, (name, broken, step.when, result.reason)


def test_variables_derived_from_a_bad_deploy() -> None:
    box = Sandbox()
    box.inject("bad_deploy", "checkout")
    box.now += timedelta(minutes=25)
    facts, entities = gather(box, "bad-deploy", "checkout is returning 500s")
    found = collect_variables(facts, box.now, entities)
    v = found.values
    assert entities == {"service": "checkout"}
    assert v["error_rate"] > 0.05 and v["deployed_minutes_ago"] == 25.0
    assert (v["current_revision"], v["previous_revision"]) == (44, 43)
    assert 0 < v["memory_pct"] < 100 and v["service"] == "checkout"
    assert found.sources["error_rate"] == "f1" and found.sources["previous_revision"] == "f2"
    assert "service" not in found.sources  # named by the request, not taken from a fact
    assert found.facts_for(["error_rate", "deployed_minutes_ago"]) == ["f1", "f2"]


def test_the_running_job_and_the_expiring_certificate_are_inferred() -> None:
    box = Sandbox()
    box.inject("runaway_job")
    box.inject("expiring_cert")
    jobs = FactView(id="f1", tool="sandbox.list_jobs", data=dump(box.run(sb.list_jobs)))
    certs = FactView(
        id="f2", tool="sandbox.certificate_status", data=box.run(sb.certificate_status)
    )
    found = collect_variables([jobs, certs], box.now, {})
    assert found.values["job"] == "nightly-reindex" and found.values["job_running_hours"] > 2
    assert found.values["domain"] == "api.shop.example.com"
    assert found.values["days_left"] < 14 and found.values["job_state"] == "running"
    assert found.sources["job"] == "f1" and found.sources["domain"] == "f2"
    # the job's own service becomes the incident's service when nothing else names one
    assert found.values["service"] == "search"
    # a named service contradicting the job's keeps that job's numbers out
    other = collect_variables([jobs], box.now, {"service": "checkout"})
    assert "job_running_hours" not in other.values and other.values["service"] == "checkout"


def test_records_about_other_services_are_ignored() -> None:
    box = Sandbox()
    box.inject("bad_deploy", "checkout")
    status = FactView(id="f1", tool="sandbox.service_status", data=dump(box.run(sb.service_status)))
    payments = FactView(id="f2", tool="sandbox.get_metrics", data=dump(box.metrics("payments")))
    v = fact_variables([status, payments], box.now, {"service": "checkout"})
    assert v["health"] == "degraded" and v["error_rate"] > 0.05  # checkout's, not payments'
    # nothing named: the one unhealthy service is the subject
    assert fact_variables([status], box.now, {})["service"] == "checkout"


def test_failed_facts_give_no_variables() -> None:
    failed = FactView(id="f1", tool="sandbox.get_metrics", ok=False, error="unavailable")
    assert fact_variables([failed], Sandbox().now, {"service": "checkout"}) == {
        "service": "checkout"
    }


# -- entities -----------------------------------------------------------------------------------
def test_entities_are_whole_words_any_case_earliest_then_longest() -> None:
    candidates = {
        "service": ["checkout", "checkout-api", "search"],
        "domain": ["shop.example.com", "api.shop.example.com"],
        "job": ["nightly-reindex"],
    }
    assert entities_from_text("CHECKOUT throws 500s", candidates) == {"service": "checkout"}
    assert entities_from_text("checkout-api is down", candidates) == {"service": "checkout-api"}
    assert entities_from_text("research is slow", candidates) == {}
    assert entities_from_text("cert for api.shop.example.com.", candidates) == {
        "domain": "api.shop.example.com"
    }
    found = entities_from_text("search slow since nightly-reindex, then checkout", candidates)
    assert found == {"service": "search", "job": "nightly-reindex"}
    assert entities_from_text("roll checkout back to rev 41", candidates)["revision"] == "41"
    assert entities_from_text("revision #7 broke it", {})["revision"] == "7"


# -- templates ----------------------------------------------------------------------------------
def test_fill_args_keeps_types_and_refuses_unknowns() -> None:
    step = PlaybookStep(
        tool="sandbox.rollback_deployment",
        args={
            "service": "{{ service }}",
            "to_revision": "{{previous_revision}}",
            "note": "back to {{ previous_revision }} on {{ service }}",
            "limit": 3,
            "nested": {"items": ["{{ service }}"]},
        },
    )
    values = {"service": "checkout", "previous_revision": 43}
    assert fill_args(step, values) == {
        "service": "checkout",
        "to_revision": 43,
        "note": "back to 43 on checkout",
        "limit": 3,
        "nested": {"items": ["checkout"]},
    }
    assert fill_args(step, {"service": "checkout"}) is None
    assert fill_args(step, {"service": "checkout", "previous_revision": None}) is None
    view = StepView(tool="x", args={"a": "{{ a | upper }}"})
    assert fill_args(view, {"a": "v"}) is None  # only plain variables, no template engine
    assert fill_args(StepView(tool="x", args={"a": "{% if 1 %}x{% endif %}"}), {}) is None


def test_a_filled_value_is_never_expanded_again() -> None:
    step = StepView(tool="x", args={"q": "logs of {{ service }}"})
    assert fill_args(step, {"service": "{{ secret }}", "secret": "s3cr3t"}) == {
        "q": "logs of {{ secret }}"
    }


# -- conditions ---------------------------------------------------------------------------------
def test_conditions_hold_fail_or_are_unknown() -> None:
    v = {"error_rate": 0.31, "deployed_minutes_ago": 3, "health": "degraded", "none": None}
    assert evaluate_when("error_rate > 0.05 and deployed_minutes_ago < 120", v) is True
    assert evaluate_when("error_rate > 0.5 or not deployed_minutes_ago < 120", v) is False
    assert evaluate_when("health == 'degraded'", v) is True
    assert evaluate_when("error_rate * 100 >= 31", v) is True
    assert evaluate_when(None, v) is True
    result = check_when("error_rate > 0.05 and restarts > 3", v)
    assert result.holds is None and result.missing == ("restarts",)
    assert check_when("none > 1", v).holds is None  # a null value is not known
    held = check_when("error_rate > 0.05", v)
    assert held.holds and "error_rate = 0.31" in held.reason and held.used == {"error_rate": 0.31}


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os').system('id')",
        "error_rate.__class__",
        "error_rate.real > 0",
        "abs(error_rate) > 0",
        "(lambda: 1)()",
        "[x for x in (1, 2)]",
        "error_rate if True else 0",
        "error_rate[0]",
        "{'a': 1}",
        "_private > 1",
        "error_rate > ",
        "error_rate ** 99999999 > 1",
        "error_rate > 0.05; import os",
        "x" * 600,
    ],
)
def test_anything_but_a_plain_condition_is_refused(expr: str) -> None:
    result = check_when(expr, {"error_rate": 0.3, "x": 1})
    assert result.holds is False and result.reason.startswith("malformed condition")


def test_type_mismatches_and_non_booleans_do_not_hold() -> None:
    assert check_when("health > 3", {"health": "ok"}).holds is False
    assert check_when("error_rate + 1", {"error_rate": 0.3}).holds is False
    assert check_when("error_rate / zero > 1", {"error_rate": 1, "zero": 0}).holds is False
