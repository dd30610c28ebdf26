"""The guardrail catalog: which metric breaches are triggers, how severe they are and of what kind.

The catalog is data. `DEFAULT_CATALOG_DATA` holds the seeds' defaults; `infra/catalog/guardrails.json` is the
same data rendered for review and for overriding (`load_catalog(path)`); a test keeps the two in step.

Rates and ratios are percentages (coverage 95 means 95 %), latencies are milliseconds. Thresholds are
either absolute numbers or a multiple of a named target (latency: P2 at 1x, P1 at 1.5x the p95 target).

`GuardrailCatalog` only checks the shape of the data. `check_catalog` judges its consistency (severity
inversions, duplicate names, durations, ranges), so a broken catalog can be reported in full rather than
failing on the first problem; `load_catalog` refuses a catalog with findings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Severity(StrEnum):
    P2 = "P2"
    P1 = "P1"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Higher is more severe."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.P2: 1, Severity.P1: 2, Severity.CRITICAL: 3}


class GuardrailKind(StrEnum):
    COVERAGE = "coverage"
    LATENCY = "latency"
    ERRORS = "errors"
    CACHE = "cache"
    AVAILABILITY = "availability"
    SECURITY = "security"
    COST = "cost"
    AUDIT = "audit"


class Comparison(StrEnum):
    """CloudWatch comparison operators, by their short names."""

    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"

    @property
    def breaches_upwards(self) -> bool:
        return self in (Comparison.GT, Comparison.GE)

    @property
    def cloudwatch_operator(self) -> str:
        return _CLOUDWATCH_OPERATORS[self]

    def breached(self, value: float, threshold: float) -> bool:
        return {
            Comparison.GT: value > threshold,
            Comparison.GE: value >= threshold,
            Comparison.LT: value < threshold,
            Comparison.LE: value <= threshold,
        }[self]


_CLOUDWATCH_OPERATORS = {
    Comparison.GT: "GreaterThanThreshold",
    Comparison.GE: "GreaterThanOrEqualToThreshold",
    Comparison.LT: "LessThanThreshold",
    Comparison.LE: "LessThanOrEqualToThreshold",
}


class MetricSpec(BaseModel):
    """A metric the recommender emits (EMF), with the range its values can take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: str = Field(..., min_length=1, description="CloudWatch unit: Percent, Milliseconds, Count.")
    statistic: str = Field(..., min_length=1, description="CloudWatch statistic: Average, p95, Sum, Maximum.")
    minimum: float = 0.0
    maximum: float | None = Field(None, description="None: unbounded above.")
    description: str = ""


