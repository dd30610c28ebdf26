"""The evidence events: one ranking event per request, one error event per failed request (seed 000).

These are the rows of the ``ranking_events`` and ``error_events`` tables that the guardrail and efficacy
queries of ``infra/queries/*.sql`` read (Athena over Parquet in S3 on AWS, DuckDB over Parquet locally).
The columns are seed 000's (``event_date``, ``timestamp_ms``, ``request_id``, ``bucket``, ``cohort``,
``coverage``, ``k``, ``k_returned``, ``latency_ms``, ``shadow``; errors add ``component`` and
``severity``) plus what lets a query cut by scope and toggle version: ``service``, ``environment``,
``region``, ``client`` and ``config_version``.

Conventions:

- ``event_date`` is the UTC date of ``timestamp_ms`` (``YYYY-MM-DD``), the partition key; windows are by
  event time (``timestamp_ms``), never by arrival time.
- ``coverage`` is in percent (0..100), like the ``Coverage`` metric, so the two engines compare directly.
- ``bucket`` is the user's sticky exposure bucket at 10 % resolution (``0..9``, ``-1`` when the request
  could not be bucketed), so "p95 by bucket" has a handful of groups rather than 10 000.
- ``region``, ``cohort`` and ``client`` hold a scope value or ``None`` (absent or unusable).

`COLUMNS` is the single description of the schema: the Glue tables of template.yaml and the local
Parquet writer are checked against it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

RANKING_TABLE: Final = "ranking_events"
ERROR_TABLE: Final = "error_events"
PARTITION_KEY: Final = "event_date"

ScopeText = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class Component(StrEnum):
    """Which part of the request path failed."""

    COLLABORATIVE_FILTERING = "collaborative_filtering"
    MODEL = "model"  # the ranking path (an injected fault or a bug in ranking)
    SERVICE = "service"  # outside the model path: the request was answered by the service's last resort


class ErrorSeverity(StrEnum):
    ERROR = "error"  # the request was answered from the last-resort list
    CRITICAL = "critical"  # the request failed outside the model path


def event_date(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC).strftime("%Y-%m-%d")


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    timestamp_ms: Annotated[int, Field(ge=0)]
    request_id: Annotated[str, Field(min_length=1, max_length=128)]
    service: ScopeText
    environment: ScopeText
    region: ScopeText | None
    cohort: ScopeText | None
    client: ScopeText | None
    bucket: Annotated[int, Field(ge=-1, le=9)]
    config_version: Annotated[int, Field(ge=0)]
    shadow: bool

    @model_validator(mode="after")
    def _date_of_timestamp(self) -> Self:
        if self.event_date != event_date(self.timestamp_ms):
            raise ValueError(
                f"event_date {self.event_date!r} is not the UTC date of timestamp_ms {self.timestamp_ms}"
                f" ({event_date(self.timestamp_ms)})"
            )
        return self


class RankingEvent(_Event):
    """One answered request."""

    kind: Literal["ranking"] = "ranking"
    coverage: Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)]
    k: Annotated[int, Field(ge=1)]
    k_returned: Annotated[int, Field(ge=0)]
    latency_ms: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
    policy: Annotated[str, Field(min_length=1, max_length=32)]


class ErrorEvent(_Event):
    """One failed request (it was still answered, from the last-resort list)."""

    kind: Literal["error"] = "error"
    component: Component
    severity: ErrorSeverity
    error_type: Annotated[str, Field(min_length=1, max_length=128)]


Event = RankingEvent | ErrorEvent

# (name, Glue/Athena type) per table, in column order, partition key last (as Firehose writes it).
_COMMON: Final = (
    ("timestamp_ms", "bigint"),
    ("request_id", "string"),
    ("service", "string"),
    ("environment", "string"),
    ("region", "string"),
    ("cohort", "string"),
    ("client", "string"),
    ("bucket", "int"),
    ("config_version", "bigint"),
    ("shadow", "boolean"),
)
COLUMNS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    RANKING_TABLE: (
        *_COMMON,
        ("coverage", "double"),
        ("k", "int"),
        ("k_returned", "int"),
        ("latency_ms", "double"),
        ("policy", "string"),
    ),
    ERROR_TABLE: (*_COMMON, ("component", "string"), ("severity", "string"), ("error_type", "string")),
}
"""The data columns of each table (Glue types); ``event_date`` (string) is the partition key."""


def table_of(event: Event) -> str:
    return RANKING_TABLE if isinstance(event, RankingEvent) else ERROR_TABLE


def row(event: Event) -> dict[str, object]:
    """The event as one table row: every column of its table plus the partition key, nothing else."""
    data = event.model_dump(mode="json")
    return {name: data[name] for name, _ in COLUMNS[table_of(event)]} | {PARTITION_KEY: event.event_date}
