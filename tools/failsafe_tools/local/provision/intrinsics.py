"""CloudFormation intrinsic functions, conditions and parameters, resolved against the local stack.

Supported: Ref (parameters, pseudo parameters incl. AWS::NoValue, resources), Fn::GetAtt, Fn::Sub (one- and
two-argument forms, `${!Literal}` escapes), Fn::Join, Fn::Select, Fn::Split, Fn::If, Fn::Equals, Fn::And,
Fn::Or, Fn::Not, Condition, Fn::FindInMap (with the LanguageExtensions DefaultValue), Fn::Base64, Fn::GetAZs,
Fn::Length and Fn::ToJsonString. Fn::ImportValue, Fn::Cidr and Fn::Transform raise `IntrinsicError`: there are
no other stacks to import from, no VPCs and no macros locally.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from failsafe_tools.local.provision.errors import IntrinsicError, TemplateError


class _NoValue:
    """`Ref: AWS::NoValue`: the property is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
_UNSUPPORTED = {
    "Fn::ImportValue": "there are no other stacks to import from in the local stack",
    "Fn::Cidr": "the local stack has no VPCs",
    "Fn::Transform": "macros (including AWS::Include) are not run locally",
    "Fn::ForEach": "the AWS::LanguageExtensions Fn::ForEach is not expanded locally",
}


@dataclass
class ResourceRecord:
    """What a created resource answers to: `Ref` and `Fn::GetAtt`."""

    logical_id: str
    resource_type: str
    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


_FN_NAMES = (
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::If",
    "Fn::Equals",
    "Fn::And",
    "Fn::Or",
    "Fn::Not",
    "Fn::FindInMap",
    "Fn::Base64",
    "Fn::GetAZs",
    "Fn::Length",
    "Fn::ToJsonString",
)


