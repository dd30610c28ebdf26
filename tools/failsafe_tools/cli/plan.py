"""`failsafe plan --level 1|2|3|emergency`: what a rollback level would change, and nothing else.

The preview is computed by the domain (the same `apply_to_document` the controller deploys), so the dry
run shows exactly what a real run would write: the toggle diff per scope, the target time, the approvals,
the blast radius, the stages included and who is notified.

It plans against the document the target deploys now (`--target local` / `--stack NAME`) and refuses a
scope outside the stack's service and environment. `--from FILE` plans against a document instead (no
stack needed: the document's environment decides). `plan` never deploys: `--dry-run` is accepted, so a
`rollback ... --dry-run` line can be turned into a plan by changing the verb, and changes nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ConfigDict, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from failsafe.domain.baselines import BASELINES, BaselineName
from failsafe.domain.diff import BlastRadius, ScopeDiff, TrafficShares, blast_radius, diff_documents
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.plan_documents import apply_to_document
from failsafe.domain.plans import Level, Plan, PlanError, Stage
from failsafe.domain.scope import Scope, ScopeError
from failsafe.domain.toggles import Metadata, ToggleDocument
from failsafe_tools.cli.app import fail, level_option
from failsafe_tools.cli.options import RegionOpt, StackOpt, StateFileOpt, TargetOpt
from failsafe_tools.cli.output import emit_json, friendly_errors, notice, plural
from failsafe_tools.local.server import DEFAULT_STATE_FILE
from failsafe_tools.target import Target, resolve

ModelT = TypeVar("ModelT", bound=BaseModel)

DEFAULT_SCOPE = "recommender/prod"
DRY_RUN_INCIDENT = "dry-run"
DRY_RUN_AUTHOR = "failsafe plan --dry-run"


class Preview(BaseModel):
    """Everything a dry run reports about one level in one scope."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    level: Level
    scope: Scope
    source: str
    stages: tuple[Stage, ...]
    before: ToggleDocument
    after: ToggleDocument
    diffs: tuple[ScopeDiff, ...]
    blast: BlastRadius
    escalates_to: Stage | None
    joins: str | None = None
    notify: str = ""

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    @property
    def approvals(self) -> tuple[Stage, ...]:
        return tuple(stage for stage in self.stages if stage.requires_approval)


def preview(
    document: ToggleDocument,
    plan: Plan,
    level: Level,
    scope: Scope,
    *,
    source: str,
    traffic: TrafficShares | None = None,
    at: datetime,
) -> Preview:
    stages = plan.stages_for_level(level)
    held = next((o for o in document.overrides if o.scope == scope and o.incident_id), None)
    incident_id = held.incident_id if held is not None and held.incident_id else DRY_RUN_INCIDENT
    after = apply_to_document(
        document,
        plan,
        stages[-1].name,
        scope,
        incident_id=incident_id,
        author=DRY_RUN_AUTHOR,
        reason=f"dry run of level {level.value}",
        at=at,
    )
    return Preview(
        level=level,
        scope=scope,
        source=source,
        stages=stages,
        before=document,
        after=after,
        diffs=diff_documents(document, after),
        blast=blast_radius(document.effective_toggles(scope), after.effective_toggles(scope), scope, traffic),
        escalates_to=plan.next_stage(stages[-1].name),
        joins=None if held is None else f"{held.incident_id} (now at {held.stage or 'a hand-made override'})",
    )


def normal_document(environment: str, at: datetime) -> ToggleDocument:
    return ToggleDocument(
        metadata=Metadata(
            version=1, environment=environment, author="failsafe", reason="normal baseline", updated_at=at
        ),
        toggles=BASELINES[BaselineName.NORMAL],
    )


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_command)