class TargetMultiple(BaseModel):
    """A threshold expressed as `factor` times a named target, e.g. 1.5 x the p95 latency target."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str = Field(..., min_length=1)
    factor: float = Field(..., gt=0)


class GuardrailRule(BaseModel):
    """One trigger definition: `metric <comparison> threshold` sustained for `duration_seconds`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
    kind: GuardrailKind
    severity: Severity
    metric: str = Field(..., min_length=1)
    comparison: Comparison
    threshold: float | TargetMultiple
    period_seconds: int = Field(60, description="CloudWatch period; the duration must be a multiple of it.")
    duration_seconds: int = Field(
        ...,
        description="The evaluation window (EvaluationPeriods x Period) the breach is judged over.",
    )
    datapoints_to_alarm: int | None = Field(
        None,
        ge=1,
        description="M of the window's N datapoints that must breach (CloudWatch DatapointsToAlarm); "
        "None: all N (the breach lasts the whole window).",
    )
    trade_off: str = Field(
        "",
        description="Why this M of N: how soon it fires against how easily noise fires it (false positives).",
    )
    source: str = Field("", description="Where the default comes from (seed and line).")

    @property
    def evaluation_periods(self) -> int:
        return max(1, self.duration_seconds // self.period_seconds) if self.period_seconds > 0 else 1

    @property
    def datapoints(self) -> int:
        """M: breaching datapoints in the window that fire the trigger."""
        return self.datapoints_to_alarm or self.evaluation_periods

    @property
    def fires_after_seconds(self) -> int:
        """The shortest sustained breach that fires: M whole periods."""
        return self.datapoints * self.period_seconds

    @property
    def worst_alarm_seconds(self) -> int:
        """Fault -> ALARM at the latest for a sustained fault: the partly breaching period the fault starts
        in, then M breaching periods, then one period until CloudWatch's next evaluation."""
        return (self.datapoints + 2) * self.period_seconds


class GuardrailCatalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(1, ge=1)
    targets: dict[str, float] = Field(default_factory=dict, description="Named targets thresholds refer to.")
    mitigation_budget_seconds: dict[Severity, int] = Field(
        default_factory=dict,
        description="Fault -> toggles in force, per severity (seed 000: P2 within 10 minutes; P1 within 5). "
        "A rule of that severity must be able to alarm within its budget less `response_allowance_seconds`. "
        "Security, audit and cost rules keep their own stated durations and are not held to it.",
    )
    response_allowance_seconds: int = Field(
        60,
        ge=0,
        description="What the budget keeps for alarm -> StartDeployment -> COMPLETE -> clients converged "
        "(the critical path, one 15 s client poll and 5 s of slack; see benchmarks/bench_critical_path.py).",
    )
    metrics: dict[str, MetricSpec]
    rules: tuple[GuardrailRule, ...]

    def threshold_of(self, rule: GuardrailRule) -> float:
        """The absolute threshold of a rule, resolving target multiples."""
        if isinstance(rule.threshold, TargetMultiple):
            if rule.threshold.target not in self.targets:
                raise CatalogError(
                    f"rule {rule.name!r}: threshold refers to target {rule.threshold.target!r}, "
                    f"which is not in targets {sorted(self.targets)}"
                )
            return self.targets[rule.threshold.target] * rule.threshold.factor
        return rule.threshold

    def rule(self, name: str) -> GuardrailRule:
        for candidate in self.rules:
            if candidate.name == name:
                return candidate
        raise CatalogError(
            f"no guardrail rule named {name!r}; known: {', '.join(r.name for r in self.rules)}"
        )


class CatalogError(ValueError):
    pass


class Finding(BaseModel):
    """One inconsistency in a catalog; `rules` names every rule involved."""

    model_config = ConfigDict(frozen=True)

    code: str
    rules: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def check_catalog(catalog: GuardrailCatalog) -> list[Finding]:
    """Every inconsistency in the catalog. An empty list means the catalog is usable."""
    findings: list[Finding] = []
    findings += _duplicate_names(catalog)
    for rule in catalog.rules:
        findings += _rule_findings(catalog, rule)
    findings += _severity_inversions(catalog)
    return findings


def _duplicate_names(catalog: GuardrailCatalog) -> list[Finding]:
    seen: dict[str, int] = {}
    for rule in catalog.rules:
        seen[rule.name] = seen.get(rule.name, 0) + 1
    return [
        Finding(code="duplicate_name", rules=(name,), message=f"rule name {name!r} is used {count} times")
        for name, count in seen.items()
        if count > 1
    ]


def _rule_findings(catalog: GuardrailCatalog, rule: GuardrailRule) -> list[Finding]:
    findings: list[Finding] = []

    def add(code: str, message: str) -> None:
        findings.append(Finding(code=code, rules=(rule.name,), message=f"rule {rule.name!r}: {message}"))

    if rule.duration_seconds <= 0:
        add("non_positive_duration", f"duration_seconds is {rule.duration_seconds}; it must be > 0")
    if rule.period_seconds <= 0:
        add("non_positive_period", f"period_seconds is {rule.period_seconds}; it must be > 0")
    elif rule.duration_seconds > 0 and rule.duration_seconds % rule.period_seconds:
        add(
            "duration_not_whole_periods",
            f"duration_seconds {rule.duration_seconds} is not a multiple of "
            f"period_seconds {rule.period_seconds}",
        )
    if rule.datapoints_to_alarm is not None and rule.datapoints_to_alarm > rule.evaluation_periods:
        add(
            "datapoints_exceed_window",
            f"datapoints_to_alarm {rule.datapoints_to_alarm} is more than the window's "
            f"{rule.evaluation_periods} periods (duration_seconds / period_seconds)",
        )
    if rule.severity in (Severity.P1, Severity.P2) and rule.evaluation_periods > 1 and rule.datapoints < 2:
        add(
            "single_datapoint_trigger",
            "one breaching datapoint fires it: a single bad minute would roll back; "
            "set datapoints_to_alarm to 2 or more",
        )
    budget = catalog.mitigation_budget_seconds.get(rule.severity)
    if (
        budget is not None
        and rule.kind not in OWN_DURATION_KINDS
        and rule.worst_alarm_seconds > budget - catalog.response_allowance_seconds
    ):
        add(
            "trigger_too_slow",
            f"alarms up to {rule.worst_alarm_seconds} s after the fault ((M + 2) x period), so the toggles "
            f"cannot be in force within the {rule.severity.value} budget of {budget} s "
            f"(less {catalog.response_allowance_seconds} s for the response); lower datapoints_to_alarm",
        )
    metric = catalog.metrics.get(rule.metric)
    if metric is None:
        add("unknown_metric", f"metric {rule.metric!r} is not in metrics {sorted(catalog.metrics)}")
        return findings
    try:
        threshold = catalog.threshold_of(rule)
    except CatalogError as error:
        add("unknown_target", str(error))
        return findings
    upper = "inf" if metric.maximum is None else f"{metric.maximum:g}"
    outside = threshold < metric.minimum or (metric.maximum is not None and threshold > metric.maximum)
    if outside:
        add(
            "threshold_out_of_range",
            f"threshold {threshold:g} is outside {rule.metric}'s range [{metric.minimum:g}, {upper}]",
        )
    elif _never_or_always_breached(rule.comparison, threshold, metric):
        add(
            "threshold_unreachable",
            f"{rule.metric} {rule.comparison.value} {threshold:g} is decided by the range "
            f"[{metric.minimum:g}, {upper}] alone",
        )
    return findings


OWN_DURATION_KINDS = frozenset({GuardrailKind.SECURITY, GuardrailKind.AUDIT, GuardrailKind.COST})
"""Seed 004 states these triggers' durations itself; the seed-000 mitigation budgets do not apply."""


def _never_or_always_breached(comparison: Comparison, threshold: float, metric: MetricSpec) -> bool:
    # e.g. "coverage > 100" can never fire and "coverage <= 100" always fires.
    if comparison is Comparison.GT:
        return metric.maximum is not None and threshold >= metric.maximum
    if comparison is Comparison.LT:
        return threshold <= metric.minimum
    if comparison is Comparison.GE:
        return threshold <= metric.minimum
    return metric.maximum is not None and threshold >= metric.maximum


def _severity_inversions(catalog: GuardrailCatalog) -> list[Finding]:
    """A more severe rule on the same metric and direction must need a worse value than a milder one."""
    findings: list[Finding] = []
    rules = [r for r in catalog.rules if r.metric in catalog.metrics and _resolvable(catalog, r)]
    for index, milder in enumerate(rules):
        for severe in rules[index + 1 :] + rules[:index]:
            same_signal = (
                severe.metric == milder.metric
                and severe.comparison.breaches_upwards == milder.comparison.breaches_upwards
                and severe.severity.rank > milder.severity.rank
            )
            if not same_signal:
                continue
            severe_at, milder_at = catalog.threshold_of(severe), catalog.threshold_of(milder)
            upwards = severe.comparison.breaches_upwards
            consistent = severe_at > milder_at if upwards else severe_at < milder_at
            if consistent:
                continue
            worse = "above" if upwards else "below"
            findings.append(
                Finding(
                    code="severity_inversion",
                    rules=(milder.name, severe.name),
                    message=(
                        f"{milder.severity.value} rule {milder.name!r} ({milder.metric} "
                        f"{milder.comparison.value} {milder_at:g}) is stricter than or equal to "
                        f"{severe.severity.value} rule {severe.name!r} ({severe.metric} "
                        f"{severe.comparison.value} {severe_at:g}); the {severe.severity.value} threshold "
                        f"must lie {worse} the {milder.severity.value} one"
                    ),
                )
            )
    return findings


def _resolvable(catalog: GuardrailCatalog, rule: GuardrailRule) -> bool:
    return not isinstance(rule.threshold, TargetMultiple) or rule.threshold.target in catalog.targets


_P2_WINDOW: Mapping[str, Any] = {
    "duration_seconds": 300,
    "datapoints_to_alarm": 4,
    "trade_off": (
        "4 of 5 one-minute datapoints: fires on the 4th bad minute within five, so a sustained fault alarms "
        "4-6 minutes after it starts and the toggles are in force within seed 000's 10 minutes (10 of 10 "
        "alarmed after 10-12). False positives: one bad minute never fires it, but four bad minutes out of "
        "five with one good one between do, where 10 of 10 needed ten in a row. Clearing: the alarm returns "
        "to OK after N - M + 1 = 2 good minutes; a wider gap (5 of 10 clears after 6) would outlast a "
        "stage's 5-minute recovery deadline and escalate a cured incident."
    ),
}
_P1_WINDOW: Mapping[str, Any] = {
    "duration_seconds": 180,
    "datapoints_to_alarm": 2,
    "trade_off": (
        "2 of 3 one-minute datapoints: a P1 breach is severe enough to act on the 2nd bad minute within "
        "three, so a sustained fault alarms 2-4 minutes after it starts and the toggles are in force within "
        "5 minutes. False positives: a single bad minute never fires it, but two bad minutes around one good "
        "one do (the price of halving P2's budget; Stage 1/2 are mild and restore after the verify window). "
        "Clearing: OK after 2 good minutes."
    ),
}
_CACHE_WINDOW: Mapping[str, Any] = {
    "duration_seconds": 480,
    "datapoints_to_alarm": 7,
    "trade_off": (
        "7 of 8 one-minute datapoints: every change of serving policy (a rollback stage included) starts "
        "with a cold cache for a few minutes, so the cache guardrail needs 7 bad minutes within eight: a "
        "sustained fault alarms 7-9 minutes after it starts, inside P2's 10 minutes. False positives: a "
        "warm-up of up to six minutes never fires it (4 of 5 fired on the cache a rollback had just "
        "emptied and escalated a cured incident); clearing takes 2 good minutes."
    ),
}
"""Seed 000's P1/P2 windows. Fault -> ALARM is at most (M + 2) minutes (the partly breaching minute, M
breaching ones, one evaluation), leaving `response_allowance_seconds` of the budget for the response; an
alarm clears after N - M + 1 good minutes, which must stay well inside a stage's recovery deadline."""

DEFAULT_CATALOG_DATA: Mapping[str, Any] = {
    "version": 1,
    "targets": {"latency_p95_ms": 200.0},
    # Seed 000: "Coverage < 95% coverage triggers rollback within 10 minutes" (P2's budget); a P1 trigger
    # is held to half of it.
    "mitigation_budget_seconds": {"P1": 300, "P2": 600},
    "response_allowance_seconds": 60,
    "metrics": {
        "Coverage": {
            "unit": "Percent",
            "statistic": "Average",
            "maximum": 100.0,
            "description": "Share of requested top-K slots filled (k_returned / k).",
        },
        "LatencyMs": {
            "unit": "Milliseconds",
            "statistic": "p95",
            "description": "Recommendation latency.",
        },
        "ErrorRate": {
            "unit": "Percent",
            "statistic": "Average",
            "maximum": 100.0,
            "description": "Share of requests that failed.",
        },
        "CriticalFailures": {
            "unit": "Count",
            "statistic": "Sum",
            "description": "Errors logged with severity critical.",
        },
        "CacheHitRate": {"unit": "Percent", "statistic": "Average", "maximum": 100.0},
        "EmergencyOpLatency": {
            "unit": "Milliseconds",
            "statistic": "Average",
            "description": "Latency of emergency operations.",
        },
        "CriticalOpLatency": {
            "unit": "Milliseconds",
            "statistic": "Average",
            "description": "Latency of critical operations.",
        },
        "Availability": {"unit": "Percent", "statistic": "Average", "maximum": 100.0},
        "GdprComplianceRate": {"unit": "Percent", "statistic": "Minimum", "maximum": 100.0},
        "SecurityScore": {"unit": "None", "statistic": "Average", "maximum": 100.0},
        "PiiDetectionFailureRate": {"unit": "Percent", "statistic": "Average", "maximum": 100.0},
        "AuditTrailIntegrityFailures": {"unit": "Count", "statistic": "Sum"},
        "CostBudgetRatio": {
            "unit": "Percent",
            "statistic": "Average",
            "description": "Spend as a share of budget (100 = on budget).",
        },
        "CostSpikeRatio": {
            "unit": "Percent",
            "statistic": "Average",
            "description": "Spend as a share of the usual spend for this time (100 = usual).",
        },
    },
    "rules": [
        # Seed 000 P1/P2, M of N one-minute datapoints (see _P1_WINDOW / _P2_WINDOW).
        *(
            {
                "name": name,
                "kind": kind,
                "severity": severity,
                "metric": metric,
                "comparison": comparison,
                "threshold": threshold,
                **(_P1_WINDOW if severity == "P1" else _CACHE_WINDOW if kind == "cache" else _P2_WINDOW),
                "source": "seed 000 automatic triggers",
            }
            for name, kind, severity, metric, comparison, threshold in (
                ("coverage-p1", "coverage", "P1", "Coverage", "lt", 95.0),
                ("coverage-p2", "coverage", "P2", "Coverage", "lt", 98.0),
                # DESIGN.md: the seed's latency pair is swapped, so P2 is 1x and P1 1.5x the target.
                (
                    "latency-p1",
                    "latency",
                    "P1",
                    "LatencyMs",
                    "gt",
                    {"target": "latency_p95_ms", "factor": 1.5},
                ),
                (
                    "latency-p2",
                    "latency",
                    "P2",
                    "LatencyMs",
                    "gt",
                    {"target": "latency_p95_ms", "factor": 1.0},
                ),
                ("error-rate-p1", "errors", "P1", "ErrorRate", "gt", 0.1),
                ("error-rate-p2", "errors", "P2", "ErrorRate", "gt", 0.05),
                ("critical-failures", "errors", "P1", "CriticalFailures", "gt", 0.0),
                ("cache-hit-rate-p2", "cache", "P2", "CacheHitRate", "lt", 70.0),
            )
        ),
        # Seed 004 performance triggers.
        {
            "name": "emergency-op-latency",
            "kind": "latency",
            "severity": "critical",
            "metric": "EmergencyOpLatency",
            "comparison": "gt",
            "threshold": 10_000.0,
            "duration_seconds": 300,
            "source": "seed 004 performance triggers",
        },
        {
            "name": "critical-op-latency",
            "kind": "latency",
            "severity": "critical",
            "metric": "CriticalOpLatency",
            "comparison": "gt",
            "threshold": 20_000.0,
            "duration_seconds": 300,
            "source": "seed 004 performance triggers",
        },
        {
            "name": "system-error-rate",
            "kind": "errors",
            "severity": "critical",
            "metric": "ErrorRate",
            "comparison": "gt",
            "threshold": 10.0,
            "duration_seconds": 300,
            "source": "seed 004 performance triggers",
        },
        {
            "name": "availability",
            "kind": "availability",
            "severity": "critical",
            "metric": "Availability",
            "comparison": "lt",
            "threshold": 95.0,
            "duration_seconds": 600,
            "source": "seed 004 performance triggers",
        },
        # Seed 004 security triggers. "Any period" and the unstated periods are one minute: the first
        # breaching datapoint fires.
        {
            "name": "gdpr-compliance",
            "kind": "security",
            "severity": "critical",
            "metric": "GdprComplianceRate",
            "comparison": "lt",
            "threshold": 100.0,
            "duration_seconds": 60,
            "source": "seed 004 security triggers",
        },
        {
            "name": "security-score",
            "kind": "security",
            "severity": "critical",
            "metric": "SecurityScore",
            "comparison": "lt",
            "threshold": 80.0,
            "duration_seconds": 600,
            "source": "seed 004 security triggers",
        },
        {
            "name": "pii-detection-failure",
            "kind": "security",
            "severity": "critical",
            "metric": "PiiDetectionFailureRate",
            "comparison": "gt",
            "threshold": 5.0,
            "duration_seconds": 60,
            "source": "seed 004 security triggers",
        },
        {
            "name": "audit-trail-integrity",
            "kind": "audit",
            "severity": "critical",
            "metric": "AuditTrailIntegrityFailures",
            "comparison": "gt",
            "threshold": 0.0,
            "duration_seconds": 60,
            "source": "seed 004 security triggers",
        },
        # Seed 004 cost triggers. A sustained overrun is P2 (Stage 1 trims load); a spike is P1.
        {
            "name": "cost-overrun",
            "kind": "cost",
            "severity": "P2",
            "metric": "CostBudgetRatio",
            "comparison": "gt",
            "threshold": 200.0,
            "period_seconds": 300,
            "duration_seconds": 3600,
            "source": "seed 004 cost triggers",
        },
        {
            "name": "cost-spike",
            "kind": "cost",
            "severity": "P1",
            "metric": "CostSpikeRatio",
            "comparison": "gt",
            "threshold": 500.0,
            "duration_seconds": 900,
            "source": "seed 004 cost triggers",
        },
    ],
}


def parse_catalog(data: Mapping[str, Any]) -> GuardrailCatalog:
    """Validate catalog data and refuse it when `check_catalog` finds anything."""
    try:
        catalog = GuardrailCatalog.model_validate(data)
    except ValidationError as error:
        raise CatalogError(f"guardrail catalog: {error}") from error
    findings = check_catalog(catalog)
    if findings:
        raise CatalogError("guardrail catalog: " + "; ".join(str(f) for f in findings))
    return catalog


def load_catalog(path: Path) -> GuardrailCatalog:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CatalogError(f"guardrail catalog {path}: {error}") from error
    return parse_catalog(data)


def render_catalog(catalog: GuardrailCatalog) -> str:
    """Deterministic JSON for the checked-in copy."""
    return json.dumps(catalog.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


DEFAULT_CATALOG = parse_catalog(DEFAULT_CATALOG_DATA)
