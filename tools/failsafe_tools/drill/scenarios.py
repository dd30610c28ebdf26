"""The drill scenarios: which fault is injected, where it lives, and what the controller should do.

A fault lives in a *component* of the recommender, so a rollback level that routes traffic around the
component cures it, exactly as in production: a slow or failing collaborative-filtering model stops
hurting once Stage 2 serves content-only, and everything stops hurting once the kill switch serves
popularity. Faults are injected through the recommender's own chaos control
(`failsafe.recommender.chaos`); `affected_policies` narrows which served policies the chaos hits.

Security and cost are not properties of one request's ranking, so their scenarios emit the signal the
guardrail watches (SecurityScore, CostSpikeRatio) for every request that still goes through the affected
component; the value comes from the scenario, the volume from real traffic.

`repair` says when the engineers' fix lands: ``verify`` means while failsafe verifies recovery (the fault
is gone before the pre-incident toggles are restored), ``never`` keeps it (the restore would re-fire).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from failsafe.domain.decision import ServingPolicy
from failsafe.domain.plans import Level
from failsafe.recommender.chaos import ChaosConfig, ChaosTarget

CF_POLICIES: frozenset[ServingPolicy] = frozenset(
    p for p in ServingPolicy if p.value in ("hybrid", "collab_only")
)
MODEL_POLICIES: frozenset[ServingPolicy] = frozenset(
    p for p in ServingPolicy if p is not ServingPolicy.POPULARITY
)


class FlapPhase(BaseModel):
    """A fault that stops once the rollback is in force and comes back `off_seconds` later, while failsafe
    verifies recovery: the alarm re-fires inside the verify window, which must not ping-pong the service."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    off_seconds: int = Field(..., ge=0)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str
    title: str
    chaos: ChaosConfig | None = None
    affected_policies: frozenset[ServingPolicy] = CF_POLICIES
    signals: Mapping[str, float] = Field(
        default_factory=dict,
        description="Extra guardrail metrics emitted per affected request (name: value).",
    )
    healthy_signals: Mapping[str, float] = Field(
        default_factory=dict, description="Their value for requests the fault does not reach."
    )
    expected_alarms: tuple[str, ...] = Field(
        default=(), description="Catalog rules at least one of which must fire (empty: no alarm expected)."
    )
    expected_levels: tuple[Level, ...] = Field(..., description="Levels the incident may end up at.")
    manual_level: Level | None = Field(None, description="The drill's operator runs this level by hand.")
    approve: bool = Field(False, description="A second operator approves what waits for approval.")
    repair: Literal["verify", "never"] = "verify"
    flapping: FlapPhase | None = None
    warmup_seconds: int = Field(120, gt=0, description="Healthy traffic before the fault (simulated).")


_SIGNAL_BASE = {"GdprComplianceRate": 100.0, "SecurityScore": 100.0, "CostSpikeRatio": 100.0}


def _chaos(**kwargs: object) -> ChaosConfig:
    return ChaosConfig.model_validate({"enabled": True, "seed": 7, "reason": "failsafe drill", **kwargs})


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="latency",
            title="The collaborative-filtering model answers in 450 ms (p95 over 1.5x the 200 ms target)",
            chaos=_chaos(latency_ms=450.0),
            expected_alarms=("latency-p1", "latency-p2"),
            expected_levels=(Level.TWO,),
        ),
        Scenario(
            name="errors",
            title="5 % of requests through collaborative filtering fail",
            chaos=_chaos(error_percent=5.0),
            expected_alarms=("error-rate-p1", "error-rate-p2"),
            expected_levels=(Level.TWO,),
        ),
        Scenario(
            name="coverage",
            title="Collaborative filtering returns 80 % of K (coverage under 95 %)",
            chaos=_chaos(coverage_percent=80.0),
            expected_alarms=("coverage-p1", "coverage-p2"),
            expected_levels=(Level.TWO,),
        ),
        # A P2 alone: with K = 10 a ranking cut moves coverage in 10 % steps, so the page's own report
        # brings it between the two thresholds: every CF-served page also reports 93 % of its slots
        # filled, which with the ranking's 100 % averages 96.5 % (under P2's 98, not under P1's 95).
        Scenario(
            name="coverage-p2",
            title="CF-served pages leave 7 % of their slots empty (coverage 96.5 %: a P2, not a P1)",
            signals={"Coverage": 93.0},
            expected_alarms=("coverage-p2",),
            expected_levels=(Level.ONE, Level.TWO),
        ),
        Scenario(
            name="cf-outage",
            title="Collaborative filtering is down: every CF call fails",
            chaos=_chaos(cf_outage=True),
            expected_alarms=("system-error-rate", "error-rate-p1"),
            expected_levels=(Level.TWO, Level.EMERGENCY),
        ),
        Scenario(
            name="security",
            title="Personalised responses score 60/100 on the security scanner (under 80)",
            affected_policies=MODEL_POLICIES,
            signals={"SecurityScore": 60.0},
            healthy_signals={"SecurityScore": _SIGNAL_BASE["SecurityScore"]},
            expected_alarms=("security-score",),
            expected_levels=(Level.EMERGENCY,),
        ),
        Scenario(
            name="cost",
            title="Collaborative filtering costs 6x its budgeted rate (spike over 500 %)",
            signals={"CostSpikeRatio": 600.0},
            healthy_signals={"CostSpikeRatio": _SIGNAL_BASE["CostSpikeRatio"]},
            expected_alarms=("cost-spike",),
            expected_levels=(Level.TWO,),
        ),
        Scenario(
            name="flapping",
            title="Latency on every request that comes and goes (the controller must not ping-pong)",
            chaos=_chaos(latency_ms=450.0, target=ChaosTarget.ALL.value),
            affected_policies=frozenset(ServingPolicy),
            expected_alarms=("latency-p1", "latency-p2"),
            expected_levels=(Level.TWO, Level.THREE, Level.EMERGENCY),
            flapping=FlapPhase(off_seconds=60),
        ),
        Scenario(
            name="manual-level-3",
            title="An operator runs Level 3 (full rollback) by hand; a second operator approves",
            expected_levels=(Level.THREE,),
            manual_level=Level.THREE,
            approve=True,
            warmup_seconds=120,
        ),
    )
}

DEFAULT_SCENARIO = "latency"


class UnknownScenarioError(ValueError):
    pass


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UnknownScenarioError(
            f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}"
        ) from None
