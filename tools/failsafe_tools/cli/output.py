"""Shared output helpers for the operator CLI: consoles, one-line errors, durations, tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from failsafe_tools.cli.app import USAGE_ERROR, fail
from failsafe_tools.target import FunctionFailed, TargetError

FAILED = 1
INTERRUPTED = 130


def console() -> Console:
    return Console(highlight=False, soft_wrap=True, emoji=False)


def err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


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
        # the operator's words, not the stack's internals: which function answered is in its logs
        abort(exc.message)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        abort(f"AWS said {error.get('Code', 'error')}: {error.get('Message', exc)}")
    except BotoCoreError as exc:
        abort(f"cannot reach AWS: {exc}")


def emit_json(data: Any) -> None:
    """The command's result as JSON on stdout (`--json`): one document, nothing else on stdout."""
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 warning`, `2 warnings`, `0 failures`."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def safe(value: object) -> str:
    """Data (ARNs, reasons, scope keys) escaped for Rich: `:secret:` prints literally, `[x]` too."""
    return escape(str(value))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def clock(at: datetime | None) -> str:
    return "-" if at is None else at.strftime("%H:%M:%S")


__all__ = [
    "FAILED",
    "INTERRUPTED",
    "USAGE_ERROR",
    "abort",
    "clock",
    "console",
    "duration",
    "emit_json",
    "err_console",
    "fail",
    "notice",
    "plural",
    "safe",
]
