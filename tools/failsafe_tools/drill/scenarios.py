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

Fault drills add trouble on failsafe's own side to a recommender fault:

- `aws_faults`: AWS answers errors (throttling, 5xx) to the controller, through the local stack's fault
  injector (`failsafe_tools.local.faults`), armed when the recommender fault is injected or when the
  incident's execution starts;
- `pagerduty`: the drill's PagerDuty stand-in answers 503, or holds every connection until the caller's
  timeout (blackholed), from the fault until the end of the drill;
- `second_request`: an operator's manual level on the same scope or a nested one, sent while the first
  incident is rolled back (overlapping incidents) or while its gradual restore is deploying.

Their scorecards add what the guarantees need (`failsafe_tools.drill.measurement.fault_checks`): each
incident's first stage in force within that stage's target from its trigger, someone paged (PagerDuty, or
the second channel: the NotificationFailures alarm's page to EscalationTopic), the fault really exercised,
and nothing stuck at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from failsafe.domain.decision import ServingPolicy
from failsafe.domain.plans import Level
from failsafe.recommender.chaos import ChaosConfig, ChaosTarget
from failsafe_tools.local.faults import Fault

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


class AwsFault(BaseModel):
    """An AWS-side fault and when the drill arms it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fault: Fault
    arm: Literal["fault", "incident"] = Field(
        "fault", description="With the recommender fault, or once the incident's execution has started."
    )


class SecondRequest(BaseModel):
    """A second operator's manual level while the first incident is open."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: Level
    scope_suffix: str = Field(
        "", description="Appended to the drill's scope ('region=eu-west-1': a nested scope; '': the same)."
    )
    when: Literal["rolled_back", "restoring"] = Field(
        ..., description="Once the first incident is ROLLED_BACK, or while its gradual restore deploys."
    )
    auto_restore: bool = True


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
    aws_faults: tuple[AwsFault, ...] = ()
    pagerduty: Literal["up", "5xx", "blackhole"] = "up"
    second_request: SecondRequest | None = None

    @property
    def fault_drill(self) -> bool:
        """True when the scenario adds trouble on failsafe's side (its scorecard checks the guarantees)."""
        return bool(self.aws_faults) or self.pagerduty != "up" or self.second_request is not None


_SIGNAL_BASE = {"GdprComplianceRate": 100.0, "SecurityScore": 100.0, "CostSpikeRatio": 100.0}


def _chaos(**kwargs: object) -> ChaosConfig:
    return ChaosConfig.model_validate({"enabled": True, "seed": 7, "reason": "failsafe drill", **kwargs})


_LATENCY = _chaos(latency_ms=450.0)
_WHOLE_DRILL = 4 * 3600.0
"""A window longer than any drill: the fault lasts until the drill ends."""


def _throttled(service: str, operation: str, code: str, count: int, arm: str = "fault") -> AwsFault:
    return AwsFault.model_validate(
        {"fault": Fault(service=service, operation=operation, code=code, count=count), "arm": arm}
    )


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
        # Fault drills. botocore retries a throttled call itself (5 attempts; DynamoDB 10), so the counts
        # below outlast the SDK's retries where failsafe's own retry must act (StartExecution: the ingest's
        # backoff; StartDeployment: the state machine's Retry), and stay within them for DynamoDB.
        Scenario(
            name="throttle-start-execution",
            title="Latency on collaborative filtering while Step Functions throttles StartExecution 6 times",
            chaos=_LATENCY,
            expected_alarms=("latency-p1", "latency-p2"),
            expected_levels=(Level.TWO,),
            aws_faults=(_throttled("stepfunctions", "StartExecution", "ThrottlingException", 6),),
        ),
        Scenario(
            name="throttle-start-deployment",
            title="Latency on collaborative filtering while AppConfig throttles StartDeployment 6 times",
            chaos=_LATENCY,
            expected_alarms=("latency-p1", "latency-p2"),
            expected_levels=(Level.TWO,),
            aws_faults=(_throttled("appconfig", "StartDeployment", "ThrottlingException", 6),),
        ),
        Scenario(
            name="throttle-dynamodb",
            title="Latency on collaborative filtering while DynamoDB throttles the controller's writes",
            chaos=_LATENCY,
            expected_alarms=("latency-p1", "latency-p2"),
            expected_levels=(Level.TWO,),
            aws_faults=(
                _throttled("dynamodb", "PutItem", "ProvisionedThroughputExceededException", 8, "incident"),
            ),
        ),
        Scenario(
            name="pagerduty-5xx",
            title="Latency on collaborative filtering while PagerDuty answers 503 to every page",
            chaos=_LATENCY,
            expected_alarms=("latency-p1", "latency-p2"),
            expected_levels=(Level.TWO,),
            pagerduty="5xx",
        ),
        Scenario(
            name="pagerduty-blackhole",
            title="Latency on collaborative filtering while PagerDuty never answers (connections hang)",
            chaos=_LATENCY,
            expected_alarms=("latency-p1", "latency-p2"),
            expected_levels=(Level.TWO,),
            pagerduty="blackhole",
        ),
        Scenario(
            name="sns-failing",
            title="Latency on collaborative filtering while SNS Publish fails (500) for the whole drill",
            chaos=_LATENCY,
            expected_alarms=("latency-p1", "latency-p2"),
            expected_levels=(Level.TWO,),
            aws_faults=(
                AwsFault(
                    fault=Fault(
                        service="sns",
                        operation="Publish",
                        code="InternalError",
                        status=500,
                        message="SNS is failing (failsafe fault injection)",
                        window_seconds=_WHOLE_DRILL,
                    )
                ),
            ),
        ),
        Scenario(
            name="kill-switch-during-restore",
            title="An operator pulls the kill switch while a latency incident's gradual restore deploys",
            chaos=_LATENCY,
            expected_alarms=("latency-p1", "latency-p2"),
            expected_levels=(Level.TWO, Level.EMERGENCY),
            second_request=SecondRequest(level=Level.EMERGENCY, when="restoring"),
        ),
        Scenario(
            name="nested-scopes",
            title="A latency incident on recommender/prod while an operator pulls the kill switch on its "
            "eu-west-1 region",
            chaos=_LATENCY,
            expected_alarms=("latency-p1", "latency-p2"),
            expected_levels=(Level.TWO, Level.EMERGENCY),
            second_request=SecondRequest(
                level=Level.EMERGENCY, scope_suffix="region=eu-west-1", when="rolled_back"
            ),
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
