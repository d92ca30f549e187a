"""Canaries over every reply path of the service: a secret planted in each input a person
gives (a message, a reason, a note, a search, an id, a tool name, a format) comes back in
no returned object and no error, and is stored nowhere in the data dir.

Inputs are redacted where they enter; the last pass over what leaves catches what an
error or a reply would quote. Each case plants all four canaries (a GitHub token, an AWS
key id, a ``password=`` line, a PEM block) in one input.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import runs
from fakes.canaries import GITHUB_TOKEN, PASTE, leaks, leaks_in_files
from pydantic import BaseModel

from copilot.domain import ApprovalState
from copilot.errors import CopilotError

ASK = "checkout is returning 500s"


def _text(value: Any) -> str:
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, list | tuple):
        return "\n".join(_text(v) for v in value)
    return json.dumps(value, default=str)


def clean(value: Any) -> Any:
    """``value`` (a reply, card, outcome, result), after checking no canary is in it."""
    found = leaks(_text(value))
    assert not found, f"{found} in {_text(value)[:400]}"
    return value


def refused(call: Callable[..., Any], *args: Any, **kw: Any) -> CopilotError:
    """The error ``call`` raises, after checking neither its message nor its hint quotes
    a canary."""
    with pytest.raises(CopilotError) as info:
        call(*args, **kw)
    err = info.value
    assert not leaks(err.one_line()), err.one_line()
    assert not leaks(str(err)), str(err)
    return err


@pytest.fixture
def svc(make_copilot, tmp_path: Path):  # type: ignore[no-untyped-def]
    return make_copilot(f"sqlite:///{tmp_path / 'data' / 'copilot.db'}")


def test_conversation_paths(svc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A message that starts a run, a follow-up while a card waits, the approval that
    resumes it (with a reason), and a conversation id holding a secret."""
    svc.reset_sandbox()
    svc.inject_fault("bad_deploy", "checkout")
    alice, bob = svc.principal("alice"), svc.principal("bob")
    start = clean(svc.handle_message(alice, "inc-1", f"{ASK}\n{PASTE}"))
    if not start.pending:  # the paste may outweigh the symptom: say it plainly too
        start = clean(svc.handle_message(alice, "inc-1", ASK))
    assert start.pending, start.text
    clean(svc.handle_message(alice, "inc-1", f"and this turned up:\n{PASTE}"))
    resumed = clean(svc.decide(start.pending[0], bob, "approve", reason=f"go; {PASTE}"))
    assert resumed.cards and resumed.cards[0].state is ApprovalState.SUCCEEDED
    # an alert name the index does not know is quoted back: here, one pasted with a key
    clean(svc.handle_message(alice, "inc-2", f"SandboxPaymentsCredsLeaked fired: {PASTE}"))

    before = svc.cards()
    refused(svc.handle_message, alice, GITHUB_TOKEN, ASK)
    refused(svc.handle_message, alice, "inc-3", PASTE * 200)  # too long
    refused(svc.call, alice, "bump_counter", {"name": "a"}, conversation=GITHUB_TOKEN)
    assert svc.cards() == before  # refused before anything was proposed
    svc.close()
    assert not leaks_in_files(tmp_path / "data")


def test_call_and_card_paths(svc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    alice, bob, root = svc.principal("alice"), svc.principal("bob"), svc.principal("root")

    # approve (the quorum completes: it runs here), reject, break-glass: each with a reason
    ran, _ = svc.call(alice, "bump_counter", {"name": "a", "by": 2})
    clean(ran)
    done = clean(svc.decide(ran.approval.id, bob, "approve", reason=PASTE))
    assert done.execution is not None and done.execution.status is ApprovalState.SUCCEEDED
    dropped, _ = svc.call(alice, "bump_counter", {"name": "b"})
    clean(svc.decide(dropped.approval.id, bob, "reject", reason=PASTE))
    urgent, _ = svc.call(alice, "reset_counter", {"name": "a"})
    clean(svc.decide(urgent.approval.id, root, "approve", reason=PASTE, break_glass=True))
    ran_ids = [ran.approval.id, urgent.approval.id]
    assert [r[1] for r in runs(svc)] == ran_ids  # the approved bump, the break-glass reset

    # a secret in the arguments, the tool's name, a verdict, an id: refused, not quoted
    refused(svc.call, alice, "bump_counter", {"name": PASTE})
    refused(svc.call, alice, PASTE, {})
    refused(svc.decide, urgent.approval.id, bob, PASTE)
    for method in (svc.execute, svc.cancel):
        refused(method, PASTE, bob)
    refused(svc.decide, PASTE, bob, "approve")
    refused(svc.card, PASTE)
    refused(svc.cards, [PASTE])
    refused(svc.principal, PASTE)
    refused(svc.reconcile, PASTE, bob, "succeeded", "checked")
    assert [r[1] for r in runs(svc)] == ran_ids  # nothing else ran

    # a cancelled card, a reconciled unknown outcome with a note holding the canaries
    waiting, _ = svc.call(alice, "bump_counter", {"name": "c"})
    clean(svc.cancel(waiting.approval.id, alice))
    slow, _ = svc.call(alice, "slow", {"seconds": 0.6})
    outcome = clean(svc.decide(slow.approval.id, bob, "approve")).execution
    assert outcome is not None and outcome.status is ApprovalState.UNKNOWN
    carol = svc.principal("carol")
    refused(svc.reconcile, slow.approval.id, carol, PASTE, "checked")
    card = clean(svc.reconcile(slow.approval.id, carol, "succeeded", f"checked: {PASTE}"))
    assert card.state is ApprovalState.SUCCEEDED
    clean(svc.card(slow.approval.id))
    clean(svc.cards())
    svc.close()
    assert not leaks_in_files(tmp_path / "data")


def test_operator_paths(svc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clean(svc.search_runbooks(PASTE))
    clean(svc.search_runbooks(f"SandboxPaymentsCredsLeaked {PASTE}"))
    # a key pasted where a folder was expected: "<it>: no such file or folder" is quoted back
    missing = clean(svc.ingest_runbooks([Path(GITHUB_TOKEN)]))
    assert missing.runbooks == 0 and "[REDACTED:github-token:" in missing.warnings[0]
    refused(svc.tool, PASTE)
    refused(svc.verify_audit, PASTE)
    refused(svc.export_audit, PASTE)
    refused(svc.inject_fault, PASTE, PASTE)
    refused(svc.inject_fault, "bad_deploy", PASTE)
    clean(list(svc.export_audit("jsonl")))
    clean(list(svc.export_audit("ocsf")))
    svc.close()
    assert not leaks_in_files(tmp_path / "data")
