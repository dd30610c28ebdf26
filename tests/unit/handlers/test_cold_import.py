"""What a handler's cold import loads (issue 9: cold start near `import boto3`).

Each test imports handler modules in a fresh interpreter that looks like Lambda to Powertools
(`LAMBDA_TASK_ROOT` set, so the Tracer is active and patches for X-Ray as it does on AWS) and checks
which modules ended up in `sys.modules`. No timing: the figures are in benchmarks/bench_cold_start.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CONTROLLER_HANDLERS = [
    f"failsafe.handlers.{name}"
    for name in (
        "alarm_ingest",
        "apply_toggles",
        "approval_callback",
        "health_check",
        "incident_report",
        "manual_rollback",
        "notify",
        "plan_stage",
        "toggle_validator",
    )
]
# Loaded on first use by the one code path that needs them, never at a cold start.
NOT_AT_IMPORT = (
    "aws_lambda_powertools.utilities.idempotency",  # AlarmIngest, first event past validation
    "aws_lambda_powertools.utilities.parameters",  # Notify, first page (SecretsProvider)
    "aws_lambda_powertools.utilities.data_classes",  # AlarmIngest, first event
    "sqlite3",  # X-Ray's patch_all() default; no function uses it
)

PROBE = """
import importlib, json, sys
for module in sys.argv[1:]:
    importlib.import_module(module)
import botocore.client
print(json.dumps({
    "modules": sorted(sys.modules),
    "botocore_traced": hasattr(botocore.client.BaseClient._make_api_call, "__wrapped__"),
}))
"""


def import_in_lambda_like_process(modules: list[str], tmp_path: Path) -> dict[str, object]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("POWERTOOLS_", "AWS_SAM", "LAMBDA_", "_X_AMZN"))
    }
    env.update(
        LAMBDA_TASK_ROOT=str(tmp_path),
        AWS_LAMBDA_FUNCTION_NAME="ColdImportProbe",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_SERVICE_NAME="failsafe",
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *modules],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_no_handler_import_loads_what_only_one_path_needs(tmp_path: Path) -> None:
    """Given every controller handler imported in one Lambda-like process (Tracer active)
    When the imports are done (no event handled yet)
    Then idempotency, parameters, the Powertools event classes and sqlite3 are not loaded,
    and the AWS SDK is still patched for X-Ray."""
    loaded = import_in_lambda_like_process(CONTROLLER_HANDLERS, tmp_path)

    modules = set(loaded["modules"])  # type: ignore[call-overload]
    assert sorted(m for m in NOT_AT_IMPORT if m in modules) == []
    assert loaded["botocore_traced"] is True


def test_handler_without_aws_does_not_load_the_runtime(tmp_path: Path) -> None:
    """Given the toggle validator, which never calls AWS
    When its module is imported in a Lambda-like process
    Then neither the controller runtime nor any AWS adapter of failsafe is loaded."""
    loaded = import_in_lambda_like_process(["failsafe.handlers.toggle_validator"], tmp_path)

    modules = set(loaded["modules"])  # type: ignore[call-overload]
    assert "failsafe.controller.runtime" not in modules
    assert sorted(m for m in modules if m.startswith("failsafe.aws")) == []


def test_a_handler_loads_only_the_adapters_its_path_uses(tmp_path: Path) -> None:
    """Given HealthCheck, which reads alarms and the state store but never deploys, notifies, pages or
    writes reports
    When its module is imported in a Lambda-like process
    Then the AppConfig, SNS, PagerDuty and report adapters are not loaded (the runtime builds each adapter,
    and imports it, on first use)."""
    loaded = import_in_lambda_like_process(["failsafe.handlers.health_check"], tmp_path)

    modules = set(loaded["modules"])  # type: ignore[call-overload]
    unused = ("appconfig_deployer", "notifier", "pagerduty", "reports")
    assert sorted(m for m in modules if m.removeprefix("failsafe.aws.") in unused) == []
    assert "failsafe.aws.state_store" in modules
