"""What a model is shown on one turn: the contract between the agent, the prompts and models.

The agent fills a :class:`PlannerContext`; ``prompts/`` renders it into OpenAI-format
messages in which everything that came from outside the copilot (the request, runbooks,
tool results, chat history) sits inside ``<untrusted kind="...">`` blocks as JSON; the tools
the requester could be allowed to propose go in the request's ``tools`` parameter. Any model
reads those messages; the offline planner parses the very same blocks back
(:func:`untrusted_json` / :func:`parse_untrusted`), so it sees nothing a hosted model would not.

Untrusted text can never close its block: the JSON inside is written with ``<``, ``>`` and
``&`` escaped (``\\u003c`` ...), so no string in a log line or runbook can forge a block
boundary or an instruction outside one.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from copilot.domain.views import ActionView, FactView, HistoryTurn, RunbookView


class PlannerContext(BaseModel):
    """Everything one ``propose`` round shows a model."""

    request: str
    requester: str
    now: datetime
    environment: str = "prod"
    runbooks: list[RunbookView] = Field(default_factory=list)
    # Retrieval abstained: no runbook covers the request (then ``runbooks`` may still hold
    # the nearest ones, for reference only).
    no_runbook: bool = False
    no_runbook_reason: str = ""
    facts: list[FactView] = Field(default_factory=list)
    history: list[HistoryTurn] = Field(default_factory=list)
    actions: list[ActionView] = Field(default_factory=list)
    # Set on a repair round: why the previous tool calls were rejected.
    repair: str | None = None
    round: int = 1
    max_rounds: int = 3


# -- the block format, shared by the prompt templates and the offline planner ---------------
_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}
_BLOCK = re.compile(r'<untrusted kind="([a-z_]+)"[^>]*>\n(.*?)\n</untrusted>', re.DOTALL)


def untrusted_json(value: Any) -> str:
    """JSON for inside an untrusted block: nothing in it can close the block."""
    text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=False, indent=None)
    return re.sub(r"[<>&]", lambda m: _ESCAPES[m.group(0)], text)


def parse_untrusted(text: str) -> dict[str, Any]:
    """The JSON of every untrusted block in ``text``, by kind (later blocks win)."""
    out: dict[str, Any] = {}
    for kind, body in _BLOCK.findall(text):
        try:
            out[kind] = json.loads(body)
        except ValueError:
            continue
    return out


# -- provenance: which runbook chunk and which facts a proposed call came from ---------------
class Citation(BaseModel):
    """Where the ``call``-th tool call of an assistant message (1-based) came from.

    A tool's arguments take no extra fields, so a model cites in its message content, in
    one ``<provenance>`` block holding a JSON list of these (see ``prompts/partials``).
    """

    model_config = ConfigDict(extra="ignore")

    call: int = Field(ge=1)
    tool: str = ""
    runbook: str | None = None  # a RunbookView.chunk_id
    step: int | None = None  # the playbook step it follows, 1-based
    facts: list[str] = Field(default_factory=list)  # FactView ids
    why: str = ""
    # the requester asked for this call in so many words (not a runbook's step)
    asked: bool = False

    def against(self, ctx: PlannerContext) -> Citation:
        """A copy citing only chunks and facts this context really showed the model."""
        chunks = {r.chunk_id for r in ctx.runbooks}
        known = {f.id for f in ctx.facts}
        return self.model_copy(
            update={
                "runbook": self.runbook if self.runbook in chunks else None,
                "facts": [f for f in self.facts if f in known],
            }
        )


_PROVENANCE = re.compile(r"<provenance>\s*(.*?)\s*</provenance>", re.DOTALL)


def format_provenance(citations: list[Citation]) -> str:
    """The block a model appends to its message content after its tool calls."""
    body = untrusted_json([c.model_dump(exclude_none=True) for c in citations])
    return f"<provenance>\n{body}\n</provenance>"


def parse_provenance(content: str | None) -> tuple[str, list[Citation]]:
    """The message text without provenance blocks, and the citations they held (entries
    that are not valid citations are dropped; a missing block means none)."""
    if not content:
        return "", []
    citations: list[Citation] = []
    for body in _PROVENANCE.findall(content):
        try:
            raw = json.loads(body)
        except ValueError:
            continue
        for item in raw if isinstance(raw, list) else [raw]:
            try:
                citations.append(Citation.model_validate(item))
            except ValueError:
                continue
    return _PROVENANCE.sub("", content).strip(), citations
