"""`copilot incident list|show|open|ack|mitigate|resolve|commander|severity|timeline|alerts`
and `copilot postmortem draft|show|edit`."""

from __future__ import annotations

from pathlib import Path

import typer

from copilot.surfaces.cli.common import AS_USER, JSON, open_service, print_json

incident_app = typer.Typer(help="Incidents: list, lifecycle, timeline, MTTA/MTTR.")
postmortem_app = typer.Typer(help="Postmortem drafts: every claim cites the timeline.")
ID = typer.Argument(..., help="an incident id, e.g. INC-12")


def _duration(seconds: float | None) -> str:
    from copilot.domain.incidents import duration

    return duration(seconds)


@incident_app.command("list")
def list_(as_json: bool = JSON) -> None:
    """Incidents, the newest first, with time to acknowledge and to resolve."""
    with open_service(telemetry=False) as service:
        found = service.incidents()
    if as_json:
        print_json(found.model_dump(mode="json"))
        return
    st = found.stats
    print(
        f"{st.incidents} incidents, {st.open} not resolved; MTTA mean "
        f"{_duration(st.mtta_mean_s)} median {_duration(st.mtta_median_s)} "
        f"({st.acknowledged}); MTTR mean {_duration(st.mttr_mean_s)} median "
        f"{_duration(st.mttr_median_s)} ({st.resolved})"
    )
    for i in found.incidents:
        print(
            f"{i.id:8} {i.status.value:12} {i.severity:9} MTTA {_duration(i.mtta_s):>10} "
            f"MTTR {_duration(i.mttr_s):>10}  {i.title}"
        )


@incident_app.command("show")
def show(incident_id: str = ID, as_json: bool = JSON) -> None:
    """One incident: status, severity, commander, alerts, MTTA and MTTR."""
    with open_service(telemetry=False) as service:
        i = service.incident(incident_id)
    if as_json:
        print_json({**i.model_dump(mode="json"), "mtta_s": i.mtta_s, "mttr_s": i.mttr_s})
        return
    print(f"{i.id}: {i.title}")
    print(f"  status {i.status.value}, severity {i.severity}, commander {i.commander or '-'}")
    print(f"  opened {i.opened_at:%Y-%m-%d %H:%M:%S} UTC by {i.source}")
    print(f"  alerts: {i.alerts_firing} firing of {i.alerts_total}")
    print(f"  MTTA {_duration(i.mtta_s)}, MTTR {_duration(i.mttr_s)}")
    print(f"  conversation: {i.conversation}")


@incident_app.command("open")
def open_(
    title: str = typer.Argument(..., help="what broke"),
    severity: str = typer.Option("unknown", "--severity"),
    user: str = AS_USER,
) -> None:
    """Open an incident by hand (no alert fired, or not yet)."""
    with open_service() as service:
        i = service.declare_incident(service.principal(user), title, severity)
    print(f"{i.id} opened: {i.title} (conversation {i.conversation})")


def _move(incident_id: str, user: str, action: str, value: str = "") -> None:
    with open_service() as service:
        i = service.update_incident(incident_id, service.principal(user), action, value)
    print(f"{i.id}: {i.status.value}, severity {i.severity}, commander {i.commander or '-'}")


@incident_app.command("ack")
def ack(incident_id: str = ID, user: str = AS_USER) -> None:
    """Acknowledge: someone is on it (this is when MTTA stops)."""
    _move(incident_id, user, "ack")


@incident_app.command("mitigate")
def mitigate(incident_id: str = ID, user: str = AS_USER) -> None:
    """Mitigated: the impact has stopped, the cause may not be fixed."""
    _move(incident_id, user, "mitigate")


@incident_app.command("resolve")
def resolve(incident_id: str = ID, user: str = AS_USER) -> None:
    """Resolved (this is when MTTR stops)."""
    _move(incident_id, user, "resolve")


@incident_app.command("commander")
def commander(
    incident_id: str = ID,
    who: str = typer.Argument(..., help="a configured user"),
    user: str = AS_USER,
) -> None:
    """Name the incident commander."""
    _move(incident_id, user, "commander", who)


@incident_app.command("severity")
def severity(
    incident_id: str = ID,
    level: str = typer.Argument(..., help="critical, high, page, warning, medium, low, info"),
    user: str = AS_USER,
) -> None:
    """Set the severity."""
    _move(incident_id, user, "severity", level)


@incident_app.command("timeline")
def timeline(incident_id: str = ID, as_json: bool = JSON) -> None:
    """Every event of the incident in order, each with its stable id (E12)."""
    with open_service(telemetry=False) as service:
        tl = service.timeline(incident_id)
    if as_json:
        print_json(tl.model_dump(mode="json"))
        return
    print(f"{tl.incident.id}: {tl.incident.title} ({len(tl.events)} events)")
    for e in tl.events:
        print(f"{e.id:>5} {e.at:%H:%M:%S} {e.kind:20} {e.actor:14} {e.text}")


@postmortem_app.command("draft")
def draft(
    incident_id: str = ID,
    user: str = AS_USER,
    fmt: str = typer.Option("md", "--format", help="md or json"),
) -> None:
    """Draft the postmortem now (a new version), every claim citing the timeline."""
    from copilot.errors import InvalidInput

    if fmt not in ("md", "json"):
        raise InvalidInput(f"unknown format {fmt!r}", "use --format md or --format json")
    with open_service() as service:
        pm = service.draft_postmortem(incident_id, service.principal(user))
    if fmt == "json":
        print_json(pm.model_dump(mode="json"))
    else:
        print(pm.markdown, end="")


@postmortem_app.command("show")
def show_postmortem(
    incident_id: str = ID,
    version: int | None = typer.Option(None, "--version", min=1),
    fmt: str = typer.Option("md", "--format", help="md or json"),
) -> None:
    """A stored version (the latest by default), as Markdown or JSON."""
    with open_service(telemetry=False) as service:
        pm = service.postmortem(incident_id, version)
    if fmt == "json":
        print_json(pm.model_dump(mode="json"))
    else:
        print(pm.markdown, end="")


@postmortem_app.command("edit")
def edit(
    incident_id: str = ID,
    file: Path = typer.Option(..., "--file", help="the edited Markdown", exists=True),
    user: str = AS_USER,
) -> None:
    """Store an edited Markdown as a new version (on the audit record)."""
    text = file.read_text(encoding="utf-8", errors="replace")
    with open_service() as service:
        pm = service.edit_postmortem(incident_id, service.principal(user), text)
    print(f"{pm.incident}: postmortem v{pm.version} stored")
