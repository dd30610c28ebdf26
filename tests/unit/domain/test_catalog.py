from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from failsafe.domain import metrics
from failsafe.domain.catalog import (
    DEFAULT_CATALOG,
    DEFAULT_CATALOG_DATA,
    CatalogError,
    Comparison,
    GuardrailCatalog,
    GuardrailKind,
    Severity,
    check_catalog,
    load_catalog,
    parse_catalog,
    render_catalog,
)

REPO = Path(__file__).resolve().parents[3]


def _data(rules: list[dict[str, Any]] | None = None, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(dict(DEFAULT_CATALOG_DATA))
    if rules is not None:
        data["rules"] = rules
        data.pop("mitigation_budget_seconds")  # hand-made rules are judged on shape, not on the seed's budget
    data.update(changes)
    return data


def _rule(name: str, **fields: Any) -> dict[str, Any]:
    base = {
        "name": name,
        "kind": "latency",
        "severity": "P1",
        "metric": "LatencyMs",
        "comparison": "gt",
        "threshold": 300.0,
        "duration_seconds": 600,
    }
    return base | fields


def test_default_catalog_has_no_findings() -> None:
    # Given / When
    findings = check_catalog(DEFAULT_CATALOG)

    # Then
    assert findings == []


@pytest.mark.parametrize(
    ("rule", "severity", "comparison", "threshold", "duration", "datapoints"),
    [
        ("coverage-p1", Severity.P1, Comparison.LT, 95.0, 180, 2),
        ("coverage-p2", Severity.P2, Comparison.LT, 98.0, 300, 4),
        ("latency-p1", Severity.P1, Comparison.GT, 300.0, 180, 2),
        ("latency-p2", Severity.P2, Comparison.GT, 200.0, 300, 4),
        ("error-rate-p1", Severity.P1, Comparison.GT, 0.1, 180, 2),
        ("error-rate-p2", Severity.P2, Comparison.GT, 0.05, 300, 4),
        ("cache-hit-rate-p2", Severity.P2, Comparison.LT, 70.0, 480, 7),
        ("critical-failures", Severity.P1, Comparison.GT, 0.0, 180, 2),
        ("emergency-op-latency", Severity.CRITICAL, Comparison.GT, 10_000.0, 300, 5),
        ("critical-op-latency", Severity.CRITICAL, Comparison.GT, 20_000.0, 300, 5),
        ("system-error-rate", Severity.CRITICAL, Comparison.GT, 10.0, 300, 5),
        ("availability", Severity.CRITICAL, Comparison.LT, 95.0, 600, 10),
        ("gdpr-compliance", Severity.CRITICAL, Comparison.LT, 100.0, 60, 1),
        ("security-score", Severity.CRITICAL, Comparison.LT, 80.0, 600, 10),
        ("pii-detection-failure", Severity.CRITICAL, Comparison.GT, 5.0, 60, 1),
        ("audit-trail-integrity", Severity.CRITICAL, Comparison.GT, 0.0, 60, 1),
        ("cost-overrun", Severity.P2, Comparison.GT, 200.0, 3600, 12),
        ("cost-spike", Severity.P1, Comparison.GT, 500.0, 900, 15),
    ],
)
def test_catalog_holds_the_seed_defaults(  # noqa: PLR0917 (one parameter per column of the table)
    rule: str,
    severity: Severity,
    comparison: Comparison,
    threshold: float,
    duration: int,
    datapoints: int,
) -> None:
    # Given / When
    found = DEFAULT_CATALOG.rule(rule)

    # Then
    assert found.severity is severity
    assert found.comparison is comparison
    assert DEFAULT_CATALOG.threshold_of(found) == pytest.approx(threshold)
    assert found.duration_seconds == duration
    assert found.datapoints == datapoints


def test_every_guardrail_kind_is_covered() -> None:
    # Given / When
    kinds = {rule.kind for rule in DEFAULT_CATALOG.rules}

    # Then
    assert kinds == set(GuardrailKind)


def test_recommender_guardrails_watch_metrics_the_recommender_emits() -> None:
    # Given
    emitted = {metrics.COVERAGE, metrics.ERROR_RATE, metrics.CACHE_HIT_RATE, metrics.AVAILABILITY}

    # When
    watched = {
        rule.metric
        for rule in DEFAULT_CATALOG.rules
        if rule.kind.value in ("coverage", "cache", "availability")
    }

    # Then
    assert watched <= emitted


def test_the_seeds_raw_latency_pair_is_flagged_as_a_severity_inversion() -> None:
    # Given: seed 000 as written: P1 = p95 > target, P2 = p95 > 1.5 x target
    rules = [
        _rule("latency-p1", severity="P1", threshold={"target": "latency_p95_ms", "factor": 1.0}),
        _rule("latency-p2", severity="P2", threshold={"target": "latency_p95_ms", "factor": 1.5}),
    ]
    catalog = GuardrailCatalog.model_validate(_data(rules))

    # When
    findings = check_catalog(catalog)

    # Then
    assert [(f.code, f.rules) for f in findings] == [("severity_inversion", ("latency-p2", "latency-p1"))]
    assert findings[0].message == (
        "P2 rule 'latency-p2' (LatencyMs gt 300) is stricter than or equal to P1 rule 'latency-p1' "
        "(LatencyMs gt 200); the P1 threshold must lie above the P2 one"
    )


def test_equal_thresholds_across_severities_are_an_inversion() -> None:
    # Given
    rules = [
        _rule(
            "coverage-a", kind="coverage", metric="Coverage", comparison="lt", threshold=95.0, severity="P1"
        ),
        _rule(
            "coverage-b", kind="coverage", metric="Coverage", comparison="lt", threshold=95.0, severity="P2"
        ),
    ]

    # When
    findings = check_catalog(GuardrailCatalog.model_validate(_data(rules)))

    # Then
    assert [f.code for f in findings] == ["severity_inversion"]
    assert "the P1 threshold must lie below the P2 one" in findings[0].message


@pytest.mark.parametrize(
    ("rules", "code", "message"),
    [
        (
            [_rule("a"), _rule("a", severity="P2", threshold=200.0)],
            "duplicate_name",
            "rule name 'a' is used 2 times",
        ),
        (
            [_rule("a", duration_seconds=0)],
            "non_positive_duration",
            "rule 'a': duration_seconds is 0; it must be > 0",
        ),
        (
            [_rule("a", duration_seconds=90)],
            "duration_not_whole_periods",
            "rule 'a': duration_seconds 90 is not a multiple of period_seconds 60",
        ),
        (
            [_rule("a", metric="Coverage", comparison="lt", threshold=120.0)],
            "threshold_out_of_range",
            "rule 'a': threshold 120 is outside Coverage's range [0, 100]",
        ),
        (
            [_rule("a", metric="Coverage", comparison="gt", threshold=100.0)],
            "threshold_unreachable",
            "rule 'a': Coverage gt 100 is decided by the range [0, 100] alone",
        ),
        ([_rule("a", metric="Nope")], "unknown_metric", "rule 'a': metric 'Nope' is not in metrics"),
        (
            [_rule("a", threshold={"target": "nope", "factor": 2})],
            "unknown_target",
            "threshold refers to target 'nope', which is not in targets ['latency_p95_ms']",
        ),
    ],
)
def test_checker_flags_each_inconsistency(rules: list[dict[str, Any]], code: str, message: str) -> None:
    # Given
    catalog = GuardrailCatalog.model_validate(_data(rules))

    # When
    findings = check_catalog(catalog)

    # Then
    assert code in [f.code for f in findings]
    assert any(message in f.message for f in findings if f.code == code)


def test_parse_refuses_a_catalog_with_findings_listing_them() -> None:
    # Given
    data = _data([_rule("a", duration_seconds=-5)])

    # When / Then
    with pytest.raises(CatalogError) as error:
        parse_catalog(data)
    assert str(error.value) == (
        "guardrail catalog: non_positive_duration: rule 'a': duration_seconds is -5; it must be > 0"
    )


def test_parse_refuses_malformed_data() -> None:
    # Given
    data = _data([_rule("a", severity="P0")])

    # When / Then
    with pytest.raises(CatalogError, match=r"rules\.0\.severity"):
        parse_catalog(data)


def test_load_reads_a_catalog_file_and_reports_missing_files(tmp_path: Path) -> None:
    # Given
    path = tmp_path / "guardrails.json"
    path.write_text(render_catalog(DEFAULT_CATALOG), encoding="utf-8")

    # When
    loaded = load_catalog(path)

    # Then
    assert loaded == DEFAULT_CATALOG
    with pytest.raises(CatalogError, match=r"missing\.json"):
        load_catalog(tmp_path / "missing.json")


def test_checked_in_catalog_is_the_default_catalog() -> None:
    # Given
    path = REPO / "infra" / "catalog" / "guardrails.json"

    # When
    checked_in = json.loads(path.read_text(encoding="utf-8"))

    # Then
    assert load_catalog(path) == DEFAULT_CATALOG
    assert checked_in["targets"] == {"latency_p95_ms": 200.0}


def test_evaluation_periods_follow_duration_and_period() -> None:
    # Given / When
    overrun = DEFAULT_CATALOG.rule("cost-overrun")
    coverage = DEFAULT_CATALOG.rule("coverage-p1")

    # Then
    assert overrun.evaluation_periods == 12
    assert coverage.evaluation_periods == 3
    assert coverage.comparison.cloudwatch_operator == "LessThanThreshold"


def test_p1_and_p2_triggers_are_in_force_within_their_budgets_with_m_of_n() -> None:
    # Given the default catalog's seed-000 rules (the budget counts the response allowance after the alarm)
    budgets = DEFAULT_CATALOG.mitigation_budget_seconds
    seed_000 = [r for r in DEFAULT_CATALOG.rules if r.source == "seed 000 automatic triggers"]

    # When / Then every P1 alarms in time for 5 minutes, every P2 for 10, and none fires on one bad minute
    assert budgets == {Severity.P1: 300, Severity.P2: 600}
    assert seed_000
    for rule in seed_000:
        assert rule.worst_alarm_seconds + DEFAULT_CATALOG.response_allowance_seconds <= budgets[rule.severity]
        assert 2 <= rule.datapoints < rule.evaluation_periods
        assert "False positives" in rule.trade_off


def test_the_template_alarms_use_the_catalogs_m_of_n() -> None:
    # Given the checked-in template / When its coverage alarms are read
    template = (REPO / "template.yaml").read_text(encoding="utf-8")
    name = 'AlarmName: !Sub "failsafe-${{ServiceName}}-${{EnvironmentName}}-{}"'
    p1 = template[template.index(name.format("coverage-p1")) :]
    p2 = template[template.index(name.format("coverage-p2")) :]

    # Then DatapointsToAlarm of EvaluationPeriods is the catalog's M of N
    assert "EvaluationPeriods: 3\n      DatapointsToAlarm: 2\n" in p1[:1200]
    assert "EvaluationPeriods: 5\n      DatapointsToAlarm: 4\n" in p2[:1200]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"duration_seconds": 180, "datapoints_to_alarm": 4}, "datapoints_exceed_window"),
        ({"duration_seconds": 180, "datapoints_to_alarm": 1}, "single_datapoint_trigger"),
        ({"duration_seconds": 600, "datapoints_to_alarm": None}, "trigger_too_slow"),
    ],
)
def test_m_of_n_windows_that_cannot_keep_the_promise_are_findings(
    overrides: dict[str, object], code: str
) -> None:
    # Given a P1 coverage rule with a 5-minute mitigation budget
    data = {**_data([_rule("a", severity="P1", **overrides)]), "mitigation_budget_seconds": {"P1": 300}}

    # When the catalog is checked
    findings = check_catalog(GuardrailCatalog.model_validate(data))

    # Then the window is reported with what to change
    assert code in [f.code for f in findings]
