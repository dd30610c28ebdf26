"""The recommender's evidence events (`failsafe.domain.events`) and where they go (an `EventSink`).

`Recommender` builds one `RankingEvent` per request and, for a failed request, one `ErrorEvent`, and hands
them to its sink. Sinks:

- on AWS, `failsafe.aws.event_stream.FirehoseEventSink` (Firehose PutRecordBatch; the delivery stream
  converts to Parquet partitioned by ``event_date``, see template.yaml);
- locally, ``failsafe_tools.local.events.ParquetEventSink`` (Parquet files in a directory, via DuckDB);
- in tests, `MemoryEventSink`.

A sink must never fail a request: `Recommender` logs and drops what a sink refuses.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

from failsafe.domain.decision import NO_BUCKET, Decision
from failsafe.domain.events import (
    Component,
    ErrorEvent,
    ErrorSeverity,
    Event,
    RankingEvent,
    event_date,
)
from failsafe.recommender.models import RecommendationResponse
from failsafe.recommender.ranking import ComponentUnavailableError

BUCKET_RESOLUTION = 1000
"""Sticky buckets (0..9999) per event bucket: ten event buckets of 10 % of the users each."""


class EventSink(Protocol):
    """Where events go. `write` may buffer; `flush` sends what is buffered."""

    def write(self, events: Sequence[Event]) -> None: ...

    def flush(self) -> None: ...


class MemoryEventSink:
    """Keeps every event in memory (tests, small drills)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def write(self, events: Sequence[Event]) -> None:
        with self._lock:
            self.events.extend(events)

    def flush(self) -> None:
        return None


def event_bucket(bucket: int) -> int:
    return NO_BUCKET if bucket < 0 else min(9, bucket // BUCKET_RESOLUTION)


def component_of(failure: BaseException, *, model_path: bool) -> Component:
    if not model_path:
        return Component.SERVICE
    if isinstance(failure, ComponentUnavailableError):
        return Component.COLLABORATIVE_FILTERING
    return Component.MODEL


class EventBuilder:
    """Builds the events of one request for one service and environment."""

    def __init__(
        self,
        service: str,
        environment: str,
        *,
        timestamp: Callable[[], float],
        request_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.service = service
        self.environment = environment
        self._timestamp = timestamp
        self._request_id = request_id

    def events(
        self,
        *,
        region: str | None,
        cohort: str | None,
        client: str | None,
        shadow: bool,
        decision: Decision,
        response: RecommendationResponse,
        latency_ms: float,
        failure: BaseException | None,
        model_path: bool = True,
    ) -> list[Event]:
        timestamp_ms = int(self._timestamp() * 1000)
        common = {
            "event_date": event_date(timestamp_ms),
            "timestamp_ms": timestamp_ms,
            "request_id": self._request_id(),
            "service": self.service,
            "environment": self.environment,
            "region": region,
            "cohort": cohort,
            "client": client,
            "bucket": event_bucket(decision.bucket),
            "config_version": decision.config_version,
            "shadow": shadow,
        }
        k = response.k
        events: list[Event] = [
            RankingEvent.model_validate(
                {
                    **common,
                    "coverage": round(100.0 * min(response.k_returned, k) / k, 3),
                    "k": k,
                    "k_returned": response.k_returned,
                    "latency_ms": round(max(0.0, latency_ms), 3),
                    "policy": response.policy,
                }
            )
        ]
        if failure is not None:
            events.append(
                ErrorEvent.model_validate(
                    {
                        **common,
                        "component": component_of(failure, model_path=model_path),
                        "severity": ErrorSeverity.ERROR if model_path else ErrorSeverity.CRITICAL,
                        "error_type": type(failure).__name__[:128],
                    }
                )
            )
        return events
