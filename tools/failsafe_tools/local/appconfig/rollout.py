"""Pure rollout math: when a deployment reaches which percentage, as AWS documents it.

LINEAR with growth factor G: G% of targets at the start, then G% more after each interval, until 100%.
EXPONENTIAL with growth factor G: G*2^0 %, G*2^1 %, G*2^2 % ... until 100%.
The N steps are spread evenly over DeploymentDurationInMinutes D: step k (0-based) starts at k*D/N.
At D the configuration is on 100% of targets and the final bake (FinalBakeTimeInMinutes) starts.

Sessions are placed in the rollout deterministically: the n-th session opened for an
(application, environment, profile) gets the bucket frac(n * golden_ratio) * 100, a low-discrepancy
sequence, and receives the deploying version once PercentageComplete > bucket. Session 0 therefore
gets the new version at the first step, and about p% of any run of sessions have it at p%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GOLDEN_RATIO_CONJUGATE = (math.sqrt(5) - 1) / 2
LINEAR = "LINEAR"
EXPONENTIAL = "EXPONENTIAL"


@dataclass(frozen=True)
class Step:
    offset_seconds: float
    percentage: float


def rollout_steps(growth_type: str, growth_factor: float, duration_minutes: int) -> list[Step]:
    if not 1.0 <= growth_factor <= 100.0:
        raise ValueError(f"GrowthFactor {growth_factor}: must be between 1.0 and 100.0")
    percentages: list[float] = []
    if growth_type == LINEAR:
        count = math.ceil(100.0 / growth_factor - 1e-9)
        percentages = [min(100.0, growth_factor * (k + 1)) for k in range(count)]
    elif growth_type == EXPONENTIAL:
        k = 0
        while True:
            value = min(100.0, growth_factor * 2**k)
            percentages.append(value)
            if value >= 100.0:
                break
            k += 1
    else:
        raise ValueError(f"GrowthType {growth_type!r}: must be LINEAR or EXPONENTIAL")
    percentages[-1] = 100.0
    interval = duration_minutes * 60.0 / len(percentages)
    return [Step(offset_seconds=k * interval, percentage=round(p, 2)) for k, p in enumerate(percentages)]


def session_bucket(ordinal: int) -> float:
    """Where the `ordinal`-th session of a (application, environment, profile) sits in [0, 100)."""
    return ((ordinal * GOLDEN_RATIO_CONJUGATE) % 1.0) * 100.0
