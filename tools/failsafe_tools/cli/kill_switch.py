"""`failsafe kill-switch on|off --reason R [--scope S]`.

`on` is the Emergency level (kill switch, 10 % traffic, content-only, popularity fallback): no approval,
but always a recorded reason; it holds until recovered unless `--auto-restore`. `off` is the audited manual
return to NORMAL of the scope (`recover --immediate`); when it is already off it says so and exits 0.
"""

from __future__ import annotations

from typing import Annotated

import typer

from failsafe.domain.plans import Level
from failsafe_tools.cli.options import RegionOpt, StackOpt, StateFileOpt, TargetOpt
from failsafe_tools.cli.recover import run_recover
from failsafe_tools.cli.rollback import (
    DEFAULT_SCOPE,
    AsOpt,
    AutoRestoreOpt,
    JsonOpt,
    ReasonOpt,
    WatchTimeoutOpt,
    YesOpt,
    operator,
    require_reason,
    run_level,
    target_args,
)
from failsafe_tools.cli.status import parse_scope
from failsafe_tools.local.server import DEFAULT_STATE_FILE


def register(app: typer.Typer) -> None:
    app.command("kill-switch")(kill_switch_command)


def kill_switch_command(
    *,
    switch: Annotated[str, typer.Argument(help="on or off")],
    reason: ReasonOpt = None,
    scope: Annotated[str, typer.Option("--scope", help="Scope to switch.")] = DEFAULT_SCOPE,
    yes: YesOpt = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan; change nothing.")] = False,
    auto_restore: AutoRestoreOpt = False,
    requested_by: AsOpt = None,
    wait: Annotated[
        bool | None,
        typer.Option(
            "--wait/--no-wait",
            help="Follow the change until it is in force (on: default) or the restore is complete (off: "
            "not by default); exit 1 if it fails or misses its target time (stack clock).",
        ),
    ] = None,
    watch_timeout: WatchTimeoutOpt = 900.0,
    as_json: JsonOpt = False,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
) -> None:
    """Emergency stop (on) or the audited return to normal (off). No approval; a reason is required."""
    choice = switch.strip().lower()
    if choice not in ("on", "off"):
        from failsafe_tools.cli.output import fail

        fail(
            f"kill-switch {switch}",
            "say `failsafe kill-switch on --reason ...` or `failsafe kill-switch off --reason ...`",
        )
    if choice == "off" and auto_restore:
        from failsafe_tools.cli.output import fail

        fail("kill-switch off --auto-restore", "--auto-restore belongs to `kill-switch on`; drop it here")
    chosen_scope = parse_scope(scope)
    why = require_reason(reason, f"kill-switch {choice}")
    who = operator(requested_by)
    args = target_args(target, stack, region, state_file)
    if choice == "on":
        request = {
            "action": "rollback",
            "level": Level.EMERGENCY.value,
            "scope": chosen_scope.key,
            "reason": why,
            "requested_by": who,
            "auto_restore": auto_restore,
        }
        run_level(
            request,
            dry_run=dry_run,
            yes=yes,
            wait=True if wait is None else wait,
            watch_timeout=watch_timeout,
            as_json=as_json,
            target_args=args,
        )
        return
    run_recover(
        chosen_scope.key,
        why,
        who,
        immediate=True,
        dry_run=dry_run,
        yes=yes,
        args=args,
        wait=bool(wait),
        watch_timeout=watch_timeout,
        as_json=as_json,
        what="kill-switch off",
    )
