"""Reading templates: CloudFormation short-form tags, JSON, and malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from failsafe_tools.local.provision import TemplateError, load_template, loads_template


def test_short_form_tags_become_long_form_intrinsics() -> None:
    # Given a YAML template using every short-form tag
    text = """
AWSTemplateFormatVersion: 2010-09-09
Conditions:
  A: !Equals [!Ref P, x]
  B: !Not [!Condition A]
  C: !And [!Condition A, !Or [!Condition B, !Condition A]]
Resources:
  R:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub "${AWS::StackName}-t"
      DisplayName: !Join ["-", [!Select [0, !Split [",", "a,b"]], !GetAtt Other.Name]]
      Other: !If [A, !FindInMap [M, k, v], !Base64 text]
      Azs: !GetAZs ""
      Att: !GetAtt [Other, Arn]
"""
    # When it is loaded
    template = loads_template(text)

    # Then the tags are the long-form intrinsics and the version date stays a string
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Conditions"]["A"] == {"Fn::Equals": [{"Ref": "P"}, "x"]}
    assert template["Conditions"]["B"] == {"Fn::Not": [{"Condition": "A"}]}
    props = template["Resources"]["R"]["Properties"]
    assert props["TopicName"] == {"Fn::Sub": "${AWS::StackName}-t"}
    assert props["DisplayName"] == {
        "Fn::Join": [
            "-",
            [{"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}, {"Fn::GetAtt": ["Other", "Name"]}],
        ]
    }
    assert props["Other"] == {"Fn::If": ["A", {"Fn::FindInMap": ["M", "k", "v"]}, {"Fn::Base64": "text"}]}
    assert props["Azs"] == {"Fn::GetAZs": ""}
    assert props["Att"] == {"Fn::GetAtt": ["Other", "Arn"]}


def test_json_templates_load_too() -> None:
    # Given a JSON template
    text = '{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}'

    # When it is loaded
    template = loads_template(text)

    # Then it is the same mapping
    assert template == {"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Resources: [", "not a valid template"),
        ("- a\n- b\n", "a template is a mapping"),
        ("Parameters: {}\n", "has no Resources"),
        (
            "Resources:\n  R:\n    Type: AWS::SNS::Topic\n    Properties: {A: !GetAtt NoDot}\n",
            "LogicalId.Attribute",
        ),
    ],
)
def test_malformed_templates_are_rejected_with_the_reason(text: str, message: str) -> None:
    # Given a malformed template
    # When it is loaded
    # Then the error says what is wrong
    with pytest.raises(TemplateError, match=message):
        loads_template(text, source="t.yaml")


def test_a_missing_template_file_is_named(tmp_path: Path) -> None:
    # Given a path with no file
    missing = tmp_path / "nope.yaml"

    # When it is loaded
    # Then the error names the file
    with pytest.raises(TemplateError, match=r"nope\.yaml: no such file"):
        load_template(missing)
