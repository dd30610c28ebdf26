"""`failsafe toggles show|diff|validate`.

failsafe toggles show                      # the toggles deployed on the target (latest COMPLETE deployment)
failsafe toggles show --file my.json       # a local document
failsafe toggles diff deployed my.json     # what deploying my.json would change, per scope
failsafe toggles validate my.json          # JSON Schema + the semantic rules the AppConfig validators run
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import jsonschema
import typer
from pydantic import ValidationError
from rich.table import Table

from failsafe.domain.diff import diff_documents, plain
from failsafe.domain.schema import toggles_schema
from failsafe.domain.toggles import ToggleDocument
from failsafe_tools.cli.options import RegionOpt, StackOpt, StateFileOpt, TargetOpt
from failsafe_tools.cli.output import FAILED, abort, console, emit_json, fail, friendly_errors, plural, safe
from failsafe_tools.cli.rollback import open_target, target_args
from failsafe_tools.cli.status import deployed_version
from failsafe_tools.local.server import DEFAULT_STATE_FILE
from failsafe_tools.target import Target

DEPLOYED = "deployed"

toggles_app = typer.Typer(
    name="toggles",
    help="Show, diff and validate toggle documents.",
    no_args_is_help=True,
    add_completion=False,
)


def register(app: typer.Typer) -> None:
    app.add_typer(toggles_app, name="toggles")


def problems_of(data: Any) -> list[str]:
    """Every problem of a toggles document: JSON Schema first (what AppConfig's JSON_SCHEMA validator
    rejects), then the domain model's semantic rules (what the LAMBDA validator rejects)."""
    schema = toggles_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    found = [
        f"{'.'.join(str(p) for p in error.absolute_path) or 'document'}: {error.message}"
        for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    ]
    if found:
        return found
    try:
        ToggleDocument.model_validate(data)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}" for e in exc.errors()]
    return []


def read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{what} {path}", f"cannot read it ({exc.strerror or exc})")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{what} {path}", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")


def load_document(path: Path, what: str) -> ToggleDocument:
    data = read_json(path, what)
    problems = problems_of(data)
    if problems:
        fail(f"{what} {path}", f"not a valid toggles document: {'; '.join(problems[:3])}")
    return ToggleDocument.model_validate(data)


def deployed_document(target: Target) -> tuple[int, ToggleDocument]:
    deployed = deployed_version(target)
    if deployed.version is None:
        abort(f"nothing is deployed on {target.description} yet (no COMPLETE AppConfig deployment)")
    content = (
        target.client("appconfig")
        .get_hosted_configuration_version(
            ApplicationId=target.output("AppConfigApplicationId"),
            ConfigurationProfileId=target.output("AppConfigProfileId"),
            VersionNumber=deployed.version,
        )["Content"]
        .read()
    )
    return deployed.version, ToggleDocument.model_validate_json(content)


def _document(source: str, args: dict[str, Any]) -> tuple[str, ToggleDocument]:
    if source == DEPLOYED:
        with friendly_errors():
            target = open_target(args)
            try:
                version, document = deployed_document(target)
            finally:
                target.close()
        return f"deployed config version {version} on {target.description}", document
    return source, load_document(Path(source), "file")


@toggles_app.command("show")
def show(
    *,
    file: Annotated[
        Path | None, typer.Option("--file", help="A local document instead of the deployed one.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the document as JSON.")] = False,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
) -> None:
    """Show a toggles document: the defaults and every scoped override."""
    label, document = _document(
        str(file) if file else DEPLOYED, target_args(target, stack, region, state_file)
    )
    if as_json:
        typer.echo(document.model_dump_json(indent=2))
        return
    out = console()
    meta = document.metadata
    out.print(
        f"[bold]{safe(label)}[/]: document version {meta.version} ({safe(meta.environment)}) "
        f"by {safe(meta.author)}: {safe(meta.reason)}"
    )
    table = Table(title_justify="left")
    table.add_column("toggle", style="bold")
    table.add_column("defaults")
    for override in document.overrides:
        table.add_column(
            safe(override.scope.key + (f"\n{override.incident_id}" if override.incident_id else ""))
        )
    defaults = document.toggles.model_dump(mode="json")
    columns = [o.toggles.model_dump(mode="json") for o in document.overrides]
    for name, value in defaults.items():
        table.add_row(name, safe(json.dumps(value)), *(safe(json.dumps(c[name])) for c in columns))
    out.print(table)


@toggles_app.command("diff")
def diff(
    *,
    before: Annotated[str, typer.Argument(help=f"A file, or '{DEPLOYED}' for what the target serves.")],
    after: Annotated[str, typer.Argument(help=f"A file, or '{DEPLOYED}'.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the changes as JSON.")] = False,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
) -> None:
    """Per-scope toggle changes from BEFORE to AFTER (exit 0 either way)."""
    args = target_args(target, stack, region, state_file)
    before_label, first = _document(before, args)
    after_label, second = _document(after, args)
    changes = diff_documents(first, second)
    if as_json:
        emit_json(
            {
                "before": before_label,
                "after": after_label,
                "changes": [d.model_dump(mode="json") for d in changes],
            }
        )
        return
    out = console()
    out.print(f"[bold]{safe(before_label)}[/] -> [bold]{safe(after_label)}[/]")
    if not changes:
        out.print("no toggle changes in any scope")
        return
    table = Table(title_justify="left")
    for column in ("scope", "toggle", "before", "after"):
        table.add_column(column)
    for scope_diff in changes:
        for index, change in enumerate(scope_diff.changes):
            table.add_row(
                safe(scope_diff.label) if index == 0 else "",
                change.field,
                safe(json.dumps(plain(change.before))),
                f"[bold]{safe(json.dumps(plain(change.after)))}[/]",
            )
    out.print(table)


@toggles_app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="The toggles document (JSON) to check.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Check a document as AppConfig's validators will: JSON Schema and the semantic rules."""
    data = read_json(file, "file")
    problems = problems_of(data)
    out = console()
    if as_json:
        emit_json({"file": str(file), "valid": not problems, "problems": problems})
        if problems:
            raise typer.Exit(FAILED)
        return
    if problems:
        for problem in problems:
            out.print(f"[red]invalid[/] {safe(file)}: {safe(problem)}")
        raise typer.Exit(FAILED)
    document = ToggleDocument.model_validate(data)
    out.print(
        f"[green]valid[/] {safe(file)}: version {document.metadata.version}, environment "
        f"{safe(document.metadata.environment)}, {plural(len(document.overrides), 'scoped override')}"
    )
