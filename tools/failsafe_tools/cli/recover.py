"""`failsafe recover --scope S --reason R [--immediate]`: the manual override back to NORMAL.

It invokes ManualRollback with `action: recover`: the running workflow is stopped and the scope's
pre-incident toggles are deployed (gradual strategy, or immediate with `--immediate`). Audited.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from failsafe_tools.cli.output import abort, console, friendly_errors
from failsafe_tools.cli.rollback import (
    DEFAULT_SCOPE,
    ReasonOpt,
    YesOpt,
    open_target,
    require_reason,
    target_args,
)
from failsafe_tools.cli.status import check_scope_in_stack, parse_scope
from failsafe_tools.cli.target import RegionOpt, StackOpt, StateFileOpt, TargetOpt, TemplateOpt
from failsafe_tools.local.server import DEFAULT_STATE_FILE


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
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
    template: TemplateOpt = Path("template.yaml"),
) -> None:
    """Manual override: end the scope's incident and restore its pre-incident toggles (audited)."""
    chosen = parse_scope(scope)
    why = require_reason(reason, "a manual recover")
    run_recover(
        chosen.key,
        why,
        immediate=immediate,
        dry_run=dry_run,
        yes=yes,
        args=target_args(target, stack, region, state_file, template),
    )


def run_recover(
    scope: str, reason: str, *, immediate: bool, dry_run: bool, yes: bool, args: dict[str, Any]
) -> None:
    request = {
        "action": "recover",
        "scope": scope,
        "reason": reason,
        "immediate": immediate,
    }
    out = console()
    with friendly_errors():
        resolved = open_target(args)
        try:
            check_scope_in_stack(parse_scope(scope), resolved)
            preview = resolved.call("ManualRollbackUrl", {**request, "dry_run": True})
            out.print(f"[bold]recover[/] {scope}: ends incident {preview.get('incident_id')}")
            for scope_diff in preview.get("toggle_diff", []):
                for change in scope_diff.get("changes", []):
                    out.print(
                        f"  {change.get('field')}: {json.dumps(change.get('before'))} -> "
                        f"[bold]{json.dumps(change.get('after'))}[/]"
                    )
            for step in preview.get("deployment_plan", []):
                out.print(f"deploy: {json.dumps(step, sort_keys=True)}")
            if dry_run:
                out.print("[dim]dry run: nothing was changed[/]")
                return
            if not yes and not typer.confirm(
                f"Return {scope} to NORMAL on {resolved.description}?", default=False
            ):
                abort("not confirmed; nothing was changed")
            result = resolved.call("ManualRollbackUrl", request)
        finally:
            resolved.close()
    deployment = result.get("deployment") or {}
    out.print(
        f"[green]{scope} is {result.get('state')}[/] (manual override by {result.get('requested_by')}); "
        f"incident {result.get('incident_id')} closed"
        + (f"; restoring config version {deployment.get('config_version')}" if deployment else "")
    )
