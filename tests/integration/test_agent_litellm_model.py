"""The same graph against a configured litellm model: ``openai/...`` on a loopback fake.

``CopilotService.open(settings)`` with the real ``ModelGateway``; only the model's answers
are scripted, from the request body it receives (messages and tools), as a model would
read them. What the fake receives is what would leave the process: it must hold the
untrusted blocks, only the tools the requester may propose, and no secret in clear.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAI, fake_openai

from copilot.domain import Risk
from copilot.model.context import Citation, format_provenance, parse_untrusted
from copilot.model.prompts import decode_tool_name
from copilot.service import CopilotService
from copilot.settings import Settings

ASK = "checkout is returning 500s"
API_KEY = "sk-test-0123456789abcdef0123456789abcdef"
BEARER_HEADER = "'Authorization': 'Bearer "


def _text(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content") or "") for m in body["messages"])


def _blocks(body: dict[str, Any]) -> dict[str, Any]:
    return parse_untrusted(_text(body))


def _offered(body: dict[str, Any]) -> set[str]:
    return {decode_tool_name(t["function"]["name"]) for t in body.get("tools", [])}


def _call(name: str, arguments: dict[str, Any], content: str | None = None) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": content,
        "tool_calls": [
            {
                "id": f"call_{name}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        ],
    }


def _bad_deploy_chunk(body: dict[str, Any]) -> str:
    runbooks = _blocks(body)["runbooks"]["runbooks"]
    return str(next(r["chunk_id"] for r in runbooks if "bad-deploy" in r["source"]))


@pytest.fixture
def open_service(
    tmp_path: Path, clock: Any
) -> Iterator[Callable[[Callable[[dict[str, Any]], dict[str, Any]]], Any]]:
    """(service, fake) with the sandbox's checkout broken by a deploy three minutes ago."""
    opened: list[tuple[CopilotService, Any]] = []

    def build(script: Callable[[dict[str, Any]], dict[str, Any]]) -> tuple[Any, FakeOpenAI]:
        server = fake_openai(script)
        fake = server.__enter__()
        settings = Settings(
            data_dir=tmp_path / "data",
            model="openai/gpt-4o-mini",
            model_api_base=fake.base_url,
            model_api_key=API_KEY,
            model_retries=0,
            model_timeout_s=20,
        )
        service = CopilotService.open(settings, clock=clock)
        opened.append((service, server))
        service.reset_sandbox()
        service.inject_fault("bad_deploy", "checkout")
        clock.advance(180)
        return service, fake

    yield build
    for service, server in opened:
        service.close()
        server.__exit__(None, None, None)


def _proposed(service: CopilotService) -> list[tuple[str, str, Risk]]:
    return [(c.tool, c.requester, c.risk) for c in service.cards(limit=1000)]


def _may_propose(service: CopilotService, user: str) -> set[str]:
    """What policy lets ``user`` propose, of the packs whose source is configured (here
    the sandbox alone: Prometheus, Alertmanager, Loki and Kubernetes are unset)."""
    deps = service.door.deps
    ctx = deps.context(is_requester=True)
    sources = deps.settings.sources
    return {
        s.name
        for s in deps.registry
        if sources.serves(s.pack) and deps.policy.decide("propose", user, s.name, ctx).allowed
    }


def _clear_tokens(service: CopilotService, clock: Any) -> list[str]:
    """The bearer tokens the sandbox's checkout logged in clear over the last minutes."""
    from copilot_tools.sandbox.telemetry import SLOT_S, _session_token

    seed, last = service.settings.sandbox.seed, int(clock().timestamp()) // SLOT_S
    return [_session_token(seed, "checkout", slot) for slot in range(last - 60, last + 1)]


def sre_model(body: dict[str, Any]) -> dict[str, Any]:
    """A model that first reads the logs the runbook's steps did not (the request dumps with
    their credentials), then rolls back, citing the runbook chunk and the facts it used."""
    facts = _blocks(body).get("facts") or []
    dumps = [f for f in facts if f["tool"] == "sandbox.get_logs" and f["arguments"].get("contains")]
    if not dumps:
        args = {"service": "checkout", "contains": "Authorization", "limit": 20}
        return _call("sandbox__get_logs", args, "Reading the request dumps first.")
    metrics = next(f for f in facts if f["tool"] == "sandbox.get_metrics" and f["ok"])
    cite = Citation(
        call=1,
        tool="sandbox__rollback_deployment",
        runbook=_bad_deploy_chunk(body),
        step=4,
        facts=[metrics["id"], dumps[0]["id"]],
        why="500s began with the newest revision",
    )
    content = "Rolling checkout back.\n" + format_provenance([cite])
    return _call("sandbox__rollback_deployment", {"service": "checkout"}, content)