def plan_command(
    *,
    level: Annotated[str, level_option()],
    scope: Annotated[
        str, typer.Option("--scope", help="service/environment[/region=a,b][/cohort=c][/client=d]")
    ] = DEFAULT_SCOPE,
    from_file: Annotated[
        Path | None,
        typer.Option("--from", help="Plan against this toggles document (JSON) instead of the deployed one."),
    ] = None,
    plan_file: Annotated[
        Path | None,
        typer.Option("--plan", help="Rollback plan (JSON). Default: infra/plans/default.json's plan."),
    ] = None,
    traffic_file: Annotated[
        Path | None,
        typer.Option("--traffic", help="Traffic shares by region/cohort/client (JSON) for the blast radius."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Accepted for symmetry with `rollback --dry-run`: plan never deploys."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the preview as JSON.")] = False,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
) -> None:
    """Show what a rollback level would change (against the deployed toggles): diff, target time,
    approvals, blast radius, notifications. Changes nothing."""
    del dry_run  # plan is always a dry run
    chosen_level = _parse_level(level)
    chosen_scope = _parse_scope(scope)
    plan = _load(plan_file, "--plan", Plan) if plan_file else DEFAULT_PLAN
    traffic = _load(traffic_file, "--traffic", TrafficShares) if traffic_file else None
    if from_file:
        document = _load(from_file, "--from", ToggleDocument)
        source = f"{from_file} (version {document.metadata.version})"
        now = datetime.now(UTC)
        routing = notify_routing(None)
    else:
        document, source, now, routing = _deployed(target, stack, region, state_file, chosen_scope)
    try:
        result = preview(document, plan, chosen_level, chosen_scope, source=source, traffic=traffic, at=now)
    except PlanError as error:
        fail(f"--scope {scope}", str(error).removeprefix(f"scope {chosen_scope.key}: "))
    result = result.model_copy(update={"notify": routing})
    if as_json:
        emit_json(preview_json(result))
        return
    render(result, Console(highlight=False, soft_wrap=True, emoji=False))


def _deployed(
    target: str, stack: str | None, region: str | None, state_file: Path, scope: Scope
) -> tuple[ToggleDocument, str, datetime, str]:
    """The deployed document, where it came from, the stack's clock and its notification routing."""
    from failsafe_tools.cli.status import check_scope_in_stack
    from failsafe_tools.cli.toggles_cmd import deployed_document

    with friendly_errors():
        resolved = resolve(target=target, stack=stack, region=region, state_file=state_file, notice=notice)
        try:
            check_scope_in_stack(scope, resolved)
            version, document = deployed_document(resolved)
            return (
                document,
                f"deployed config version {version} on {resolved.description} "
                f"(document version {document.metadata.version})",
                resolved.now(),
                notify_routing(resolved),
            )
        finally:
            resolved.close()


def notify_routing(target: Target | None) -> str:
    """Who is told, as the controller's notify step does it today (the same for every level): the stack's
    SNS topic on every transition, PagerDuty paged when the rollback starts, escalates or fails and
    resolved at the end (routing key in the stack's PagerDuty secret)."""
    topic = target.outputs.get("NotificationTopicArn") if target is not None else None
    secret = target.outputs.get("PagerDutySecretArn") if target is not None else None
    return (
        f"SNS topic {topic or '(the stack output NotificationTopicArn)'} on every transition; "
        f"PagerDuty (routing key in {secret or 'the stack output PagerDutySecretArn'}) paged when the "
        "rollback starts, escalates or fails, resolved when it ends"
    )


def preview_json(result: Preview) -> dict[str, Any]:
    return {
        "level": result.level.value,
        "scope": result.scope.key,
        "source": result.source,
        "stages": [stage.name for stage in result.stages],
        "target_seconds": result.final.target_seconds,
        "approvals": [stage.name for stage in result.approvals],
        "toggle_diff": [d.model_dump(mode="json") for d in result.diffs],
        "blast_radius": result.blast.model_dump(mode="json"),
        "escalates_to": result.escalates_to.name if result.escalates_to else None,
        "joins": result.joins,
        "notify": result.notify,
        "document_version": {
            "before": result.before.metadata.version,
            "after": result.after.metadata.version,
        },
        "changed": False,
    }


def _parse_level(text: str) -> Level:
    try:
        return Level(text.strip().lower())
    except ValueError:
        choices = ", ".join(level.value for level in Level)
        fail(f"--level {text}", f"choose one of {choices}")


def _parse_scope(text: str) -> Scope:
    try:
        return Scope.parse(text)
    except ScopeError as error:
        fail(f"--scope {text}", str(error).removeprefix(f"scope {text!r}: "))
    except ValidationError as error:
        fail(f"--scope {text}", _one_line(error) + " (letters, digits and _ . : - only)")


def _load(path: Path, option: str, model: type[ModelT]) -> ModelT:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        fail(f"{option} {path}", f"cannot read it ({error.strerror or error})")
    except json.JSONDecodeError as error:
        fail(f"{option} {path}", f"not JSON: {error.msg} at line {error.lineno} column {error.colno}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        fail(f"{option} {path}", f"not a valid {model.__name__}: {_one_line(error)}")


def _one_line(error: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in item['loc']) or 'document'}: {item['msg']}"
        for item in error.errors()
    ]
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return "; ".join(problems[:3]) + more


# --- rendering --------------------------------------------------------------------------------------------


