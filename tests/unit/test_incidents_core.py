"""The pure parts of incidents: webhook payloads, the lifecycle's rules, the words a
delivery adds, MTTA/MTTR, the grounding check and the offline drafter on edge cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes.alerts import alert, payload

from copilot.domain.incidents import (
    AlertRecord,
    Claim,
    Incident,
    IncidentStatus,
    PostmortemDraft,
    Timeline,
    TimelineEvent,
    duration,
)
from copilot.errors import InvalidInput
from copilot.incidents.alerts import from_alertmanager, from_generic, severity_of, title_of
from copilot.incidents.lifecycle import check_move, describe_batch
from copilot.incidents.stats import incident_stats
from copilot.postmortem import grounding, offline

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def incident(**kw: object) -> Incident:
    base: dict[str, object] = {
        "id": "INC-7",
        "title": "SandboxHighErrorRate (service=checkout)",
        "status": IncidentStatus.OPEN,
        "severity": "page",
        "conversation": "incident-7",
        "source": "alertmanager",
        "opened_at": T0,
    }
    return Incident.model_validate(base | kw)


def event(n: int, minutes: float, text: str, kind: str = "status", **data: object) -> TimelineEvent:
    return TimelineEvent(
        id=f"E{n}",
        at=T0 + timedelta(minutes=minutes),
        kind=kind,  # type: ignore[arg-type]
        actor="bob",
        text=text,
        data=dict(data),
        ref=f"audit:{n}",
    )


def test_alertmanager_payloads_parse_and_bad_ones_say_what_is_wrong() -> None:
    batch = from_alertmanager(payload(alert(), alert(fingerprint="b", status="resolved")))
    assert batch.source == "alertmanager" and len(batch.alerts) == 2
    assert batch.alerts[0].ends_at is None  # Alertmanager's zero time means "not ended"
    assert batch.alerts[1].ends_at is not None
    assert title_of(batch) == "SandboxHighErrorRate (service=checkout)"
    assert severity_of(batch) == "page"
    for broken, said in (
        ({**payload(alert()), "version": "3"}, "version"),
        ({**payload(alert()), "alerts": []}, "alerts"),
        ({**payload(alert()), "status": "burning"}, "status"),
        ({**payload(alert()), "groupKey": ""}, "groupKey"),
        ([1, 2], "JSON object"),
    ):
        with pytest.raises(InvalidInput) as err:
            from_alertmanager(broken)
        assert said in err.value.message, err.value.message
    two_lines = from_alertmanager(payload(alert("High\nErrors", service="a\nb")))
    assert title_of(two_lines) == "High Errors (service=a b)"
    huge = alert()
    huge["annotations"] = {"description": "x" * 9000}
    with pytest.raises(InvalidInput, match="characters"):
        from_alertmanager(payload(huge))
    with pytest.raises(InvalidInput, match="priority"):
        from_generic({"group": "g", "alerts": [{"id": "1", "name": "X"}], "priority": 1})


def test_the_lifecycle_goes_forward_only_and_fills_skipped_steps() -> None:
    now = T0 + timedelta(minutes=9)
    changes, said = check_move(incident(), "resolve", "", "bob", now)
    assert changes["status"] == "resolved" and changes["open_group"] is None
    assert changes["acknowledged_at"] == changes["mitigated_at"] == changes["resolved_at"] == now
    assert said == "bob marked INC-7 resolved"
    acked = incident(status=IncidentStatus.ACKNOWLEDGED, acknowledged_at=T0)
    with pytest.raises(InvalidInput, match="already acknowledged"):
        check_move(acked, "ack", "", "bob", now)
    changes, _ = check_move(acked, "mitigate", "", "bob", now)
    assert "acknowledged_at" not in changes  # kept as it was
    with pytest.raises(InvalidInput, match="is resolved"):
        check_move(incident(status=IncidentStatus.RESOLVED), "commander", "carol", "bob", now)
    with pytest.raises(InvalidInput, match="unknown severity"):
        check_move(incident(), "severity", "apocalyptic", "bob", now)


def test_a_storm_is_one_bounded_message() -> None:
    fresh = [
        AlertRecord(fingerprint=f"f{n}", status="firing", name="PodDown", labels={"pod": f"p{n}"})
        for n in range(300)
    ]
    text = describe_batch(incident(), fresh, lines=10)
    assert text.startswith("INC-7: 300 alert(s) firing (PodDown firing ×300)")
    assert text.count("\n- ") == 10 and "… and 290 more" in text
    assert len(text) < 1000


def test_mtta_and_mttr_per_incident_and_in_aggregate() -> None:
    a = incident(first_alert_at=T0, first_human_at=T0 + timedelta(minutes=4))
    b = incident(
        first_alert_at=T0,
        first_human_at=T0 + timedelta(minutes=2),
        resolved_at=T0 + timedelta(minutes=30),
        status=IncidentStatus.RESOLVED,
    )
    assert (a.mtta_s, a.mttr_s) == (240.0, None)
    assert (b.mtta_s, b.mttr_s) == (120.0, 1800.0)
    stats = incident_stats([a, b, incident()])
    assert stats.incidents == 3 and stats.open == 2 and stats.acknowledged == 2
    assert stats.mtta_mean_s == 180.0 and stats.mtta_median_s == 180.0
    assert stats.mttr_mean_s == 1800.0 and stats.resolved == 1
    assert duration(None) == "–" and duration(250) == "4 min 10 s" and duration(3720) == "1 h 2 min"


def test_the_grounding_check_keeps_what_the_events_hold_and_removes_the_rest() -> None:
    tl = Timeline(
        incident=incident(),
        events=[
            event(
                1,
                0,
                "alert SandboxHighErrorRate firing",
                "alert.firing",
                labels={"service": "checkout"},
            ),
            event(
                2,
                7,
                "sandbox.rollback_deployment (apr_x) succeeded: revision 44 → 43",
                "execution.succeeded",
            ),
        ],
    )
    vocab = grounding.vocabulary_of(tl)
    ok = [
        "SandboxHighErrorRate fired for checkout at 10:00 UTC [E1].",
        "The rollback to revision 43 ran 7 min after the alert [E1][E2].",
        "sandbox.rollback_deployment succeeded at 10:07:00 UTC [E2].",
    ]
    for text in ok:
        assert grounding.problems(text, [], tl, vocab) == [], text
    bad = {
        "The rollback ran at 10:09 [E2].": "the time 10:09",
        "Revision 45 was bad [E2].": "the number 45",
        "sandbox.scale_service fixed it [E2].": "sandbox.scale_service",
        "checkout recovered [E2].": "checkout",
        "It was the database.": "cites no timeline event",
        "It fired [E9].": "E9",
    }
    for text, why in bad.items():
        found = grounding.problems(text, [], tl, vocab)
        assert any(why in p for p in found), (text, found)
    more = {
        # evidence the reader cannot see: E2 listed, only E1 cited in the words
        "SandboxHighErrorRate fired for checkout [E1].": ("E2", ["E1", "E2"]),
        "It lasted 45min [E1].": ("the number 45", []),
        "It started at 1:42 UTC [E1].": ("the time 1:42", []),
    }
    for text, (why, cites) in more.items():
        found = grounding.problems(text, cites, tl, vocab)
        assert any(why in p for p in found), (text, found)
    assert grounding.problems("It was checkout, i.e. the shop [E1].", [], tl, vocab) == []
    # an ISO time in an event (T10:03:12) holds 10:03, never its minutes and seconds 03:12
    iso = event(3, 3.2, "deploy at 2026-11-27T10:03:12.512+00:00", "execution.succeeded")
    tl3 = Timeline(incident=incident(), events=[*tl.events, iso])
    found = grounding.problems("It broke at 03:12 UTC [E3].", [], tl3, vocab)
    assert any("the time 03:12" in p for p in found), found
    draft = PostmortemDraft(
        incident="INC-7",
        title="t",
        sections={"Summary": [Claim(text=ok[0]), Claim(text="Revision 45 was bad [E2].")]},
        drafter="test",
        events=2,
    )
    checked = grounding.check(draft, tl)
    assert [c.text for c in checked.sections["Summary"]] == [ok[0]]
    assert checked.sections["Summary"][0].cites == ["E1"]
    assert [r.text for r in checked.removed] == ["Revision 45 was bad [E2]."]


def test_a_postmortem_of_an_incident_with_no_events_says_so() -> None:
    draft = offline.draft(Timeline(incident=incident(), events=[]))
    assert all(claims == [] for claims in draft.sections.values())
    assert draft.open_questions == [
        "The timeline of INC-7 has no events: nothing can be stated yet."
    ]
    assert draft.events == 0
