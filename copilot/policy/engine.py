"""The Cedar engine: policies parsed once, entities built once, decisions with reasons.

Fail closed: a request whose evaluation reports any error is denied, because Cedar skips
an erroring policy, and a skipped ``forbid`` would otherwise turn into an allow.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations_with_replacement
from pathlib import Path

import cedarpy

from copilot.domain import Decision, Principal, Risk, Vote
from copilot.domain.models import UnapprovedWrite
from copilot.errors import ConfigError, InvalidInput
from copilot.policy.sources import DEFAULT_DIR, Statement, read_policies, read_schema
from copilot.settings import Settings, UserConfig
from copilot.toolkit import ToolSpec

NS = "Copilot"
# Stand-in users, one per role, for asking "could a member of this role approve?".
# Config users cannot use this prefix, so nobody can authenticate as one.
PROBE_PREFIX = "~role:"
# How warnings name the stand-in with no role at all, whose id is the bare prefix.
ANYONE = "anyone"


@dataclass(frozen=True)
class RequestContext:
    """What Cedar's ``context`` carries: environment, freeze, break-glass, approvals so far."""

    environment: str
    change_freeze: bool = False
    break_glass: bool = False
    is_requester: bool = False
    approval_count: int = 0
    approver_roles: frozenset[str] = field(default_factory=frozenset)

    def to_cedar(self) -> dict[str, object]:
        return {
            "environment": self.environment,
            "change_freeze": self.change_freeze,
            "break_glass": self.break_glass,
            "is_requester": self.is_requester,
            "approval_count": self.approval_count,
            "approver_roles": sorted(self.approver_roles),
        }


def _uid(kind: str, ident: str) -> dict[str, str]:
    return {"type": f"{NS}::{kind}", "id": ident}


