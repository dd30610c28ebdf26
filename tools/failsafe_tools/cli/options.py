"""The CLI's Typer options for where a command acts; `failsafe_tools.target.resolve` takes their values."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

TargetOpt = Annotated[
    str,
    typer.Option("--target", help="'local' (default): the local AWS; see also --stack.", show_default=True),
]
StackOpt = Annotated[
    str | None, typer.Option("--stack", help="Name of a deployed failsafe SAM stack (overrides --target).")
]
RegionOpt = Annotated[str | None, typer.Option("--region", help="AWS region of --stack.")]
StateFileOpt = Annotated[
    Path, typer.Option("--state-file", help="State file of a running `failsafe local up`.", show_default=True)
]
