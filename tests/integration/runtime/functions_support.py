"""Helpers of this folder's tests; fixtures are in conftest.py (tests import from here, never a conftest)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


FIXTURES = Path(__file__).parent / "fixtures"


REGION = "us-east-1"


FunctionFactory = Callable[..., str]


def make_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.txt", "code is imported from the registered code root")
    return buffer.getvalue()
