"""`failsafe abort INCIDENT --reason R`: stop an incident's running workflow safely.

It invokes the stack's ManualRollback function with `action: abort` (the same audited path as every manual
action): the workflow is stopped (StopExecution), nothing in force is undone, a pending approval is dropped,
and the scope holds what is in force until someone runs `failsafe recover`. Audited as `execution:aborted`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from failsafe.aws.state_store import StateStore
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe_tools.cli.options import RegionOpt, StackOpt, StateFileOpt, TargetOpt
from failsafe_tools.cli.output import abort, console, emit_json, fail, friendly_errors, safe
from failsafe_tools.cli.rollback import (
    AsOpt,
    JsonOpt,
    ReasonOpt,
    YesOpt,
    confirm,
    open_target,
    operator,
    require_reason,
    target_args,
)
from failsafe_tools.local.server import DEFAULT_STATE_FILE


def register(app: typer.Typer) -> None:
    app.command("abort")(abort_command)


def abort_command(
    *,
    incident: Annotated[str, typer.Argument(help="The incident id (shown by failsafe status).")],
    reason: ReasonOpt = None,
    yes: YesOpt = False,
    requested_by: AsOpt = None,
    as_json: JsonOpt = False,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
) -> None:
    """Stop an incident's running workflow; what is in force stays, held until `failsafe recover`."""
    if not incident.strip():
        fail("INCIDENT", "give the incident id shown by `failsafe status`")
    why = require_reason(reason, "an abort")
    who = operator(requested_by)
    with friendly_errors():
        resolved = open_target(target_args(target, stack, region, state_file))
        try:
            pointer = StateStore(
                resolved.client("dynamodb"), resolved.output("StateTableName"), DEFAULT_PLAN
            ).find_incident(incident.strip())
            if pointer is None:
                abort(
                    f"incident {incident} is unknown to {resolved.description}; check the id with "
                    "failsafe status"
                )
            confirm(f"Stop the workflow of {incident} ({pointer.scope_key}) on {resolved.description}?", yes)
            result = resolved.invoke(
                "ManualRollbackFunctionName",
                {
                    "action": "abort",
                    "scope": pointer.scope_key,
                    "incident_id": incident.strip(),
                    "reason": why,
                    "requested_by": who,
                },
            )
        finally:
            resolved.close()
    if as_json:
        emit_json(result)
        return
    kept = result.get("applied_stage") or "nothing (no stage was in force yet)"
    out = console()
    out.print(
        f"[green]aborted[/] the workflow of incident {safe(result.get('incident_id'))} "
        f"({safe(pointer.scope_key)} stays {safe(result.get('state'))}); in force and kept: {safe(kept)}"
    )
    if result.get("dropped_approval"):
        out.print(f"the pending approval of {safe(result['dropped_approval'])} was dropped")
    out.print(
        f"held until recovered: failsafe recover --scope {safe(pointer.scope_key)} --reason ... "
        "(a new level needs the recover first)"
    )
