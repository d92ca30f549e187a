"""Conversations: a message starts or resumes the agent; a decision on a card is recorded
at the door first (policy, two-person rule) and resumes the conversation waiting on it
only when its approval ended: the quorum is complete, or it was rejected.

A conversation is one checkpointed graph thread (``copilot.agent.graph``): a message either
starts a run or, while cards are pending, resumes the waiting one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from copilot.agent.events import DecisionEvent, MessageEvent
from copilot.agent.state import AgentState, TurnInput
from copilot.domain import Approval, ApprovalState, Principal, Reply
from copilot.errors import InvalidInput, RateLimited, ResourceBusy
from copilot.service.history import History, TurnLocks
from copilot.service.outbound import check_conversation_id, errors_redacted, inbound, outbound
from copilot.service.wiring import Parts

MAX_MESSAGE_CHARS = 4000
# Checkpoint when a run pauses for approval or ends, not after every step: a turn is a few
# hundred milliseconds, the card it produces is already in the store, and a crash mid-turn
# loses only that turn (ask again). A pending card is always checkpointed before it is shown.
DURABILITY = "exit"


class Conversations(History):
    _parts: Parts
    _turns: TurnLocks

    if TYPE_CHECKING:  # Incidents: a person acted (the first time counts for MTTA)

        def note_human(self, conversation: str, principal: Principal) -> None: ...

    @outbound
    def handle_message(self, principal: Principal, conversation: str, text: str) -> Reply:
        """What the copilot says (and proposes) to ``text`` in ``conversation``. The text
        is redacted first: the agent, the model and the checkpoint see only placeholders."""
        text = text.strip()
        if not text:
            raise InvalidInput("the message is empty", "say what is going on, or ask a question")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidInput(
                f"the message has {len(text)} characters (at most {MAX_MESSAGE_CHARS})",
                "summarise it; paste long logs as a file or point at them",
            )
        _check_conversation(conversation)
        check_conversation_id(self._parts, conversation)
        text = inbound(self._parts, text)
        config = _config(conversation)
        from langgraph.types import Command

        with self._turns.hold(conversation):
            self._record(conversation, principal.id, "user", text)
            self.note_human(conversation, principal)
            if self._waiting(config):
                event = MessageEvent(text=text, principal=principal)
                values = self._invoke(Command(resume=event.model_dump(mode="json")), config)
            else:
                start = TurnInput(conversation=conversation, principal=principal, request=text)
                values = self._invoke(start.model_dump(mode="json"), config)
            reply = self._reply(conversation, values)
            self._record_reply(reply, values)
        return reply

    @outbound
    def decide(
        self,
        approval_id: str,
        principal: Principal,
        verdict: str,
        *,
        reason: str = "",
        break_glass: bool = False,
    ) -> Reply:
        """Approve or reject a card as ``principal``. A completed quorum runs the call: in
        its conversation (which then verifies it) or, for a card no conversation waits on,
        here. The reason is redacted before it is recorded."""
        if break_glass and not reason.strip():
            raise InvalidInput("break-glass needs a reason", "say why this is an emergency")
        reason = inbound(self._parts, reason) if reason else reason
        door = self._parts.door
        conversation = door.card(approval_id, principal.id).conversation
        if not conversation:
            return self._decide(approval_id, principal, verdict, reason, break_glass)[0]
        with self._turns.hold(conversation):
            shown = {f.get("call") for f in self._thread_values(conversation).get("facts", [])}
            reply, values = self._decide(approval_id, principal, verdict, reason, break_glass)
            # only reads this decision caused (verify's) go with its reply
            fresh = [f for f in values.get("facts") or [] if f.get("call") not in shown]
            values = {**values, "facts": fresh}
            said = f"{principal.id} {'approved' if verdict == 'approve' else 'rejected'}"
            card = reply.cards[0] if reply.cards else None
            if card is not None:
                said += f" {card.tool} ({card.approval_id})"
            if reason:
                said += f": {reason}"
            ids = [c.approval_id for c in reply.cards]
            self._record(conversation, principal.id, "event", said, cards=ids[:1])
            self.note_human(conversation, principal)
            if reply.text and reply.conversation:
                self._record_reply(reply, values)
        return reply

    def _decide(
        self, approval_id: str, principal: Principal, verdict: str, reason: str, brk: bool
    ) -> tuple[Reply, dict[str, Any]]:
        """The vote, and the reply with the values of the run it resumed (if any)."""
        door = self._parts.door
        approval = door.approvals.vote(
            approval_id, principal, verdict, reason=reason, break_glass=brk
        )
        card = door.card(approval.id, principal.id)
        conversation = card.conversation
        config = _config(conversation) if conversation else None
        waiting = config is not None and approval.id in self._pending(config)
        if approval.state is ApprovalState.PROPOSED:  # the quorum is not complete yet
            text = (
                f"{principal.id} approved {approval.id} ({card.approvals} approval(s) so far); "
                f"it still needs {approval.required}."
            )
            if verdict == "approve" and door.approvals.held_by_freeze(approval.id):
                # The vote counts: once the freeze lifts, the call runs on the votes it has.
                text = (
                    f"{principal.id}'s approval of {approval.id} is recorded; nothing can run "
                    "while the freeze holds (break-glass: an admin may approve with "
                    "--break-glass and a reason). When it lifts, the recorded votes still "
                    f"count: run `copilot execute {approval.id}`, or approve again."
                )
            pending = self._pending(config) if config is not None else []
            reply = Reply(conversation=conversation or "", text=text, cards=[card], pending=pending)
            return reply, {}
        if not waiting or config is None or conversation is None:
            return self._outside_conversation(approval, principal), {}
        event = DecisionEvent(
            approval_id=approval.id,
            verdict="approve" if approval.state is ApprovalState.APPROVED else "reject",
            state=approval.state,
            principal=principal,
        )
        from langgraph.types import Command

        values = self._invoke(Command(resume=event.model_dump(mode="json")), config)
        return self._reply(conversation, values, focus=approval.id), values

    @errors_redacted
    def waiting_on(self, approval_id: str) -> bool:
        """Whether a conversation waits on this card (then ``decide`` resumes it)."""
        card = self._parts.door.card(approval_id, "service")
        if not card.conversation:
            return False
        return card.approval_id in self._pending(_config(card.conversation))

    # -- helpers --------------------------------------------------------------------------
    def _invoke(self, payload: Any, config: dict[str, Any]) -> dict[str, Any]:
        parts = self._parts
        values: dict[str, Any] = parts.graph.invoke(
            payload, config, context=parts.agent, durability=DURABILITY
        )
        return values

    def _waiting(self, config: dict[str, Any]) -> bool:
        return "await_approval" in (self._parts.graph.get_state(config).next or ())

    def _pending(self, config: dict[str, Any]) -> list[str]:
        if not self._waiting(config):
            return []
        return list(self._parts.graph.get_state(config).values.get("pending", []))

    def _record_reply(self, reply: Reply, values: dict[str, Any]) -> None:
        ids = [c.approval_id for c in reply.cards]
        self._record(
            reply.conversation,
            "copilot",
            "copilot",
            reply.text,
            cards=ids,
            facts=list(values.get("facts") or []),
        )

    def _outside_conversation(self, approval: Approval, principal: Principal) -> Reply:
        """A decided card no conversation waits on (``copilot call``): run it here."""
        door = self._parts.door
        if approval.state is not ApprovalState.APPROVED:
            card = door.card(approval.id, principal.id)
            text = f"{approval.id} is {approval.state.value}: nothing ran"
            return Reply(conversation="", text=text, cards=[card])
        try:
            out = door.executor.execute(approval.id, principal)
        except (ResourceBusy, RateLimited) as err:
            raise type(err)(
                f"approval recorded, but the call cannot run yet: {err.message}",
                f"run `copilot execute {approval.id} --as {principal.id}` later",
            ) from None
        text = f"{out.tool} ({approval.id}) {out.status.value}"
        if out.error:
            text += f": {out.error}"
        card = door.card(approval.id, principal.id)
        return Reply(conversation="", text=text, cards=[card], execution=out)

    def _reply(self, conversation: str, values: dict[str, Any], *, focus: str = "") -> Reply:
        """The reply from a run's final values (``invoke`` returns them, with
        ``__interrupt__`` when the run paused for approval). Cards are read from the store."""
        state = AgentState.model_validate(values)
        pending = list(state.pending) if "__interrupt__" in values else []
        shown = [
            ref.approval_id
            for ref in state.cards
            if ref.approval_id in pending or ref.approval_id == focus
        ]
        verified = {ref.approval_id: ref.verified for ref in state.cards}
        cards = self._parts.door.cards_of(shown, verified)
        return Reply(
            conversation=conversation,
            text=state.reply,
            cards=cards,
            pending=pending,
            usage=state.usage.model_dump(),
        )


def _config(conversation: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": conversation}}


def _check_conversation(conversation: str) -> None:
    if not conversation or len(conversation) > 200 or not conversation.isprintable():
        raise InvalidInput(
            "a conversation id must be 1-200 printable characters",
            "use the channel or thread id, or let the CLI pick one",
        )
