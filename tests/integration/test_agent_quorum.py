"""A conversation waits until a two-person quorum is complete: after the first approval of
a high-risk prod change nothing runs and the card still waits; the second approval runs it,
once. The agent runs with a scripted model, the real service, door and sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes.scripted_model import ScriptedModel, call, reply
from sqlalchemy import select

from copilot.domain import ApprovalState
from copilot.redact.ruleset import redactor_for
from copilot.service import CopilotService, open_runbook_index
from copilot.settings import Settings
from copilot.store.schema import executions


@pytest.fixture(scope="module")
def runbook_index(tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = Settings(data_dir=tmp_path_factory.mktemp("runbooks"))
    return open_runbook_index(settings, redactor_for(settings))


SECRET = "payments-psp-key"


def rotates(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
    # built by hand: the tool's argument is called ``name``, as is ``call``'s first parameter
    rotate = call("sandbox.rotate_secret").model_copy(
        update={"arguments": json.dumps({"name": SECRET})}
    )
    return reply("the payments key leaked: rotating it", rotate)


@pytest.fixture
def service(tmp_path: Path, clock: Any, runbook_index: Any, db_url: str):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
    svc = CopilotService.open(
        settings,
        clock=clock,
        gateway=lambda _settings, _redactor: ScriptedModel(rotates),
        runbooks=lambda _settings, _redactor: runbook_index,
    )
    svc.reset_sandbox()
    yield svc
    svc.close()


def _runs(svc: CopilotService, approval_id: str) -> list[tuple[str, str]]:
    """The executions of one card (the playbook's reads run too, each its own approval)."""
    with svc.door.deps.store.read() as conn:
        rows = conn.execute(
            select(executions.c.approval_id, executions.c.status).where(
                executions.c.approval_id == approval_id
            )
        ).all()
    return [(r.approval_id, r.status) for r in rows]


def _secret_version(svc: CopilotService) -> int:
    """The sandbox's own record of the secret (what the tool would change)."""
    from copilot_tools.sandbox.state import load_world

    deps = svc.door.deps
    world, _ = load_world(deps.store, deps.settings, deps.clock())
    return world.secrets[SECRET].version


def test_the_conversation_waits_for_the_whole_quorum(service):
    from copilot_tools.sandbox.catalogue import SECRETS

    assert SECRET in SECRETS
    before = _secret_version(service)
    out = service.handle_message(service.principal("alice"), "inc-q", "the payments key leaked")
    (card,) = out.cards
    assert card.tool == "sandbox.rotate_secret" and card.risk == "high"
    assert "2 approvals" in card.required  # high risk in prod: an SRE and an on-call lead
    aid = card.approval_id

    first = service.decide(aid, service.principal("bob"), "approve")
    assert first.pending == [aid] and first.execution is None
    assert service.waiting_on(aid)
    assert service.door.deps.load(aid, "test")[0].state is ApprovalState.PROPOSED
    assert _runs(service, aid) == [] and _secret_version(service) == before

    done = service.decide(aid, service.principal("carol"), "approve")
    assert done.pending == [] and not service.waiting_on(aid)
    assert done.cards[0].state == "succeeded"
    assert _runs(service, aid) == [(aid, "succeeded")]
    assert _secret_version(service) == before + 1
