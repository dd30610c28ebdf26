"""Evidence events to Kinesis Data Firehose (PutRecordBatch), one delivery stream per event table.

Each event is one JSON line (``Data``: its table row, `failsafe.domain.events.row`), the input format
that the delivery stream's record format conversion turns into Parquet partitioned by ``event_date``
(template.yaml: ``RankingEventsStream`` and ``ErrorEventsStream``). Events are buffered and sent in
batches of at most `MAX_BATCH_RECORDS` records / `MAX_BATCH_BYTES` bytes (the PutRecordBatch limits).
Records that Firehose refuses inside a successful call (``FailedPutCount``) are sent again once; what still
fails raises `EventDeliveryError` naming the stream, the count and the first error code, so the caller can
log it (the recommender never fails a request on it).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from failsafe.domain.events import Event, row, table_of

if TYPE_CHECKING:
    from mypy_boto3_firehose import FirehoseClient
else:
    FirehoseClient = Any

MAX_BATCH_RECORDS: Final = 500
MAX_BATCH_BYTES: Final = 4 * 1024 * 1024


class EventDeliveryError(RuntimeError):
    pass


class FirehoseEventSink:
    """An `failsafe.recommender.events.EventSink` that delivers through Firehose.

    `streams` maps each table (``ranking_events``, ``error_events``) to its delivery stream name.
    `buffer_records` events are kept before a batch is sent; ``1`` sends on every write (a Lambda,
    which may be frozen right after answering, uses that or calls `flush` before returning).
    """

    def __init__(
        self, client: FirehoseClient, streams: Mapping[str, str], *, buffer_records: int = 1
    ) -> None:
        if buffer_records < 1 or buffer_records > MAX_BATCH_RECORDS:
            raise ValueError(f"buffer_records {buffer_records}: must be 1..{MAX_BATCH_RECORDS}")
        self._client = client
        self._streams = dict(streams)
        self._buffer_records = buffer_records
        self._pending: dict[str, list[bytes]] = {table: [] for table in self._streams}
        self._lock = threading.Lock()

    def write(self, events: Sequence[Event]) -> None:
        ready: dict[str, list[bytes]] = {}
        with self._lock:
            for event in events:
                table = table_of(event)
                if table not in self._pending:
                    raise EventDeliveryError(
                        f"no delivery stream configured for table {table!r}: pass it in `streams`"
                    )
                self._pending[table].append(json.dumps(row(event), separators=(",", ":")).encode() + b"\n")
                if len(self._pending[table]) >= self._buffer_records:
                    ready[table] = self._pending[table]
                    self._pending[table] = []
        for table, records in ready.items():
            self._send(self._streams[table], records)

    def flush(self) -> None:
        with self._lock:
            ready = {table: records for table, records in self._pending.items() if records}
            self._pending = {table: [] for table in self._streams}
        for table, records in ready.items():
            self._send(self._streams[table], records)

    def _send(self, stream: str, records: list[bytes]) -> None:
        for batch in _batches(records):
            failed = self._put(stream, batch)
            if failed:
                failed = self._put(stream, [record for record, _ in failed])
            if failed:
                raise EventDeliveryError(
                    f"Firehose stream {stream!r} refused {len(failed)} of {len(batch)} records after a retry"
                    f" (first error: {failed[0][1]})"
                )

    def _put(self, stream: str, batch: list[bytes]) -> list[tuple[bytes, str]]:
        response = self._client.put_record_batch(
            DeliveryStreamName=stream, Records=[{"Data": record} for record in batch]
        )
        if not response.get("FailedPutCount"):
            return []
        return [
            (record, f"{result.get('ErrorCode')}: {result.get('ErrorMessage')}")
            for record, result in zip(batch, response["RequestResponses"], strict=True)
            if result.get("ErrorCode")
        ]


def _batches(records: list[bytes]) -> list[list[bytes]]:
    batches: list[list[bytes]] = [[]]
    size = 0
    for record in records:
        if batches[-1] and (len(batches[-1]) >= MAX_BATCH_RECORDS or size + len(record) > MAX_BATCH_BYTES):
            batches.append([])
            size = 0
        batches[-1].append(record)
        size += len(record)
    return batches if batches[0] else []
