"""The gateway: the same messages and tools reach any litellm model; the default is offline."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from fakes.openai_server import fake_openai
from packs.testpack import CANARY_GITHUB

from copilot.domain.views import FactView
from copilot.model.context import Citation, PlannerContext, format_provenance
from copilot.model.gateway import ModelGateway, redact_messages
from copilot.model.offline import OFFLINE_MODEL
from copilot.model.prompts import build_messages, read_context, tool_schemas
from copilot.redact.ruleset import redactor_for
from copilot.settings import Settings
from copilot_tools import sandbox as sb

NOW = datetime(2025, 3, 4, 14, 30, tzinfo=UTC)


def context() -> PlannerContext:
    return PlannerContext(
        request="checkout is returning 500s",
        requester="alice",
        now=NOW,
        facts=[
            FactView(
                id="f1",
                tool="sandbox.get_logs",
                arguments={"service": "checkout"},
                data={"lines": [{"message": f"boot with GITHUB_TOKEN={CANARY_GITHUB}"}]},
            ),
            FactView(
                id="f2",
                tool="sandbox.get_metrics",
                arguments={"service": "checkout"},
                data={"service": "checkout", "error_rate": 0.31},
            ),
        ],
    )


def rollback_reply(body: dict[str, Any]) -> dict[str, Any]:
    cite = Citation(
        call=1, tool="sandbox__rollback_deployment", runbook=None, facts=["f2"], why="500s"
    )
    return {
        "role": "assistant",
        "content": "Rolling back checkout.\n" + format_provenance([cite]),
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {
                    "name": "sandbox__rollback_deployment",
                    "arguments": '{"service": "checkout"}',
                },
            }
        ],
    }


def test_a_configured_model_gets_the_same_messages_and_tools(tmp_path: Any) -> None:
    messages = build_messages(context())
    tools = tool_schemas([sb.get_metrics, sb.rollback_deployment])
    with fake_openai(rollback_reply) as server:
        settings = Settings(
            data_dir=tmp_path,
            model="openai/gpt-4o-mini",
            model_api_base=server.base_url,
            model_api_key="sk-fake-for-tests",
            model_retries=0,
        )
        redactor = redactor_for(settings)
        gateway = ModelGateway(settings, redactor)
        reply = gateway.complete(messages, tools)
        areply = asyncio.run(gateway.acomplete(messages, tools))
    sent = server.requests[0]
    assert sent["messages"] == redact_messages(messages, redactor)  # unchanged but redacted
    assert sent["tools"] == tools and sent["model"] == "gpt-4o-mini"
    assert CANARY_GITHUB not in json.dumps(server.requests)
    # what reached the model still parses as the context: redaction kept the JSON intact
    seen = read_context(sent["messages"])
    assert seen is not None and [f.id for f in seen.facts] == ["f1", "f2"]
    assert CANARY_GITHUB in messages[1]["content"]  # the caller's copy is untouched

    call = reply.tool_calls[0]
    assert (call.name, call.raw_name) == (
        "sandbox.rollback_deployment",
        "sandbox__rollback_deployment",
    )
    assert json.loads(call.arguments) == {"service": "checkout"}
    assert reply.text == "Rolling back checkout."
    assert reply.citation_for(0) == Citation(
        call=1, tool="sandbox__rollback_deployment", facts=["f2"], why="500s"
    )
    assert reply.usage.prompt_tokens == 11 and reply.usage.completion_tokens == 3
    assert reply.cost_usd > 0  # gpt-4o-mini is in litellm's local price map
    assert areply.tool_calls[0].name == "sandbox.rollback_deployment"
    assert gateway.totals.calls == 2 and gateway.totals.prompt_tokens == 22


def test_an_unknown_model_costs_nothing_rather_than_failing(tmp_path: Any) -> None:
    with fake_openai() as server:
        settings = Settings(
            data_dir=tmp_path,
            model="openai/some-local-model",
            model_api_base=server.base_url,
            model_api_key="sk-fake",
            model_retries=0,
        )
        reply = ModelGateway(settings, redactor_for(settings)).complete(build_messages(context()))
    assert reply.text == "ok" and reply.cost_usd == 0.0 and reply.usage.prompt_tokens == 11


def test_no_model_configured_means_the_offline_planner(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path)
    gateway = ModelGateway(settings, redactor_for(settings))
    assert gateway.model == OFFLINE_MODEL
    reply = gateway.complete(build_messages(context()), tool_schemas(sb.TOOLS))
    assert reply.model == OFFLINE_MODEL and reply.cost_usd == 0.0
    assert reply.usage.prompt_tokens > 0 and gateway.totals.calls == 1
    # no runbook was retrieved: it abstains, citing what it saw
    assert reply.tool_calls == [] and "No runbook covers this request" in reply.text
    assert "error_rate 0.31 [f2]" in reply.text and CANARY_GITHUB not in (reply.content or "")


def test_a_failing_model_falls_back_to_the_offline_planner(tmp_path: Any) -> None:
    with fake_openai() as server:
        dead = server.base_url  # the server stops when the block ends
    settings = Settings(
        data_dir=tmp_path,
        model="openai/gpt-4o-mini",
        model_api_base=dead,
        model_api_key="sk-fake",
        model_retries=0,
        model_timeout_s=5,
        model_fallbacks=[OFFLINE_MODEL],
    )
    reply = ModelGateway(settings, redactor_for(settings)).complete(build_messages(context()))
    assert reply.model == OFFLINE_MODEL and "No runbook covers" in reply.text
