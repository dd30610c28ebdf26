"""`failsafe rollback --level 1|2|3|emergency --scope S --reason R [--dry-run] [--yes]`.

The CLI never changes toggles itself: it invokes the stack's ManualRollback function (the same code path
as `sam remote invoke ManualRollbackFunction --event-file events/manual-level-2.json`), first as a dry run
to show the plan, then for real after confirmation, and then only *watches* the server-side workflow.
Ctrl-C stops the watching; the rollback goes on and `failsafe status` follows it.
"""

from __future__ import annotations

import getpass
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from failsafe.aws.audit_log import AuditLog
from failsafe.aws.state_store import StateStore
from failsafe.domain.audit import AuditEntry
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.plans import Level
from failsafe_tools.cli.app import level_option
from failsafe_tools.cli.options import RegionOpt, StackOpt, StateFileOpt, TargetOpt
from failsafe_tools.cli.output import (
    FAILED,
    INTERRUPTED,
    abort,
    console,
    duration,
    emit_json,
    fail,
    friendly_errors,
    notice,
    safe,
)
from failsafe_tools.cli.status import check_scope_in_stack, parse_scope
from failsafe_tools.local.server import DEFAULT_STATE_FILE
from failsafe_tools.target import Target, resolve

WATCH_POLL_SECONDS = 0.5


def _pause(seconds: float) -> None:
    """The watcher's wait between polls (Ctrl-C lands here most of the time)."""
    time.sleep(seconds)


DEFAULT_SCOPE = "recommender/prod"

ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (recorded in the audit log; required).")]
AsOpt = Annotated[
    str | None, typer.Option("--as", help="Who you are (default: $FAILSAFE_OPERATOR or your login name).")
]
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
    typer.Option("--watch-timeout", help="Stop waiting after this many seconds (the workflow goes on)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the plan and the outcome as one JSON document.")]
WaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait/--no-wait",
        help="Follow the change until it is in force (or fails), with progress; exit 1 if it fails or "
        "misses its target time (measured on the stack's clock from the recorded timestamps).",
    ),
]
LevelOpt = Annotated[str, level_option()]


def register(app: typer.Typer) -> None:
    app.command("rollback")(rollback_command)


def operator(name: str | None) -> str:
    chosen = name or os.environ.get("FAILSAFE_OPERATOR") or getpass.getuser()
    if not chosen.strip():
        fail("--as", "give your name so the audit log records who acted (or set FAILSAFE_OPERATOR)")
    return chosen.strip()


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
    level: LevelOpt,
    scope: Annotated[
        str, typer.Option("--scope", help="service/environment[/region=a,b]...")
    ] = DEFAULT_SCOPE,
    reason: ReasonOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan; change nothing.")] = False,
    auto_restore: AutoRestoreOpt = False,
    yes: YesOpt = False,
    requested_by: AsOpt = None,
    wait: WaitOpt = True,
    watch_timeout: WatchTimeoutOpt = 900.0,
    as_json: JsonOpt = False,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
) -> None:
    """Run a rollback level in a scope: plan, confirm, then follow the server-side workflow (--wait)."""
    chosen_level = parse_level(level)
    chosen_scope = parse_scope(scope)
    why = require_reason(reason, f"rollback level {chosen_level.value}")
    who = operator(requested_by)
    request = {
        "action": "rollback",
        "level": chosen_level.value,
        "scope": chosen_scope.key,
        "reason": why,
        "requested_by": who,
        "auto_restore": auto_restore,
    }
    run_level(
        request,
        dry_run=dry_run,
        yes=yes,
        wait=wait,
        watch_timeout=watch_timeout,
        as_json=as_json,
        target_args=target_args(target, stack, region, state_file),
    )


def target_args(target: str, stack: str | None, region: str | None, state_file: Path) -> dict[str, Any]:
    return {"target": target, "stack": stack, "region": region, "state_file": state_file}


