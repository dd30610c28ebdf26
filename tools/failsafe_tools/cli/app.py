"""The operator CLI, `failsafe <command>`.

Each command lives in its own module that exposes `register(app: typer.Typer) -> None`; add the module to
`COMMAND_MODULES` to put it on the app. Bad input ends with one line on stderr that names the input and
the fix (`fail`), and exit code 2.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

COMMAND_MODULES: tuple[str, ...] = (
    "failsafe_tools.cli.plan",
    "failsafe_tools.cli.local",
    "failsafe_tools.cli.drill",
    "failsafe_tools.cli.status",
    "failsafe_tools.cli.rollback",
    "failsafe_tools.cli.kill_switch",
    "failsafe_tools.cli.approve",
    "failsafe_tools.cli.recover",
    "failsafe_tools.cli.abort",
    "failsafe_tools.cli.toggles_cmd",
    "failsafe_tools.cli.audit",
    "failsafe_tools.cli.validate",
    "failsafe_tools.cli.report",
    "failsafe_tools.cli.query",
)
USAGE_ERROR = 2


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="failsafe",
        help="Staged rollback and kill switch for recommender services on AWS.",
        no_args_is_help=True,
        add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
        pretty_exceptions_enable=False,
        # Help texts show scope syntax like `service/env[/region=a,b]`, which Rich markup would parse.
        rich_markup_mode=None,
    )

    @app.callback()
    def _root(
        _version: Annotated[
            bool,
            typer.Option(
                "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
            ),
        ] = False,
    ) -> None:
        """Staged rollback and kill switch for recommender services on AWS."""

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def version() -> str:
    try:
        return package_version("failsafe")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "unknown (not installed: pip install -e .)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"failsafe {version()}")
        raise typer.Exit()


def level_values() -> list[str]:
    from failsafe.domain.plans import Level

    return [level.value for level in Level]


def level_option(help_text: str = "Rollback level (seed 004's vocabulary).") -> Any:
    """`--level`: help and shell completion show the choices (`[1|2|3|emergency]`, as click.Choice would);
    a bad value is our one line with the fix (exit 2), checked where the command parses it."""
    return typer.Option(
        "--level",
        metavar="[" + "|".join(level_values()) + "]",
        autocompletion=level_values,
        help=help_text,
    )


def fail(what: str, message: str) -> NoReturn:
    """Stop with one line naming the bad input (`what`) and how to fix it."""
    Console(stderr=True, soft_wrap=True, highlight=False, emoji=False).print(
        f"[red]error:[/] {escape(what)}: {escape(message)}"
    )
    raise typer.Exit(USAGE_ERROR)


def main() -> None:
    build_app()(prog_name="failsafe")


if __name__ == "__main__":
    main()
