"""The offline drafter: a postmortem written extractively from the timeline, no model.

Each sentence is built from one or two events and states only what they hold (names,
values, times), citing them. Where the timeline has nothing for a section, the section says
so and the question goes under open questions: a root cause is never inferred, only the
runbook condition the copilot found holding is reported, as what it was.
"""

from __future__ import annotations

from copilot.domain.incidents import ActionItem, Claim, PostmortemDraft, Timeline, TimelineEvent
from copilot.postmortem.sections import SECTIONS, UNKNOWN

MAX_TIMELINE = 40
# result fields worth quoting from a read, in this order
_MEASURES = ("error_rate", "p99_ms", "p50_ms", "restarts", "lag_seconds", "cost_per_hour")


def _t(e: TimelineEvent) -> str:
    return e.at.strftime("%H:%M:%S")


def _c(text: str, *events: TimelineEvent) -> Claim:
    """A sentence ending with its citations: "… at 10:42:07 UTC [E14]." """
    ids = list(dict.fromkeys(e.id for e in events))
    text = text.rstrip().removesuffix(".")
    return Claim(text=f"{text} " + "".join(f"[{i}]" for i in ids) + ".", cites=ids)


def _of(tl: Timeline, *kinds: str) -> list[TimelineEvent]:
    return [e for e in tl.events if e.kind in kinds]


def _gap(questions: list[str], section: str, question: str) -> None:
    questions.append(f"{section}: {question}")


def _duration(a: TimelineEvent, b: TimelineEvent) -> str:
    s = abs((b.at - a.at).total_seconds())
    return f"{int(s)} s" if s < 60 else f"{int(s / 60)} min"


def _measures(e: TimelineEvent) -> str:
    result = e.data.get("result")
    if not isinstance(result, dict):
        return ""
    found = [f"{k} {result[k]}" for k in _MEASURES if isinstance(result.get(k), int | float)]
    return ", ".join(found[:3])


def draft(tl: Timeline) -> PostmortemDraft:
    inc = tl.incident
    sections: dict[str, list[Claim]] = {name: [] for name in SECTIONS}
    questions: list[str] = []
    items: list[ActionItem] = []
    if not tl.events:
        questions.append(f"The timeline of {inc.id} has no events: nothing can be stated yet.")
        return PostmortemDraft(
            incident=inc.id,
            title=inc.title,
            sections=sections,
            open_questions=questions,
            drafter="offline",
            events=0,
        )
    opened = next(
        (e for e in _of(tl, "status") if e.data.get("audit_kind") == "incident.opened"), None
    )
    alerts = _of(tl, "alert.firing")
    resolved = [e for e in _of(tl, "status") if e.data.get("audit_kind") == "incident.resolve"]
    ran = _of(tl, "execution.succeeded", "execution.failed", "execution.unknown")
    verifies = _of(tl, "verify")
    facts = _of(tl, "fact")
    replies = _of(tl, "reply")
    runbook_replies = [e for e in replies if "Following runbook" in e.text]
    humans = [
        e
        for e in tl.events
        if e.kind in ("message", "vote", "status", "commander", "severity")
        and e.actor not in ("copilot", inc.source, *tl.automated)
        and e.data.get("audit_kind") != "incident.opened"
    ]

    # Summary
    s = sections["Summary"]
    if opened:
        s.append(_c(f"{inc.id} was opened at {_t(opened)} UTC by {opened.actor}.", opened))
    if alerts:
        s.append(
            _c(
                f"The first alert, {alerts[0].data['name']}, arrived at {_t(alerts[0])} UTC.",
                alerts[0],
            )
        )
    for e in ran:
        s.append(_c(f"{e.text} at {_t(e)} UTC.", e))
    for e in verifies:
        s.append(_c(f"{e.text}.", e))
    for e in resolved:
        s.append(_c(f"{e.actor} marked it resolved at {_t(e)} UTC.", e))
    if not resolved:
        _gap(questions, "Summary", "the incident is not resolved on the timeline.")

    # Impact: what the alerts and the reads measured; who was affected is not on record
    seen: set[str] = set()
    for e in alerts:
        if e.data["name"] not in seen:
            seen.add(e.data["name"])
            sections["Impact"].append(_c(f"{e.text.split(':', 1)[0]}.", e))
    measured: set[str] = set()
    for e in facts:
        found = _measures(e)
        key = f"{e.data.get('tool')}{e.data.get('arguments')}"
        if found and key not in measured:
            measured.add(key)
            sections["Impact"].append(_c(f"{e.data['tool']} read {found} at {_t(e)} UTC.", e))
    _gap(questions, "Impact", "who was affected, how many, and for how long is " + UNKNOWN + ".")

    # Timeline: the events that tell the story (facts and policy checks stay in the appendix)
    story = [e for e in tl.events if e.kind not in ("fact", "policy", "execution.started")]
    for e in story[:MAX_TIMELINE]:
        sections["Timeline"].append(_c(f"{_t(e)} UTC: {e.text}", e))

    # Root causes and trigger: only what the copilot found holding, as that
    for e in runbook_replies[:2]:
        first = e.text.split(". Proposing")[0].split("\n")[0]
        sections["Root causes"].append(_c(f"At {_t(e)} UTC the copilot reported: {first}.", e))
    _gap(
        questions,
        "Root causes",
        "the root cause is " + UNKNOWN + "; what was found holding is listed, not explained.",
    )
    for e in facts:
        result = e.data.get("result")
        deployments = result.get("deployments") if isinstance(result, dict) else None
        if isinstance(deployments, list) and deployments and isinstance(deployments[0], dict):
            d = deployments[0]
            what = ", ".join(f"{k} {d[k]}" for k in ("revision", "image", "change") if d.get(k))
            if what:
                sections["Trigger"].append(
                    _c(f"The newest deployment {e.data['tool']} listed: {what}.", e)
                )
                break
    if not sections["Trigger"]:
        _gap(questions, "Trigger", "what set it off is " + UNKNOWN + ".")
    else:
        _gap(questions, "Trigger", "whether that deployment set it off is " + UNKNOWN + ".")

    # Resolution and detection
    for e in [*ran, *verifies, *_of(tl, "status")]:
        if e.kind != "status" or e.data.get("audit_kind") in (
            "incident.mitigate",
            "incident.resolve",
        ):
            sections["Resolution"].append(_c(f"{_t(e)} UTC: {e.text}.", e))
    if alerts:
        detected = alerts[0]
        sections["Detection"].append(
            _c(
                f"{detected.data['name']} from {detected.actor} detected it at {_t(detected)} UTC.",
                detected,
            )
        )
        if humans:
            h = humans[0]
            sections["Detection"].append(
                _c(
                    f"The first human action came {_duration(detected, h)} after the first alert: "
                    f"{h.text}",
                    detected,
                    h,
                )
            )
    else:
        _gap(
            questions,
            "Detection",
            "no alert is on the timeline; how it was detected is " + UNKNOWN + ".",
        )

    _lessons(tl, sections, questions, items, runbook_replies)
    _automation(tl, sections, questions)
    if opened:
        owner = inc.commander or "unassigned"
        items.append(
            ActionItem(
                text=f"Find and fix the root cause of {inc.id} [{opened.id}]",
                owner=owner,
                kind="prevent",
                cites=[opened.id],
            )
        )
    for name, claims in sections.items():
        if not claims and not any(q.startswith(f"{name}:") for q in questions):
            _gap(questions, name, UNKNOWN + ".")
    return PostmortemDraft(
        incident=inc.id,
        title=inc.title,
        sections=sections,
        action_items=items,
        open_questions=questions,
        drafter="offline",
        events=len(tl.events),
    )


