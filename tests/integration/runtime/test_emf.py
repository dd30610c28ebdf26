"""EMF extraction rules, as CloudWatch Logs applies them to a Lambda's log lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from failsafe_tools.local.emf_logs import EmfDatum, EmfError, extract_emf, parse_emf_document, parse_emf_line

TS_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": TS_MS,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Recsys",
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": "p95", "Unit": "Milliseconds"}],
                }
            ],
        },
        "service": "recommender",
        "p95": 120,
    }
    doc.update(overrides)
    return doc


def test_a_single_value_becomes_one_datum_with_the_emf_timestamp() -> None:
    # Given an EMF line with one value
    line = json.dumps(_doc())

    # When it is parsed
    data = parse_emf_line(line)

    # Then one datum carries namespace, dimensions, unit, value and timestamp
    assert data == [
        EmfDatum(
            namespace="Recsys",
            metric_name="p95",
            dimensions=(("service", "recommender"),),
            values=(120.0,),
            unit="Milliseconds",
            timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        )
    ]


def test_an_array_of_values_and_several_dimension_sets() -> None:
    # Given a document with an array value and two dimension sets
    doc = _doc(p95=[1, 2.5, 3])
    doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = [["service"], []]

    # When it is parsed
    data = parse_emf_document(doc)

    # Then there is one datum per dimension set, each with every value
    assert [(d.dimensions, d.values) for d in data] == [
        ((("service", "recommender"),), (1.0, 2.5, 3.0)),
        ((), (1.0, 2.5, 3.0)),
    ]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d["_aws"].pop("Timestamp"), "Timestamp"),
        (lambda d: d.pop("service"), "dimension 'service'"),
        (lambda d: d.update(p95="fast"), "metric 'p95'"),
        (lambda d: d.update(p95=[1, "x"]), "metric 'p95'"),
        (lambda d: d["_aws"]["CloudWatchMetrics"][0].update(Namespace=""), "Namespace"),
        (lambda d: d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].update(Unit="Furlongs"), "Unit"),
    ],
)
def test_documents_cloudwatch_would_reject_are_not_extracted(mutate: Any, reason: str) -> None:
    # Given an EMF document broken in one way
    doc = _doc()
    mutate(doc)

    # When it is parsed strictly
    # Then the reason is named
    with pytest.raises(EmfError, match=reason):
        parse_emf_document(doc)
    # And the log-line parser skips it
    assert parse_emf_line(json.dumps(doc)) == []


def test_lines_that_are_not_emf_are_ignored_and_missing_metric_members_skipped() -> None:
    # Given ordinary log lines and an EMF line whose metric member is absent
    doc = _doc()
    doc.pop("p95")
    lines = ["START RequestId: x", '{"level": "INFO", "message": "hi"}', "{broken json", json.dumps(doc)]

    # When they are extracted
    # Then nothing is published
    assert extract_emf(lines) == []
