"""`failsafe local up|down|status`: the local AWS on 127.0.0.1, provisioned from template.yaml.

    failsafe local up --detach            # background server on http://127.0.0.1:5000, state in .failsafe/
    aws --endpoint-url http://127.0.0.1:5000 cloudformation describe-stacks --stack-name failsafe
    failsafe local status
    failsafe local down

`local_app` is a self-contained Typer app; `register(app)` mounts it as `failsafe local`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from failsafe_tools.local.provision import ProgressEvent, ProvisionError
from failsafe_tools.local.server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_STATE_FILE,
    SERVER_SPEED,
    NotRunningError,
    ServerError,
    ServerState,
    healthy,
    parse_parameters,
    pid_alive,
    read_state,
    serve,
    start_detached,
    stop_server,
)

USAGE_ERROR = 2

local_app = typer.Typer(
    name="local",
    help="Run failsafe's embedded local AWS (moto plus the pieces it lacks), provisioned from template.yaml.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

TemplateOpt = Annotated[Path, typer.Option("--template", "-t", help="SAM template to provision.")]
StateOpt = Annotated[Path, typer.Option("--state-file", help="Where the running server records itself.")]


def register(app: typer.Typer) -> None:
    """Mount `failsafe local` on the main CLI."""
    app.add_typer(local_app, name="local")


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True, emoji=False)


def _error(message: str, code: int = 1) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True, emoji=False).print(
        f"[red]error:[/] {escape(message)}"
    )
    return typer.Exit(code)


class _ProgressView:
    """A Rich progress bar fed by provisioning events."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("provisioning", total=None)

    def __call__(self, event: ProgressEvent) -> None:
        verb = "created" if event.phase == "created" else "creating"
        self.progress.update(
            self.task,
            total=event.total,
            completed=event.index if event.phase == "created" else event.index - 1,
            description=f"{verb} {event.logical_id} [dim]({event.resource_type})[/]",
        )


