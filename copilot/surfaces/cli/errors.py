"""The CLI's exit codes, from one table: the core raises errors, each surface maps them.

Scripts around ``copilot`` tell a refusal by policy from a bad argument by these codes."""

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

EXIT_CODES: dict[type[CopilotError], int] = {
    InvalidInput: 2,
    PolicyDenied: 3,
    ApprovalRequired: 4,
    ApprovalInvalid: 5,
    ResourceBusy: 6,
    RateLimited: 7,
    ConfigError: 78,  # EX_CONFIG
}
OTHER_ERROR = 1


def exit_code(err: CopilotError) -> int:
    """The code of the nearest class of ``err`` in the table (1 for any other error)."""
    for cls in type(err).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return OTHER_ERROR
