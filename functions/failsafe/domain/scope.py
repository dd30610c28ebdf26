"""Scope: which traffic a toggle set or a rollback applies to.

A scope is a service and an environment, narrowed by optional lists of regions, cohorts and clients.
An empty list means "all". A request falls in a scope when every non-empty list contains the request's
value; a request with no value for a narrowed dimension is outside (we never guess a region).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ScopeValue = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]

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
        return tuple(sorted(set(values)))

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
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}={e['input']!r}: {e['msg']}" for e in error.errors()
            )
            raise ScopeError(
                f"scope {key!r}: {problems}; values are 1-64 of letters, digits and _ . : -"
            ) from None

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
            f"alarm dimensions {dict(dimensions)!r}: need '{DIMENSION_SERVICE}' and "
            f"'{DIMENSION_ENVIRONMENT}' to know which traffic to roll back"
        )

    def narrowed(name: str) -> tuple[str, ...]:
        value = dimensions.get(name)
        return (value,) if value else ()

    return Scope(
        service=service,
        environment=environment,
        regions=narrowed(DIMENSION_REGION),
        cohorts=narrowed(DIMENSION_COHORT),
        clients=narrowed(DIMENSION_CLIENT),
    )
