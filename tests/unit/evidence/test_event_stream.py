"""`FirehoseEventSink`: events as JSON rows in PutRecordBatch calls, refused records retried once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from failsafe.aws.event_stream import MAX_BATCH_RECORDS, EventDeliveryError, FirehoseEventSink
from failsafe.domain.events import ERROR_TABLE, RANKING_TABLE, RankingEvent, row

STREAMS = {RANKING_TABLE: "ranking-stream", ERROR_TABLE: "error-stream"}


def ranking(n: int) -> RankingEvent:
    return RankingEvent(
        event_date="2026-12-08",
        timestamp_ms=1_796_688_000_000 + n,
        request_id=f"r{n}",
        service="recommender",
        environment="prod",
        region="eu-west-1",
        cohort=None,
        client=None,
        bucket=3,
        config_version=2,
        shadow=False,
        coverage=100.0,
        k=10,
        k_returned=10,
        latency_ms=12.5,
        policy="hybrid",
    )


class FakeFirehose:
    """Records PutRecordBatch calls; `refuse` lists how many records each call refuses (first ones)."""

    def __init__(self, refuse: list[int] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.refuse = list(refuse or [])

    def put_record_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        refused = self.refuse.pop(0) if self.refuse else 0
        results = [
            {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "slow down"}
            if i < refused
            else {"RecordId": str(i)}
            for i in range(len(kwargs["Records"]))
        ]
        return {"FailedPutCount": refused, "RequestResponses": results}


def test_each_event_is_one_json_row_to_its_tables_stream() -> None:
    # Given a sink that sends on every write
    firehose = FakeFirehose()
    sink = FirehoseEventSink(firehose, STREAMS)  # type: ignore[arg-type]
    # When one ranking event is written
    sink.write([ranking(1)])
    # Then one PutRecordBatch went to the ranking stream with the event's row as one JSON line
    (call,) = firehose.calls
    assert call["DeliveryStreamName"] == "ranking-stream"
    (record,) = call["Records"]
    assert record["Data"].endswith(b"\n")
    assert json.loads(record["Data"]) == row(ranking(1))


def test_buffered_events_go_in_batches_of_at_most_500_on_flush() -> None:
    # Given a sink that buffers up to 500 events
    firehose = FakeFirehose()
    sink = FirehoseEventSink(firehose, STREAMS, buffer_records=MAX_BATCH_RECORDS)  # type: ignore[arg-type]
    # When 700 events are written and the sink is flushed
    sink.write([ranking(n) for n in range(700)])
    sink.flush()
    # Then two calls carried them, the first full, nothing lost or repeated
    assert [len(c["Records"]) for c in firehose.calls] == [500, 200]
    sent = [json.loads(r["Data"])["request_id"] for c in firehose.calls for r in c["Records"]]
    assert sent == [f"r{n}" for n in range(700)]


def test_refused_records_are_sent_again_once() -> None:
    # Given Firehose refuses 2 records of the first call and none of the retry
    firehose = FakeFirehose(refuse=[2, 0])
    sink = FirehoseEventSink(firehose, STREAMS, buffer_records=3)  # type: ignore[arg-type]
    # When three events are written
    sink.write([ranking(n) for n in range(3)])
    # Then the retry carries exactly the two refused records
    assert [json.loads(r["Data"])["request_id"] for r in firehose.calls[1]["Records"]] == ["r0", "r1"]


def test_records_refused_twice_raise_naming_the_stream() -> None:
    # Given Firehose refuses the record on both tries
    firehose = FakeFirehose(refuse=[1, 1])
    sink = FirehoseEventSink(firehose, STREAMS)  # type: ignore[arg-type]
    # When it is written, Then the error names the stream, the count and the error code
    with pytest.raises(EventDeliveryError, match=r"'ranking-stream' refused 1 of 1 .*ServiceUnavailable"):
        sink.write([ranking(1)])
