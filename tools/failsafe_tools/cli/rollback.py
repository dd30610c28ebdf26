"""`failsafe rollback --level 1|2|3|emergency --scope S --reason R [--dry-run] [--yes]`.

The CLI never changes toggles itself: it invokes the stack's ManualRollback function (the same code path
as `sam remote invoke ManualRollbackFunction --event-file events/manual-level-2.json`), first as a dry run
to show the plan, then for real after confirmation, and then only *watches* the server-side workflow.
Ctrl-C stops the watching; the rollback goes on and `failsafe status` follows it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from failsafe.aws.state_store import StateStore
from failsafe.domain.plans import DEFAULT_PLAN, Level
from failsafe_tools.cli.output import FAILED, abort, console, duration, fail, friendly_errors, notice
from failsafe_tools.cli.status import check_scope_in_stack, parse_scope
from failsafe_tools.cli.target import (
    RegionOpt,
    StackOpt,
    StateFileOpt,
    Target,
    TargetOpt,
    TemplateOpt,
    resolve,
)
from failsafe_tools.local.server import DEFAULT_STATE_FILE

INTERRUPTED = 130
WATCH_POLL_SECONDS = 0.5


def _pause(seconds: float) -> None:
    """The watcher's wait between polls (Ctrl-C lands here most of the time)."""
    time.sleep(seconds)


DEFAULT_SCOPE = "recommender/prod"

ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (recorded in the audit log; required).")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (scripts).")]
AutoRestoreOpt = Annotated[
    bool,
    typer.Option(
        "--auto-restore",
        help="Restore automatically once the scope is green with traffic for the verify window. "
        "Without it the level holds until someone runs `failsafe recover`.",
    ),
]
WatchTimeoutOpt = Annotated[
    float,
    typer.Option("--watch-timeout", help="Stop watching after this many seconds (the workflow goes on)."),
]


def register(app: typer.Typer) -> None:
    app.command("rollback")(rollback_command)


def require_reason(reason: str | None, what: str) -> str:
    if reason is None or not reason.strip():
        fail("--reason", f'{what} needs a recorded reason; add --reason "what you saw and why"')
    return reason.strip()


def parse_level(text: str) -> Level:
    try:
        return Level(text.strip().lower())
    except ValueError:
        fail(f"--level {text}", f"choose one of {', '.join(level.value for level in Level)}")


def rollback_command(
    *,
    level: Annotated[str, typer.Option("--level", help="1, 2, 3 or emergency.")],
    scope: Annotated[
        str, typer.Option("--scope", help="service/environment[/region=a,b]...")
    ] = DEFAULT_SCOPE,
    reason: ReasonOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan; change nothing.")] = False,
    auto_restore: AutoRestoreOpt = False,
    yes: YesOpt = False,
    watch_timeout: WatchTimeoutOpt = 900.0,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
    template: TemplateOpt = Path("template.yaml"),
) -> None:
    """Run a rollback level in a scope: plan, confirm, then watch the server-side workflow."""
    chosen_level = parse_level(level)
    chosen_scope = parse_scope(scope)
    why = require_reason(reason, f"rollback level {chosen_level.value}")
    request = {
        "action": "rollback",
        "level": chosen_level.value,
        "scope": chosen_scope.key,
        "reason": why,
        "auto_restore": auto_restore,
    }
    run_level(
        request,
        dry_run=dry_run,
        yes=yes,
        watch_timeout=watch_timeout,
        target_args=target_args(target, stack, region, state_file, template),
    )


def target_args(
    target: str, stack: str | None, region: str | None, state_file: Path, template: Path
) -> dict[str, Any]:
    return {
        "target": target,
        "stack": stack,
        "region": region,
        "state_file": state_file,
        "template": template,
    }


def open_target(args: dict[str, Any]) -> Target:
    return resolve(
        target=args["target"],
        stack=args["stack"],
        region=args["region"],
        state_file=args["state_file"],
        template=args["template"],
        notice=notice,
    )


def run_level(
    request: dict[str, Any], *, dry_run: bool, yes: bool, watch_timeout: float, target_args: dict[str, Any]
) -> None:
    """Dry run, render, confirm, invoke for real and watch: shared by `rollback` and `kill-switch on`."""
    with friendly_errors():
        resolved = open_target(target_args)
        try:
            check_scope_in_stack(parse_scope(request["scope"]), resolved)
            plan = resolved.call("ManualRollbackUrl", {**request, "dry_run": True})
            render_plan(plan, resolved)
            if dry_run:
                console().print("[dim]dry run: nothing was changed[/]")
                return
            if not yes and not typer.confirm(
                f"Apply level {request['level']} to {request['scope']} on {resolved.description}?",
                default=False,
            ):
                abort("not confirmed; nothing was changed")
            result = resolved.call("ManualRollbackUrl", request)
            incident = result.get("incident_id")
            verb = "joined" if result.get("joined") else "started"
            console().print(
                f"[bold]{verb}[/] incident [bold]{incident}[/] "
                f"(workflow {result.get('execution_arn') or '-'})"
            )
            if resolved.owned:
                notice(
                    "the embedded stack stops with this command; use `failsafe local up --detach` to keep one"
                )
            final_stage = DEFAULT_PLAN.final_stage_of(request["level"]).name
            code = watch(resolved, request["scope"], str(incident), final_stage, watch_timeout)
        finally:
            resolved.close()
    if code:
        raise typer.Exit(code)


