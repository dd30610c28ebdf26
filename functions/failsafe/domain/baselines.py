"""Safety baselines: named, complete, known-safe toggle sets (seed 000 "Safety Baselines").

The values are data (`BASELINE_DATA`); every baseline is validated by `ToggleSet` at import, so an invalid
baseline cannot ship.

- normal: the model's defaults (hybrid blending, full exposure, personalised candidates).
- emergency: kill switch, 10 % exposure, content-only, global popularity fallback (D).
- degraded: 50 % exposure, content-only with CF off, filter pruning (fallback B).
- content_only: content-only with content expansion (fallback B).
- collab_only: collaborative-only with content expansion (fallback B).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from failsafe.domain.toggles import ToggleSet


class BaselineName(StrEnum):
    NORMAL = "normal"
    EMERGENCY = "emergency"
    DEGRADED = "degraded"
    CONTENT_ONLY = "content_only"
    COLLAB_ONLY = "collab_only"


BASELINE_DATA: Mapping[BaselineName, Mapping[str, Any]] = {
    BaselineName.NORMAL: {},
    BaselineName.EMERGENCY: {
        "kill_switch": True,
        "exposure_percent": 10,
        "policy_mode": "content_only",
        "disable_cf": True,
        "candidate_fallback_level": "D",
    },
    BaselineName.DEGRADED: {
        "exposure_percent": 50,
        "policy_mode": "content_only",
        "disable_cf": True,
        "candidate_fallback_level": "B",
    },
    BaselineName.CONTENT_ONLY: {"policy_mode": "content_only", "candidate_fallback_level": "B"},
    BaselineName.COLLAB_ONLY: {"policy_mode": "collab_only", "candidate_fallback_level": "B"},
}

BASELINES: Mapping[BaselineName, ToggleSet] = {
    name: ToggleSet.model_validate(values) for name, values in BASELINE_DATA.items()
}


class UnknownBaselineError(ValueError):
    pass


def baseline(name: str) -> ToggleSet:
    """The baseline called `name` (one of `BaselineName`)."""
    try:
        return BASELINES[BaselineName(name)]
    except ValueError:
        known = ", ".join(n.value for n in BaselineName)
        raise UnknownBaselineError(f"baseline {name!r}: choose one of {known}") from None
