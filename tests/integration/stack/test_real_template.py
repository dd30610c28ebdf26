"""Provisioning the repository's real template.yaml into the local AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from failsafe_tools.local.clock import ManualClock
from failsafe_tools.local.provision import load_template
from failsafe_tools.local.provision.sam import expand
from failsafe_tools.local.stack import LocalStack

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = REPO_ROOT / "template.yaml"

pytestmark = pytest.mark.skipif(not TEMPLATE.is_file(), reason="template.yaml is not in the repository yet")


def test_the_real_template_provisions_every_resource_with_resolved_outputs() -> None:
    # Given the real template, expanded as SAM would expand it
    raw = load_template(TEMPLATE)
    expanded, _ = expand(raw, base_dir=REPO_ROOT, parameters={}, region="us-east-1")
    live = {
        logical_id
        for logical_id, resource in expanded["Resources"].items()
        if "Condition" not in resource  # conditional resources are checked through the outputs below
    }

    # When it is provisioned
    with LocalStack.start(TEMPLATE, clock=ManualClock(), ticker=False, agent=False) as stack:
        created = stack.provisioned.resources
        described = stack.client("cloudformation").describe_stacks(StackName="failsafe")["Stacks"][0]
        sfn = stack.client("stepfunctions")
        state_machines = {m["stateMachineArn"]: m for m in sfn.list_state_machines()["stateMachines"]}
        function_names = {f["FunctionName"] for f in stack.client("lambda").list_functions()["Functions"]}
        definitions = [
            sfn.describe_state_machine(stateMachineArn=arn)["definition"] for arn in state_machines
        ]
        outputs = dict(stack.outputs)
        code_roots = set(stack.provisioned.function_code.values())

    # Then every unconditional resource exists, outputs are literal values, functions run from functions/
    assert live <= set(created), f"not created: {sorted(live - set(created))}"
    assert outputs
    assert all(isinstance(v, str) and v and "${" not in v for v in outputs.values())
    assert {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]} == outputs
    functions = [r for r in created.values() if r.resource_type == "AWS::Lambda::Function"]
    assert functions
    assert {f.physical_id for f in functions} <= function_names
    assert code_roots == {str((REPO_ROOT / "functions").resolve())}
    assert state_machines
    for definition in definitions:
        assert "${" not in definition, "a DefinitionSubstitutions placeholder was left unresolved"
        json.loads(definition)
