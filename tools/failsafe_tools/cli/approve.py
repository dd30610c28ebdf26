"""`failsafe approve INCIDENT` and `failsafe reject INCIDENT --reason R`.

They invoke the stack's ApprovalCallback function, which hands the decision to the workflow waiting on
its task token. The requester of a stage cannot approve it; an expired approval changes nothing.
"""

from __future__ import annotations

from typing import Annotated

import typer

from failsafe_tools.cli.options import RegionOpt, StackOpt, StateFileOpt, TargetOpt
from failsafe_tools.cli.output import console, emit_json, fail, friendly_errors, safe
from failsafe_tools.cli.rollback import (
    AsOpt,
    JsonOpt,
    ReasonOpt,
    open_target,
    operator,
    require_reason,
    target_args,
)
from failsafe_tools.local.server import DEFAULT_STATE_FILE

IncidentArg = Annotated[str, typer.Argument(help="The incident id (the workflow's execution name).")]


def register(app: typer.Typer) -> None:
    app.command("approve")(approve_command)
    app.command("reject")(reject_command)


def approve_command(
    *,
    incident: IncidentArg,
    reason: ReasonOpt = None,
    approver: AsOpt = None,
    as_json: JsonOpt = False,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
) -> None:
    """Approve the stage an incident waits on (you cannot approve your own request)."""
    who = operator(approver)
    decide(
        incident,
        "approve",
        reason.strip() if reason and reason.strip() else f"approved by {who}",
        who,
        target_args(target, stack, region, state_file),
        as_json=as_json,
    )


def reject_command(
    *,
    incident: IncidentArg,
    reason: ReasonOpt = None,
    approver: AsOpt = None,
    as_json: JsonOpt = False,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
) -> None:
    """Reject the stage an incident waits on; the controller stays at the stage already in force."""
    who = operator(approver)
    decide(
        incident,
        "reject",
        require_reason(reason, "a rejection"),
        who,
        target_args(target, stack, region, state_file),
        as_json=as_json,
    )


def decide(
    incident: str, decision: str, reason: str, who: str, args: dict[str, object], *, as_json: bool = False
) -> None:
    if not incident.strip():
        fail("INCIDENT", "give the incident id shown by `failsafe status`")
    with friendly_errors():
        resolved = open_target(dict(args))
        try:
            result = resolved.invoke(
                "ApprovalCallbackFunctionName",
                {"incident_id": incident.strip(), "decision": decision, "approver": who, "reason": reason},
            )
        finally:
            resolved.close()
    if as_json:
        emit_json(result)
        return
    verb = "approved" if decision == "approve" else "rejected"
    console().print(
        f"[green]{verb}[/] {safe(result.get('stage'))} of incident {safe(result.get('incident_id'))} "
        f"as {safe(result.get('decided_by'))}"
    )
