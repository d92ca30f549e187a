"""A draft written by the configured model (through litellm, by the service's gateway):
the timeline goes in as untrusted JSON with ``prompts/postmortem.j2``; the answer is read
as JSON and then goes through the same grounding check as every draft.

A model answer that is not the JSON asked for does not fail the request: the offline
drafter writes the draft and says why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from copilot.domain.incidents import ActionItem, Claim, PostmortemDraft, RemovedClaim, Timeline
from copilot.postmortem import offline
from copilot.postmortem.sections import SECTIONS

Complete = Callable[[list[dict[str, Any]]], str]
MAX_EVENTS = 400  # the newest are kept; the draft says how many it saw


class _Answer(BaseModel):
    sections: dict[str, list[Claim]] = Field(default_factory=dict)
    action_items: list[ActionItem] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)


def messages(tl: Timeline, render: Callable[..., str]) -> list[dict[str, Any]]:
    events = [
        {"id": e.id, "at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "text": e.text}
        for e in tl.events[-MAX_EVENTS:]
    ]
    prompt = render("postmortem.j2", incident=tl.incident, events=events, sections=SECTIONS)
    return [
        {"role": "system", "content": prompt},
        {"role": "user", "content": f"Draft the postmortem of {tl.incident.id}."},
    ]


def _json(content: str) -> Any:
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", content, re.DOTALL)
    raw = fenced.group(1) if fenced else content[content.find("{") : content.rfind("}") + 1]
    return json.loads(raw)


def draft(
    tl: Timeline, complete: Complete, render: Callable[..., str], model: str
) -> PostmortemDraft:
    content = complete(messages(tl, render))
    try:
        answer = _Answer.model_validate(_json(content))
    except (ValueError, ValidationError):
        fallback = offline.draft(tl)
        note = f"The model ({model}) did not answer with the JSON asked for; drafted offline."
        return fallback.model_copy(update={"open_questions": [note, *fallback.open_questions]})
    sections = {name: list(answer.sections.get(name, [])) for name in SECTIONS}
    unknown = [name for name in answer.sections if name not in SECTIONS]
    removed = [  # a section of the model's own invention is not the template's
        RemovedClaim(text=c.text, section=name, why="not a section of the template")
        for name in unknown
        for c in answer.sections[name]
    ]
    return PostmortemDraft(
        incident=tl.incident.id,
        title=tl.incident.title,
        sections=sections,
        action_items=answer.action_items,
        open_questions=answer.open_questions,
        removed=removed,
        drafter=model,
        events=len(tl.events),
    )