def pseudo_parameters(region: str, account_id: str, stack_name: str, stack_id: str) -> dict[str, Any]:
    partition = (
        "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    )
    return {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::StackName": stack_name,
        "AWS::StackId": stack_id,
        "AWS::Partition": partition,
        "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
        "AWS::NotificationARNs": [],
        "AWS::NoValue": NO_VALUE,
    }


def resolve_parameters(template: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Parameter values from defaults and `overrides`, validated as CloudFormation validates them."""
    declared: dict[str, Any] = template.get("Parameters") or {}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(
            f"parameter override(s) {', '.join(unknown)} not declared in the template "
            f"(declared: {', '.join(sorted(declared)) or 'none'})"
        )
    values: dict[str, Any] = {}
    for name, declared_spec in declared.items():
        spec = declared_spec or {}
        if name in overrides:
            raw = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise TemplateError(f"parameter {name!r} has no Default and no value was given")
        values[name] = _coerce_parameter(name, spec, raw)
    return values


def _coerce_parameter(name: str, spec: Mapping[str, Any], raw: Any) -> Any:
    ptype = str(spec.get("Type", "String"))
    if ptype.startswith("AWS::SSM::Parameter"):
        raise TemplateError(
            f"parameter {name!r} has type {ptype}: SSM-backed parameters are not resolved locally; "
            "declare it as String or pass an override"
        )
    is_list = ptype == "CommaDelimitedList" or ptype.startswith("List<")
    if is_list:
        items = raw if isinstance(raw, list) else [s.strip() for s in str(raw).split(",")] if str(raw) else []
        value: Any = [str(i) for i in items]
        checks = value
    else:
        if isinstance(raw, bool):
            raw = str(raw).lower()
        value = str(raw)
        checks = [value]
    allowed = spec.get("AllowedValues")
    for item in checks:
        if allowed is not None and item not in [str(a) for a in allowed]:
            raise TemplateError(f"parameter {name!r}: {item!r} is not one of the AllowedValues {allowed}")
        if ptype in ("Number", "List<Number>"):
            try:
                number = float(item)
            except ValueError:
                raise TemplateError(f"parameter {name!r}: {item!r} is not a Number") from None
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise TemplateError(f"parameter {name!r}: {item} is below MinValue {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise TemplateError(f"parameter {name!r}: {item} is above MaxValue {spec['MaxValue']}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(str(pattern), item):
            raise TemplateError(f"parameter {name!r}: {item!r} does not match AllowedPattern {pattern!r}")
        if "MinLength" in spec and len(item) < int(spec["MinLength"]):
            raise TemplateError(f"parameter {name!r}: shorter than MinLength {spec['MinLength']}")
        if "MaxLength" in spec and len(item) > int(spec["MaxLength"]):
            raise TemplateError(f"parameter {name!r}: longer than MaxLength {spec['MaxLength']}")
    return value


class Resolver:
    """Resolves intrinsics in a template fragment.

    `resources` holds the records of resources created so far; a Ref or GetAtt to a declared resource that is
    not (yet) created raises, which the dependency order makes impossible unless the template is wrong.
    """

    def __init__(
        self,
        *,
        parameters: Mapping[str, Any],
        pseudo: Mapping[str, Any],
        mappings: Mapping[str, Any] | None = None,
        conditions: Mapping[str, Any] | None = None,
        declared_resources: Mapping[str, Any] | None = None,
        resources: Mapping[str, ResourceRecord] | None = None,
    ) -> None:
        self.parameters = parameters
        self.pseudo = pseudo
        self.mappings = mappings or {}
        self.condition_defs = conditions or {}
        self.declared = declared_resources or {}
        self.resources: Mapping[str, ResourceRecord] = resources if resources is not None else {}
        self._conditions: dict[str, bool] = {}
        self._evaluating: list[str] = []

    # ---- conditions -------------------------------------------------------------------------------------
    def condition(self, name: str, where: str = "") -> bool:
        if name in self._conditions:
            return self._conditions[name]
        if name not in self.condition_defs:
            raise IntrinsicError(f"{where or 'template'}: condition {name!r} is not declared in Conditions")
        if name in self._evaluating:
            raise IntrinsicError("circular condition: " + " -> ".join([*self._evaluating, name]))
        self._evaluating.append(name)
        try:
            value = self.resolve(self.condition_defs[name], f"Conditions.{name}")
        finally:
            self._evaluating.pop()
        if not isinstance(value, bool):
            raise IntrinsicError(f"Conditions.{name}: evaluates to {value!r}, not true/false")
        self._conditions[name] = value
        return value

    def evaluate_conditions(self) -> dict[str, bool]:
        return {name: self.condition(name) for name in self.condition_defs}

    # ---- resolution -------------------------------------------------------------------------------------
    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                key = next(iter(value))
                if key == "Ref":
                    return self._ref(value[key], where)
                if key == "Condition" and isinstance(value[key], str):
                    return self.condition(value[key], where)
                if key in _UNSUPPORTED:
                    raise IntrinsicError(f"{where}: {key} is not supported: {_UNSUPPORTED[key]}")
                if key in _FN_NAMES:
                    handler = getattr(self, "_" + key[4:].lower())
                    return handler(value[key], f"{where} ({key})")
            out: dict[str, Any] = {}
            for k, v in value.items():
                resolved = self.resolve(v, f"{where}.{k}")
                if resolved is not NO_VALUE:
                    out[k] = resolved
            return out
        if isinstance(value, list):
            items = [self.resolve(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return [i for i in items if i is not NO_VALUE]
        return value

    def _ref(self, name: Any, where: str) -> Any:
        if not isinstance(name, str):
            raise IntrinsicError(f"{where}: Ref takes a name, got {name!r}")
        if name in self.parameters:
            return self.parameters[name]
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.resources:
            return self.resources[name].physical_id
        if name in self.declared:
            raise IntrinsicError(
                f"{where}: Ref to resource {name!r}, which is not created "
                "(its Condition is false, or it is declared after a resource that needs it)"
            )
        raise IntrinsicError(f"{where}: unresolved Ref {name!r}: no parameter, pseudo parameter or resource")

    def get_att(self, logical_id: str, attribute: str, where: str) -> Any:
        record = self.resources.get(logical_id)
        if record is None:
            if logical_id in self.declared:
                raise IntrinsicError(f"{where}: GetAtt {logical_id}.{attribute}: resource is not created")
            raise IntrinsicError(f"{where}: GetAtt {logical_id}.{attribute}: no resource {logical_id!r}")
        if attribute not in record.attributes:
            known = ", ".join(sorted(record.attributes)) or "none"
            raise IntrinsicError(
                f"{where}: GetAtt {logical_id}.{attribute}: {record.resource_type} has no attribute "
                f"{attribute!r} in the local stack (available: {known})"
            )
        return record.attributes[attribute]

    def _getatt(self, args: Any, where: str) -> Any:
        if isinstance(args, str):
            logical_id, _, attribute = args.partition(".")
            args = [logical_id, attribute]
        if not (isinstance(args, list) and len(args) == 2):
            raise IntrinsicError(f"{where}: expected [LogicalId, Attribute], got {args!r}")
        attribute = self.resolve(args[1], where)
        if not isinstance(args[0], str) or not isinstance(attribute, str):
            raise IntrinsicError(f"{where}: expected [LogicalId, Attribute], got {args!r}")
        return self.get_att(args[0], attribute, where)

    def _sub(self, args: Any, where: str) -> str:
        if isinstance(args, str):
            text, variables = args, {}
        elif (
            isinstance(args, list)
            and len(args) == 2
            and isinstance(args[0], str)
            and isinstance(args[1], dict)
        ):
            text = args[0]
            variables = {k: self.resolve(v, f"{where}.{k}") for k, v in args[1].items()}
        else:
            raise IntrinsicError(f"{where}: expected a string or [string, {{variables}}], got {args!r}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = variables[name]
            elif "." in name and not name.startswith("AWS::"):
                logical_id, _, attribute = name.partition(".")
                value = self.get_att(logical_id, attribute, where)
            else:
                value = self._ref(name, where)
            if isinstance(value, bool):
                return str(value).lower()
            if not isinstance(value, str | int | float):
                raise IntrinsicError(f"{where}: ${{{name}}} resolves to {value!r}, not a string")
            return str(value)

        return _SUB_VAR.sub(replace, text)

    def _join(self, args: Any, where: str) -> str:
        if not (isinstance(args, list) and len(args) == 2):
            raise IntrinsicError(f"{where}: expected [delimiter, [values]], got {args!r}")
        delimiter = self.resolve(args[0], where)
        values = self.resolve(args[1], where)
        if not isinstance(delimiter, str) or not isinstance(values, list):
            raise IntrinsicError(f"{where}: expected [delimiter, [values]], got {args!r}")
        parts = []
        for v in values:
            if isinstance(v, dict | list):
                raise IntrinsicError(f"{where}: cannot join {v!r}")
            parts.append(str(v).lower() if isinstance(v, bool) else str(v))
        return delimiter.join(parts)

    def _select(self, args: Any, where: str) -> Any:
        if not (isinstance(args, list) and len(args) == 2):
            raise IntrinsicError(f"{where}: expected [index, [values]], got {args!r}")
        index = self.resolve(args[0], where)
        values = self.resolve(args[1], where)
        try:
            i = int(index)
        except (TypeError, ValueError):
            raise IntrinsicError(f"{where}: index {index!r} is not a number") from None
        if not isinstance(values, list):
            raise IntrinsicError(f"{where}: {values!r} is not a list")
        if not 0 <= i < len(values):
            raise IntrinsicError(f"{where}: index {i} out of range for a list of {len(values)}")
        return values[i]

    def _split(self, args: Any, where: str) -> list[str]:
        if not (isinstance(args, list) and len(args) == 2):
            raise IntrinsicError(f"{where}: expected [delimiter, string], got {args!r}")
        delimiter = self.resolve(args[0], where)
        text = self.resolve(args[1], where)
        if not isinstance(delimiter, str) or not delimiter or not isinstance(text, str):
            raise IntrinsicError(f"{where}: expected [delimiter, string], got {args!r}")
        return text.split(delimiter)

    def _if(self, args: Any, where: str) -> Any:
        if not (isinstance(args, list) and len(args) == 3 and isinstance(args[0], str)):
            raise IntrinsicError(
                f"{where}: expected [condition, value_if_true, value_if_false], got {args!r}"
            )
        branch = args[1] if self.condition(args[0], where) else args[2]
        return self.resolve(branch, where)

    def _equals(self, args: Any, where: str) -> bool:
        if not (isinstance(args, list) and len(args) == 2):
            raise IntrinsicError(f"{where}: expected [a, b], got {args!r}")
        a, b = (self.resolve(v, where) for v in args)
        return bool(_scalar(a) == _scalar(b))

    def _bools(self, args: Any, where: str, low: int, high: int) -> list[bool]:
        if not (isinstance(args, list) and low <= len(args) <= high):
            raise IntrinsicError(f"{where}: expected a list of {low} to {high} conditions, got {args!r}")
        values = [self.resolve(v, where) for v in args]
        if not all(isinstance(v, bool) for v in values):
            raise IntrinsicError(f"{where}: operands must be conditions, got {values!r}")
        return values

    def _and(self, args: Any, where: str) -> bool:
        return all(self._bools(args, where, 2, 10))

    def _or(self, args: Any, where: str) -> bool:
        return any(self._bools(args, where, 2, 10))

    def _not(self, args: Any, where: str) -> bool:
        return not self._bools(args, where, 1, 1)[0]

    def _findinmap(self, args: Any, where: str) -> Any:
        if not (isinstance(args, list) and len(args) in (3, 4)):
            raise IntrinsicError(f"{where}: expected [MapName, TopLevelKey, SecondLevelKey], got {args!r}")
        name, top, second = (self.resolve(v, where) for v in args[:3])
        default = (
            args[3].get("DefaultValue", NO_VALUE)
            if len(args) == 4 and isinstance(args[3], dict)
            else NO_VALUE
        )
        try:
            return self.mappings[name][top][second]
        except (KeyError, TypeError):
            if default is not NO_VALUE:
                return self.resolve(default, where)
            raise IntrinsicError(f"{where}: no entry Mappings.{name}.{top}.{second}") from None

    def _base64(self, args: Any, where: str) -> str:
        text = self.resolve(args, where)
        if not isinstance(text, str):
            raise IntrinsicError(f"{where}: expected a string, got {text!r}")
        return base64.b64encode(text.encode()).decode()

    def _getazs(self, args: Any, where: str) -> list[str]:
        region = self.resolve(args, where) or self.pseudo["AWS::Region"]
        return [f"{region}{suffix}" for suffix in "abc"]

    def _length(self, args: Any, where: str) -> int:
        values = self.resolve(args, where)
        if not isinstance(values, list):
            raise IntrinsicError(f"{where}: expected a list, got {values!r}")
        return len(values)

    def _tojsonstring(self, args: Any, where: str) -> str:
        return json.dumps(self.resolve(args, where), separators=(",", ":"))


def _scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


def references(value: Any, resolver: Resolver | None = None) -> Iterator[str]:
    """Logical ids (and parameter names) referenced by Ref, GetAtt and Sub inside `value`.

    With a `resolver`, only the live branch of an Fn::If is followed (conditions are known before resources).
    """
    if isinstance(value, dict):
        if len(value) == 1:
            key, arg = next(iter(value.items()))
            if key == "Ref" and isinstance(arg, str):
                yield arg
                return
            if key == "Fn::GetAtt":
                if isinstance(arg, str):
                    yield arg.partition(".")[0]
                elif isinstance(arg, list) and arg and isinstance(arg[0], str):
                    yield arg[0]
                    yield from references(arg[1:], resolver)
                return
            if key == "Fn::Sub":
                text, variables = (
                    (arg, {}) if isinstance(arg, str) else (arg[0], arg[1]) if len(arg) == 2 else ("", {})
                )
                if isinstance(text, str):
                    for name in _SUB_VAR.findall(text):
                        if name.startswith("!") or name in variables:
                            continue
                        yield name.partition(".")[0] if "." in name and not name.startswith("AWS::") else name
                yield from references(variables, resolver)
                return
            if key == "Fn::If" and resolver is not None and isinstance(arg, list) and len(arg) == 3:
                yield from references(arg[1] if resolver.condition(str(arg[0])) else arg[2], resolver)
                return
        for v in value.values():
            yield from references(v, resolver)
    elif isinstance(value, list):
        for v in value:
            yield from references(v, resolver)
