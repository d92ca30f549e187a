"""A draft as Markdown: the sections with their citations, action items, open questions,
the claims the grounding check removed, and the timeline itself so every [E12] can be
looked up in the same document."""

from __future__ import annotations

from copilot.domain.incidents import Incident, PostmortemDraft, Timeline, duration
from copilot.postmortem.sections import GROUPS, SECTIONS, UNKNOWN


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def render(draft: PostmortemDraft, incident: Incident, timeline: Timeline, version: int) -> str:
    lines = [
        f"# Postmortem: {incident.id} {draft.title}",
        "",
        f"Draft v{version} by the {draft.drafter} drafter from {draft.events} timeline events. "
        f"Status {incident.status.value}, severity {incident.severity}, commander "
        f"{incident.commander or 'none'}; time to acknowledge {duration(incident.mtta_s)}, "
        f"time to resolve {duration(incident.mttr_s)}.",
        "",
        "Every sentence cites the timeline events it rests on (listed at the end). The "
        "grounding check holds each one to the names, numbers and times of its events, not "
        "to its reasoning: read a claim against its events before you rely on it.",
    ]
    group = ""
    for name in SECTIONS:
        if GROUPS.get(name) and GROUPS[name] != group:
            group = GROUPS[name]
            lines += ["", f"## {group}"]
        level = "###" if group else "##"
        lines += ["", f"{level} {name}", ""]
        claims = draft.sections.get(name) or []
        if name == "Timeline":
            lines += [f"- {c.text}" for c in claims] or [f"_{UNKNOWN.capitalize()}._"]
        elif claims:
            lines.append(" ".join(c.text for c in claims))
        else:
            lines.append(f"_{UNKNOWN.capitalize()}._")
        if name == "Detection":
            group = ""
    lines += ["", "## Action items", ""]
    if draft.action_items:
        lines += ["| action | owner | type |", "|---|---|---|"]
        lines += [f"| {_cell(a.text)} | {_cell(a.owner)} | {a.kind} |" for a in draft.action_items]
    else:
        lines.append(f"_{UNKNOWN.capitalize()}._")
    lines += ["", "## Open questions", ""]
    lines += [f"- {q}" for q in draft.open_questions] or ["- none"]
    if draft.removed:
        lines += ["", "## Removed unsupported claims", ""]
        lines += [f"- ({r.section}) {r.text} — {r.why}" for r in draft.removed]
    lines += ["", "## Appendix: the timeline", ""]
    if timeline.events:
        lines += ["| id | time (UTC) | what | who |", "|---|---|---|---|"]
        lines += [
            f"| {e.id} | {e.at:%Y-%m-%d %H:%M:%S} | {_cell(e.text)} | {_cell(e.actor)} |"
            for e in timeline.events
        ]
    else:
        lines.append("_No events._")
    return "\n".join(lines) + "\n"
