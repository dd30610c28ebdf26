"""`failsafe query coverage|latency|errors|efficacy`: seed 000's guardrail and efficacy SQL over the events.

The SQL is ``infra/queries/NAME.sql`` (Athena's dialect), the one source for both engines:

- ``--target local`` (default): DuckDB over the local event directory (``--events-dir``, where drills and
  the local recommender write Parquet), the query transpiled by sqlglot;
- ``--stack NAME``: Athena in the stack's workgroup and Glue database (stack outputs
  ``AthenaWorkGroupName`` and ``EventsDatabaseName``), through StartQueryExecution with ExecutionParameters.

Every value (scope, times) is bound as a parameter, never formatted into the SQL. The window is by event
time: ``--since`` (a duration back from now such as ``30m``, ``2h``, ``1d``, or an ISO-8601 instant) up to
``--until`` (default now). ``--incident ID`` takes the scope and the rollback instant (when the incident's
toggles were in force) from the incident, and a window of ``--window`` on each side of it; efficacy needs
a rollback instant (``--incident`` or ``--at``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from failsafe.domain.queries import QueryName, QueryParameterError, QueryValues, bind
from failsafe.domain.scope import Scope
from failsafe_tools.cli.options import RegionOpt, StackOpt, StateFileOpt, TargetOpt
from failsafe_tools.cli.output import abort, console, fail, friendly_errors
from failsafe_tools.evidence.duckdb_engine import (
    DEFAULT_QUERIES_DIR,
    DuckDbEvidence,
    QueryFileError,
    load_query,
)
from failsafe_tools.local.server import DEFAULT_STATE_FILE

DEFAULT_EVENTS_DIR = Path(".failsafe/events")
DRILL_REPORTS = Path(".failsafe/reports")
_DURATION = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def register(app: typer.Typer) -> None:
    app.command("query")(query_command)


def parse_duration(text: str, what: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if match is None or float(match.group("n")) <= 0:
        fail(f"{what} {text}", "give a positive duration such as 90s, 30m, 2h or 1d")
    return timedelta(seconds=float(match.group("n")) * _UNITS[match.group("unit")])


def parse_instant(text: str, what: str, now: datetime) -> datetime:
    """An ISO-8601 instant (UTC when it names no zone) or a duration back from `now`."""
    if _DURATION.match(text.strip()):
        return now - parse_duration(text, what)
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"{what} {text}", "give an ISO-8601 instant (2026-12-08T10:00:00Z) or a duration (30m)")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def incident_facts(
    incident: str, *, drill_reports: Path, target_args: dict[str, Any]
) -> tuple[str, datetime, datetime | None]:
    """(scope key, rollback instant, end) of an incident: its drill report, else the target's records.

    The rollback instant is when the incident's toggles were in force (its first completed deployment
    after it started), else its first toggle deployment, else its start."""
    from failsafe_tools.cli.report import collect, from_drill
    from failsafe_tools.cli.rollback import open_target

    report = from_drill(incident, drill_reports) if target_args.get("stack") is None else None
    if report is None:
        with friendly_errors():
            resolved = open_target(target_args)
            try:
                report = collect(resolved, incident)
                where = resolved.description
            finally:
                resolved.close()
        if report is None:
            abort(f"incident {incident} is unknown to {where}; check the id with `failsafe status`")
    # After the incident started: a drill's timeline also holds the deployment of its baseline before it.
    started = report.started_at
    in_force = report.timeline.first("deployment:complete", after=started) or report.timeline.first(
        lambda e: e.kind.startswith("audit:toggles:deploy"), after=started
    )
    rollback_at = in_force.at if in_force is not None else report.started_at
    if report.scope is None or rollback_at is None:
        abort(f"incident {incident}: its report has no scope or no rollback instant; give --scope and --at")
    return report.scope, rollback_at, report.ended_at


def render_rows(name: QueryName, rows: list[dict[str, Any]], values: QueryValues) -> None:
    out = console()
    out.print(
        f"{name.value}: {values.service}/{values.environment}"
        + "".join(
            f" {k}={v}"
            for k, v in (("region", values.region), ("cohort", values.cohort), ("client", values.client))
            if v
        )
        + f", {values.since.isoformat()} .. {values.until.isoformat()}"
        + (f", rollback at {values.rollback_at.isoformat()}" if values.rollback_at else "")
    )
    if not rows:
        out.print("no rows (no events in the window and scope)")
        return
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*(_cell(value) for value in row.values()))
    out.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def query_command(
    *,
    name: Annotated[str, typer.Argument(help="coverage, latency, errors or efficacy.")],
    scope: Annotated[
        str | None, typer.Option("--scope", help="service/env[/region=a,b][/cohort=..][/client=..].")
    ] = None,
    since: Annotated[str, typer.Option("--since", help="Window start: 30m, 2h, 1d or ISO-8601.")] = "1h",
    until: Annotated[str | None, typer.Option("--until", help="Window end (default: now).")] = None,
    incident: Annotated[
        str | None, typer.Option("--incident", help="Scope and rollback instant from this incident.")
    ] = None,
    at: Annotated[str | None, typer.Option("--at", help="Rollback instant (ISO-8601) for efficacy.")] = None,
    window: Annotated[str, typer.Option("--window", help="With --incident: time on each side.")] = "30m",
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
    events_dir: Annotated[
        Path, typer.Option("--events-dir", help="Local Parquet events (--target local).")
    ] = DEFAULT_EVENTS_DIR,
    queries_dir: Annotated[Path, typer.Option("--queries-dir", help="The SQL files.")] = DEFAULT_QUERIES_DIR,
    drill_reports: Annotated[Path, typer.Option(help="Where drills write their reports.")] = DRILL_REPORTS,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
) -> None:
    """Seed 000's coverage, latency, errors or rollback-efficacy query over the recommender's events."""
    try:
        query = QueryName(name)
    except ValueError:
        fail(f"QUERY {name}", f"choose one of {', '.join(q.value for q in QueryName)}")
    if stack is None and target != "local":
        fail(f"--target {target}", "use --target local (DuckDB) or --stack NAME (Athena)")
    now = datetime.now(UTC)
    rollback_at = parse_instant(at, "--at", now) if at else None
    scope_key = scope
    start: datetime
    end: datetime
    if incident is not None:
        from failsafe_tools.cli.rollback import target_args

        incident_scope, rollback_at, ended = incident_facts(
            incident,
            drill_reports=drill_reports,
            target_args=target_args(target, stack, region, state_file),
        )
        scope_key = scope or incident_scope
        side = parse_duration(window, "--window")
        start = rollback_at - side
        end = rollback_at + side if ended is None else min(rollback_at + side, max(ended, rollback_at))
        end = max(end, rollback_at + timedelta(seconds=1))
    else:
        start = parse_instant(since, "--since", now)
        end = parse_instant(until, "--until", now) if until else now
    if scope_key is None:
        fail("--scope", "give the scope to query, e.g. --scope recommender/prod/region=eu-west-1")
    try:
        parsed = Scope.parse(scope_key)
    except (ValueError, ValidationError) as exc:
        fail(f"--scope {scope_key}", str(exc).splitlines()[0])
    try:
        values = QueryValues(
            service=parsed.service,
            environment=parsed.environment,
            region=",".join(parsed.regions),
            cohort=",".join(parsed.cohorts),
            client=",".join(parsed.clients),
            since=start,
            until=end,
            rollback_at=rollback_at,
        )
    except ValidationError as exc:
        fail("--since/--until", exc.errors()[0]["msg"])
    try:
        sql = load_query(query, queries_dir)
        parameters = bind(sql, values)
    except (QueryFileError, QueryParameterError) as exc:
        fail(f"query {query.value}", str(exc))
    if stack is None:
        rows: list[dict[str, Any]] = DuckDbEvidence(events_dir, queries_dir).run_sql(sql, parameters)
    else:
        rows = _athena(sql, parameters, stack=stack, region=region)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
    else:
        render_rows(query, rows, values)


def _athena(sql: str, parameters: list[str | int], *, stack: str, region: str | None) -> list[dict[str, Any]]:
    from failsafe.aws.athena_queries import AthenaQueryError, AthenaQueryRunner
    from failsafe_tools.target import resolve

    with friendly_errors():
        resolved = resolve(stack=stack, region=region)
        try:
            runner = AthenaQueryRunner(
                resolved.client("athena"),
                workgroup=resolved.output("AthenaWorkGroupName"),
                database=resolved.output("EventsDatabaseName"),
            )
            try:
                return list(runner.run(sql, parameters))
            except AthenaQueryError as exc:
                abort(str(exc))
        finally:
            resolved.close()
