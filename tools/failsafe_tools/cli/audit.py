"""`failsafe audit verify` (hash chain intact?) and `failsafe audit log [--incident ID]`."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from failsafe.aws.audit_log import AuditLog
from failsafe.aws.audit_witness import function_log_groups, read_witnesses
from failsafe_tools.cli.options import RegionOpt, StackOpt, StateFileOpt, TargetOpt
from failsafe_tools.cli.output import FAILED, console, emit_json, friendly_errors, plural, safe
from failsafe_tools.cli.rollback import open_target, target_args
from failsafe_tools.local.server import DEFAULT_STATE_FILE

audit_app = typer.Typer(name="audit", help="The append-only, hash-chained audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
) -> None:
    """Walk the chain: every entry matches its hash and links to the previous one, and every entry the
    functions witnessed in CloudWatch Logs is still there unchanged (exit 1 if not)."""
    with friendly_errors():
        resolved = open_target(target_args(target, stack, region, state_file))
        try:
            functions = [value for key, value in resolved.outputs.items() if key.endswith("FunctionName")]
            witnessed = read_witnesses(resolved.client("logs"), function_log_groups(functions))
            result = AuditLog(resolved.client("dynamodb"), resolved.output("AuditTableName")).verify(
                witnessed
            )
        finally:
            resolved.close()
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        out = console()
        if result.ok:
            out.print(
                f"[green]audit chain {safe(repr(result.chain))} intact[/]: "
                f"{plural(result.entries, 'entry', 'entries')} verified, "
                f"{result.witnessed} of them against their CloudWatch Logs witness"
            )
        else:
            out.print(
                f"[red]audit chain {safe(repr(result.chain))} BROKEN[/]: "
                f"{plural(len(result.problems), 'problem')} in {plural(result.entries, 'entry', 'entries')}"
            )
            for problem in result.problems:
                out.print(f"  seq {problem.seq}: {safe(problem.problem)}")
    if not result.ok:
        raise typer.Exit(FAILED)


@audit_app.command("log")
def log(
    *,
    incident: Annotated[str | None, typer.Option("--incident", help="Only this incident's entries.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the entries as JSON.")] = False,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
) -> None:
    """Who did what, when and why."""
    with friendly_errors():
        resolved = open_target(target_args(target, stack, region, state_file))
        try:
            entries = AuditLog(resolved.client("dynamodb"), resolved.output("AuditTableName")).entries(
                incident_id=incident
            )
        finally:
            resolved.close()
    if as_json:
        emit_json([entry.model_dump(mode="json") for entry in entries])
        return
    table = Table(title_justify="left")
    for column in ("seq", "at", "action", "who", "why", "scope"):
        table.add_column(column)
    for entry in entries:
        table.add_row(
            str(entry.seq),
            f"{entry.at:%Y-%m-%d %H:%M:%S}",
            safe(entry.action),
            safe(entry.actor),
            safe(entry.reason[:80]),
            safe(entry.scope_key or "-"),
        )
    console().print(table)
