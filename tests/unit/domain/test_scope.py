"""Scope: keys and parsing, "does request X fall in scope Y", containment, overlap, the scope of an alarm."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from failsafe.domain.scope import MAX_SCOPE_KEY_LENGTH, MAX_SCOPE_VALUES, Scope, ScopeError, scope_of_alarm


def test_key_is_canonical_and_parse_is_its_inverse() -> None:
    # Given a scope with unsorted, repeated values
    scope = Scope(service="recommender", environment="prod", regions=("us-east-1", "eu-west-1", "eu-west-1"))
    # When / Then the key is sorted and de-duplicated, and parsing it gives the same scope back
    assert scope.key == "recommender/prod/region=eu-west-1,us-east-1"
    assert Scope.parse(scope.key) == scope
    assert (
        Scope.parse("recommender/prod/cohort=beta/client=ios").key
        == "recommender/prod/cohort=beta/client=ios"
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("recommender", "expected 'service/environment"),
        ("recommender/prod/Region=eu-west-1", "'Region=eu-west-1' is not region=..."),
        ("recommender/prod/region=", "'region=' is not region=..."),
        (
            "recommender/prod/region=eu-west-1/region=us-east-1",
            "region= is given twice; list every value once",
        ),
        ("recommender/prod/region=eu west", "regions.0='eu west'"),
        ("recommender/prod/region=a,,b", "regions.1=''"),
        ("recommender service/prod", "service='recommender service'"),
    ],
)
def test_parse_refuses_bad_keys_naming_the_input_and_the_fix(key: str, message: str) -> None:
    # Given / When / Then: a ScopeError (never a silent narrowing, never a raw pydantic error)
    with pytest.raises(ScopeError) as error:
        Scope.parse(key)
    assert str(error.value).startswith(f"scope {key!r}: ")
    assert message in str(error.value)


def test_a_request_falls_in_a_scope_when_every_narrowed_dimension_admits_it() -> None:
    # Given a scope narrowed by region and cohort
    scope = Scope.parse("recommender/prod/region=eu-west-1/cohort=beta")
    # When / Then
    assert scope.matches("eu-west-1", "beta", "ios")
    assert scope.matches("eu-west-1", "beta", None)  # clients are not narrowed
    assert not scope.matches("us-east-1", "beta", "ios")
    assert not scope.matches("eu-west-1", None, "ios")  # no value for a narrowed dimension: outside
    assert Scope.parse("recommender/prod").matches(None, None, None)


def test_containment_and_overlap() -> None:
    # Given
    whole = Scope.parse("recommender/prod")
    two_regions = Scope.parse("recommender/prod/region=eu-west-1,us-east-1")
    eu = Scope.parse("recommender/prod/region=eu-west-1")
    beta = Scope.parse("recommender/prod/cohort=beta")
    other_env = Scope.parse("recommender/staging/region=eu-west-1")
    # When / Then
    assert whole.contains(eu)
    assert two_regions.contains(eu)
    assert not eu.contains(two_regions)
    assert not eu.contains(whole)
    assert not whole.contains(other_env)
    assert not whole.overlaps(other_env)
    assert eu.overlaps(beta)
    assert not eu.contains(beta)
    assert not beta.contains(eu)
    assert not eu.overlaps(Scope.parse("recommender/prod/region=ap-south-1"))
    assert (whole.specificity, eu.specificity) == (0, 1)


def test_the_scope_of_an_alarm_comes_from_its_dimensions() -> None:
    # Given the dimensions of a per-region guardrail alarm (plus one that is not a scope dimension)
    dimensions = {"Service": "recommender", "Environment": "prod", "Region": "eu-west-1", "Other": "x"}
    # When / Then
    assert scope_of_alarm(dimensions).key == "recommender/prod/region=eu-west-1"
    assert scope_of_alarm({"Service": "recommender"}, default_environment="dev").key == "recommender/dev"
    with pytest.raises(ScopeError, match="need 'Service' and 'Environment'"):
        scope_of_alarm({"Environment": "prod"})


def test_a_scope_too_large_for_its_record_is_refused_naming_the_field_and_the_limit() -> None:
    # Given scopes with more values than a scope may list, or a key longer than its record's key allows
    too_many = [f"r{i}" for i in range(MAX_SCOPE_VALUES + 1)]
    too_long = [f"cohort-{i:02d}-" + "x" * 40 for i in range(MAX_SCOPE_VALUES)]
    # When they are built
    # Then pydantic refuses them with the field and the limit, never a DynamoDB size error later
    with pytest.raises(ValidationError, match=rf"regions\n.*more than the {MAX_SCOPE_VALUES}"):
        Scope(service="recommender", environment="prod", regions=tuple(too_many))
    with pytest.raises(ValidationError, match=f"more than the {MAX_SCOPE_KEY_LENGTH} allowed"):
        Scope(service="recommender", environment="prod", cohorts=tuple(too_long))
    with pytest.raises(ScopeError, match=f"more than the {MAX_SCOPE_VALUES} a scope may list"):
        Scope.parse("recommender/prod/region=" + ",".join(too_many))