class PolicyEngine:
    """Decides propose / approve / execute for a user on a tool, in a context."""

    def __init__(
        self,
        policy_text: str,
        statements: Sequence[Statement],
        schema_text: str,
        users: dict[str, UserConfig],
        role_parents: dict[str, list[str]],
        tools: Iterable[ToolSpec],
    ) -> None:
        self._policies = cedarpy.PolicySet.from_str(policy_text)
        self._schema = cedarpy.Schema.from_str(schema_text)
        self._validate(policy_text, statements, schema_text)
        self._labels = self._policy_labels(policy_text, statements)
        self.users = users
        self.role_parents = role_parents
        self._check_roles()
        self.tools = {t.name: t for t in tools}
        self._entities = cedarpy.Entities.from_json_str(
            json.dumps(self._entity_list()), self._schema
        )

    # -- construction -------------------------------------------------------------------
    def _validate(self, text: str, statements: Sequence[Statement], schema: str) -> None:
        result = cedarpy.validate_policies(text, schema)
        if result.validation_passed:
            return
        err = result.errors[0]
        where = "policies"
        if err.policy_id.startswith("policy") and err.policy_id[6:].isdigit():
            st = statements[int(err.policy_id[6:])]
            where = f"{st.path}:{st.line}"
        raise ConfigError(
            f"{where}: policy does not match the Cedar schema: {err.error}",
            "fix the policy or the schema; the copilot refuses to start until they agree",
        )

    @staticmethod
    def _policy_labels(text: str, statements: Sequence[Statement]) -> dict[str, tuple[str, str]]:
        """policyN → (@id or file:line, @reason or "")."""
        parsed = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
        labels = {}
        for pid, body in parsed.items():
            ann = body.get("annotations") or {}
            st = statements[int(pid[6:])]
            labels[pid] = (ann.get("id") or f"{st.path.name}:{st.line}", ann.get("reason") or "")
        return labels

    def _check_roles(self) -> None:
        for role, parents in self.role_parents.items():
            for p in parents:
                if p not in self.role_parents:
                    raise ConfigError(f"role {role!r} inherits unknown role {p!r}", "fix [roles]")
        for uid, user in self.users.items():
            if uid.startswith(PROBE_PREFIX):
                raise ConfigError(f"user id {uid!r} uses a reserved prefix", "rename the user")
            for r in user.roles:
                if r not in self.role_parents:
                    raise ConfigError(
                        f"user {uid!r} has unknown role {r!r}",
                        f"use one of {', '.join(self.role_parents)} or add it under [roles]",
                    )

    def _entity_list(self) -> list[dict[str, object]]:
        ents: list[dict[str, object]] = []
        for role, parents in self.role_parents.items():
            ents.append(
                {
                    "uid": _uid("Role", role),
                    "attrs": {},
                    "parents": [_uid("Role", p) for p in parents],
                }
            )
        for role in self.role_parents:
            ents.append(
                {
                    "uid": _uid("User", PROBE_PREFIX + role),
                    "attrs": {"display_name": f"any {role}"},
                    "parents": [_uid("Role", role)],
                }
            )
        for uid, user in self.users.items():
            ents.append(
                {
                    "uid": _uid("User", uid),
                    "attrs": {"display_name": user.display_name or uid},
                    "parents": [_uid("Role", r) for r in user.roles],
                }
            )
        for t in self.tools.values():
            ents.append(
                {
                    "uid": _uid("Tool", t.name),
                    "attrs": {
                        "risk": t.risk.value,
                        "risk_level": t.risk.level,
                        "pack": t.pack,
                        "side_effects": t.side_effects,
                        "idempotent": t.idempotent,
                    },
                    "parents": [],
                }
            )
        return ents

    # -- principals and roles -------------------------------------------------------------
    def principal(self, user_id: str, authenticated_by: str = "cli") -> Principal:
        user = self.users.get(user_id)
        if user is None and not self.users:
            raise ConfigError(
                "no users are configured",
                'add [users.NAME] roles = [...] to copilot.toml, or set users = "demo" '
                "(COPILOT_USERS=demo) for the demo's people",
            )
        if user is None:
            raise InvalidInput(
                f"unknown user {user_id!r}",
                f"use one of: {', '.join(sorted(self.users))} (users live in copilot.toml [users])",
            )
        return Principal(
            id=user_id,
            roles=tuple(sorted(self.role_closure(user.roles))),
            display_name=user.display_name or user_id,
            authenticated_by=authenticated_by,
        )

    def role_closure(self, roles: Iterable[str]) -> frozenset[str]:
        """The roles given plus every role they inherit."""
        seen: set[str] = set()
        todo = list(roles)
        while todo:
            r = todo.pop()
            if r not in seen:
                seen.add(r)
                todo.extend(self.role_parents.get(r, ()))
        return frozenset(seen)

    # -- decisions ---------------------------------------------------------------------
    def decide(self, action: str, user_id: str, tool: str, ctx: RequestContext) -> Decision:
        return self.decide_many([(action, user_id, tool, ctx)])[0]

    def decide_many(
        self, requests: Sequence[tuple[str, str, str, RequestContext]]
    ) -> list[Decision]:
        cedar_requests = [
            {
                "principal": _uid("User", user_id),
                "action": _uid("Action", action),
                "resource": _uid("Tool", tool),
                "context": ctx.to_cedar(),
            }
            for action, user_id, tool, ctx in requests
        ]
        try:
            results = cedarpy.is_authorized_batch(cedar_requests, self._policies, self._entities)
        except Exception as exc:  # fail closed on anything the engine raises
            return [
                Decision(
                    action=a,
                    principal=u,
                    resource=t,
                    allowed=False,
                    reason="policy could not be evaluated; denied",
                    errors=(type(exc).__name__,),
                )
                for a, u, t, _ in requests
            ]
        return [self._to_decision(req, res) for req, res in zip(requests, results, strict=True)]

    def _to_decision(
        self, req: tuple[str, str, str, RequestContext], res: cedarpy.AuthzResult
    ) -> Decision:
        action, user_id, tool, _ = req
        ids = tuple(self._labels.get(r, (r, ""))[0] for r in res.diagnostics.reasons)
        errors = tuple(res.diagnostics.errors)
        if errors:
            return Decision(
                action=action,
                principal=user_id,
                resource=tool,
                allowed=False,
                policy_ids=ids,
                errors=errors,
                reason="policy evaluation failed; denied (fail closed)",
            )
        if res.allowed:
            reasons = [self._labels[r][1] for r in res.diagnostics.reasons if r in self._labels]
            reason = "; ".join(r for r in reasons if r) or f"allowed by {', '.join(ids)}"
        elif ids:
            reasons = [self._labels[r][1] for r in res.diagnostics.reasons if r in self._labels]
            reason = "; ".join(r for r in reasons if r) or f"forbidden by {', '.join(ids)}"
        else:
            spec = self.tools.get(tool)
            risk = f" ({spec.risk.value} risk)" if spec else ""
            reason = f"no policy permits {user_id} to {action} {tool}{risk}"
        return Decision(
            action=action,
            principal=user_id,
            resource=tool,
            allowed=res.allowed,
            policy_ids=ids,
            reason=reason,
        )

    def counted_context(
        self, votes: Sequence[Vote], requester: str, tool: str, base: RequestContext
    ) -> RequestContext:
        """``base`` plus the approvals that still pass policy now (roles may have changed).

        Roles come from the current configuration, never from the vote record; a vote only
        contributes its break-glass mark, and that too must pass policy again.
        """
        counted: list[str] = []
        roles: set[str] = set()
        glass = False
        for v in votes:
            if v.verdict != "approve" or v.approver not in self.users:
                continue
            # A break-glass mark counts only while policy still lets this person declare it.
            vote_glass = (
                "break-glass" in v.roles
                and self.decide(
                    "break_glass",
                    v.approver,
                    tool,
                    replace(base, is_requester=v.approver == requester),
                ).allowed
            )
            ctx = replace(
                base,
                is_requester=v.approver == requester,
                break_glass=vote_glass,
                approval_count=len(counted),
            )
            if self.decide("approve", v.approver, tool, ctx).allowed:
                counted.append(v.approver)
                roles |= self.role_closure(self.users[v.approver].roles)
                glass = glass or vote_glass
        return replace(
            base, break_glass=glass, approval_count=len(counted), approver_roles=frozenset(roles)
        )

    def required_approvers(self, tool: str, requester: str, base: RequestContext) -> str:
        """Describe the smallest quorum policy accepts, by asking Cedar about candidate sets.

        Candidates are drawn only from roles whose members may approve this tool (asked of a
        stand-in user per role, which no one can log in as), weakest role first.
        """
        if self.decide("execute", requester, tool, base).allowed:
            return "none"
        approve_ctx = RequestContext(environment=base.environment, change_freeze=base.change_freeze)
        probes = self.decide_many(
            [("approve", PROBE_PREFIX + r, tool, approve_ctx) for r in self.role_parents]
        )
        roles = [r for r, d in zip(self.role_parents, probes, strict=True) if d.allowed]
        for k in (1, 2, 3):
            combos = list(combinations_with_replacement(roles, k))
            reqs = [
                (
                    "execute",
                    requester,
                    tool,
                    RequestContext(
                        environment=base.environment,
                        change_freeze=base.change_freeze,
                        approval_count=k,
                        approver_roles=self.role_closure(c),
                    ),
                )
                for c in combos
            ]
            for combo, dec in zip(combos, self.decide_many(reqs), strict=True):
                if dec.allowed:
                    return f"{k} approval{'s' if k > 1 else ''}: {' + '.join(combo)}"
        return "no quorum of up to 3 approvers satisfies policy (break-glass only)"

    def unapproved_writes(self, environment: str) -> list[UnapprovedWrite]:
        """The changes policy lets run with no approval at all, and for whom. Asked of a
        stand-in per role and of one with no role (nobody can log in as either), with no
        freeze and no break-glass: a ``permit (principal, action, resource);`` shows here."""
        writes = [t for t in self.tools.values() if t.risk is not Risk.READ]
        probes = [(PROBE_PREFIX, ANYONE)] + [(PROBE_PREFIX + r, r) for r in self.role_parents]
        ctx = RequestContext(environment=environment, is_requester=True)
        decisions = self.decide_many(
            [("execute", probe, t.name, ctx) for t in writes for probe, _ in probes]
        )
        found = []
        for i, spec in enumerate(writes):
            row = decisions[i * len(probes) : (i + 1) * len(probes)]
            allowed = [who for (_, who), d in zip(probes, row, strict=True) if d.allowed]
            if allowed:
                ids = sorted({pid for d in row if d.allowed for pid in d.policy_ids})
                found.append(
                    UnapprovedWrite(
                        tool=spec.name,
                        risk=spec.risk,
                        who=[ANYONE] if ANYONE in allowed else allowed,
                        policy_ids=tuple(ids),
                    )
                )
        return found


def load_policy_engine(settings: Settings, tools: Iterable[ToolSpec]) -> PolicyEngine:
    """Build the engine from ``COPILOT_POLICY_DIR`` (or the packaged defaults)."""
    policy_dir = Path(settings.policy_dir) if settings.policy_dir else DEFAULT_DIR
    if not policy_dir.is_dir():
        raise ConfigError(f"policy folder {policy_dir} does not exist", "fix COPILOT_POLICY_DIR")
    text, statements = read_policies(policy_dir)
    schema_text, _ = read_schema(policy_dir)
    return PolicyEngine(text, statements, schema_text, settings.users, settings.roles, tools)
