"""Intrinsic functions, conditions, parameters and creation order, resolved as CloudFormation does."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from failsafe_tools.local.provision import (
    NO_VALUE,
    DependencyCycleError,
    IntrinsicError,
    Resolver,
    ResourceRecord,
    TemplateError,
    pseudo_parameters,
)
from failsafe_tools.local.provision.graph import creation_order, dependencies
from failsafe_tools.local.provision.intrinsics import resolve_parameters

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/demo/1"


def make_resolver(conditions: dict[str, Any] | None = None, **parameters: Any) -> Resolver:
    table = ResourceRecord(
        "Table", "AWS::DynamoDB::Table", "demo-Table-X", {"Arn": "arn:table", "StreamArn": "arn:s"}
    )
    topic = ResourceRecord("Topic", "AWS::SNS::Topic", "arn:topic", {"TopicName": "demo-topic"})
    return Resolver(
        parameters={"Stage": "prod", "Regions": ["eu-west-1", "us-east-1"], **parameters},
        pseudo=pseudo_parameters("eu-west-1", "123456789012", "demo", STACK_ID),
        mappings={"Settings": {"prod": {"Retention": "30"}, "dev": {"Retention": "7"}}},
        conditions=conditions or {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}},
        declared_resources={"Table": {}, "Topic": {}, "Later": {}},
        resources={"Table": table, "Topic": topic},
    )


def test_ref_resolves_parameters_pseudo_parameters_and_resources() -> None:
    # Given a resolver with parameters and created resources
    resolver = make_resolver()

    # When Refs are resolved
    resolved = resolver.resolve(
        {
            "stage": {"Ref": "Stage"},
            "regions": {"Ref": "Regions"},
            "table": {"Ref": "Table"},
            "region": {"Ref": "AWS::Region"},
            "account": {"Ref": "AWS::AccountId"},
            "stack": {"Ref": "AWS::StackName"},
            "stack_id": {"Ref": "AWS::StackId"},
            "partition": {"Ref": "AWS::Partition"},
            "suffix": {"Ref": "AWS::URLSuffix"},
            "gone": {"Ref": "AWS::NoValue"},
        },
        "test",
    )

    # Then each is its value, and AWS::NoValue removes the key
    assert resolved == {
        "stage": "prod",
        "regions": ["eu-west-1", "us-east-1"],
        "table": "demo-Table-X",
        "region": "eu-west-1",
        "account": "123456789012",
        "stack": "demo",
        "stack_id": STACK_ID,
        "partition": "aws",
        "suffix": "amazonaws.com",
    }


def test_pseudo_parameters_follow_the_partition_of_the_region() -> None:
    # Given China and GovCloud regions
    # When their pseudo parameters are built
    china = pseudo_parameters("cn-north-1", "1", "s", "id")
    gov = pseudo_parameters("us-gov-west-1", "1", "s", "id")

    # Then partition and URL suffix follow
    assert (china["AWS::Partition"], china["AWS::URLSuffix"]) == ("aws-cn", "amazonaws.com.cn")
    assert gov["AWS::Partition"] == "aws-us-gov"


def test_getatt_in_both_forms() -> None:
    # Given a created table
    resolver = make_resolver()

    # When GetAtt is written as a list and as a dotted string
    # Then both give the attribute
    assert resolver.resolve({"Fn::GetAtt": ["Table", "Arn"]}, "t") == "arn:table"
    assert resolver.resolve({"Fn::GetAtt": "Table.StreamArn"}, "t") == "arn:s"


def test_sub_with_refs_attributes_variables_and_escapes() -> None:
    # Given a resolver
    resolver = make_resolver()

    # When Fn::Sub strings are resolved
    one = resolver.resolve({"Fn::Sub": "${AWS::StackName}-${Stage}-${Table}-${Table.Arn}-${!Literal}"}, "t")
    two = resolver.resolve(
        {
            "Fn::Sub": [
                "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${name}",
                {"name": {"Ref": "Topic"}},
            ]
        },
        "t",
    )

    # Then every variable is replaced and ${!Literal} becomes ${Literal}
    assert one == "demo-prod-demo-Table-X-arn:table-${Literal}"
    assert two == "arn:aws:sns:eu-west-1:123456789012:arn:topic"


def test_join_select_split_findinmap_base64_getazs_length() -> None:
    # Given a resolver
    resolver = make_resolver()

    # When list and string functions are resolved
    # Then they compute as CloudFormation does
    assert resolver.resolve({"Fn::Join": [",", {"Ref": "Regions"}]}, "t") == "eu-west-1,us-east-1"
    assert resolver.resolve({"Fn::Join": ["", ["a", 1, True]]}, "t") == "a1true"
    assert resolver.resolve({"Fn::Select": ["1", {"Ref": "Regions"}]}, "t") == "us-east-1"
    assert resolver.resolve({"Fn::Split": ["|", "a|b|c"]}, "t") == ["a", "b", "c"]
    assert resolver.resolve({"Fn::FindInMap": ["Settings", {"Ref": "Stage"}, "Retention"]}, "t") == "30"
    assert (
        resolver.resolve({"Fn::FindInMap": ["Settings", "qa", "Retention", {"DefaultValue": "1"}]}, "t")
        == "1"
    )
    assert resolver.resolve({"Fn::Base64": "hi"}, "t") == base64.b64encode(b"hi").decode()
    assert resolver.resolve({"Fn::GetAZs": ""}, "t") == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert resolver.resolve({"Fn::Length": [1, 2, 3]}, "t") == 3
    assert resolver.resolve({"Fn::ToJsonString": {"a": [1]}}, "t") == '{"a":[1]}'


def test_if_and_conditions() -> None:
    # Given conditions built from Equals, Not, And, Or and Condition references
    resolver = make_resolver(
        {
            "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
            "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
            "ProdAndEu": {
                "Fn::And": [{"Condition": "IsProd"}, {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}]
            },
            "Either": {"Fn::Or": [{"Condition": "IsDev"}, {"Condition": "ProdAndEu"}]},
        }
    )

    # When they are evaluated and used in Fn::If
    conditions = resolver.evaluate_conditions()
    chosen = resolver.resolve(
        {
            "a": {"Fn::If": ["IsProd", "big", "small"]},
            "b": {"Fn::If": ["IsDev", "x", {"Ref": "AWS::NoValue"}]},
        },
        "t",
    )

    # Then they are booleans and Fn::If picks the branch (NoValue drops the key)
    assert conditions == {"IsProd": True, "IsDev": False, "ProdAndEu": True, "Either": True}
    assert chosen == {"a": "big"}


def test_no_value_inside_a_list_is_dropped() -> None:
    # Given a list with a conditional NoValue
    resolver = make_resolver()

    # When it is resolved
    resolved = resolver.resolve(["a", {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, "b"]}], "t")

    # Then the NoValue element is gone
    assert resolved == ["a"]
    assert repr(NO_VALUE) == "AWS::NoValue"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Nope"}, "unresolved Ref 'Nope'"),
        ({"Ref": "Later"}, "Ref to resource 'Later', which is not created"),
        ({"Fn::GetAtt": ["Table", "Bogus"]}, "has no attribute 'Bogus'.*available: Arn, StreamArn"),
        ({"Fn::GetAtt": ["Ghost", "Arn"]}, "no resource 'Ghost'"),
        ({"Fn::Sub": "${Ghost.Arn}"}, "no resource 'Ghost'"),
        ({"Fn::Sub": "${Regions}"}, "not a string"),
        ({"Fn::Select": [5, ["a"]]}, "index 5 out of range"),
        ({"Fn::FindInMap": ["Settings", "qa", "Retention"]}, "no entry Mappings.Settings.qa.Retention"),
        ({"Fn::If": ["Unknown", 1, 2]}, "condition 'Unknown' is not declared"),
        ({"Fn::ImportValue": "x"}, "Fn::ImportValue is not supported"),
        ({"Fn::Join": [",", "notalist"]}, "expected \\[delimiter, \\[values\\]\\]"),
    ],
)
def test_unresolvable_intrinsics_fail_with_a_clear_message(value: Any, message: str) -> None:
    # Given a resolver
    resolver = make_resolver()

    # When an unresolvable intrinsic is resolved
    # Then the error names the location and the problem
    with pytest.raises(IntrinsicError, match=message) as err:
        resolver.resolve({"Prop": value}, "Resources.R.Properties")
    assert "Resources.R.Properties.Prop" in str(err.value)


def test_circular_conditions_are_reported() -> None:
    # Given two conditions that reference each other
    resolver = make_resolver({"A": {"Condition": "B"}, "B": {"Fn::Not": [{"Condition": "A"}]}})

    # When they are evaluated
    # Then the cycle is named
    with pytest.raises(IntrinsicError, match="circular condition: A -> B -> A"):
        resolver.evaluate_conditions()


def test_parameters_take_defaults_overrides_and_are_validated() -> None:
    # Given declared parameters
    template = {
        "Parameters": {
            "Stage": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
            "Target": {"Type": "Number", "Default": 200, "MinValue": 1},
            "Regions": {"Type": "CommaDelimitedList", "Default": "a, b"},
            "Name": {"Type": "String", "AllowedPattern": "[a-z]+"},
        }
    }

    # When they are resolved with overrides
    values = resolve_parameters(template, {"Stage": "prod", "Name": "abc"})

    # Then defaults, overrides and lists are applied (a Ref to a parameter yields a string, as in AWS)
    assert values == {"Stage": "prod", "Target": "200", "Regions": ["a", "b"], "Name": "abc"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Name": "abc", "Stage": "qa"}, "not one of the AllowedValues"),
        ({"Name": "abc", "Target": "0"}, "below MinValue"),
        ({"Name": "abc", "Target": "many"}, "is not a Number"),
        ({"Name": "ABC"}, "does not match AllowedPattern"),
        ({}, "'Name' has no Default and no value was given"),
        ({"Name": "abc", "Typo": "1"}, "Typo not declared"),
    ],
)
def test_bad_parameter_values_are_rejected(overrides: dict[str, str], message: str) -> None:
    # Given declared parameters
    template = {
        "Parameters": {
            "Stage": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
            "Target": {"Type": "Number", "Default": 200, "MinValue": 1},
            "Name": {"Type": "String", "AllowedPattern": "[a-z]+"},
        }
    }

    # When a bad value is given
    # Then the error names the parameter and the rule
    with pytest.raises(TemplateError, match=message):
        resolve_parameters(template, overrides)


def test_creation_order_follows_ref_getatt_sub_and_depends_on() -> None:
    # Given resources that reference each other in every way
    resources = {
        "Rule": {"Properties": {"Targets": [{"Arn": {"Fn::GetAtt": ["Fn", "Arn"]}}]}},
        "Fn": {"Properties": {"Role": {"Fn::Sub": "${Role.Arn}"}}},
        "Role": {"Properties": {}},
        "Alarm": {"DependsOn": "Rule", "Properties": {"Name": {"Ref": "AWS::StackName"}}},
        "Topic": {"Properties": {"Name": {"Fn::Sub": ["${x}", {"x": {"Ref": "Role"}}]}}},
    }

    # When the creation order is computed
    order = creation_order(dependencies(resources))

    # Then every resource comes after what it needs, otherwise in template order
    assert order == ["Role", "Fn", "Topic", "Rule", "Alarm"]


def test_a_dependency_cycle_is_named() -> None:
    # Given three resources in a cycle (and one outside it)
    resources = {
        "Free": {"Properties": {}},
        "A": {"Properties": {"X": {"Ref": "B"}}},
        "B": {"Properties": {"X": {"Fn::GetAtt": ["C", "Arn"]}}},
        "C": {"Properties": {"X": {"Fn::Sub": "${A}"}}},
    }

    # When the creation order is computed
    # Then the error shows the cycle
    with pytest.raises(DependencyCycleError, match="circular dependency between resources: A -> B -> C -> A"):
        creation_order(dependencies(resources))


def test_depends_on_an_unknown_resource_is_rejected() -> None:
    # Given a DependsOn naming nothing
    resources = {"A": {"DependsOn": ["Ghost"], "Properties": {}}}

    # When dependencies are computed
    # Then the error names both
    with pytest.raises(TemplateError, match="resource 'A': DependsOn 'Ghost'"):
        dependencies(resources)


def test_only_the_live_branch_of_an_if_is_a_dependency() -> None:
    # Given a resource whose Fn::If references another only in its false branch
    resolver = make_resolver()
    resources = {
        "A": {"Properties": {"X": {"Fn::If": ["IsProd", "literal", {"Ref": "B"}]}}},
        "B": {"Properties": {"Y": {"Ref": "A"}}},
    }

    # When dependencies are computed with the conditions known
    deps = dependencies(resources, resolver)

    # Then there is no cycle: A does not need B in prod
    assert deps == {"A": [], "B": ["A"]}
    assert creation_order(deps) == ["A", "B"]
