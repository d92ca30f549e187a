"""The CLI's exit codes, from one table: the core raises errors, each surface maps them.

Scripts around ``copilot`` tell a refusal by policy from a bad argument by these codes, and
a call that ran and failed (or whose outcome is unknown) from one that succeeded: the core
returns those as outcomes, which ``copilot.surfaces.cli.outcomes`` turns into the errors
below once the outcome is printed."""

from __future__ import annotations

from copilot.errors import (
    ApprovalInvalid,
    ApprovalRequired,
    ConfigError,
    CopilotError,
    InvalidInput,
    PolicyDenied,
    RateLimited,
    ResourceBusy,
)


class RunFailed(CopilotError):
    """A change ended *failed* (the tool applied nothing), or was approved but did not run."""


class RunOutcomeUnknown(CopilotError):
    """A change ended *unknown*: it may have taken effect; a person must reconcile it."""


class ReadFailed(CopilotError):
    """A read-only call ran and returned no result."""


class UnapprovedWrites(CopilotError):
    """``policy check``: the policies load, but let some change run with no approval."""


EXIT_CODES: dict[type[CopilotError], int] = {
    InvalidInput: 2,
    PolicyDenied: 3,
    ApprovalRequired: 4,
    ApprovalInvalid: 5,
    ResourceBusy: 6,
    RateLimited: 7,
    RunFailed: 8,
    RunOutcomeUnknown: 9,
    ReadFailed: 10,
    UnapprovedWrites: 11,
    ConfigError: 78,  # EX_CONFIG
}
OTHER_ERROR = 1


def exit_code(err: CopilotError) -> int:
    """The code of the nearest class of ``err`` in the table (1 for any other error)."""
    for cls in type(err).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return OTHER_ERROR
