"""`failsafe recover --scope S --reason R [--immediate]`: the manual override back to NORMAL.

It invokes ManualRollback with `action: recover`: the running workflow is stopped and the scope's
pre-incident toggles are deployed (gradual strategy, or immediate with `--immediate`). Audited. A scope
that is already NORMAL is said so, exit 0 (nothing to do is not an error).

`--wait` follows the restore deployment until AppConfig reports it COMPLETE (exit 0) or rolled back (exit 1).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from failsafe.aws.state_store import StateStore
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe_tools.cli.options import RegionOpt, StackOpt, StateFileOpt, TargetOpt
from failsafe_tools.cli.output import FAILED, INTERRUPTED, console, duration, emit_json, friendly_errors, safe
from failsafe_tools.cli.rollback import (
    DEFAULT_SCOPE,
    AsOpt,
    JsonOpt,
    ReasonOpt,
    WatchTimeoutOpt,
    YesOpt,
    confirm,
    open_target,
    operator,
    render_diff,
    render_steps,
    require_reason,
    target_args,
)
from failsafe_tools.cli.status import check_scope_in_stack, parse_scope
from failsafe_tools.local.server import DEFAULT_STATE_FILE
from failsafe_tools.target import Target

DEPLOY_POLL_SECONDS = 0.5
RecoverWaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait/--no-wait",
        help="Follow the restore deployment until it is complete (exit 0) or rolled back (exit 1), with "
        "progress. A gradual restore takes the strategy's duration and bake time.",
    ),
]


def register(app: typer.Typer) -> None:
    app.command("recover")(recover_command)


def recover_command(
    *,
    scope: Annotated[str, typer.Option("--scope", help="Scope to return to NORMAL.")] = DEFAULT_SCOPE,
    reason: ReasonOpt = None,
    immediate: Annotated[
        bool, typer.Option(help="Restore all at once instead of the gradual strategy.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be restored.")] = False,
    yes: YesOpt = False,
    requested_by: AsOpt = None,
    wait: RecoverWaitOpt = False,
    watch_timeout: WatchTimeoutOpt = 1800.0,
    as_json: JsonOpt = False,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
) -> None:
    """Manual override: end the scope's incident and restore its pre-incident toggles (audited)."""
    chosen = parse_scope(scope)
    why = require_reason(reason, "a manual recover")
    who = operator(requested_by)
    run_recover(
        chosen.key,
        why,
        who,
        immediate=immediate,
        dry_run=dry_run,
        yes=yes,
        wait=wait,
        watch_timeout=watch_timeout,
        as_json=as_json,
        args=target_args(target, stack, region, state_file),
        what="recover",
    )


