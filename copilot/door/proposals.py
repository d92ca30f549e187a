"""Proposing a call: validate, ask policy, dry-run, and record it with its approval record."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from copilot.canonical import call_hash, canonical_hash
from copilot.domain import Approval, ApprovalState, Principal, Proposal, ProposalOutcome
from copilot.door.credentials import assignments, credential_arguments
from copilot.door.deps import DoorDeps
from copilot.door.transition import create
from copilot.errors import CopilotError, InvalidInput
from copilot.ids import new_id
from copilot.telemetry import tracer
from copilot.toolkit import ToolSpec

# A name quoted back in a refusal: only when it looks like a name (nothing typed at length).
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class Proposer:
    """Turns a request for a typed tool call into a proposal waiting for its approvers."""

    def __init__(self, deps: DoorDeps) -> None:
        self.deps = deps

    def propose(
        self,
        who: Principal,
        tool_name: str,
        arguments: dict[str, Any],
        *,
        conversation: str | None = None,
        provenance: dict[str, Any] | None = None,
    ) -> ProposalOutcome:
        """Validate, ask policy, dry-run, and record a proposal with its approval record."""
        attributes = {"copilot.tool": tool_name, "copilot.principal": who.id}
        with tracer().start_as_current_span("copilot.propose", attributes=attributes) as span:
            outcome = self._propose(who, tool_name, arguments, conversation, provenance)
            span.set_attribute("copilot.approval_id", outcome.approval.id)
            span.set_attribute("copilot.auto", outcome.runs_without_approval)
            return outcome

    def _propose(
        self,
        who: Principal,
        tool_name: str,
        arguments: dict[str, Any],
        conversation: str | None,
        provenance: dict[str, Any] | None,
    ) -> ProposalOutcome:
        try:
            spec = self.deps.registry.get(tool_name)
            args = spec.validate(arguments)
        except InvalidInput as err:
            raise self.deps.refuse(who.id, tool_name, err) from None
        decision = self.deps.require(
            "propose",
            who.id,
            spec.name,
            self.deps.context(is_requester=True),
            subject=spec.name,
            denied=f"{who.id} may not propose {spec.name}",
            hint="ask someone with a suitable role",
        )
        clean = args.model_dump(mode="json")
        self._refuse_secrets(who, spec, clean)
        plan = self._plan(who, spec, args)
        try:
            args_hash = call_hash(spec.name, clean)
            plan_hash = None if plan is None else canonical_hash(plan)
        except (ValueError, TypeError, UnicodeError):
            # RFC 8785 refuses NaN, integers beyond 2^53 and lone surrogates: so do we.
            raise self.deps.refuse(
                who.id,
                spec.name,
                InvalidInput(
                    f"arguments for {spec.name} cannot be hashed canonically",
                    "use integers below 2^53, finite numbers and valid Unicode",
                ),
            ) from None
        now = self.deps.clock()
        auto = self.deps.policy.decide("execute", who.id, spec.name, self.deps.context()).allowed
        required = (
            "none"
            if auto
            else self.deps.policy.required_approvers(spec.name, who.id, self.deps.context())
        )
        proposal = Proposal(
            id=new_id("prp"),
            tool=spec.name,
            arguments=clean,
            args_hash=args_hash,
            plan=plan,
            plan_hash=plan_hash,
            risk=spec.risk,
            requester=who.id,
            environment=self.deps.settings.environment,
            conversation=conversation,
            provenance=provenance or {},
            created_at=now,
        )
        approval = Approval(
            id=new_id("apr"),
            proposal_id=proposal.id,
            state=ApprovalState.APPROVED if auto else ApprovalState.PROPOSED,
            args_hash=proposal.args_hash,
            plan_hash=proposal.plan_hash,
            requester=who.id,
            required=required,
            auto=auto,
            expires_at=now + timedelta(seconds=self.deps.settings.executor.approval_ttl_s),
            created_at=now,
            updated_at=now,
        )
        with self.deps.store.write() as conn:
            create(
                conn,
                self.deps.audit,
                proposal,
                approval,
                decision,
                data={
                    "proposal": proposal.id,
                    "tool": spec.name,
                    "arguments": clean,
                    "args_hash": proposal.args_hash,
                    "plan": plan,
                    "plan_hash": proposal.plan_hash,
                    "risk": spec.risk.value,
                    "required": required,
                    "auto": auto,
                    "conversation": conversation,
                    "provenance": provenance or {},
                },
            )
        return ProposalOutcome(
            proposal=proposal, approval=approval, decision=decision, runs_without_approval=auto
        )

    def _refuse_secrets(self, who: Principal, spec: ToolSpec, clean: dict[str, Any]) -> None:
        """Arguments are stored and shown to approvers: a secret in them is refused, never
        kept. An argument a name calls a credential must be a reference (``secret:NAME``,
        :mod:`copilot.door.credentials`); the rest is scanned by the redactor as JSON (so
        ``{"password": "..."}`` is seen as the pair it is) and as ``name=value`` lines."""
        for cred in credential_arguments(clean):
            named = cred.named_by if _NAME.fullmatch(cred.named_by) else cred.word
            raise self.deps.refuse(
                who.id,
                spec.name,
                InvalidInput(
                    f"the argument {cred.path!r} of {spec.name} would carry a credential "
                    f"({named!r} names a {cred.word}); the copilot never stores or shows "
                    "secrets",
                    f"keep the value in your secret store and pass {cred.path}=secret:NAME, "
                    "NAME being its name there (e.g. secret:payments-db-password)",
                ),
            )
        text = "\n".join((json.dumps(clean, ensure_ascii=False), *assignments(clean)))
        found = self.deps.redactor.find(text)
        rules = sorted({rule.id for _, _, rule in found if rule.kind == "secret"})
        if rules:
            raise self.deps.refuse(
                who.id,
                spec.name,
                InvalidInput(
                    f"the arguments for {spec.name} hold what looks like a secret "
                    f"({', '.join(rules)}); the copilot never stores or shows secrets",
                    "keep the value in your secret store and pass a reference to it instead"
                    " (secret:NAME, NAME being its name there)",
                ),
            )

    def _plan(self, who: Principal, spec: ToolSpec, args: Any) -> str | None:
        try:
            return self.deps.dry_run(spec, args, who.id)
        except CopilotError as err:
            raise self.deps.refuse(who.id, spec.name, err) from None