def open_target(args: dict[str, Any]) -> Target:
    return resolve(
        target=args["target"],
        stack=args["stack"],
        region=args["region"],
        state_file=args["state_file"],
        notice=notice,
    )


def confirm(question: str, yes: bool) -> None:
    """Ask once (on stderr, so `--json` stays one document on stdout); `--yes` skips it."""
    if not yes and not typer.confirm(question, default=False, err=True):
        abort("not confirmed; nothing was changed")


def run_level(
    request: dict[str, Any],
    *,
    dry_run: bool,
    yes: bool,
    wait: bool,
    watch_timeout: float,
    as_json: bool,
    target_args: dict[str, Any],
) -> None:
    """Dry run, render, confirm, invoke for real and follow: shared by `rollback` and `kill-switch on`."""
    code = 0
    document: dict[str, Any] = {}
    with friendly_errors():
        resolved = open_target(target_args)
        try:
            check_scope_in_stack(parse_scope(request["scope"]), resolved)
            plan = resolved.invoke("ManualRollbackFunctionName", {**request, "dry_run": True})
            document["plan"] = plan
            if not as_json:
                render_plan(plan, resolved)
            if dry_run:
                if as_json:
                    emit_json({**document, "dry_run": True, "changed": False})
                else:
                    console().print("[dim]dry run: nothing was changed[/]")
                return
            confirm(f"Apply level {request['level']} to {request['scope']} on {resolved.description}?", yes)
            result = resolved.invoke("ManualRollbackFunctionName", request)
            document["result"] = result
            incident = str(result.get("incident_id"))
            if not as_json:
                verb = "joined" if result.get("joined") else "started"
                console().print(
                    f"[bold]{verb}[/] incident [bold]{safe(incident)}[/] "
                    f"(workflow {safe(result.get('execution_arn') or '-')})"
                )
            if wait:
                final_stage = DEFAULT_PLAN.final_stage_of(request["level"]).name
                outcome = follow_level(
                    resolved,
                    request["scope"],
                    incident,
                    final_stage=final_stage,
                    requested_by=request["requested_by"],
                    timeout=watch_timeout,
                    quiet=as_json,
                )
                document["outcome"] = outcome
                code = int(outcome["exit_code"])
            elif not as_json:
                console().print(
                    f"not waiting: follow it with failsafe status --watch --scope {safe(request['scope'])}"
                )
        finally:
            resolved.close()
    if as_json:
        emit_json(document)
    if code:
        raise typer.Exit(code)


