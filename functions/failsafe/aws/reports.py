"""Incident reports in S3 (JSON + Markdown) and the CloudWatch figures behind "rollback efficacy"."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from failsafe.domain import metrics
from failsafe.domain.scope import DIMENSION_ENVIRONMENT, DIMENSION_REGION, DIMENSION_SERVICE, Scope
from failsafe.reporting.efficacy import StatReader

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_s3 import S3Client


class ReportLocation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: str
    json_key: str
    markdown_key: str


class ReportWriter:
    def __init__(self, client: S3Client, bucket: str, prefix: str = "incidents/") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def keys(self, incident_id: str) -> tuple[str, str]:
        base = f"{self._prefix}{incident_id}/report"
        return f"{base}.json", f"{base}.md"

    def write(self, incident_id: str, report_json: str, markdown: str) -> ReportLocation:
        """Store the rendered report (`failsafe.reporting.report.render_json` and `render_markdown`)."""
        json_key, md_key = self.keys(incident_id)
        self._client.put_object(
            Bucket=self._bucket,
            Key=json_key,
            Body=report_json.encode("utf-8"),
            ContentType="application/json",
        )
        self._client.put_object(
            Bucket=self._bucket, Key=md_key, Body=markdown.encode("utf-8"), ContentType="text/markdown"
        )
        return ReportLocation(bucket=self._bucket, json_key=json_key, markdown_key=md_key)

    def read(self, incident_id: str) -> dict[str, Any]:
        json_key, _ = self.keys(incident_id)
        body = self._client.get_object(Bucket=self._bucket, Key=json_key)["Body"].read()
        parsed = json.loads(body)
        if not isinstance(parsed, dict):
            raise ValueError(f"report {json_key} is not a JSON object")
        return parsed


class EfficacyReader:
    """Seed 000's "rollback efficacy" query on CloudWatch: coverage, p95 latency, fill rate before/after."""

    def __init__(self, client: CloudWatchClient, namespace: str = metrics.NAMESPACE) -> None:
        self._client = client
        self._namespace = namespace

    @staticmethod
    def dimensions(scope: Scope) -> list[dict[str, str]]:
        dims = [
            {"Name": DIMENSION_SERVICE, "Value": scope.service},
            {"Name": DIMENSION_ENVIRONMENT, "Value": scope.environment},
        ]
        if len(scope.regions) == 1:
            dims.append({"Name": DIMENSION_REGION, "Value": scope.regions[0]})
        return dims

    def _stat(
        self, scope: Scope, metric: str, start: datetime, end: datetime, statistic: str
    ) -> float | None:
        if end <= start:
            return None
        period = max(60, int((end - start).total_seconds()) // 60 * 60)
        kwargs: dict[str, Any] = {
            "Namespace": self._namespace,
            "MetricName": metric,
            "Dimensions": self.dimensions(scope),
            "StartTime": start,
            "EndTime": end,
            "Period": period,
        }
        if statistic.startswith("p"):
            kwargs["ExtendedStatistics"] = [statistic]
        else:
            kwargs["Statistics"] = [statistic]
        points = self._client.get_metric_statistics(**kwargs).get("Datapoints", [])
        if not points:
            return None
        if statistic.startswith("p"):
            values = [float(p.get("ExtendedStatistics", {}).get(statistic, 0.0)) for p in points]
            return max(values)
        if statistic == "Sum":
            return float(sum(float(p.get("Sum", 0.0)) for p in points))
        weights = [float(p.get("SampleCount", 1.0) or 1.0) for p in points]
        values = [float(str(dict(p).get(statistic, 0.0))) for p in points]
        return sum(v * w for v, w in zip(values, weights, strict=True)) / sum(weights)

    def requests(self, scope: Scope, start: datetime, end: datetime) -> float:
        """Requests the recommender served in `scope` between `start` and `end` (0 without datapoints)."""
        return self._stat(scope, metrics.REQUESTS, start, end, "Sum") or 0.0

    def min_config_version(self, scope: Scope, start: datetime, end: datetime) -> int | None:
        """The oldest toggle config version any request of `scope` was served with (None: no requests)."""
        value = self._stat(scope, metrics.CONFIG_VERSION, start, end, "Minimum")
        return None if value is None else int(value)

    def stat_reader(self, scope: Scope) -> StatReader:
        """`scope`'s figures from CloudWatch, for `failsafe.reporting.efficacy` (the one computation)."""

        def stat(metric: str, statistic: str, start: datetime, end: datetime) -> float | None:
            return self._stat(scope, metric, start, end, statistic)

        return stat
