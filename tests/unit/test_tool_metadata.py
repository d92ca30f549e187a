"""A tool's risk travels with its schema (``x-copilot``), through litellm, to the offline
planner: a read is what is declared a read, whatever its name; no declaration is a change."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from copilot import tool
from copilot.model.context import PlannerContext
from copilot.model.offline import OFFLINE_MODEL, plan, to_message
from copilot.model.prompts import (
    TOOL_META,
    build_messages,
    decode_tool_name,
    tool_risks,
    tool_schemas,
)

NOW = datetime(2025, 3, 4, 14, 30, tzinfo=UTC)


@tool(risk="medium", pack="x", name="get_thing")
def get_thing() -> str:
    """Named like a read, but it changes something."""
    return "changed"


@tool(risk="read", pack="x", name="restart_all")
def restart_all() -> str:
    """Named like a change, but it only reads."""
    return "read"


SCHEMAS = tool_schemas([get_thing, restart_all])
# Without the risk note in the description only the metadata can tell a read from a change.
TOOLS = json.loads(json.dumps(SCHEMAS))
for _entry in TOOLS:
    _entry["function"]["description"] = _entry["function"]["description"].split(" [")[0]


def _context(facts: list[dict[str, Any]] = []) -> PlannerContext:  # noqa: B006 - not mutated
    steps = [{"tool": "x.get_thing"}, {"tool": "x.restart_all"}]
    book = {"chunk_id": "x-1", "source": "x.md", "title": "X", "heading": "X", "text": ""}
    return PlannerContext.model_validate(
        {
            "request": "checkout is returning 500s since the deploy",
            "requester": "alice",
            "now": NOW,
            "runbooks": [{**book, "playbook": steps}],
            "facts": facts,
        }
    )


def _calls(message: dict[str, Any]) -> list[str]:
    return [decode_tool_name(c["function"]["name"]) for c in message.get("tool_calls") or []]


def test_schemas_carry_risk_side_effects_and_idempotency():
    by_name = {decode_tool_name(t["function"]["name"]): t["function"] for t in SCHEMAS}
    assert by_name["x.get_thing"]["parameters"][TOOL_META] == {
        "risk": "medium",
        "side_effects": True,
        "idempotent": False,
    }
    assert tool_risks(TOOLS) == {"x.get_thing": get_thing.risk, "x.restart_all": restart_all.risk}
    # the note for hosted models stays in the description
    assert "[read-only" in by_name["x.restart_all"]["description"]
    assert "[read-only" not in TOOLS[1]["function"]["description"]


def test_the_declared_risk_decides_read_or_change_not_the_name():
    first = to_message(plan(build_messages(_context()), TOOLS))
    assert _calls(first) == ["x.restart_all"]  # read first: it is declared a read
    fact = {"id": "f1", "tool": "x.restart_all", "data": {"value": "read"}, "at": NOW}
    second = to_message(plan(build_messages(_context([fact])), TOOLS))
    assert _calls(second) == ["x.get_thing"]  # proposed as a change
    assert "Proposing" in second["content"]


def test_a_tool_without_metadata_is_planned_as_a_change():
    bare = json.loads(json.dumps(TOOLS))
    for entry in bare:
        del entry["function"]["parameters"][TOOL_META]
    assert tool_risks(bare) == {}
    message = to_message(plan(build_messages(_context()), bare))
    assert _calls(message) == ["x.get_thing"]  # never run as a read: proposed, as a card
    assert "Proposing" in message["content"]


@pytest.fixture(scope="module")
def litellm() -> Any:
    from copilot.model.gateway import load_litellm
    from copilot.model.offline import register_offline_model

    lib = load_litellm(offline=True)
    register_offline_model(lib)
    return lib


def test_litellm_hands_the_metadata_to_the_offline_provider(litellm: Any):
    response = litellm.completion(
        model=OFFLINE_MODEL, messages=build_messages(_context()), tools=TOOLS, num_retries=0
    )
    calls = response.choices[0].message.tool_calls or []
    assert [decode_tool_name(c.function.name) for c in calls] == ["x.restart_all"]
