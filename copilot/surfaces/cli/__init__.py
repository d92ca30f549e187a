"""The ``copilot`` command. Imports stay light: heavy modules load inside each command."""

from __future__ import annotations

import os
import sys

import typer

from copilot.errors import CopilotError
from copilot.surfaces.cli import (
    admin,
    agent_cmd,
    calls,
    eval_cmd,
    incident_cmd,
    redact_cmd,
    runbooks_cmd,
    serve_cmd,
    users_cmd,
)
from copilot.surfaces.cli.errors import exit_code

app = typer.Typer(
    name="copilot",
    help="Incident copilot: propose typed operational actions, approve them, audit everything.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
calls.register(app)
app.command("ask")(agent_cmd.ask)
app.command("chat")(agent_cmd.chat)
app.command("redact")(redact_cmd.redact)
app.command("eval")(eval_cmd.eval_)
app.command("serve")(serve_cmd.serve)
app.command("demo")(serve_cmd.demo)
app.add_typer(admin.tools_app, name="tools")
app.add_typer(admin.sandbox_app, name="sandbox")
app.add_typer(admin.audit_app, name="audit")
app.add_typer(admin.policy_app, name="policy")
app.add_typer(admin.bench_app, name="bench")
app.add_typer(runbooks_cmd.runbooks_app, name="runbooks")
app.add_typer(users_cmd.users_app, name="users")
app.add_typer(incident_cmd.incident_app, name="incident")
app.add_typer(incident_cmd.postmortem_app, name="postmortem")


def main() -> None:
    """Entry point: translate the core's errors into one line and an exit code, once."""
    try:
        # Without standalone mode click hands back `typer.Exit` codes as the return value.
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except CopilotError as err:
        # Messages may quote input; the core redacts them, and so does this last edge.
        from copilot.redact.ruleset import default_redactor

        print(f"error: {default_redactor().text(err.one_line())}", file=sys.stderr)
        sys.exit(exit_code(err))
    except typer.Exit as ex:
        sys.exit(ex.exit_code)
    except typer.Abort:
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: typer's own one-line messages
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except Exception as exc:
        if os.environ.get("COPILOT_DEBUG"):
            raise
        print(
            f"internal error ({type(exc).__name__}); set COPILOT_DEBUG=1 to see the traceback",
            file=sys.stderr,
        )
        sys.exit(70)
