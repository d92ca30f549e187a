"""A command's outcome as its exit status: a run that ended *failed* or *unknown*, or a
read that failed, is an error for a script even though the command itself worked.

Each check is called after the outcome was printed (or its JSON), so the output stays
whole and the last line on stderr says what went wrong and what to do."""

from __future__ import annotations

from copilot.domain import ApprovalState, Card, ExecutionOutcome, Reply, Risk
from copilot.surfaces.cli.errors import ReadFailed, RunFailed, RunOutcomeUnknown


def check_execution(ran: ExecutionOutcome, risk: Risk) -> None:
    """Raise unless the run succeeded."""
    _check(ran.status, ran.tool, ran.approval_id, ran.error, risk)


def check_reply(reply: Reply, approval_id: str | None = None) -> None:
    """Raise for a card of ``reply`` whose run failed or ended unknown (only the card
    ``approval_id`` names, when given); a run outside any conversation by its outcome."""
    if reply.execution is not None:
        card = _card(reply, reply.execution.approval_id)
        check_execution(reply.execution, card.risk if card else Risk.LOW)
        return
    cards = [c for c in reply.cards if approval_id is None or _named(c, approval_id)]
    for card in cards:
        _check(card.state, card.tool, card.approval_id, card.error, card.risk)
        if approval_id is not None and card.state is ApprovalState.APPROVED:
            # The quorum is complete and the conversation went on to run the call, but it
            # did not run (the plan changed, the resource was busy, ...): the reply says why.
            raise RunFailed(
                f"{card.tool} ({card.approval_id}) was approved but did not run (see the reply)",
                f"if the cause has passed, `copilot execute {card.approval_id} --as <you>`; "
                "else propose the call again",
            )


def _check(
    state: ApprovalState, tool: str, approval_id: str, error: str | None, risk: Risk
) -> None:
    why = f": {error}" if error else ""
    if state not in (ApprovalState.FAILED, ApprovalState.UNKNOWN):
        return
    if risk is Risk.READ:
        raise ReadFailed(
            f"the read {tool} ({approval_id}) failed{why}",
            "check its arguments and the system it reads; nothing was changed",
        )
    if state is ApprovalState.UNKNOWN:
        raise RunOutcomeUnknown(
            f"{tool} ({approval_id}) ended unknown{why}",
            "it may have taken effect: look at the system, then record what happened with "
            f"`copilot reconcile {approval_id} --outcome succeeded|failed --note ... --as <you>`",
        )
    raise RunFailed(
        f"{tool} ({approval_id}) failed{why}",
        "the tool applied nothing; fix the cause, then propose the call again",
    )


def _named(card: Card, approval_id: str) -> bool:
    return approval_id in (card.approval_id, card.proposal_id)


def _card(reply: Reply, approval_id: str) -> Card | None:
    return next((c for c in reply.cards if _named(c, approval_id)), None)
