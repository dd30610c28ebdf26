"""`failsafe approve INCIDENT` and `failsafe reject INCIDENT --reason R`.

They invoke the stack's ApprovalCallback function, which hands the decision to the workflow waiting on
its task token. The requester of a stage cannot approve it; an expired approval changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from failsafe_tools.cli.output import console, fail, friendly_errors
from failsafe_tools.cli.rollback import ReasonOpt, open_target, require_reason, target_args
from failsafe_tools.cli.target import RegionOpt, StackOpt, StateFileOpt, TargetOpt, TemplateOpt
from failsafe_tools.local.server import DEFAULT_STATE_FILE

IncidentArg = Annotated[str, typer.Argument(help="The incident id (the workflow's execution name).")]


def register(app: typer.Typer) -> None:
    app.command("approve")(approve_command)
    app.command("reject")(reject_command)


def approve_command(
    *,
    incident: IncidentArg,
    reason: ReasonOpt = None,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
    template: TemplateOpt = Path("template.yaml"),
) -> None:
    """Approve the stage an incident waits on (you cannot approve your own request)."""
    decide(
        incident,
        "approve",
        reason.strip() if reason and reason.strip() else "approved",
        target_args(target, stack, region, state_file, template),
    )


def reject_command(
    *,
    incident: IncidentArg,
    reason: ReasonOpt = None,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
    template: TemplateOpt = Path("template.yaml"),
) -> None:
    """Reject the stage an incident waits on; the controller stays at the stage already in force."""
    decide(
        incident,
        "reject",
        require_reason(reason, "a rejection"),
        target_args(target, stack, region, state_file, template),
    )


def decide(incident: str, decision: str, reason: str, args: dict[str, object]) -> None:
    if not incident.strip():
        fail("INCIDENT", "give the incident id shown by `failsafe status`")
    with friendly_errors():
        resolved = open_target(dict(args))
        try:
            result = resolved.call(
                "ApprovalCallbackUrl",
                {"incident_id": incident.strip(), "decision": decision, "reason": reason},
            )
        finally:
            resolved.close()
    verb = "approved" if decision == "approve" else "rejected"
    console().print(
        f"[green]{verb}[/] {result.get('stage')} of incident {result.get('incident_id')} "
        f"as {result.get('decided_by')}"
    )