def render_plan(plan: dict[str, Any], target: Target) -> None:
    out = console()
    out.print(
        f"[bold]level {plan.get('level')}[/] in [bold]{plan.get('scope')}[/] on {target.description}: "
        f"{plan.get('title', '')}"
    )
    out.print(
        f"current state {plan.get('current_state', '-')}"
        + (f", open incident {plan['open_incident']}" if plan.get("open_incident") else "")
    )
    if plan.get("stages"):
        out.print(f"stages: {' -> '.join(plan['stages'])}")
    diff = Table(title="Toggle diff (before -> after)", title_justify="left")
    for column in ("scope", "toggle", "before", "after"):
        diff.add_column(column)
    for scope_diff in plan.get("toggle_diff", []):
        label = scope_label(scope_diff.get("scope"))
        for index, change in enumerate(scope_diff.get("changes", [])):
            diff.add_row(
                str(label) if index == 0 else "",
                str(change.get("field")),
                json.dumps(change.get("before")),
                f"[bold]{json.dumps(change.get('after'))}[/]",
            )
    if not plan.get("toggle_diff"):
        diff.add_row(str(plan.get("scope")), "(no toggle changes)", "", "")
    out.print(diff)
    for step in plan.get("deployment_plan", []):
        out.print(f"deploy: {json.dumps(step, sort_keys=True)}")
    approvals = plan.get("approvals_needed") or []
    out.print(
        "[bold]approvals[/]: "
        + ("; ".join(f"{a.get('stage')} by {a.get('approver')}" for a in approvals) if approvals else "none")
    )
    if plan.get("target_seconds") is not None:
        out.print(f"[bold]target time[/]: in force within {duration(float(plan['target_seconds']))}")
    radius = plan.get("blast_radius") or {}
    if radius:
        share = radius.get("environment_changed_share")
        fallback = radius.get("fallback_share")
        out.print(
            "[bold]blast radius[/]: "
            + (
                f"{share * 100:.4g}% of the environment's traffic sees a change"
                if share is not None
                else "share unknown"
            )
            + (f"; {fallback * 100:.4g}% of the scope is served the fallback" if fallback is not None else "")
        )


def scope_label(raw: object) -> str:
    """The scope key of a serialised `Scope` (as the dry run returns it), or the raw value."""
    from pydantic import ValidationError

    from failsafe.domain.scope import Scope

    try:
        return Scope.model_validate(raw).key
    except ValidationError:
        return str(raw)


def watch(target: Target, scope: str, incident_id: str, final_stage: str, timeout: float) -> int:
    """Follow the incident until `final_stage` is applied, it fails, or `timeout` wall seconds pass.

    Returns the exit code. Ctrl-C stops watching only: the workflow runs server-side."""
    out = console()
    store = StateStore(target.client("dynamodb"), target.output("StateTableName"))
    sfn = target.client("stepfunctions")
    order = DEFAULT_PLAN.stage_names
    last = None
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            record = store.get(scope)
            if record is None or record.incident_id != incident_id:
                state = record.state if record else "NORMAL"
                out.print(f"incident {incident_id} is closed; the scope is {state}")
                return 0
            pending = record.pending_approval
            line = (
                record.state,
                record.lifecycle.stage,
                record.lifecycle.applied_stage,
                pending.stage if pending else None,
            )
            if line != last:
                last = line
                applied = record.lifecycle.applied_stage or "-"
                out.print(
                    f"{target.now():%H:%M:%S} {record.state} stage {record.lifecycle.stage or '-'} "
                    f"(applied {applied}, config version {record.deployed_config_version or '-'})"
                )
                if pending is not None:
                    out.print(
                        f"  waiting for approval of {pending.stage} (requested by {pending.requested_by}, "
                        f"expires {pending.expires_at:%H:%M:%S}): "
                        f"AWS_PROFILE=<another approver> failsafe approve {incident_id}"
                    )
            applied_stage = record.lifecycle.applied_stage
            if applied_stage in order and order.index(applied_stage) >= order.index(final_stage):
                out.print(
                    f"[green]{applied_stage} is in force[/] ({record.state}); "
                    f"follow: failsafe status --scope {scope}"
                )
                return 0
            if record.execution_arn:
                status = sfn.describe_execution(executionArn=record.execution_arn)["status"]
                if status in ("FAILED", "TIMED_OUT", "ABORTED"):
                    out.print(f"[red]the workflow ended {status}[/]; see failsafe report {incident_id}")
                    return FAILED
            _pause(WATCH_POLL_SECONDS)
    except KeyboardInterrupt:
        out.print(
            f"\nstopped watching; the rollback continues server-side (incident {incident_id}). "
            f"Follow it with: failsafe status --scope {scope}"
        )
        return INTERRUPTED
    out.print(
        f"[yellow]still in progress after {timeout:.0f} s[/]; "
        f"the workflow goes on: failsafe status --scope {scope}"
    )
    return FAILED
