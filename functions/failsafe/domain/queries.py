"""The evidence queries' bind parameters: one validated set of values, bound by name, in the SQL's order.

Each query of ``infra/queries/*.sql`` is written once, in Athena's (Trino's) dialect, with positional
``?`` placeholders, and declares their order in a header line::

    -- parameters: date_from, date_to, since_ms, until_ms, service, environment, region, region, ...

`bind` turns a `QueryValues` into that ordered list. Values are never formatted into the SQL text: DuckDB
binds them as prepared-statement parameters, Athena as ``ExecutionParameters`` (see
`failsafe.aws.athena_queries`). Scope filters are a comma-separated list of scope values, ``''`` for
"any"; the queries match a value exactly (``strpos(',' || list || ',', ',' || region || ',') > 0``),
which is sound because a scope value never holds a comma.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

PARAMETERS_HEADER: Final = re.compile(r"^--\s*parameters:\s*(?P<names>.+)$", re.MULTILINE)


class QueryName(StrEnum):
    COVERAGE = "coverage"
    LATENCY = "latency"
    ERRORS = "errors"
    EFFICACY = "efficacy"


class QueryValues(BaseModel):
    """Every value a query may bind. Times are event times (UTC); `until` is exclusive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: Annotated[str, Field(min_length=1)]
    environment: Annotated[str, Field(min_length=1)]
    region: str = ""
    cohort: str = ""
    client: str = ""
    since: datetime
    until: datetime
    rollback_at: datetime | None = None

    @model_validator(mode="after")
    def _window(self) -> Self:
        for name in ("since", "until", "rollback_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} {value.isoformat()}: give a timezone (e.g. UTC, '...Z')")
        if self.until <= self.since:
            raise ValueError(f"until {self.until.isoformat()} must be after since {self.since.isoformat()}")
        return self

    def named(self) -> dict[str, str | int]:
        """Each parameter name a query header may use, with its value."""
        values: dict[str, str | int] = {
            "date_from": _date(self.since),
            "date_to": _date(self.until - timedelta(milliseconds=1)),
            "since_ms": _ms(self.since),
            "until_ms": _ms(self.until),
            "service": self.service,
            "environment": self.environment,
            "region": self.region,
            "cohort": self.cohort,
            "client": self.client,
        }
        if self.rollback_at is not None:
            values["rollback_ms"] = _ms(self.rollback_at)
        return values


class QueryParameterError(ValueError):
    pass


def parameter_names(sql: str) -> list[str]:
    """The ordered parameter names a query declares in its ``-- parameters:`` header."""
    match = PARAMETERS_HEADER.search(sql)
    if match is None:
        raise QueryParameterError("the query has no '-- parameters: name, ...' header line")
    return [name.strip() for name in match.group("names").split(",") if name.strip()]


def bind(sql: str, values: QueryValues) -> list[str | int]:
    """The values of `sql`'s placeholders, in order. Raises when the query needs a value not given."""
    named = values.named()
    missing = [name for name in parameter_names(sql) if name not in named]
    if missing:
        hint = " (give the rollback instant: --incident or --at)" if "rollback_ms" in missing else ""
        raise QueryParameterError(f"the query needs {', '.join(sorted(set(missing)))}{hint}")
    return [named[name] for name in parameter_names(sql)]


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d")