class _ProgressLines:
    """Provisioning progress for a log or CI (no terminal to draw a bar on): one line per resource created."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, event: ProgressEvent) -> None:
        if event.phase == "created":
            self.console.print(
                f"provisioning {event.index}/{event.total}: created {escape(event.logical_id)} "
                f"({escape(event.resource_type)})"
            )


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


def _progress_for(console: Console, as_json: bool) -> tuple[Any, Callable[[ProgressEvent], None]]:
    """A Rich bar on a terminal; progress lines on stderr otherwise (a log, CI, or `--json`)."""
    if console.is_terminal and not as_json:
        bar = _progress(console)
        return bar, _ProgressView(bar)
    return _NoBar(), _ProgressLines(Console(stderr=True, highlight=False, soft_wrap=True, emoji=False))


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _show(console: Console, state: ServerState, title: str) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("key", style="bold")
    table.add_column("value")
    table.add_row("endpoint", state.endpoint)
    table.add_row("AppConfig agent", state.agent_url or "-")
    table.add_row("region", state.region)
    table.add_row("stack", f"{state.stack_name} ({len(state.resources)} resources)")
    table.add_row("pid", str(state.pid))
    table.add_row("clock", f"{state.speed}x" if state.speed else "-")
    console.print(table)
    outputs = Table(title="Outputs", title_justify="left")
    outputs.add_column("OutputKey", style="bold")
    outputs.add_column("OutputValue")
    for key, value in state.outputs.items():
        outputs.add_row(key, value)
    console.print(outputs)
    console.print(
        f"Use it from any process: boto3.client(..., endpoint_url=[bold]{state.endpoint}[/], region_name="
        f"'{state.region}') or AWS_ENDPOINT_URL={state.endpoint}"
    )


def _parameters(params: list[str]) -> dict[str, str]:
    try:
        return parse_parameters(params)
    except ValueError as exc:
        raise _error(str(exc), USAGE_ERROR) from None


@local_app.command("up")
def up(
    *,
    template: TemplateOpt = Path("template.yaml"),
    port: Annotated[
        int, typer.Option(help="Port of the AWS endpoint on 127.0.0.1 (0: any free port).")
    ] = DEFAULT_PORT,
    speed: Annotated[
        float,
        typer.Option(
            help="Clock speed: simulated seconds per wall second. 1 (real time) for a server that outside "
            "clients write to with their own timestamps; speed-up is for drills, which own their clock."
        ),
    ] = SERVER_SPEED,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background and return.")] = False,
    agent_port: Annotated[int, typer.Option(help="Port of the AppConfig agent endpoint (0: any).")] = 0,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Template parameter override, Key=Value.")
    ] = None,
    stack_name: Annotated[str, typer.Option(help="Stack name (AWS::StackName).")] = "failsafe",
    state_file: StateOpt = DEFAULT_STATE_FILE,
    timeout: Annotated[
        float, typer.Option(help="With --detach: seconds to wait until it is healthy.")
    ] = 120.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the running stack's state as JSON (progress on stderr).")
    ] = False,
) -> None:
    """Start the local AWS and provision the template into it."""
    console = _console()
    if not template.is_file():
        raise _error(f"template {template}: no such file (pass --template)", USAGE_ERROR)
    if speed <= 0:
        raise _error(f"--speed {speed}: must be > 0", USAGE_ERROR)
    parameters = _parameters(param or [])
    try:
        if detach:
            bar, view = _progress_for(console, as_json)
            with bar:
                state = start_detached(
                    template,
                    host=DEFAULT_HOST,
                    port=port,
                    speed=speed,
                    agent_port=agent_port,
                    parameters=parameters,
                    stack_name=stack_name,
                    state_file=state_file,
                    timeout=timeout,
                    progress=view,
                )
            if as_json:
                typer.echo(json.dumps(json.loads(state.to_json()), indent=2))
                return
            _show(console, state, f"failsafe local stack running in the background (pid {state.pid})")
            console.print(
                "Stop it with: [bold]failsafe local down[/] "
                f"(log: {escape(str(state_file.with_suffix('.log')))})"
            )
            return

        bar, view = _progress_for(console, as_json)
        bar.start()

        def ready(state: ServerState) -> None:
            bar.stop()
            if as_json:
                typer.echo(json.dumps(json.loads(state.to_json()), indent=2))
                return
            _show(console, state, "failsafe local stack running")
            console.print("Press Ctrl+C to stop (or run `failsafe local down` elsewhere).")

        try:
            serve(
                template,
                host=DEFAULT_HOST,
                port=port,
                speed=speed,
                agent_port=agent_port,
                parameters=parameters,
                stack_name=stack_name,
                state_file=state_file,
                progress=view,
                on_ready=ready,
            )
        finally:
            bar.stop()
        if not as_json:
            console.print("failsafe local stack stopped.")
    except (ServerError, ProvisionError) as exc:
        raise _error(str(exc)) from None


@local_app.command("down")
def down(
    state_file: StateOpt = DEFAULT_STATE_FILE,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was stopped as JSON.")] = False,
) -> None:
    """Stop the local AWS started by `failsafe local up`."""
    console = _console()
    try:
        result = stop_server(state_file)
    except NotRunningError:
        if as_json:
            typer.echo(
                json.dumps({"stopped": False, "running": False, "state_file": str(state_file)}, indent=2)
            )
            return
        console.print(
            f"No local stack is running (no state file {escape(str(state_file))}); nothing to stop."
        )
        return
    except ServerError as exc:
        raise _error(str(exc)) from None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "stopped": not result.stale,
                    "stale": result.stale,
                    "pid": result.pid,
                    "endpoint": result.endpoint,
                },
                indent=2,
            )
        )
        return
    if result.stale:
        console.print(f"The local stack (pid {result.pid}) was no longer running; removed its state file.")
    else:
        console.print(f"Stopped the local stack (pid {result.pid}, {result.endpoint}).")


@local_app.command("status")
def status(
    state_file: StateOpt = DEFAULT_STATE_FILE,
    as_json: Annotated[bool, typer.Option("--json", help="Print the state file as JSON.")] = False,
) -> None:
    """Show whether the local AWS is running, its endpoints and the stack outputs (exit 1 if not running)."""
    console = _console()
    try:
        state = read_state(state_file)
    except ServerError as exc:
        raise _error(str(exc)) from None
    if state is None:
        if as_json:
            typer.echo(json.dumps({"running": False, "state_file": str(state_file)}, indent=2))
            raise typer.Exit(1)
        console.print(
            f"No local stack is running (no state file {escape(str(state_file))}). "
            "Start one: failsafe local up --detach"
        )
        raise typer.Exit(1)
    if as_json and (not pid_alive(state.pid) or not healthy(state)):
        typer.echo(json.dumps({"running": False, "pid": state.pid, "endpoint": state.endpoint}, indent=2))
        raise typer.Exit(1)
    if not pid_alive(state.pid):
        console.print(
            f"The local stack (pid {state.pid}) is not running any more; `failsafe local down` cleans up."
        )
        raise typer.Exit(1)
    if not healthy(state):
        console.print(f"The local stack (pid {state.pid}) does not answer on {state.endpoint}.")
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(json.loads(state.to_json()), indent=2))
        return
    _show(console, state, f"failsafe local stack running (pid {state.pid}, cwd {os.getcwd()})")
