"""Cards and replies as Block Kit: the same content as the web card, cut at Slack's limits
(with a link to the whole card on the web) so Slack never refuses a message.

Built with ``slack_sdk.models.blocks`` so every block is checked against Slack's rules as it
is made. Text from people, runbooks and tools is escaped for mrkdwn (``&``, ``<``, ``>``):
a ``<!channel>`` in an argument is shown, never sent as a mention. What the service returns
is already redacted; buttons carry only the approval id.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from copilot.domain import Card, Reply
from copilot.surfaces import card_words as words

# Slack's limits (api.slack.com/reference/block-kit): what a message may hold.
MAX_BLOCKS = 50
HEADER_CHARS = 150
SECTION_CHARS = 3000
FIELD_CHARS = 2000
MAX_FIELDS = 10
CONTEXT_CHARS = 2000
MAX_CONTEXT_ELEMENTS = 10
CONFIRM_TEXT_CHARS = 300
FALLBACK_CHARS = 3000  # the notification text; Slack cuts long ones itself, we cut first
CONFIRM_RISKS = frozenset({"high", "critical"})
APPROVE, REJECT = "copilot_approve", "copilot_reject"


def escape(text: str) -> str:
    """Text shown as it is in mrkdwn: Slack's three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int, more: str = "") -> str:
    """``text`` within ``limit`` characters, ending with ``more`` (a link to the rest)
    when it had to be cut."""
    if len(text) <= limit:
        return text
    tail = f"… {more}" if more else "…"
    return text[: max(0, limit - len(tail))] + tail


def card_url(web_url: str | None, card: Card) -> str | None:
    if not web_url or not card.conversation:
        return None
    return f"{web_url.rstrip('/')}/c/{card.conversation}#card-{card.approval_id}"


def _more(url: str | None) -> str:
    return f"<{url}|the whole card on the web>" if url else "(cut)"


def card_blocks(card: Card, *, web_url: str | None = None) -> list[Block]:
    """One card: what and why, arguments, plan, who must approve and how many so far,
    provenance, expiry, its steps, and Approve / Reject while it waits."""
    url = card_url(web_url, card)
    more = _more(url)
    state = card.state.value
    out: list[Block] = [
        HeaderBlock(
            text=PlainTextObject(
                # the state first: "rotate_secret: waiting" would read as a password
                # assignment to the redactor on the way out, and be hidden
                text=cut(f"{_said(state).capitalize()}: {card.tool}", HEADER_CHARS)
            )
        ),
        SectionBlock(
            text=MarkdownTextObject(text=cut(escape(words.headline(card)), SECTION_CHARS, more))
        ),
    ]
    rows = words.argument_rows(card)
    if rows:
        shown = rows[:MAX_FIELDS]
        fields = [
            MarkdownTextObject(text=cut(f"*{escape(name)}*\n`{escape(value)}`", FIELD_CHARS, more))
            for name, value in shown
        ]
        out.append(SectionBlock(fields=fields))
        if len(rows) > MAX_FIELDS:
            rest = len(rows) - MAX_FIELDS
            out.append(_context([f"{rest} more argument{'s' if rest > 1 else ''}: {more}"]))
    if card.plan:
        out.append(_plan(escape(card.plan), more))
    out.append(_context(_facts_line(card)))
    out.append(_context([" → ".join(escape(s.what) for s in words.steps(card))]))
    if card.error:
        out.append(
            SectionBlock(
                text=MarkdownTextObject(text=cut(f":x: {escape(card.error)}", SECTION_CHARS, more))
            )
        )
    if state == "proposed":
        out.append(_buttons(card, url))
    elif url:
        out.append(
            ActionsBlock(
                elements=[ButtonElement(text="Open on the web", url=url, action_id="copilot_open")]
            )
        )
    return out


def _said(state: str) -> str:
    return words.STATE_WORDS.get(state, state)


