"""`failsafe drill`: the whole loop on the embedded local AWS, with a time-to-mitigate scorecard.

    failsafe drill                       # the default scenario (latency) at 75x
    failsafe drill --scenario cf-outage --speed 120
    failsafe drill --list

Exit code 0 only if every target of the scorecard was met.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from failsafe_tools.cli.output import abort, console, duration, emit_json, fail
from failsafe_tools.drill.runner import (
    DEFAULT_SPEED,
    DrillError,
    DrillOptions,
    DrillProgress,
    DrillResult,
    run_drill,
)
from failsafe_tools.drill.scenarios import DEFAULT_SCENARIO, SCENARIOS, UnknownScenarioError, get_scenario
from failsafe_tools.local.provision import ProvisionError
from failsafe_tools.local.server import parse_parameters
from failsafe_tools.local.stack import LocalStackError


def register(app: typer.Typer) -> None:
    app.command("drill")(drill_command)


def drill_command(
    *,
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help=f"One of: {', '.join(SCENARIOS)}.")
    ] = DEFAULT_SCENARIO,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second.")] = DEFAULT_SPEED,
    rate: Annotated[float, typer.Option(help="Recommender requests per simulated second.")] = 2.0,
    template: Annotated[Path, typer.Option(help="SAM template to provision.")] = Path("template.yaml"),
    package: Annotated[
        Path | None,
        typer.Option(
            help="A `sam build` output directory (make build): provision its template and run each "
            "function's built package in a sandbox process, as Lambda would. Overrides --template."
        ),
    ] = None,
    lambda_python: Annotated[
        Path,
        typer.Option(help="With --package: the Python that plays the Lambda runtime (make lambda-python)."),
    ] = Path(".venv-lambda/bin/python"),
    report_dir: Annotated[Path, typer.Option(help="Where the incident report is written.")] = Path(
        ".failsafe/reports"
    ),
    max_minutes: Annotated[
        float, typer.Option(help="Give up after this many simulated minutes after the fault.")
    ] = 180.0,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", help="Template parameter override, Key=Value (e.g. VerifyWindowSeconds=300)."
        ),
    ] = None,
    list_scenarios: Annotated[bool, typer.Option("--list", help="List the scenarios and exit.")] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the scorecard (or --list) as JSON instead of the live panel."),
    ] = False,
) -> None:
    """Rehearse an incident end to end on a private local stack and score it against the seeds' targets.

    The drill provisions its own stack (it does not use `failsafe local up`) and stops it at the end."""
    out = console()
    if list_scenarios:
        show_scenarios(as_json)
        return
    try:
        chosen = get_scenario(scenario)
    except UnknownScenarioError as exc:
        fail(f"--scenario {scenario}", str(exc).split("; ", 1)[-1])
    if speed <= 0 or speed > 1000:
        fail(f"--speed {speed:g}", "must be > 0 and at most 1000 (60 turns 15 minutes into 15 s)")
    if rate <= 0:
        fail(f"--rate {rate:g}", "must be > 0 requests per simulated second")
    try:
        overrides = parse_parameters(param or [])
    except ValueError as exc:
        fail("--param", str(exc))
    template, sandbox_python = _template_and_runtime(template, package, lambda_python)
    options = DrillOptions(
        scenario=chosen,
        speed=speed,
        rate=rate,
        template=template,
        report_dir=report_dir,
        max_simulated_seconds=max_minutes * 60,
        parameters={"LogLevel": "WARNING", **overrides},
        lambda_python=sandbox_python,
    )
    if as_json:
        try:
            result = run_drill(options, progress=None, stop=threading.Event())
        except (DrillError, LocalStackError, ProvisionError) as exc:
            abort(f"the drill could not run: {exc}")
        emit_json(result_json(result))
        if not result.passed:
            raise typer.Exit(1)
        return
    out.print(f"[bold]failsafe drill[/] {chosen.name}: {escape(chosen.title)}  [dim](clock {speed:g}x)[/]")
    out.print(
        "stack: a private local stack for this drill (provisioned now, stopped when the drill ends; "
        "`failsafe local up` is not used)"
    )
    if package is not None:
        out.print(f"functions: the built package in {escape(str(package))}, one sandbox process each")
    else:
        out.print("functions: the source tree, in-process (--package .aws-sam/build runs the built package)")
    for name in ("failsafe", "botocore", "moto", "werkzeug"):  # the live panel is the drill's output
        logging.getLogger(name).setLevel(logging.WARNING)
    stop = threading.Event()
    latest: list[DrillProgress] = []
    with Live(_panel(None), console=out, refresh_per_second=4, transient=True) as live:

        def show(progress: DrillProgress) -> None:
            latest[:] = [progress]
            live.update(_panel(progress))

        try:
            result = run_drill(options, progress=show, stop=stop)
        except KeyboardInterrupt:
            stop.set()
            abort("drill interrupted; the embedded stack was stopped and nothing outside it was touched", 130)
        except (DrillError, LocalStackError, ProvisionError) as exc:
            abort(f"the drill could not run: {exc}")
    render_result(result)
    if not result.passed:
        raise typer.Exit(1)


def _template_and_runtime(
    template: Path, package: Path | None, lambda_python: Path
) -> tuple[Path, Path | None]:
    """The template to provision and, for a built package, the Python its sandboxes run on."""
    if package is None:
        if not template.is_file():
            fail(f"--template {template}", "no such file; run from the repository root or pass --template")
        return template, None
    built = package / "template.yaml"
    if not built.is_file():
        fail(f"--package {package}", "holds no template.yaml; run `make build` (sam build) first")
    if not lambda_python.is_file():
        fail(f"--lambda-python {lambda_python}", "no such interpreter; run `make lambda-python` first")
    return built, lambda_python


def _panel(progress: DrillProgress | None) -> Table:
    table = Table(show_header=False, title="drill", title_justify="left", min_width=70)
    table.add_column("what", style="bold")
    table.add_column("value")
    if progress is None:
        table.add_row("phase", "starting")
        return table
    table.add_row("phase", progress.phase)
    table.add_row("simulated", f"{progress.simulated:%H:%M:%S} (+{duration(progress.elapsed_simulated)})")
    table.add_row("state", f"{progress.state}" + (f" / {progress.stage}" if progress.stage else ""))
    table.add_row("incident", progress.incident_id or "-")
    table.add_row("alarms firing", ", ".join(progress.alarms) or "none")
    table.add_row(
        "config version",
        f"deployed {progress.deployed_version if progress.deployed_version is not None else '-'}, "
        f"client {progress.client_version}",
    )
    table.add_row("fill rate", "-" if progress.fill_rate is None else f"{progress.fill_rate:.1f} %")
    table.add_row("requests served", str(progress.requests))
    return table


def show_scenarios(as_json: bool) -> None:
    if as_json:
        emit_json(
            [
                {
                    "scenario": s.name,
                    "fault": s.title,
                    "expected_levels": [level.value for level in s.expected_levels],
                }
                for s in SCENARIOS.values()
            ]
        )
        return
    table = Table(title="Drill scenarios", title_justify="left")
    table.add_column("scenario", style="bold")
    table.add_column("fault")
    table.add_column("expected level")
    for s in SCENARIOS.values():
        table.add_row(s.name, escape(s.title), " or ".join(level.value for level in s.expected_levels))
    console().print(table)


def result_json(result: DrillResult) -> dict[str, object]:
    return {
        "scenario": result.scenario,
        "incident_id": result.incident_id,
        "final_state": result.final_state,
        "passed": result.passed,
        "interrupted": result.interrupted,
        "requests": result.requests,
        "wall_seconds": result.wall_seconds,
        "scorecard": result.scorecard.model_dump(mode="json"),
        "notes": list(result.notes),
        "report_paths": {fmt: str(path) for fmt, path in result.report_paths.items()},
    }


def render_result(result: DrillResult) -> None:
    out = console()
    card = result.scorecard
    table = Table(
        title=f"Scorecard: {result.scenario} ({result.incident_id or 'no incident'})", title_justify="left"
    )
    for column in ("measure", "from -> to", "time", "target", "met"):
        table.add_column(column)
    for m in card.measures:
        met = {True: "[green]yes[/]", False: "[red]NO[/]", None: "-"}[m.met]
        table.add_row(
            m.name,
            f"{m.frm} -> {m.to}",
            duration(m.seconds),
            "-" if m.target_seconds is None else f"<= {duration(m.target_seconds)}",
            met,
        )
    for r in (*card.ratios, *card.checks):
        value = "-" if r.value is None else f"{r.value:g}"
        table.add_row(r.name, "", value, r.target, "[green]yes[/]" if r.met else f"[red]NO[/] {r.note}")
    out.print(table)
    out.print(
        f"final state [bold]{result.final_state}[/]; {result.requests} requests served; "
        f"wall time {result.wall_seconds:.1f} s"
    )
    for note in result.notes:
        out.print(f"[yellow]note:[/] {note}")
    for fmt, path in result.report_paths.items():
        out.print(f"report ({fmt}): {path}")
    if result.passed:
        out.print("[green bold]PASS[/]: every target met")
    else:
        out.print("[red bold]FAIL[/]: " + "; ".join(card.failures() or ["interrupted"]))