def test_a_hosted_model_drives_the_graph_to_a_verified_rollback(open_service, clock):
    service, fake = open_service(sre_model)
    alice, bob = service.principal("alice"), service.principal("bob")

    reply = service.handle_message(alice, "inc-1", ASK)

    # two rounds: the model's own read ran at once (a fact), then the proposal
    assert len(fake.requests) == 2
    (card,) = reply.cards
    assert card.tool == "sandbox.rollback_deployment" and card.arguments["service"] == "checkout"
    assert (
        card.risk == "medium" and card.state == "proposed" and reply.pending == [card.approval_id]
    )
    first, second = fake.requests
    # round 1 saw the runbook's reads; round 2 also the read the model asked for
    assert len(_blocks(second)["facts"]) == len(_blocks(first)["facts"]) + 1
    assert card.provenance["runbook"] == _bad_deploy_chunk(second)
    assert card.provenance["runbook"].startswith("bundled/sandbox/bad-deploy.md#")
    facts = {f["id"]: f for f in _blocks(second)["facts"]}
    assert [facts[i]["tool"] for i in card.provenance["facts"]] == [
        "sandbox.get_metrics",
        "sandbox.get_logs",
    ]
    assert card.provenance["why"] == "500s began with the newest revision"
    assert "Rolling checkout back." in reply.text and "<provenance>" not in reply.text
    assert reply.usage["calls"] == 2 and reply.usage["prompt_tokens"] == 22

    for body in fake.requests:
        assert body["model"] == "gpt-4o-mini"
        # only what alice may propose (a responder: changes too), exactly
        assert _offered(body) == _may_propose(service, "alice")
        assert "sandbox.rollback_deployment" in _offered(body)
        assert not any(t.startswith(("kubernetes.", "alertmanager.")) for t in _offered(body))
        # everything from outside sits in untrusted blocks; the system message holds none
        system, user = body["messages"][0], body["messages"][-1]
        assert system["role"] == "system" and parse_untrusted(system["content"]) == {}
        blocks = _blocks(body)
        assert blocks["request"]["text"] == ASK and blocks["request"]["requester"] == "alice"
        assert {"request", "runbooks", "facts"} <= set(blocks)
        assert '<untrusted kind="facts"' in user["content"]

    # the logs flowed in, their credentials did not
    assert BEARER_HEADER + "[REDACTED:" in json.dumps(_blocks(second)["facts"])
    wire = b"".join(fake.raw).decode()
    tokens = _clear_tokens(service, clock)
    assert all(token not in wire for token in tokens)
    assert API_KEY not in wire

    done = service.decide(card.approval_id, bob, "approve")
    assert len(fake.requests) == 2  # nothing more is asked of the model
    assert f"sandbox.rollback_deployment ({card.approval_id}) succeeded" in done.text
    assert "verify: sandbox.rollback_deployment recovered" in done.text
    (ran,) = done.cards
    assert ran.state == "succeeded" and ran.verified is True and done.pending == []
    _, status = service.call(bob, "sandbox.service_status", {"service": "checkout"})
    assert status is not None and status.result is not None
    (checkout,) = status.result["services"]
    assert checkout["health"] == "healthy"
    assert checkout["revision"] == ran.result["after_revision"]


def test_invalid_arguments_get_a_repair_round_with_the_validation_error(open_service):
    def sloppy(body: dict[str, Any]) -> dict[str, Any]:
        if "repair" not in _blocks(body):
            args = {"service": "checkout", "to_revision": "the one before"}
            return _call("sandbox__rollback_deployment", args)
        return _call("sandbox__rollback_deployment", {"service": "checkout"})

    service, fake = open_service(sloppy)
    reply = service.handle_message(service.principal("alice"), "inc-2", ASK)

    assert len(fake.requests) == 2
    assert "repair" not in _blocks(fake.requests[0])
    error = _blocks(fake.requests[1])["repair"]["error"]
    assert "to_revision" in error and "integer" in error
    assert '<untrusted kind="repair"' in fake.requests[1]["messages"][-1]["content"]
    (card,) = reply.cards
    assert card.tool == "sandbox.rollback_deployment" and card.arguments["to_revision"] is None


def test_a_tool_that_was_not_offered_is_refused_and_nothing_is_proposed(open_service):
    def rogue(body: dict[str, Any]) -> dict[str, Any]:
        # an unknown tool for alice; for dana, a real one she was not offered
        if "sandbox.rollback_deployment" in _offered(body):
            return _call("sandbox__drop_database", {"database": "orders-db"})
        return _call("sandbox__rollback_deployment", {"service": "checkout"})

    service, fake = open_service(rogue)
    alice = service.handle_message(service.principal("alice"), "inc-3", ASK)
    assert len(fake.requests) == 1  # refused, not repaired into something else
    assert alice.cards == [] and alice.pending == []
    assert "'sandbox.drop_database', which is not a tool it was offered" in alice.text

    dana = service.handle_message(service.principal("dana"), "inc-4", ASK)
    assert len(fake.requests) == 2
    offered = _offered(fake.requests[1])
    assert offered == _may_propose(service, "dana")
    assert offered and all(service.door.deps.registry.get(t).risk is Risk.READ for t in offered)
    assert dana.cards == [] and dana.pending == []
    assert "'sandbox.rollback_deployment', which is not a tool it was offered" in dana.text

    # what was stored: the runbook's reads gathered for each of them, and nothing else
    proposed = _proposed(service)
    assert proposed and all(risk is Risk.READ for _, _, risk in proposed)
    assert {who for _, who, _ in proposed} == {"alice", "dana"}