def _plan(plan: str, more: str) -> SectionBlock:
    """The plan in a code block; cut, the link to the rest goes after it (a link inside
    a code block is not a link)."""
    head, fence = "*Dry-run plan*\n", "```"
    after = f"\n… {more}"
    room = SECTION_CHARS - len(head) - 2 * len(fence) - len(after)
    if len(plan) > room:
        return SectionBlock(
            text=MarkdownTextObject(text=f"{head}{fence}{plan[:room]}{fence}{after}")
        )
    return SectionBlock(text=MarkdownTextObject(text=f"{head}{fence}{plan}{fence}"))


def _facts_line(card: Card) -> list[str]:
    state = card.state.value
    line = [f"risk: *{escape(card.risk.value)}*", f"needs {escape(card.required)}"]
    if state == "proposed":
        line.append(f"*{card.approvals} of {words.needed(card)}* so far")
        line.append(f"expires {words.utc(card.expires_at)}")
    prov = card.provenance
    if prov.get("runbook"):
        line.append(f"runbook `{escape(str(prov['runbook']))}`")
    elif prov.get("by") != "agent":
        line.append(f"asked by {escape(card.requester)}")
    if prov.get("facts"):
        line.append("facts " + ", ".join(escape(str(f)) for f in prov["facts"]))
    line.append(f"`{card.approval_id}`")
    return line


def _context(texts: list[str]) -> ContextBlock:
    shown = [t for t in texts if t][:MAX_CONTEXT_ELEMENTS]
    joined = " · ".join(shown)
    return ContextBlock(elements=[MarkdownTextObject(text=cut(joined, CONTEXT_CHARS))])


def _buttons(card: Card, url: str | None) -> ActionsBlock:
    confirm = None
    if card.risk.value in CONFIRM_RISKS:
        confirm = ConfirmObject(
            title="Approve this change?",
            text=cut(
                f"{card.tool} is {card.risk.value} risk. {card.required}.", CONFIRM_TEXT_CHARS
            ),
            confirm="Approve",
            deny="Not yet",
        )
    elements = [
        ButtonElement(
            text="Approve",
            action_id=APPROVE,
            value=card.approval_id,
            style="primary",
            confirm=confirm,
        ),
        ButtonElement(text="Reject", action_id=REJECT, value=card.approval_id, style="danger"),
    ]
    if url:
        elements.append(ButtonElement(text="Open on the web", url=url, action_id="copilot_open"))
    return ActionsBlock(elements=elements)


def reply_blocks(reply: Reply, *, web_url: str | None = None) -> list[Block]:
    """The copilot's words, then each card the reply is about, within 50 blocks."""
    out: list[Block] = []
    if reply.text:
        out.append(
            SectionBlock(
                text=MarkdownTextObject(text=cut(escape(reply.text), SECTION_CHARS, _more(web_url)))
            )
        )
    for card in reply.cards:
        blocks = [DividerBlock(), *card_blocks(card, web_url=web_url)]
        if len(out) + len(blocks) > MAX_BLOCKS - 1:
            left = len(reply.cards) - reply.cards.index(card)
            out.append(_context([f"{left} more card{'s' if left > 1 else ''}: {_more(web_url)}"]))
            break
        out.extend(blocks)
    return out


def fallback_text(reply: Reply) -> str:
    """The notification text that goes with the blocks (screen readers and previews)."""
    return cut(reply.text or "the copilot replied", FALLBACK_CHARS)


def looking_blocks() -> list[Block]:
    """What is posted at once, before the turn runs; replaced by the answer."""
    return [ContextBlock(elements=[MarkdownTextObject(text=":hourglass_flowing_sand: looking…")])]


def as_json(blocks: list[Block]) -> list[dict[str, Any]]:
    """The blocks as Slack's API takes them, each validated against Slack's rules."""
    out = []
    for block in blocks:
        block.validate_json()
        out.append(block.to_dict())
    json.dumps(out)  # everything in them is JSON
    return out
