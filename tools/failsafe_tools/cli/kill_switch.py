"""`failsafe kill-switch on|off --reason R [--scope S]`.

`on` is the Emergency level (kill switch, 10 % traffic, content-only, popularity fallback): no approval,
but always a recorded reason. `off` is the audited manual return to NORMAL of the scope (`recover`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from failsafe.domain.plans import Level
from failsafe_tools.cli.recover import run_recover
from failsafe_tools.cli.rollback import (
    DEFAULT_SCOPE,
    AutoRestoreOpt,
    ReasonOpt,
    WatchTimeoutOpt,
    YesOpt,
    require_reason,
    run_level,
    target_args,
)
from failsafe_tools.cli.status import parse_scope
from failsafe_tools.cli.target import RegionOpt, StackOpt, StateFileOpt, TargetOpt, TemplateOpt
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
    watch_timeout: WatchTimeoutOpt = 900.0,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
    template: TemplateOpt = Path("template.yaml"),
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
    args = target_args(target, stack, region, state_file, template)
    if choice == "on":
        request = {
            "action": "rollback",
            "level": Level.EMERGENCY.value,
            "scope": chosen_scope.key,
            "reason": why,
            "auto_restore": auto_restore,
        }
        run_level(request, dry_run=dry_run, yes=yes, watch_timeout=watch_timeout, target_args=args)
        return
    run_recover(chosen_scope.key, why, immediate=True, dry_run=dry_run, yes=yes, args=args)
