"""Redaction where text crosses the service boundary, in and out.

In: what a person types (a message, a reason, a note, a search) is redacted before the
agent, the model, the checkpoint or the store see it (:func:`inbound`); a conversation id
holding a secret is refused, since it names a checkpoint thread and cannot be rewritten.

Out: every public method's return value, and every ``CopilotError`` it raises, passes the
redactor once more (:func:`outbound`, :func:`errors_redacted`). Inputs are redacted on the
way in and the door redacts what tools return, but a reply may still quote what a person
typed elsewhere (an alert name, an id, a tool name in an error): this last pass means no
path can echo it in clear. Identities and the ids the system mints are kept as they are:
they say who and what, and a redacted one would name nothing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from pydantic import BaseModel

from copilot.errors import CopilotError, InvalidInput

if TYPE_CHECKING:
    from copilot.redact.engine import Redactor
    from copilot.service.wiring import Parts

# Fields never rewritten on the way out: minted ids, hashes, identities.
KEPT_FIELDS = frozenset(
    {
        "id",
        "approval_id",
        "proposal_id",
        "conversation",
        "pending",
        "args_hash",
        "plan_hash",
        "requester",
        "approver",
        "principal",
    }
)

P = ParamSpec("P")
R = TypeVar("R")


class _HasParts(Protocol):
    _parts: Parts


S = TypeVar("S", bound=_HasParts)


def scrub(value: Any, redactor: Redactor) -> Any:
    """``value`` with every string redacted (inside models, dicts and lists), except the
    fields in ``KEPT_FIELDS``; unchanged objects are returned as they are."""
    if isinstance(value, BaseModel):
        changed = {}
        for name in type(value).model_fields:
            if name in KEPT_FIELDS:
                continue
            old = getattr(value, name)
            new = scrub(old, redactor)
            if new is not old:
                changed[name] = new
        return value.model_copy(update=changed) if changed else value
    if isinstance(value, Enum):  # a StrEnum is a str, and no secret
        return value
    if isinstance(value, str):
        done = redactor.text(value)
        return value if done == value else done
    if isinstance(value, dict):
        items = [(scrub(k, redactor), scrub(v, redactor)) for k, v in value.items()]
        if all(a is k and b is v for (a, b), (k, v) in zip(items, value.items(), strict=True)):
            return value
        return dict(items)
    if isinstance(value, list | tuple):
        out = [scrub(v, redactor) for v in value]
        if all(a is b for a, b in zip(out, value, strict=True)):
            return value
        return type(value)(out)
    return value


def outbound(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """The method's result and errors, redacted (see the module's docstring)."""

    @functools.wraps(method)
    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = method(self, *args, **kwargs)
        except CopilotError as err:
            err.redact_with(self._parts.redactor.text)
            raise
        scrubbed: R = scrub(result, self._parts.redactor)
        return scrubbed

    return wrapper


def errors_redacted(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """The method's errors redacted; its result holds nothing a person typed (a tool's
    schema, counts), and leaving it alone keeps ``tools list`` from loading the rules."""

    @functools.wraps(method)
    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except CopilotError as err:
            err.redact_with(self._parts.redactor.text)
            raise

    return wrapper


def inbound(parts: Parts, text: str) -> str:
    """What a person typed, with its secrets replaced by placeholders."""
    return parts.redactor.text(text)


def check_conversation_id(parts: Parts, conversation: str) -> None:
    """A conversation id names a checkpoint thread: one holding a secret is refused, not
    rewritten (a rewritten id would name another thread in the next process). Each of its
    words is read on its own too: the rules want a token to stand alone, and in an id
    (``inc-AKIA...``) a separator is no sign that the token goes on."""
    words = [re.sub(apart, " ", conversation) for apart in (r"\W+", r"[^A-Za-z0-9]+")]
    found = [f for text in (conversation, *words) for f in parts.redactor.find(text)]
    if any(rule.kind == "secret" for _, _, rule in found):
        raise InvalidInput(
            "the conversation id looks like it holds a secret",
            "use the channel or thread id, or let the CLI pick one",
        )
