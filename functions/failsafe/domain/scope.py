"""Scope: which traffic a toggle set or a rollback applies to.

A scope is a service and an environment, narrowed by optional lists of regions, cohorts and clients.
An empty list means "all". A request falls in a scope when every non-empty list contains the request's
value; a request with no value for a narrowed dimension is outside (we never guess a region).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ScopeValue = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
SCOPE_GRAMMAR = "1-64 of letters, digits and _ . : -"

MAX_SCOPE_VALUES = 64
"""Most values one of regions, cohorts or clients may list (the toggles' region_scope has the same cap)."""
MAX_SCOPE_KEY_LENGTH = 1024
"""Longest scope key: it is (part of) the DynamoDB partition key of the scope's record (at most 2048
bytes), and it is written into toggle documents, audit entries and reports."""

# CloudWatch dimension names that carry scope on the recommender's EMF metrics.
DIMENSION_SERVICE = "Service"
DIMENSION_ENVIRONMENT = "Environment"
DIMENSION_REGION = "Region"
DIMENSION_COHORT = "Cohort"
DIMENSION_CLIENT = "Client"


class ScopeError(ValueError):
    pass


class Scope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service: ScopeValue
    environment: ScopeValue
    regions: tuple[ScopeValue, ...] = ()
    cohorts: tuple[ScopeValue, ...] = ()
    clients: tuple[ScopeValue, ...] = ()

    @field_validator("regions", "cohorts", "clients", mode="after")
    @classmethod
    def _canonical(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        distinct = tuple(sorted(set(values)))
        if len(distinct) > MAX_SCOPE_VALUES:
            raise ValueError(
                f"{len(distinct)} values, more than the {MAX_SCOPE_VALUES} a scope may list; "
                "split the rollback into several scopes or widen it (an empty list means all)"
            )
        return distinct

    @model_validator(mode="after")
    def _key_fits(self) -> Self:
        if len(self.key) > MAX_SCOPE_KEY_LENGTH:
            raise ValueError(
                f"scope key is {len(self.key)} characters, more than the {MAX_SCOPE_KEY_LENGTH} allowed "
                "(it keys the scope's DynamoDB record); list fewer regions, cohorts or clients"
            )
        return self

    @property
    def key(self) -> str:
        """Stable string key, used as the DynamoDB partition key and in incident ids."""
        parts = [self.service, self.environment]
        for name, values in (("region", self.regions), ("cohort", self.cohorts), ("client", self.clients)):
            if values:
                parts.append(f"{name}={','.join(values)}")
        return "/".join(parts)

    @property
    def label(self) -> str:
        return self.key

    @classmethod
    def parse(cls, key: str) -> Scope:
        """Inverse of `key`: `service/env[/region=a,b][/cohort=..][/client=..]`."""
        parts = key.split("/")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise ScopeError(
                f"scope {key!r}: expected 'service/environment[/region=a,b][/cohort=c][/client=d]'"
            )
        lists: dict[str, tuple[str, ...]] = {}
        for part in parts[2:]:
            name, sep, values = part.partition("=")
            if not sep or name not in ("region", "cohort", "client") or not values:
                raise ScopeError(
                    f"scope {key!r}: {part!r} is not region=..., cohort=... or client=... with a value"
                )
            if f"{name}s" in lists:
                raise ScopeError(
                    f"scope {key!r}: {name}= is given twice; list every value once, e.g. {name}=a,b"
                )
            lists[f"{name}s"] = tuple(values.split(","))
        try:
            return cls(service=parts[0], environment=parts[1], **lists)
        except ValidationError as error:
            raise ScopeError(f"scope {_shown(key)}: {_problems(error)}; values are {SCOPE_GRAMMAR}") from None

    def matches(self, region: str | None, cohort: str | None, client: str | None) -> bool:
        """Does a request with these attributes fall in this scope?"""
        return (
            _admits(self.regions, region) and _admits(self.cohorts, cohort) and _admits(self.clients, client)
        )

    def contains(self, other: Scope) -> bool:
        """Is all traffic of `other` inside this scope?"""
        if (self.service, self.environment) != (other.service, other.environment):
            return False
        return all(
            not mine or (bool(theirs) and set(theirs) <= set(mine))
            for mine, theirs in (
                (self.regions, other.regions),
                (self.cohorts, other.cohorts),
                (self.clients, other.clients),
            )
        )

    def overlaps(self, other: Scope) -> bool:
        """Could one request fall in both scopes?"""
        if (self.service, self.environment) != (other.service, other.environment):
            return False
        return all(
            not mine or not theirs or bool(set(mine) & set(theirs))
            for mine, theirs in (
                (self.regions, other.regions),
                (self.cohorts, other.cohorts),
                (self.clients, other.clients),
            )
        )

    @property
    def specificity(self) -> int:
        """How many dimensions are narrowed; the most specific matching override wins."""
        return sum(1 for values in (self.regions, self.cohorts, self.clients) if values)


def _shown(value: object, limit: int = 80) -> str:
    """`repr(value)`, cut to `limit` characters so that a huge input never makes a huge message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}...({len(text)} characters)"


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'scope'}={_shown(e['input'])}: {e['msg']}"
        for e in error.errors()[:5]
    )


def _admits(allowed: tuple[str, ...], value: str | None) -> bool:
    return not allowed or (value is not None and value in allowed)


def scope_of_alarm(dimensions: Mapping[str, str], default_environment: str | None = None) -> Scope:
    """The scope of an alarm is the scope its metric's dimensions name.

    Service is required; Environment falls back to `default_environment`; Region, Cohort and Client narrow
    the scope when present. Any other dimension is ignored.
    """
    service = dimensions.get(DIMENSION_SERVICE)
    environment = dimensions.get(DIMENSION_ENVIRONMENT, default_environment)
    if not service or not environment:
        raise ScopeError(
            f"alarm dimensions {_shown(dict(dimensions), 300)}: need '{DIMENSION_SERVICE}' and "
            f"'{DIMENSION_ENVIRONMENT}' to know which traffic to roll back"
        )

    def narrowed(name: str) -> tuple[str, ...]:
        value = dimensions.get(name)
        return (value,) if value else ()

    try:
        return Scope(
            service=service,
            environment=environment,
            regions=narrowed(DIMENSION_REGION),
            cohorts=narrowed(DIMENSION_COHORT),
            clients=narrowed(DIMENSION_CLIENT),
        )
    except ValidationError as error:
        raise ScopeError(
            f"alarm dimensions outside the scope grammar: {_problems(error)}; dimension values that name a "
            f"scope are {SCOPE_GRAMMAR}"
        ) from None