def render(result: Preview, console: Console) -> None:
    final = result.final
    console.print(
        f"[bold]failsafe plan[/] level [bold]{result.level.value}[/] in [bold]{escape(result.scope.key)}[/]"
        "  [dim](dry run: nothing is deployed)[/]"
    )
    console.print(f"current config: {escape(result.source)}")
    if result.joins is not None:
        console.print(f"the scope is held by incident {escape(result.joins)}: a real run joins it")
    console.print(_stages_table(result.stages))
    console.print(_diff_table(result))
    console.print(f"[bold]target time[/]: in force within {_duration(final.target_seconds)}")
    console.print(f"[bold]approvals needed[/]: {_approvals(result)}")
    reason = "yes (a kill switch always needs a recorded reason)" if _needs_reason(result) else "no"
    console.print(f"[bold]reason required[/]: {reason}")
    console.print(f"[bold]blast radius[/]: {_blast(result)}")
    console.print(f"[bold]recovery[/]: {_recovery(result)}")
    console.print(f"[bold]notify[/]: {escape(result.notify or notify_routing(None))}")
    untouched = len([o for o in result.after.overrides if o.scope != result.scope])
    console.print(
        f"[bold]document[/]: version {result.before.metadata.version} -> {result.after.metadata.version}; "
        f"{plural(untouched, 'other scope override')} untouched"
    )


def _stages_table(stages: tuple[Stage, ...]) -> Table:
    table = Table(title="Stages included", title_justify="left")
    for column in ("stage", "level", "change", "target", "approval"):
        table.add_column(column)
    for stage in stages:
        table.add_row(
            stage.name,
            stage.level.value,
            escape(_change(stage)),
            _duration(stage.target_seconds),
            "required" if stage.requires_approval else "-",
        )
    return table


def _change(stage: Stage) -> str:
    if stage.overlay is None:
        assert stage.action is not None
        return f"{stage.title} (action {stage.action.value}; toggles unchanged)"
    parts = []
    for name, value in stage.overlay.values().items():
        shown = value.value if hasattr(value, "value") else value
        if name == "exposure_percent":
            parts.append(f"exposure_percent <= {shown}")
        elif name == "candidate_fallback_level":
            parts.append(f"candidate_fallback_level >= {shown}")
        else:
            parts.append(f"{name}={json.dumps(shown)}")
    return "\n".join(parts)


def _diff_table(result: Preview) -> Table:
    table = Table(title="Toggle diff per scope (before -> after)", title_justify="left")
    for column in ("scope", "toggle", "before", "after"):
        table.add_column(column, no_wrap=column == "toggle")
    for scope_diff in result.diffs:
        for index, change in enumerate(scope_diff.changes):
            table.add_row(
                escape(scope_diff.label) if index == 0 else "",
                change.field,
                escape(json.dumps(change.before)),
                f"[bold]{escape(json.dumps(change.after))}[/]",
            )
    if not result.diffs:
        table.add_row(escape(result.scope.key), "(no toggle changes)", "", "")
    return table


def _approvals(result: Preview) -> str:
    if not result.approvals:
        roles = ", ".join(result.final.authorized_roles)
        return f"none (may be run by {roles})"
    return "; ".join(
        f"{stage.name} needs approval by {' or '.join(stage.authorized_roles)}" for stage in result.approvals
    )


def _needs_reason(result: Preview) -> bool:
    return any(stage.requires_reason for stage in result.stages)


def _blast(result: Preview) -> str:
    blast = result.blast
    scope = escape(result.scope.key)
    environment = f"{result.scope.service}/{result.scope.environment}"
    share = _percent(blast.scope_share)
    where = (
        f"{scope} is {share} of {environment} traffic"
        if blast.scope_share is not None
        else f"{scope}'s share of {environment} traffic is unknown (pass --traffic)"
    )
    overall = blast.environment_changed_share
    of_environment = (
        f"{_percent(overall)} of {environment}" if overall is not None else f"{environment}: unknown"
    )
    return (
        f"{where}; after the change {_percent(blast.fallback_share)} of the scope's traffic is served the "
        f"fallback and {_percent(blast.changed_share)} of it sees a configuration change ({of_environment})"
    )


def _recovery(result: Preview) -> str:
    check = result.final.recovery
    kinds = ", ".join(kind.value for kind in check.guardrail_kinds)
    then = (
        f"escalate to {result.escalates_to.name}"
        if result.escalates_to is not None
        else "page humans (last stage)"
    )
    return f"{kinds} green within {_duration(check.deadline_seconds)}, else {then}"


def _duration(seconds: int) -> str:
    return f"{seconds} s ({seconds / 60:g} min)" if seconds >= 60 else f"{seconds} s"


def _percent(share: float | None) -> str:
    return "unknown" if share is None else f"{share * 100:.4g}%"