def _lessons(
    tl: Timeline,
    sections: dict[str, list[Claim]],
    questions: list[str],
    items: list[ActionItem],
    runbook_replies: list[TimelineEvent],
) -> None:
    owner = tl.incident.commander or "unassigned"
    for e in _of(tl, "verify"):
        if e.data.get("recovered") is True:
            sections["What went well"].append(_c(f"{e.text}.", e))
        else:
            sections["What went wrong"].append(_c(f"{e.text}.", e))
            items.append(
                ActionItem(
                    text=f"Find out why {e.data.get('tool')} did not recover the service [{e.id}]",
                    owner=owner,
                    kind="mitigate",
                    cites=[e.id],
                )
            )
    for e in _of(tl, "execution.failed", "execution.unknown", "rejected", "expired"):
        sections["What went wrong"].append(_c(f"{e.text}.", e))
        if e.kind.startswith("execution."):
            items.append(
                ActionItem(
                    text=f"Check what {e.data.get('tool')} did [{e.id}]",
                    owner=owner,
                    kind="mitigate",
                    cites=[e.id],
                )
            )
    for e in _of(tl, "policy"):
        if e.data.get("allowed") is False:
            sections["What went wrong"].append(_c(f"{e.text}.", e))
    _gap(questions, "Where we got lucky", UNKNOWN + ".")
    for e in runbook_replies[:2]:
        items.append(
            ActionItem(
                text=f"Review the runbook the copilot followed against what ran [{e.id}]",
                owner=owner,
                kind="process",
                cites=[e.id],
            )
        )


def _automation(tl: Timeline, sections: dict[str, list[Claim]], questions: list[str]) -> None:
    by_subject: dict[str, dict[str, TimelineEvent]] = {}
    for e in tl.events:
        subject = e.data.get("subject")
        if isinstance(subject, str) and subject.startswith("apr_"):
            by_subject.setdefault(subject, {}).setdefault(e.kind, e)
    for aid, story in by_subject.items():
        proposed, approved = story.get("proposal"), story.get("approved")
        done = next(
            (
                story[k]
                for k in ("execution.succeeded", "execution.failed", "execution.unknown")
                if k in story
            ),
            None,
        )
        if proposed:
            outcome = f", then {done.text}" if done else ""
            sections["Playbooks and their outcomes"].append(
                _c(f"{proposed.text}{outcome}.", proposed, *([done] if done else []))
            )
        if proposed and approved:
            sections["Did automation shorten or lengthen recovery"].append(
                _c(
                    f"{aid} waited {_duration(proposed, approved)} for its approval.",
                    proposed,
                    approved,
                )
            )
        if approved and done:
            sections["Did automation shorten or lengthen recovery"].append(
                _c(f"{aid} ran {_duration(approved, done)} after its approval.", approved, done)
            )
    _gap(
        questions,
        "Did automation shorten or lengthen recovery",
        "how long recovery would have taken by hand is " + UNKNOWN + ".",
    )
    for e in tl.events:
        failed_read = e.kind == "fact" and e.data.get("ok") is False
        denied = e.kind == "policy" and e.data.get("allowed") is False
        if failed_read or denied:
            sections["Gaps in telemetry or authorisation"].append(_c(f"{e.text}.", e))
    for e in _of(tl, "verify"):
        if e.data.get("recovered") is not True:
            sections["Follow-ups to the runbooks"].append(
                _c(f"The runbook's change did not verify: {e.text}.", e)
            )
