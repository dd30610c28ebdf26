"""Shared output helpers for the operator CLI: consoles, one-line errors, durations, tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from failsafe_tools.cli.app import USAGE_ERROR, fail
from failsafe_tools.target import FunctionFailed, TargetError

FAILED = 1


def console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def abort(message: str, code: int = FAILED) -> NoReturn:
    """Stop with one line on stderr (not a usage error: the target or the controller said no)."""
    err_console().print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def notice(message: str) -> None:
    err_console().print(f"[dim]{escape(message)}[/]")


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn target and function errors, and AWS client errors, into one clear line and a non-zero exit."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except TargetError as exc:
        abort(str(exc), USAGE_ERROR)
    except FunctionFailed as exc:
        abort(f"{exc.function}: {exc.message}")
    except ClientError as exc:
        error = exc.response.get("Error", {})
        abort(f"AWS said {error.get('Code', 'error')}: {error.get('Message', exc)}")
    except BotoCoreError as exc:
        abort(f"cannot reach AWS: {exc}")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def clock(at: datetime | None) -> str:
    return "-" if at is None else at.strftime("%H:%M:%S")


__all__ = ["FAILED", "USAGE_ERROR", "abort", "clock", "console", "duration", "err_console", "fail", "notice"]
