"""Run an evidence query on Athena: StartQueryExecution with ExecutionParameters, poll, GetQueryResults.

The SQL text goes to Athena unchanged; every value goes in ``ExecutionParameters``. Athena reads each
execution parameter as one SQL literal (a string parameter must be quoted, ``'eu-west-1'``), so
`athena_literal` renders strings as a single-quoted literal with every quote doubled and integers as
digits: a value can never end its literal, and Athena rejects a parameter that is not one literal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient
else:
    AthenaClient = Any

FINISHED: Final = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


class AthenaQueryError(RuntimeError):
    pass


def athena_literal(value: str | int) -> str:
    """One execution parameter: an integer, or a single-quoted string with its quotes doubled."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"execution parameter {value!r}: only str and int are bound")
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


class AthenaQueryRunner:
    """Runs queries in one workgroup and database and returns the rows as dicts (values as text, as Athena
    returns them; `None` for SQL NULL)."""

    def __init__(
        self,
        client: AthenaClient,
        *,
        workgroup: str,
        database: str,
        poll_seconds: float = 1.0,
        timeout_seconds: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self.workgroup = workgroup
        self.database = database
        self._poll = poll_seconds
        self._timeout = timeout_seconds
        self._sleep = sleep

    def run(self, sql: str, parameters: Sequence[str | int]) -> list[dict[str, str | None]]:
        kwargs: dict[str, Any] = {
            "QueryString": sql,
            "WorkGroup": self.workgroup,
            "QueryExecutionContext": {"Database": self.database},
        }
        if parameters:
            kwargs["ExecutionParameters"] = [athena_literal(value) for value in parameters]
        execution_id = self._client.start_query_execution(**kwargs)["QueryExecutionId"]
        self._wait(execution_id)
        return self._rows(execution_id)

    def _wait(self, execution_id: str) -> None:
        waited = 0.0
        while True:
            status = self._client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"][
                "Status"
            ]
            state = status["State"]
            if state == "SUCCEEDED":
                return
            if state in FINISHED:
                reason = status.get("StateChangeReason", "no reason given")
                raise AthenaQueryError(
                    f"Athena query {execution_id} in workgroup {self.workgroup!r} {state}: {reason}"
                )
            if waited >= self._timeout:
                self._client.stop_query_execution(QueryExecutionId=execution_id)
                raise AthenaQueryError(
                    f"Athena query {execution_id} still {state} after {self._timeout:.0f} s: stopped it;"
                    " narrow the window (--since) or raise the timeout"
                )
            self._sleep(self._poll)
            waited += self._poll

    def _rows(self, execution_id: str) -> list[dict[str, str | None]]:
        rows: list[dict[str, str | None]] = []
        columns: list[str] | None = None
        paginator = self._client.get_paginator("get_query_results")
        for page in paginator.paginate(QueryExecutionId=execution_id):
            result = page["ResultSet"]
            data = result.get("Rows", [])
            if columns is None:
                info = result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
                columns = [column["Name"] for column in info]
                data = data[1:]  # the first row of the first page repeats the column names
            for entry in data:
                values = [cell.get("VarCharValue") for cell in entry.get("Data", [])]
                rows.append(dict(zip(columns, values, strict=False)))
        return rows
