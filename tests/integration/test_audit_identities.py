"""The audit log keeps its subjects and its people: redaction takes secrets and personal
data out of events, never the ids the copilot minted or the identity of who acted.

Two bugs: an approval id whose hex digits passed the card rule lost its subject
(``apr_[REDACTED:payment-card:1]a9d``); user ids that are e-mail addresses (PII rules are on
by default) became ``[REDACTED:email:N]`` as actors and approvers.
"""

from __future__ import annotations

import json

from conftest import approve, runs
from sqlalchemy import select

import copilot.door.proposals as proposals_module
from copilot.audit import verify_chain
from copilot.canonical import call_hash
from copilot.domain import ApprovalState
from copilot.settings import UserConfig
from copilot.store.schema import proposals

ALICE, BOB = "alice@example.com", "bob@example.com"
CARD_ID = "apr_2811971443799a9d"  # a hex id as minted before; 2811971443799 passes Luhn
BYSTANDER = "carol.jones@example.org"


def email_users() -> dict[str, UserConfig]:
    return {ALICE: UserConfig(roles=["responder"]), BOB: UserConfig(roles=["sre"])}


def test_an_approval_keeps_its_subject_when_its_id_looks_like_a_card(
    make_copilot, db_url, monkeypatch
):
    minted = iter(["prp_2811971443799a9d", CARD_ID])
    monkeypatch.setattr(proposals_module, "new_id", lambda prefix: next(minted))
    svc = make_copilot(db_url)
    outcome, _ = svc.call(svc.principal("alice"), "testpack.bump_counter", {"name": "ids"})
    assert outcome.approval.id == CARD_ID
    done = approve(svc, CARD_ID, svc.principal("bob"))
    assert done is not None and done.status is ApprovalState.SUCCEEDED
    assert runs(svc) == [["bump_counter", CARD_ID]]  # (runs record the approval id)

    events = list(svc.door.deps.audit.events())
    kinds = {e.kind for e in events if e.subject == CARD_ID}
    assert {"proposal.created", "approval.vote", "approval.approved"} <= kinds
    assert {"execution.started", "execution.succeeded"} <= kinds
    assert not any("[REDACTED:" in (e.subject or "") for e in events)
    created = next(e for e in events if e.kind == "proposal.created")
    assert created.data["proposal"] == "prp_2811971443799a9d"
    for fmt in ("jsonl", "ocsf"):
        exported = "\n".join(svc.export_audit(fmt))
        assert CARD_ID in exported and "payment-card" not in exported
    assert verify_chain(svc.door.deps.store).ok


def test_who_proposed_and_approved_stays_on_the_record(make_copilot, db_url):
    svc = make_copilot(db_url, users=email_users())
    # An argument holding someone else's address: personal data, redacted in the log.
    outcome, _ = svc.call(svc.principal(ALICE), "testpack.bump_counter", {"name": BYSTANDER})
    aid = outcome.approval.id
    done = approve(svc, aid, svc.principal(BOB))
    assert done is not None and done.status is ApprovalState.SUCCEEDED
    assert len(runs(svc)) == 1

    events = list(svc.door.deps.audit.events())
    by_kind = {e.kind: e for e in events}
    assert by_kind["proposal.created"].actor == ALICE
    assert by_kind["approval.vote"].actor == BOB
    assert by_kind["approval.approved"].actor == BOB
    assert by_kind["approval.approved"].data["approvers"] == [BOB]
    assert by_kind["execution.started"].data["triggered_by"] == BOB
    assert {e.actor for e in events if e.kind == "policy.decision"} == {ALICE, BOB}
    # ... while the rest of the payload is still redacted.
    stored = json.dumps([e.data for e in events])
    assert BYSTANDER not in stored and "[REDACTED:email:" in stored
    assert verify_chain(svc.door.deps.store).ok

    jsonl = [json.loads(line) for line in svc.export_audit("jsonl")]
    assert {r["actor"] for r in jsonl} >= {ALICE, BOB}
    ocsf = [json.loads(line) for line in svc.export_audit("ocsf")]
    assert {r["actor"]["user"]["uid"] for r in ocsf} >= {ALICE, BOB}
    approved = next(r for r in jsonl if r["kind"] == "approval.approved")
    assert approved["data"]["approvers"] == [BOB]
    for fmt in ("jsonl", "ocsf"):
        exported = "\n".join(svc.export_audit(fmt))
        assert BYSTANDER not in exported and "[REDACTED:email:" in exported


def test_arguments_hash_binds_what_is_stored(make_copilot, db_url):
    """The proposal row keeps the arguments the call runs with (personal data in them is
    part of the call; secrets are refused before this point), and its hash is computed on
    exactly those: the execution-time check recomputes it from the row and runs."""
    svc = make_copilot(db_url, users=email_users())
    outcome, _ = svc.call(svc.principal(ALICE), "testpack.bump_counter", {"name": BYSTANDER})
    with svc.door.deps.store.read() as conn:
        row = conn.execute(select(proposals)).one()
    assert row.arguments == {"name": BYSTANDER, "by": 1}
    assert row.args_hash == call_hash("testpack.bump_counter", row.arguments)
    assert outcome.approval.args_hash == row.args_hash
    event = next(e for e in svc.door.deps.audit.events() if e.kind == "proposal.created")
    assert event.data["args_hash"] == row.args_hash
    done = approve(svc, outcome.approval.id, svc.principal(BOB))
    assert done is not None and done.status is ApprovalState.SUCCEEDED


def test_a_secret_in_an_identity_field_is_still_redacted(make_copilot, db_url):
    svc = make_copilot(db_url)
    token = "ghp_" + "Zq8Rm2LnX5vB7tK1wY4pS9dF3gH6jC0aE2uI"
    with svc.door.deps.store.write() as conn:
        svc.door.deps.audit.append(
            conn, "note", actor=f"{ALICE} {token}", data={"approvers": [token, BOB]}
        )
    (event,) = list(svc.door.deps.audit.events())
    assert token not in json.dumps([event.actor, event.data])
    assert event.actor.startswith(ALICE) and event.data["approvers"][1] == BOB
