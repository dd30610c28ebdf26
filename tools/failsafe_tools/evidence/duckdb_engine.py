"""The evidence queries on DuckDB: ``infra/queries/*.sql`` (Athena's dialect) transpiled by sqlglot.

`load_query` reads a query file; `to_duckdb` transpiles it (``read="athena"``, ``write="duckdb"``), keeping
every ``?`` placeholder; `DuckDbEvidence` runs it over the Parquet event directory that
`failsafe_tools.evidence.parquet.ParquetEventSink` writes, with the values bound as prepared-statement
parameters (`failsafe.domain.queries.bind`). A table with no files yet is an empty table of the right
schema, so a query over no events answers "0 requests" rather than failing.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import duckdb
import sqlglot

from failsafe.domain.events import COLUMNS, PARTITION_KEY
from failsafe.domain.queries import QueryName, QueryValues, bind
from failsafe_tools.evidence.parquet import duckdb_columns

DEFAULT_QUERIES_DIR: Final = Path("infra/queries")
SOURCE_DIALECT: Final = "athena"


class QueryFileError(ValueError):
    pass


def load_query(name: QueryName | str, queries_dir: str | Path = DEFAULT_QUERIES_DIR) -> str:
    path = Path(queries_dir) / f"{QueryName(name).value}.sql"
    try:
        return path.read_text()
    except FileNotFoundError as exc:
        raise QueryFileError(
            f"{path}: no such query file; run from the repository root or pass --queries-dir"
        ) from exc


def to_duckdb(sql: str) -> str:
    """The DuckDB form of one Athena query (placeholders kept, comments dropped)."""
    statements = sqlglot.transpile(sql, read=SOURCE_DIALECT, write="duckdb", comments=False)
    if len(statements) != 1:
        raise QueryFileError(f"a query file holds exactly one statement, found {len(statements)}")
    return statements[0]


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


class DuckDbEvidence:
    """DuckDB over an event directory (``<dir>/<table>/event_date=.../*.parquet``)."""

    def __init__(self, directory: str | Path, queries_dir: str | Path = DEFAULT_QUERIES_DIR) -> None:
        self.directory = Path(directory)
        self.queries_dir = Path(queries_dir)
        self.executed: list[str] = []
        """The SQL text of every statement run (tests check that no value ever reached it)."""

    def _connect(self) -> duckdb.DuckDBPyConnection:
        db = duckdb.connect()
        for table in COLUMNS:
            files = sorted((self.directory / table).glob(f"{PARTITION_KEY}=*/*.parquet"))
            if files:
                pattern = _quoted(str(self.directory / table / f"{PARTITION_KEY}=*" / "*.parquet"))
                db.execute(
                    f"CREATE VIEW {table} AS SELECT * FROM read_parquet({pattern}, hive_partitioning = true,"
                    f" hive_types = {{{_quoted(PARTITION_KEY)}: 'VARCHAR'}}, union_by_name = true)"
                )
            else:
                columns = ", ".join(f"{name} {kind}" for name, kind in duckdb_columns(table).items())
                db.execute(f"CREATE TABLE {table} ({columns})")
        return db

    def run_sql(self, sql: str, parameters: list[str | int]) -> list[dict[str, Any]]:
        """Run one Athena-dialect query with its bound values; rows as dicts."""
        statement = to_duckdb(sql)
        self.executed.append(statement)
        with self._connect() as db:
            cursor = db.execute(statement, parameters)
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, map(_plain, values), strict=True)) for values in cursor.fetchall()]

    def run(self, name: QueryName | str, values: QueryValues) -> list[dict[str, Any]]:
        sql = load_query(name, self.queries_dir)
        return self.run_sql(sql, bind(sql, values))