def render_plan(plan: dict[str, Any], target: Target) -> None:
    out = console()
    out.print(
        f"[bold]level {safe(plan.get('level'))}[/] in [bold]{safe(plan.get('scope'))}[/] on "
        f"{safe(target.description)}: {safe(plan.get('title', ''))}"
    )
    out.print(
        f"current state {safe(plan.get('current_state', '-'))}"
        + (f", open incident {safe(plan['open_incident'])}" if plan.get("open_incident") else "")
    )
    if plan.get("stages"):
        out.print(f"stages: {safe(' -> '.join(plan['stages']))}")
    render_diff(plan)
    render_steps(plan.get("deployment_plan", []))
    approvals = plan.get("approvals_needed") or []
    out.print(
        "[bold]approvals[/]: "
        + (
            safe("; ".join(f"{a.get('stage')} by {a.get('approver')}" for a in approvals))
            if approvals
            else "none"
        )
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


def render_diff(plan: dict[str, Any]) -> None:
    diff = Table(title="Toggle diff (before -> after)", title_justify="left")
    for column in ("scope", "toggle", "before", "after"):
        diff.add_column(column)
    for scope_diff in plan.get("toggle_diff", []):
        label = scope_label(scope_diff.get("scope"))
        for index, change in enumerate(scope_diff.get("changes", [])):
            diff.add_row(
                safe(label) if index == 0 else "",
                safe(change.get("field")),
                safe(json.dumps(change.get("before"))),
                f"[bold]{safe(json.dumps(change.get('after')))}[/]",
            )
    if not plan.get("toggle_diff"):
        diff.add_row(safe(plan.get("scope")), "(no toggle changes)", "", "")
    console().print(diff)


def describe_step(step: dict[str, Any]) -> str:
    """One deployment-plan step of the dry run in words (never the raw JSON)."""
    kind = step.get("step")
    if kind == "deploy_toggles":
        stages = step.get("stages")
        what = f"the toggles of {', '.join(stages)}" if stages else "the pre-incident toggles"
        since = step.get("from_config_version")
        return f"deploy {what} with the {step.get('strategy', '?')} strategy" + (
            f" (replacing config version {since})" if since is not None else ""
        )
    if kind == "revert_to_last_known_good":
        return f"{step.get('stage')}: revert the recommender to its last known good release" + (
            ", after approval" if step.get("requires_approval") else ""
        )
    details = ", ".join(f"{k} {v}" for k, v in sorted(step.items()) if k != "step")
    return f"{kind}" + (f" ({details})" if details else "")


def render_steps(steps: Sequence[dict[str, Any]]) -> None:
    out = console()
    for number, step in enumerate(steps, 1):
        out.print(f"step {number}: {safe(describe_step(step))}")


def scope_label(raw: object) -> str:
    """The scope key of a serialised `Scope` (as the dry run returns it), or the raw value."""
    from pydantic import ValidationError

    from failsafe.domain.scope import Scope

    try:
        return Scope.model_validate(raw).key
    except ValidationError:
        return str(raw)


def level_outcome(
    entries: Sequence[AuditEntry], final_stage: str, requested_by: str
) -> tuple[AuditEntry, AuditEntry] | None:
    """(the request's transition, the transition that put `final_stage` in force after it), from the
    incident's audit entries; None while the stage is not recorded in force."""
    requests = [
        e
        for e in entries
        if e.action == "transition:MANUAL_LEVEL"
        and e.actor == requested_by
        and e.after.get("stage") == final_stage
    ]
    if not requests:
        return None
    asked = requests[-1]
    applied = next(
        (
            e
            for e in entries
            if e.seq >= asked.seq
            and e.action.startswith("transition")
            and e.after.get("applied_stage") == final_stage
        ),
        None,
    )
    return None if applied is None else (asked, applied)


def reached(applied: str | None, final_stage: str) -> bool:
    """`applied` is `final_stage` or a later one (the controller may escalate past it between two polls)."""
    order = DEFAULT_PLAN.stage_names
    return applied in order and order.index(applied) >= order.index(final_stage)


def revert_skipped(entries: Sequence[AuditEntry]) -> AuditEntry | None:
    return next((e for e in reversed(entries) if e.action == "release:revert_skipped"), None)


def in_force_outcome(
    recorded: tuple[AuditEntry, AuditEntry],
    entries: Sequence[AuditEntry],
    final_stage: str,
    *,
    state: str,
    held: bool,
    clock_note: str,
) -> tuple[dict[str, Any], str]:
    """The outcome of a level the audit log records in force, and the line that says it."""
    stage = DEFAULT_PLAN.stage(final_stage)
    asked, applied_entry = recorded
    seconds = (applied_entry.at - asked.at).total_seconds()
    met = seconds <= stage.target_seconds
    outcome: dict[str, Any] = {
        "status": "in_force",
        "stage": final_stage,
        "state": state,
        "seconds": seconds,
        "target_seconds": stage.target_seconds,
        "target_met": met,
        "requested_at": asked.at.isoformat(),
        "in_force_at": applied_entry.at.isoformat(),
        "held_until_recovered": held,
        "exit_code": 0 if met else FAILED,
    }
    skipped = revert_skipped(entries) if stage.action is not None else None
    if skipped is not None:
        outcome.update(status="revert_skipped", detail=skipped.reason, exit_code=FAILED)
        return outcome, (
            f"[yellow]{safe(final_stage)}: the revert did not happen[/]: {safe(skipped.reason)}; "
            "the toggles of the stages before it stay in force"
        )
    timing = (
        f"in {duration(seconds)} on the stack's clock{clock_note} (target {duration(stage.target_seconds)})"
    )
    holds = "held until recovered (failsafe recover)" if held else "restores by itself once green"
    if met:
        return outcome, f"[green]{safe(final_stage)} is in force[/] {timing}; {holds}"
    return outcome, f"[red]{safe(final_stage)} is in force but missed its target[/]: {timing}; {holds}"


def follow_level(
    target: Target,
    scope: str,
    incident_id: str,
    *,
    final_stage: str,
    requested_by: str,
    timeout: float,
    quiet: bool = False,
) -> dict[str, Any]:
    """Follow the incident until the audit log records `final_stage` in force, the workflow ends, or
    `timeout` wall seconds pass. Every line says what was recorded; the time to mitigate is measured on the
    stack's clock from the audit timestamps against the stage's target. Ctrl-C stops following only.

    Returns the outcome (also the `--json` document's `outcome`), with its `exit_code`."""
    out = console()

    def say(text: str) -> None:
        if not quiet:
            out.print(text)

    store = StateStore(target.client("dynamodb"), target.output("StateTableName"), DEFAULT_PLAN)
    audit = AuditLog(target.client("dynamodb"), target.output("AuditTableName"))
    sfn = target.client("stepfunctions")
    clock_note = f" ({target.clock_note})" if target.clock_note else ""
    last = None
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            record = store.get(scope)
            if record is None or record.incident_id != incident_id:
                state = record.state if record else "NORMAL"
                say(f"incident {safe(incident_id)} was closed meanwhile; {safe(scope)} is {state}")
                return {"status": "closed", "state": state, "exit_code": 0}
            pending = record.pending_approval
            line = (
                record.state,
                record.lifecycle.stage,
                record.lifecycle.applied_stage,
                pending.stage if pending else None,
                record.deployed_config_version,
            )
            if line != last:
                last = line
                applied = record.lifecycle.applied_stage or "-"
                moving_to = record.lifecycle.stage or "-"
                say(
                    f"{target.now():%H:%M:%S}{clock_note} {record.state} stage {moving_to} "
                    f"(in force: {applied}, config version {record.deployed_config_version or '-'})"
                )
                if pending is not None:
                    say(
                        f"  waiting for approval of {safe(pending.stage)} (requested by "
                        f"{safe(pending.requested_by)}, expires {pending.expires_at:%H:%M:%S}{clock_note}): "
                        f"failsafe approve {safe(incident_id)} --as SOMEONE-ELSE"
                    )
            # the record says "applied" first; the audit entry that proves it (and times it) follows it
            entries = (
                audit.entries(incident_id=incident_id)
                if reached(record.lifecycle.applied_stage, final_stage)
                else []
            )
            recorded = level_outcome(entries, final_stage, requested_by)
            if recorded is not None:
                outcome, message = in_force_outcome(
                    recorded,
                    entries,
                    final_stage,
                    state=record.state,
                    held=record.hold_until_recovered,
                    clock_note=clock_note,
                )
                say(message)
                return outcome
            if record.execution_arn:
                status = sfn.describe_execution(executionArn=record.execution_arn)["status"]
                if status in ("FAILED", "TIMED_OUT", "ABORTED"):
                    say(f"[red]the workflow ended {status}[/]; see failsafe report {safe(incident_id)}")
                    return {"status": "workflow_" + status.lower(), "exit_code": FAILED}
            _pause(WATCH_POLL_SECONDS)
    except KeyboardInterrupt:
        say(
            f"\nstopped watching; the rollback continues server-side (incident {safe(incident_id)}). "
            f"Follow it with: failsafe status --watch --scope {safe(scope)}"
        )
        return {"status": "interrupted", "exit_code": INTERRUPTED}
    say(
        f"[yellow]{safe(final_stage)} not in force after {timeout:.0f} s[/]; "
        f"the workflow goes on: failsafe status --watch --scope {safe(scope)}"
    )
    return {"status": "timeout", "exit_code": FAILED}
