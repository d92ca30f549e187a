"""What a card shows, in words, on every surface (the web page, Slack): the state line,
the steps so far, the headline. Plain functions over domain models."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from copilot.domain import Card

STATE_WORDS = {
    "proposed": "waiting for approval",
    "approved": "approved, about to run",
    "executing": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "unknown": "outcome unknown: reconcile it",
    "rejected": "rejected",
    "expired": "expired",
    "cancelled": "withdrawn",
}


class Step(BaseModel):
    """One thing that happened to a card, for its progress list."""

    what: str
    at: datetime | None = None
    tone: str = ""  # ok | bad | wait | ""


def utc(moment: datetime | None) -> str:
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def hhmm(moment: datetime | None) -> str:
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%H:%M:%S")


def needed(card: Card) -> int:
    """How many approvals the smallest quorum has ("2 approvals: sre + oncall-lead", as
    the policy engine words it); at least one."""
    found = re.match(r"(\d+) approvals?\b", card.required)
    return int(found.group(1)) if found else 1


def steps(card: Card) -> list[Step]:
    """The card's story from its records: proposed, each vote, running, the outcome, and
    what verify found. Shown whole, so a change too quick to watch still shows each step."""
    out = [Step(what=f"proposed by {card.requester}", at=card.created_at)]
    total = needed(card)
    count = 0
    for vote in card.votes:
        if vote.verdict == "approve":
            count += 1
            out.append(Step(what=f"approved by {vote.approver} ({count} of {total})", at=vote.at))
        else:
            out.append(Step(what=f"{vote.verdict} by {vote.approver}", at=vote.at, tone="bad"))
    state = card.state.value
    if state in ("executing", "succeeded", "failed", "unknown") or card.result is not None:
        out.append(Step(what="running", tone="wait" if state == "executing" else ""))
    if state in ("succeeded", "failed", "unknown", "rejected", "expired", "cancelled"):
        tone = "ok" if state == "succeeded" else "bad"
        out.append(Step(what=STATE_WORDS[state], tone=tone))
    if card.verified is True:
        out.append(Step(what="verified: recovered", tone="ok"))
    elif card.verified is False:
        out.append(Step(what="verified: NOT recovered", tone="bad"))
    return out


def headline(card: Card) -> str:
    """What and why in one line."""
    why = str(card.provenance.get("why") or "").strip()
    args = ", ".join(f"{k}={v}" for k, v in card.arguments.items() if v is not None)
    what = f"{card.tool}({args})"
    if why:
        return f"{what}: {why}"
    runbook = card.provenance.get("runbook")
    if runbook:
        return f"{what}, from runbook {runbook}"
    if card.provenance.get("by") == "agent":
        return what
    return f"{what}, asked by {card.requester}"


def fingerprint(card: Card) -> tuple[Any, ...]:
    """What a live page must redraw a card for when it changes."""
    return (
        card.state.value,
        tuple((v.approver, v.verdict) for v in card.votes),
        card.verified,
        card.error,
        card.result is not None,
    )


def argument_rows(card: Card) -> list[tuple[str, str]]:
    import json

    rows = []
    for name, value in card.arguments.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        rows.append((name, text))
    return rows


def pretty(value: Any) -> str:
    """JSON for people to read (the template escapes it as text; Jinja's ``tojson`` would
    show ``<`` as ``\\u003c``, which is for scripts, not eyes)."""
    import json

    return json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True, default=str)
