"""GetMetricStatistics as AWS answers it: exact dimensions, percentiles, empty periods left out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alarm_support import LocalAws
from botocore.exceptions import ClientError

SERVICE = [{"Name": "Service", "Value": "recs"}]
REGION = [*SERVICE, {"Name": "Region", "Value": "eu-west-1"}]


def _query(aws: LocalAws, **kwargs: object) -> list[dict[str, object]]:
    end = datetime.fromtimestamp(aws.clock.time(), tz=UTC)
    start = datetime.fromtimestamp(aws.clock.time() - 600, tz=UTC)
    params: dict[str, object] = {
        "Namespace": "Failsafe/Test",
        "MetricName": "LatencyMs",
        "StartTime": start,
        "EndTime": end,
        "Period": 300,
        "Dimensions": SERVICE,
    }
    points = aws.cloudwatch.get_metric_statistics(**(params | kwargs))["Datapoints"]
    return sorted(points, key=lambda p: p["Timestamp"])  # type: ignore[arg-type,return-value]


def test_statistics_count_only_the_exact_dimension_set(aws: LocalAws) -> None:
    # Given the same requests emitted service-wide and per region (as the recommender's EMF does)
    values = [float(v) for v in range(1, 101)]
    aws.put(*values, dimensions=SERVICE)
    aws.put(*values, dimensions=REGION)
    aws.clock.advance(60)

    # When the service-wide series is queried for Sum, SampleCount and p95
    points = _query(aws, Statistics=["Sum", "SampleCount"], ExtendedStatistics=["p95"])

    # Then the per-region copies are not counted twice and p95 is answered
    assert len(points) == 1
    assert points[0]["SampleCount"] == 100.0
    assert points[0]["Sum"] == sum(values)
    assert points[0]["ExtendedStatistics"] == {"p95": 95.0}


def test_periods_without_data_are_left_out(aws: LocalAws) -> None:
    # Given data only in the most recent of two 5-minute periods
    aws.clock.advance(360)
    aws.put(10.0, 20.0)
    aws.clock.advance(60)

    # When
    points = _query(aws, Statistics=["Average"])

    # Then
    assert [p["Average"] for p in points] == [15.0]


def test_a_query_without_statistics_is_rejected_as_aws_does(aws: LocalAws) -> None:
    # Given / When / Then
    with pytest.raises(ClientError) as error:
        _query(aws)
    assert error.value.response["Error"]["Code"] == "InvalidParameterCombination"
