"""What every handler that calls AWS shares: Powertools utilities and one `Runtime` per process.

The runtime module (with the state store and audit log every such function uses) loads at import, in the
init phase; each other adapter loads in the `Runtime` property that builds it. The toggle validator, which
never calls AWS, imports `failsafe.handlers._powertools` instead and loads none of it.
"""

from __future__ import annotations

from typing import TypeVar

from failsafe.controller.runtime import Runtime, runtime_for
from failsafe.controller.settings import Settings
from failsafe.handlers._powertools import CONTROLLER_NAMESPACE, TRACED_MODULES, powertools

__all__ = ["CONTROLLER_NAMESPACE", "TRACED_MODULES", "Runtime", "powertools", "runtime"]

S = TypeVar("S", bound=Settings)


def runtime(settings_type: type[S]) -> Runtime:
    """The process's runtime for a handler: the environment is validated once, clients are lazy."""
    return runtime_for(settings_type)
