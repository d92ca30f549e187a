"""A secret passed as an ordinary argument is refused, never stored; a reference runs.

``set_config_value(key=PAYMENTS_PASSWORD, value=hunter2hunter2)`` used to be proposed, and
the value sat in the plan, the proposals table, the audit log and the OCSF export: only
vendor-format values were refused. Now a value that a name calls a credential (its own
argument's name, or a sibling naming the setting) must be a reference, ``secret:NAME``.
"""

from __future__ import annotations

import pytest
from conftest import approve, runs
from sqlalchemy import select

from copilot.audit import verify_chain
from copilot.audit.export import export_lines
from copilot.domain import ApprovalState
from copilot.errors import InvalidInput
from copilot.store.schema import metadata, proposals

VALUE = "hunter2hunter2"  # no vendor format, no keyword: only its name says it is a password


def everything_stored(svc) -> str:
    out = []
    with svc.door.deps.store.read() as conn:
        for table in metadata.sorted_tables:
            out.extend(repr(tuple(row)) for row in conn.execute(select(table)))
    return "\n".join(out)


def exports(svc) -> str:
    events = list(svc.door.deps.audit.events())
    return "\n".join(
        line
        for fmt in ("jsonl", "ocsf")
        for line in export_lines(events, fmt, svc.door.deps.redactor.value)
    )


def payments_config(svc) -> dict[str, str]:
    _, ran = svc.call(svc.principal("dana"), "sandbox.service_status", {"service": "payments"})
    assert ran is not None and ran.status is ApprovalState.SUCCEEDED
    config: dict[str, str] = ran.result["services"][0]["config"]
    return config


def test_a_password_passed_as_a_config_value_is_refused_and_kept_nowhere(make_copilot, db_url):
    svc = make_copilot(db_url)
    svc.reset_sandbox()
    before = svc.sandbox_status()
    args = {"service": "payments", "key": "PAYMENTS_PASSWORD", "value": VALUE}
    with pytest.raises(InvalidInput) as caught:
        svc.call(svc.principal("alice"), "sandbox.set_config_value", args)
    message = caught.value.one_line()
    assert "'value'" in message and "PAYMENTS_PASSWORD" in message and "secret:NAME" in message
    assert VALUE not in message
    with svc.door.deps.store.read() as conn:
        assert conn.execute(select(proposals)).first() is None
    kinds = [e.kind for e in svc.door.deps.audit.events()]
    assert kinds[-1] == "request.refused" and "proposal.created" not in kinds
    assert VALUE not in everything_stored(svc) and VALUE not in exports(svc)
    assert verify_chain(svc.door.deps.store).ok
    assert svc.sandbox_status() == before  # no revision, no change recorded
    assert "PAYMENTS_PASSWORD" not in payments_config(svc)


def test_a_secret_reference_is_proposed_and_runs(make_copilot, db_url):
    svc = make_copilot(db_url)
    svc.reset_sandbox()
    args = {"service": "payments", "key": "PAYMENTS_PASSWORD", "value": "secret:PAYMENTS_PASSWORD"}
    outcome, _ = svc.call(svc.principal("alice"), "sandbox.set_config_value", args)
    assert "a reference: the value stays in the secret store" in (outcome.proposal.plan or "")
    done = approve(svc, outcome.approval.id, svc.principal("bob"))
    assert done is not None and done.status is ApprovalState.SUCCEEDED
    assert payments_config(svc)["PAYMENTS_PASSWORD"] == "secret:PAYMENTS_PASSWORD"


@pytest.mark.parametrize(
    "arguments",
    [
        {"name": "DB_PASSWORD", "value": VALUE},  # a sibling names it
        {"name": "stripe-api-key", "value": "x" + VALUE},
        {"name": "x", "value": f"password={VALUE}"},  # the redactor's context rule
        {"name": "x", "value": "secret:hunter2hunter2"},  # no reference: not a name
    ],
)
def test_credentials_in_any_argument_are_refused(make_copilot, db_url, arguments):
    svc = make_copilot(db_url)
    with pytest.raises(InvalidInput):
        svc.call(svc.principal("alice"), "testpack.takes_anything", arguments)
    assert runs(svc) == []
    with svc.door.deps.store.read() as conn:
        assert conn.execute(select(proposals)).first() is None
    assert VALUE not in everything_stored(svc) and VALUE not in exports(svc)


@pytest.mark.parametrize(
    "arguments",
    [
        {"name": "token_bucket_size", "value": "512"},  # about tokens, not one
        {"name": "PAYMENTS_API_URL", "value": "https://psp.example.net/v2"},
        {"name": "DB_PASSWORD", "value": "secret:payments-db-password"},
    ],
)
def test_ordinary_values_and_references_still_run(make_copilot, db_url, arguments):
    svc = make_copilot(db_url)
    outcome, _ = svc.call(svc.principal("alice"), "testpack.takes_anything", arguments)
    done = approve(svc, outcome.approval.id, svc.principal("bob"))
    assert done is not None and done.status is ApprovalState.SUCCEEDED
    assert len(runs(svc)) == 1
    assert outcome.proposal.arguments == arguments
