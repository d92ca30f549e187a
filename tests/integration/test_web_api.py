"""The JSON API's story, as scripts and a second surface would drive it: a report, a card,
the two-person rule, a viewer who may not approve, an SRE's approval that runs the
rollback and verifies it, and the conversation as the API shows it afterwards. On SQLite,
and on PostgreSQL where the test machine has one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from webapp import ASK, events_of, proposed_card, serve, web_settings


def test_report_propose_refuse_approve_run_and_verify(tmp_path: Path, db_url: str) -> None:
    with serve(web_settings(tmp_path / "data", database_url=db_url)) as web:
        alice, bob, dana = web.person("alice"), web.person("bob"), web.person("dana")

        # alice reports the bad deploy: the copilot proposes the runbook's rollback
        card_id = proposed_card(web, alice, "inc-api")
        assert web.error_rate() > 0.05
        card = alice.card(card_id)
        assert card["tool"] == "sandbox.rollback_deployment"
        assert card["arguments"]["service"] == "checkout"
        assert card["requester"] == "alice" and card["conversation"] == "inc-api"
        assert card["provenance"]["runbook"]  # it says where it came from

        # the two-person rule: alice may not approve her own card
        r = alice.decide(card_id)
        assert r.status_code == 403, r.text
        assert "two-person rule" in r.json()["error"]
        assert alice.card(card_id)["state"] == "proposed" and alice.card(card_id)["votes"] == []

        # a viewer may not approve at all
        r = dana.decide(card_id)
        assert r.status_code == 403, r.text
        assert "dana may not approve" in r.json()["error"]
        assert alice.card(card_id)["votes"] == []
        audit = alice.audit()
        assert not events_of(audit, card_id, "approval.vote")
        assert not events_of(audit, card_id, "execution.started")
        # the refusals are on the record, as policy decisions that denied
        denied = [e for e in events_of(audit, card_id, "policy.decision") if _denied(e)]
        assert [e["actor"] for e in denied] == ["alice", "dana"]
        assert "two-person rule" in denied[0]["data"]["reason"]

        # bob (sre) approves: the call runs, and the reply says how it went
        r = bob.decide(card_id)
        assert r.status_code == 200, r.text
        reply = r.json()
        assert "succeeded" in reply["text"].splitlines()[0], reply["text"]
        assert [(c["approval_id"], c["state"]) for c in reply["cards"]] == [(card_id, "succeeded")]

        card = bob.card(card_id)
        assert card["state"] == "succeeded" and card["verified"] is True
        assert [(v["approver"], v["verdict"]) for v in card["votes"]] == [("bob", "approve")]
        assert card["result"]["after_revision"] == card["result"]["before_revision"] - 1
        # the sandbox really recovered
        assert web.error_rate() < 0.05

        audit = bob.audit()
        assert len(events_of(audit, card_id, "execution.started")) == 1
        assert len(events_of(audit, card_id, "execution.succeeded")) == 1
        assert [e["actor"] for e in events_of(audit, card_id, "approval.vote")] == ["bob"]
        assert bob.client.get("/api/audit/verify").json()["ok"] is True

        # the conversation, as the API shows it: in order, with the card as it is now
        view = dana.view("inc-api")
        said = [(m["role"], m["author"]) for m in view["messages"]]
        assert said == [
            ("user", "alice"),
            ("copilot", "copilot"),
            ("event", "bob"),
            ("copilot", "copilot"),
        ]
        texts = [m["text"] for m in view["messages"]]
        assert texts[0] == ASK
        assert texts[2] == f"bob approved sandbox.rollback_deployment ({card_id})"
        assert "succeeded" in texts[3] and "recovered" in texts[3]
        ids = [m["id"] for m in view["messages"]]
        assert ids == sorted(ids)
        assert card_id in view["messages"][1]["cards"]
        assert view["cards"][card_id]["state"] == "succeeded"
        assert view["cards"][card_id]["verified"] is True
        assert view["pending"] == []

        # only what came after a message id, for a page that already has the rest
        later = dana.client.get("/api/conversations/inc-api", params={"after": ids[1]}).json()
        assert [m["id"] for m in later["messages"]] == ids[2:]

        listed = dana.client.get("/api/conversations").json()
        assert [(c["id"], c["messages"]) for c in listed] == [("inc-api", 4)]
        shown = dana.client.get("/api/proposals", params={"state": "succeeded"}).json()
        assert [c["approval_id"] for c in shown] == [card_id]


def test_a_rejected_card_never_runs(tmp_path: Path) -> None:
    with serve(web_settings(tmp_path / "data")) as web:
        alice, carol = web.person("alice"), web.person("carol")
        card_id = proposed_card(web, alice, "inc-reject")
        r = carol.decide(card_id, "reject", reason="not before the payment batch")
        assert r.status_code == 200, r.text
        card = carol.card(card_id)
        assert card["state"] == "rejected"
        assert [(v["approver"], v["verdict"]) for v in card["votes"]] == [("carol", "reject")]
        assert not events_of(carol.audit(), card_id, "execution.started")
        assert web.error_rate() > 0.05  # nothing ran
        events = [m for m in carol.view("inc-reject")["messages"] if m["role"] == "event"]
        assert [m["text"] for m in events] == [
            f"carol rejected sandbox.rollback_deployment ({card_id}): not before the payment batch"
        ]
        # and it cannot be approved afterwards
        r = web.person("bob").decide(card_id)
        assert r.status_code in (403, 409), r.text
        assert not events_of(carol.audit(), card_id, "execution.started")


def test_a_card_past_its_time_is_expired_everywhere_and_cannot_run(
    tmp_path: Path, clock: Any
) -> None:
    """The card alone (GET /api/approvals/{id}) shows what the conversation shows: expired
    once its 15 minutes are up, though nobody has touched its record since."""
    with serve(web_settings(tmp_path / "data"), clock=clock) as web:
        alice, bob = web.person("alice"), web.person("bob")
        web.service.inject_fault("bad_deploy", "checkout")
        clock.advance(180)  # the deploy went out three minutes ago
        card_id = proposed_card(web, alice, "inc-late")
        clock.advance(901)
        assert bob.card(card_id)["state"] == "expired"
        assert bob.view("inc-late")["cards"][card_id]["state"] == "expired"
        listed = bob.client.get("/api/proposals", params={"state": "expired"}).json()
        assert [c["approval_id"] for c in listed] == [card_id]

        r = bob.decide(card_id)
        assert r.status_code == 409, r.text
        assert "expired" in r.json()["error"]
        assert bob.card(card_id)["state"] == "expired"
        assert not events_of(bob.audit(), card_id, "execution.started")


def _denied(event: dict[str, Any]) -> bool:
    data = event.get("data") or {}
    return data.get("action") == "approve" and data.get("allowed") is False
