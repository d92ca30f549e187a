"""The grounding check every postmortem draft passes before it is stored.

A claim stands only if it cites timeline events that exist, and every number, time, tool
name, service and person it states appears in the events it cites (a duration may also be
the time between two cited events). A claim that fails is dropped and listed under
"removed unsupported claims" with the reason. The offline drafter passes by construction;
a model's sentences are checked the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from itertools import combinations

from copilot.domain.incidents import (
    ActionItem,
    Claim,
    PostmortemDraft,
    RemovedClaim,
    Timeline,
    TimelineEvent,
)

CITE = re.compile(r"\[(E\d+)\]")
# a number starting a token, with or without a unit after it ("45min", "10x", "5xx")
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)*)")
# A clock time, whole: in "2026-12-04T05:03:12Z" it is 05:03:12 (never 03:12), and a word
# boundary would not do, as T05 has none.
_TIME = re.compile(r"(?<![\d:])(\d{1,2}:\d{2}(?::\d{2})?)(?![\d:])")
_TOOL = re.compile(r"\b([a-z][a-z0-9_]+\.[a-z][a-z0-9_]+)\b")  # not "i.e." or "e.g."
MAX_CITES = 8  # a claim resting on more events than this rests on none in particular
# numbers a sentence may say without evidence: "1 of 2" counts are in the events, but
# "step 1", "one" and "0" carry no claim about the incident
_FREE_NUMBERS = {"0", "1"}


def cited(text: str) -> list[str]:
    return CITE.findall(text)


def _evidence(events: list[TimelineEvent]) -> str:
    parts = []
    for e in events:
        parts.append(e.text)
        parts.append(json.dumps(e.data, default=str, sort_keys=True))
        parts.append(e.actor)
        parts.append(_clock(e.at))
        parts.append(e.at.strftime("%H:%M"))
    return "\n".join(parts)


def _clock(at: datetime) -> str:
    return at.strftime("%H:%M:%S")


def _durations(events: list[TimelineEvent]) -> set[str]:
    """Every way a sentence may state the time between two cited events."""
    out: set[str] = set()
    for a, b in combinations(events, 2):
        s = abs((b.at - a.at).total_seconds())
        for value in (s, s / 60, s / 3600):
            out.update({str(int(value)), str(round(value)), f"{value:.1f}"})
    return out


def _numbers_in(text: str) -> set[str]:
    return {m.replace(",", "") for m in _NUMBER.findall(text)}


def problems(
    text: str,
    cites: list[str],
    timeline: Timeline,
    vocabulary: Iterable[str],
) -> list[str]:
    """Why the claim is unsupported; empty when it stands. Its evidence is the events its
    words cite: a ``cites`` list naming others (which a reader would not see) is refused."""
    ids = list(dict.fromkeys(cited(text)))
    if not ids:
        return ["it cites no timeline event"]
    unseen = [i for i in cites if i not in ids]
    if unseen:
        return [f"it lists {', '.join(unseen[:5])} as evidence without citing them in its text"]
    if len(ids) > MAX_CITES:
        return [f"it cites {len(ids)} events (at most {MAX_CITES})"]
    missing = [i for i in ids if timeline.get(i) is None]
    if missing:
        return [f"it cites {', '.join(missing)}, which the timeline does not have"]
    events = [e for i in ids if (e := timeline.get(i)) is not None]
    return _unsupported(text, events, timeline, vocabulary, durations=True)


def question_problems(text: str, timeline: Timeline, vocabulary: Iterable[str]) -> list[str]:
    """An open question cites nothing, but what it names must be on the timeline."""
    return _unsupported(text, timeline.events, timeline, vocabulary, durations=False)


def _unsupported(
    text: str,
    events: list[TimelineEvent],
    timeline: Timeline,
    vocabulary: Iterable[str],
    *,
    durations: bool,
) -> list[str]:
    where = "the cited events" if durations else "the timeline"
    evidence = _evidence(events)
    bare = CITE.sub("", text).replace(timeline.incident.id, "")
    out = []
    times = set(_TIME.findall(evidence))
    times |= {t[:5] if len(t) >= 5 else t for t in times}
    for t in _TIME.findall(bare):
        if t not in times:
            out.append(f"the time {t} is in none of {where}")
    bare_no_times = _TIME.sub("", bare)
    allowed = _numbers_in(_TIME.sub("", evidence)) | _numbers_in(evidence) | _FREE_NUMBERS
    if durations:
        allowed |= _durations(events)
    for n in sorted(_numbers_in(bare_no_times) - allowed):
        out.append(f"the number {n} is in none of {where}")
    lowered = evidence.lower()
    for tool in sorted(set(_TOOL.findall(bare_no_times))):
        if tool not in evidence and not _is_decimal(tool):
            out.append(f"{tool} is in none of {where}")
    words = set(re.findall(r"[a-z0-9][a-z0-9_-]*", bare_no_times.lower()))
    for name in sorted(words & {v.lower() for v in vocabulary}):
        if name not in lowered:
            out.append(f"{name} is in none of {where}")
    return out


def _is_decimal(token: str) -> bool:
    return bool(re.fullmatch(r"\d+\.\d+", token))


def vocabulary_of(timeline: Timeline) -> set[str]:
    """Names a sentence must not state without evidence: services, jobs, namespaces and
    pods from labels and arguments, and the people on the record."""
    names: set[str] = set()
    for e in timeline.events:
        labels = e.data.get("labels")
        arguments = e.data.get("arguments")
        for source in (labels, arguments):
            if not isinstance(source, dict):
                continue
            for key in ("service", "job", "namespace", "pod", "deployment", "domain"):
                value = source.get(key)
                if isinstance(value, str) and 2 < len(value) < 64:
                    names.add(value)
        if e.actor and e.actor.isidentifier() and len(e.actor) > 2:
            names.add(e.actor)
    return {n for n in names if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", n)}


def check(draft: PostmortemDraft, timeline: Timeline) -> PostmortemDraft:
    """The draft with every unsupported claim removed and listed, with its reason."""
    vocabulary = vocabulary_of(timeline)
    removed = list(draft.removed)
    sections: dict[str, list[Claim]] = {}
    for name, claims in draft.sections.items():
        kept = []
        for claim in claims:
            why = problems(claim.text, claim.cites, timeline, vocabulary)
            if why:
                removed.append(RemovedClaim(text=claim.text, section=name, why="; ".join(why)))
            else:
                kept.append(_with_cites(claim))
        sections[name] = kept
    items: list[ActionItem] = []
    people = {e.actor for e in timeline.events} - set(timeline.automated)
    for item in draft.action_items:
        why = problems(item.text, item.cites, timeline, vocabulary)
        if why:
            removed.append(RemovedClaim(text=item.text, section="Action items", why="; ".join(why)))
            continue
        owner = item.owner if item.owner in people or item.owner == "unassigned" else "unassigned"
        items.append(item.model_copy(update={"owner": owner, "cites": cited(item.text)}))
    questions = []
    for question in draft.open_questions:
        # a model's questions are its words too; the offline drafter's are fixed text
        why = (
            [] if draft.drafter == "offline" else question_problems(question, timeline, vocabulary)
        )
        if why:
            removed.append(
                RemovedClaim(text=question, section="Open questions", why="; ".join(why))
            )
        else:
            questions.append(question)
    return draft.model_copy(
        update={
            "sections": sections,
            "action_items": items,
            "open_questions": questions,
            "removed": removed,
        }
    )


def _with_cites(claim: Claim) -> Claim:
    return claim.model_copy(update={"cites": list(dict.fromkeys(cited(claim.text)))})
