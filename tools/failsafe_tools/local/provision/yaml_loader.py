"""Load CloudFormation/SAM templates: JSON, or YAML with the CloudFormation short-form tags.

`!Ref X` becomes `{"Ref": "X"}`, `!GetAtt A.B` becomes `{"Fn::GetAtt": ["A", "B"]}`, `!Condition C` becomes
`{"Condition": "C"}` and every other `!Name` becomes `{"Fn::Name": ...}`, as CloudFormation reads them.
YAML timestamps stay strings (`AWSTemplateFormatVersion: 2010-09-09` must not become a date).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from failsafe_tools.local.provision.errors import TemplateError

_FN_TAGS = (
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Length",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "ToJsonString",
    "Transform",
)


class CfnYamlLoader(yaml.SafeLoader):
    """SafeLoader plus the CloudFormation tags, without YAML's implicit timestamps."""


CfnYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise TemplateError(f"unexpected YAML node {node!r}")  # pragma: no cover - yaml has only three node kinds


def _fn(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        return {f"Fn::{name}": _construct(loader, node)}

    return construct


def _ref(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Ref": _construct(loader, node)}


def _condition(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Condition": _construct(loader, node)}


def _get_att(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    value = _construct(loader, node)
    if isinstance(value, str):
        resource, sep, attribute = value.partition(".")
        if not sep or not resource or not attribute:
            raise TemplateError(f"!GetAtt {value!r}: expected 'LogicalId.Attribute'")
        return {"Fn::GetAtt": [resource, attribute]}
    return {"Fn::GetAtt": value}


for _name in _FN_TAGS:
    CfnYamlLoader.add_constructor(f"!{_name}", _fn(_name))
CfnYamlLoader.add_constructor("!Ref", _ref)
CfnYamlLoader.add_constructor("!GetAtt", _get_att)
CfnYamlLoader.add_constructor("!Condition", _condition)


def loads_template(text: str, source: str = "<template>") -> dict[str, Any]:
    """Parse template text (JSON or YAML with short-form tags)."""
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, Loader=CfnYamlLoader)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise TemplateError(f"{source}: not a valid template: {exc}") from exc
    if not isinstance(data, dict):
        raise TemplateError(f"{source}: a template is a mapping, got {type(data).__name__}")
    if not isinstance(data.get("Resources"), dict) or not data["Resources"]:
        raise TemplateError(f"{source}: the template has no Resources")
    return data


def load_template(path: str | Path) -> dict[str, Any]:
    """Read a template file."""
    p = Path(path)
    if not p.is_file():
        raise TemplateError(f"template {p}: no such file")
    return loads_template(p.read_text(encoding="utf-8"), source=str(p))
