"""`copilot audit verify` catches edited, deleted and reordered rows; exports are well formed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select, update

from copilot.audit import AuditLog, verify_chain
from copilot.audit.export import export_lines
from copilot.store import open_store
from copilot.store.schema import audit_events


@pytest.fixture
def chain(db_url):
    store = open_store(db_url)
    log = AuditLog(store)
    for i in range(10):
        log.record("test.event", actor="alice", subject=f"s{i}", data={"i": i, "note": "ünïcode"})
    yield store
    store.dispose()


def _body(store, seq):
    with store.read() as conn:
        return conn.execute(select(audit_events).where(audit_events.c.seq == seq)).one()


def test_untouched_chain_verifies(chain):
    report = verify_chain(chain)
    assert report.ok and report.events == 10 and report.head_seq == 10
    assert verify_chain(chain, (10, report.head_hash)).ok


def test_edited_row_is_named(chain):
    row = _body(chain, 4)
    with chain.write() as conn:
        conn.execute(
            update(audit_events)
            .where(audit_events.c.seq == 4)
            .values(body=row.body.replace('"i":3', '"i":33'))
        )
    report = verify_chain(chain)
    assert not report.ok and report.first_bad_seq == 4 and "edited" in report.problem


def test_edit_with_recomputed_leaf_is_still_caught(chain):
    from copilot.audit.chain import leaf_hash

    row = _body(chain, 6)
    body = row.body.replace('"alice"', '"mallory"')
    with chain.write() as conn:
        conn.execute(
            update(audit_events)
            .where(audit_events.c.seq == 6)
            .values(body=body, leaf_hash=leaf_hash(body.encode()))
        )
    report = verify_chain(chain)
    assert not report.ok and report.first_bad_seq == 6 and "edited" in report.problem


def test_last_event_rewritten_with_its_hashes_is_caught_by_the_head(chain):
    """The last event edited and both its hashes recomputed chains fine from #9: only the
    head recorded in audit_head (moved by every append) no longer matches."""
    from copilot.audit.chain import chain_hash, leaf_hash

    before, last = _body(chain, 9), _body(chain, 10)
    body = last.body.replace('"alice"', '"mallory"')
    leaf = leaf_hash(body.encode())
    with chain.write() as conn:
        conn.execute(
            update(audit_events)
            .where(audit_events.c.seq == 10)
            .values(body=body, leaf_hash=leaf, chain_hash=chain_hash(before.chain_hash, leaf))
        )
    report = verify_chain(chain)
    assert not report.ok and report.first_bad_seq == 10 and "head" in report.problem


def test_deleted_row_is_named(chain):
    with chain.write() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq == 5))
    report = verify_chain(chain)
    assert not report.ok and report.first_bad_seq == 5 and "deleted" in report.problem


def test_deleted_tail_is_caught(chain):
    with chain.write() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq >= 9))
    report = verify_chain(chain)
    assert not report.ok and report.first_bad_seq == 9 and "deleted" in report.problem


def test_reordered_rows_are_named(chain):
    a, b = _body(chain, 3), _body(chain, 7)
    with chain.write() as conn:
        for seq, src in ((3, b), (7, a)):
            conn.execute(
                update(audit_events)
                .where(audit_events.c.seq == seq)
                .values(body=src.body, leaf_hash=src.leaf_hash, chain_hash=src.chain_hash)
            )
    report = verify_chain(chain)
    assert not report.ok and report.first_bad_seq == 3 and "reordered" in report.problem


def test_full_rewrite_is_caught_only_by_an_anchor(chain, db_url):
    anchor = verify_chain(chain)
    # Rebuild the whole chain with one event changed: internally consistent again.
    with chain.read() as conn:
        rows = conn.execute(select(audit_events).order_by(audit_events.c.seq)).all()
    with chain.write() as conn:
        conn.execute(delete(audit_events))
        conn.exec_driver_sql("UPDATE audit_head SET seq = 0, chain_hash = '" + "0" * 64 + "'")
    log = AuditLog(chain)
    for r in rows:
        ev = json.loads(r.body)
        data = {"i": -1, "note": "forged"} if ev["seq"] == 2 else ev["data"]
        log.record(ev["kind"], actor=ev["actor"], subject=ev["subject"], data=data)
    assert verify_chain(chain).ok  # without an anchor nobody can tell...
    report = verify_chain(chain, (anchor.head_seq, anchor.head_hash))
    assert not report.ok and "anchored" in report.problem  # ...with one, it shows


def test_jsonl_and_ocsf_exports(chain):
    log = AuditLog(chain)
    log.record(
        "policy.decision",
        actor="bob",
        subject="apr_1",
        data={
            "action": "approve",
            "allowed": False,
            "policy_ids": ["no-self-approval"],
            "reason": "two-person rule",
        },
    )
    events = list(log.events())
    lines = [json.loads(x) for x in export_lines(events, "jsonl")]
    assert [x["seq"] for x in lines] == list(range(1, 12))
    assert lines[0]["data"]["note"] == "ünïcode" and len(lines[0]["chain_hash"]) == 64
    ocsf = [json.loads(x) for x in export_lines(events, "ocsf")]
    last = ocsf[-1]
    assert last["class_uid"] == 6003 and last["category_uid"] == 6
    assert last["type_uid"] == 600300 + last["activity_id"]
    assert last["actor"]["user"]["name"] == "bob" and last["status_id"] == 2
    assert last["actor"]["authorizations"] == [
        {
            "decision": "deny",
            "policy": {
                "uid": "no-self-approval",
                "name": "no-self-approval",
                "desc": "two-person rule",
            },
        }
    ]
    assert all(isinstance(x["time"], int) and x["metadata"]["product"]["name"] for x in ocsf)
