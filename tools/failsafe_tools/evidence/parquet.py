"""`ParquetEventSink`: the recommender's events as Parquet files, partitioned like the Firehose output.

Layout (what Firehose writes to S3 on AWS and the Glue tables describe)::

    <directory>/ranking_events/event_date=2026-12-07/<uuid>.parquet
    <directory>/error_events/event_date=2026-12-07/<uuid>.parquet

Events are buffered in memory and written by `flush` (and every `flush_every` events), each flush adding new
files and never rewriting old ones. DuckDB writes the Parquet: the buffered rows go through a newline-
delimited JSON file read with the table's exact column types (`failsafe.domain.events.COLUMNS`), so the
Parquet schema is the Glue schema.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import duckdb

from failsafe.domain.events import COLUMNS, PARTITION_KEY, Event, row, table_of

DUCKDB_TYPES: Final = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
}


def duckdb_columns(table: str) -> dict[str, str]:
    """The table's columns (partition key included) as DuckDB types."""
    return {name: DUCKDB_TYPES[kind] for name, kind in COLUMNS[table]} | {PARTITION_KEY: "VARCHAR"}


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class ParquetEventSink:
    """An `failsafe.recommender.events.EventSink` writing Parquet under `directory`."""

    def __init__(self, directory: str | Path, *, flush_every: int = 5000) -> None:
        if flush_every < 1:
            raise ValueError(f"flush_every {flush_every}: must be at least 1")
        self.directory = Path(directory)
        self.flush_every = flush_every
        self._pending: dict[str, list[dict[str, object]]] = {table: [] for table in COLUMNS}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.written: dict[str, int] = dict.fromkeys(COLUMNS, 0)

    def write(self, events: Sequence[Event]) -> None:
        with self._lock:
            for event in events:
                self._pending[table_of(event)].append(row(event))
            due = sum(len(rows) for rows in self._pending.values()) >= self.flush_every
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            ready = {table: rows for table, rows in self._pending.items() if rows}
            self._pending = {table: [] for table in COLUMNS}
        with self._write_lock:
            for table, rows in ready.items():
                self._write(table, rows)
                self.written[table] += len(rows)

    def _write(self, table: str, rows: list[dict[str, object]]) -> None:
        target = self.directory / table
        target.mkdir(parents=True, exist_ok=True)
        columns = ", ".join(
            f"{_quoted(name)}: {_quoted(kind)}" for name, kind in duckdb_columns(table).items()
        )
        with tempfile.TemporaryDirectory(prefix="failsafe-events-") as scratch:
            source = Path(scratch) / "rows.jsonl"
            source.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))
            # Paths and column names are ours (no user input), quoted as SQL string literals.
            with duckdb.connect() as db:
                db.execute(
                    f"COPY (SELECT * FROM read_json({_quoted(str(source))}, format='newline_delimited',"
                    f" columns={{{columns}}})) TO {_quoted(str(target))}"
                    f" (FORMAT PARQUET, PARTITION_BY ({PARTITION_KEY}), OVERWRITE_OR_IGNORE,"
                    " FILENAME_PATTERN 'part-{uuid}')"
                )