def run_recover(
    scope: str,
    reason: str,
    who: str,
    *,
    immediate: bool,
    dry_run: bool,
    yes: bool,
    args: dict[str, Any],
    wait: bool = False,
    watch_timeout: float = 1800.0,
    as_json: bool = False,
    what: str = "recover",
) -> None:
    request = {
        "action": "recover",
        "scope": scope,
        "reason": reason,
        "requested_by": who,
        "immediate": immediate,
    }
    out = console()
    code = 0
    document: dict[str, Any] = {}
    with friendly_errors():
        resolved = open_target(args)
        try:
            check_scope_in_stack(parse_scope(scope), resolved)
            record = StateStore(
                resolved.client("dynamodb"), resolved.output("StateTableName"), DEFAULT_PLAN
            ).get(scope)
            if record is None or not record.has_open_incident:
                state = record.state if record else "NORMAL"
                message = (
                    f"the kill switch is already off in {scope}: it is {state} with no open incident; "
                    "nothing was changed"
                    if what == "kill-switch off"
                    else f"{scope} is already {state} with no open incident; nothing to recover, nothing "
                    "was changed"
                )
                if as_json:
                    emit_json({"changed": False, "scope": scope, "state": state, "message": message})
                else:
                    out.print(safe(message))
                return
            preview = resolved.invoke("ManualRollbackFunctionName", {**request, "dry_run": True})
            document["plan"] = preview
            if not as_json:
                out.print(f"[bold]{what}[/] {safe(scope)}: ends incident {safe(preview.get('incident_id'))}")
                render_diff(preview)
                render_steps(preview.get("deployment_plan", []))
            if dry_run:
                if as_json:
                    emit_json({**document, "dry_run": True, "changed": False})
                else:
                    out.print("[dim]dry run: nothing was changed[/]")
                return
            confirm(f"Return {scope} to NORMAL on {resolved.description}?", yes)
            result = resolved.invoke("ManualRollbackFunctionName", request)
            document["result"] = result
            deployment = result.get("deployment") or {}
            if not as_json:
                out.print(
                    f"[green]{safe(scope)} is {safe(result.get('state'))}[/] "
                    f"(manual override by {safe(who)}); "
                    f"incident {safe(result.get('incident_id'))} closed"
                    + (
                        f"; restoring config version {deployment.get('config_version')} (deployment "
                        f"#{deployment.get('deployment_number')}, started)"
                        if deployment
                        else "; no toggles of the incident were in force: nothing to restore"
                    )
                )
            if wait and deployment:
                outcome = follow_deployment(
                    resolved, int(deployment["deployment_number"]), watch_timeout, quiet=as_json
                )
                document["outcome"] = outcome
                code = int(outcome["exit_code"])
            elif deployment and not as_json:
                out.print(f"follow the restore: failsafe status --watch --scope {safe(scope)}")
        finally:
            resolved.close()
    if as_json:
        emit_json(document)
    if code:
        raise typer.Exit(code)


def follow_deployment(target: Target, number: int, timeout: float, *, quiet: bool = False) -> dict[str, Any]:
    """Follow AppConfig deployment `number` until it is COMPLETE or ROLLED_BACK (progress lines); the time
    it took is AppConfig's own StartedAt..CompletedAt, on the stack's clock."""
    out = console()
    appconfig = target.client("appconfig")
    app, env = target.output("AppConfigApplicationId"), target.output("AppConfigEnvironmentId")
    note = f" ({target.clock_note})" if target.clock_note else ""
    last = None
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            deployment = appconfig.get_deployment(
                ApplicationId=app, EnvironmentId=env, DeploymentNumber=number
            )
            state = str(deployment.get("State"))
            percent = float(deployment.get("PercentageComplete", 0.0))
            if (state, percent) != last:
                last = (state, percent)
                if not quiet:
                    out.print(
                        f"{target.now():%H:%M:%S}{note} restore deployment #{number}: {state} {percent:.0f}%"
                    )
            if state in ("COMPLETE", "ROLLED_BACK"):
                begun, ended = deployment.get("StartedAt"), deployment.get("CompletedAt")
                seconds = (ended - begun).total_seconds() if begun and ended else None
                ok = state == "COMPLETE"
                if not quiet:
                    colour = "green" if ok else "red"
                    took = (
                        f" in {duration(seconds)} on the stack's clock{note}" if seconds is not None else ""
                    )
                    out.print(f"[{colour}]restore deployment #{number} {state}[/]{took}")
                return {
                    "status": state.lower(),
                    "deployment_number": number,
                    "seconds": seconds,
                    "exit_code": 0 if ok else FAILED,
                }
            _pause(DEPLOY_POLL_SECONDS)
    except KeyboardInterrupt:
        if not quiet:
            out.print("\nstopped watching; the restore goes on: failsafe status --watch")
        return {"status": "interrupted", "deployment_number": number, "exit_code": INTERRUPTED}
    if not quiet:
        out.print(f"[yellow]restore deployment #{number} not finished after {timeout:.0f} s[/]")
    return {"status": "timeout", "deployment_number": number, "exit_code": FAILED}


def _pause(seconds: float) -> None:
    time.sleep(seconds)
