"""The operator CLI, `failsafe <command>`.

Each command lives in its own module that exposes `register(app: typer.Typer) -> None`; add the module to
`COMMAND_MODULES` to put it on the app. Bad input ends with one line on stderr that names the input and
the fix (`fail`), and exit code 2.
"""

from __future__ import annotations

import importlib
from typing import NoReturn

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
        add_completion=False,
        pretty_exceptions_enable=False,
        # Help texts show scope syntax like `service/env[/region=a,b]`, which Rich markup would parse.
        rich_markup_mode=None,
    )

    @app.callback()
    def _root() -> None:
        """Staged rollback and kill switch for recommender services on AWS."""

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def fail(what: str, message: str) -> NoReturn:
    """Stop with one line naming the bad input (`what`) and how to fix it."""
    Console(stderr=True, soft_wrap=True, highlight=False).print(
        f"[red]error:[/] {escape(what)}: {escape(message)}"
    )
    raise typer.Exit(USAGE_ERROR)


def main() -> None:
    build_app()(prog_name="failsafe")


if __name__ == "__main__":
    main()
