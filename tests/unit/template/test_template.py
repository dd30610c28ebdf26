"""template.yaml: transformed offline with aws-sam-translator, linted, and checked against the data it
mirrors (guardrail catalog, metric contract, toggle schema, handlers' environment, ASL substitutions)."""

from __future__ import annotations

import copy
import importlib
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

from failsafe.controller.settings import Settings
from failsafe.domain import metrics
from failsafe.domain.baselines import BASELINES, BaselineName
from failsafe.domain.catalog import DEFAULT_CATALOG
from failsafe.domain.plans import DEFAULT_PLAN
from failsafe.domain.toggles import ToggleDocument
from failsafe_tools.cli.validate import REQUIRED_OUTPUTS

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "infra" / "statemachine" / "rollback.asl.json"
MANAGED = {"AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"}
HANDLER_ENVS = {
    "AlarmIngestFunction": "failsafe.handlers.alarm_ingest:AlarmIngestEnv",
    "PlanStageFunction": "failsafe.handlers.plan_stage:PlanStageEnv",
    "ApplyTogglesFunction": "failsafe.handlers.apply_toggles:ApplyTogglesEnv",
    "HealthCheckFunction": "failsafe.handlers.health_check:HealthCheckEnv",
    "NotifyFunction": "failsafe.handlers.notify:NotifyEnv",
    "ManualRollbackFunction": "failsafe.handlers.manual_rollback:ManualRollbackEnv",
    "ApprovalCallbackFunction": "failsafe.handlers.approval_callback:ApprovalCallbackEnv",
    "IncidentReportFunction": "failsafe.handlers.incident_report:IncidentReportEnv",
}


@cache
def source() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml_parse(TEMPLATE.read_text())
    return parsed


@cache
def translated() -> dict[str, Any]:
    template = copy.deepcopy(source())
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::StateMachine":
            props["DefinitionUri"] = {"Bucket": "artifacts", "Key": "rollback.asl.json"}
    template["Globals"]["Function"]["CodeUri"] = "s3://artifacts/functions.zip"
    session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    out: dict[str, Any] = Translator(MANAGED, Parser(), boto_session=session).translate(
        template, parameter_values={}, get_managed_policy_map=lambda: MANAGED
    )
    return out


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in translated()["Resources"].items() if v["Type"] == kind}


def test_sam_translator_transforms_the_template_offline() -> None:
    # Given template.yaml
    # When aws-sam-translator transforms it without AWS
    out = translated()
    # Then every serverless resource became CloudFormation: 10 functions, their roles, one state machine
    functions = resources("AWS::Lambda::Function")
    assert len(functions) == 10
    assert all(f["Properties"]["Runtime"] == "python3.11" for f in functions.values())
    assert all(f["Properties"]["TracingConfig"] == {"Mode": "Active"} for f in functions.values())
    [machine] = resources("AWS::StepFunctions::StateMachine").values()
    assert machine["Properties"]["StateMachineType"] == "STANDARD"
    assert not any(r["Type"].startswith("AWS::Serverless::") for r in out["Resources"].values())
    rules = resources("AWS::Events::Rule")
    [rule] = rules.values()
    assert rule["Properties"]["EventPattern"]["detail-type"] == ["CloudWatch Alarm State Change"]


def test_cfn_lint_reports_nothing() -> None:
    # Given template.yaml
    # When cfn-lint checks it
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE)],
        capture_output=True,
        text=True,
        check=False,
    )
    # Then there are no errors, warnings or informational findings
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_generated_sections_are_in_step_with_catalog_and_schema() -> None:
    # Given the guardrail catalog, the metric contract and infra/appconfig/toggles.schema.json
    # When the generator checks the template
    result = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "sync_template.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    # Then nothing is stale
    assert result.returncode == 0, result.stderr


def test_every_guardrail_has_an_alarm_on_the_metric_contract() -> None:
    # Given the catalog and the template's alarms and parameters
    alarms = {
        a["Properties"]["AlarmName"]["Fn::Sub"]: a["Properties"]
        for a in source()["Resources"].values()
        if a["Type"] == "AWS::CloudWatch::Alarm"
        and "guardrail" in str(a["Properties"].get("AlarmDescription"))
    }
    params = source()["Parameters"]
    emitted = {
        metrics.COVERAGE,
        metrics.LATENCY_MS,
        metrics.ERROR_RATE,
        metrics.CACHE_HIT_RATE,
        metrics.AVAILABILITY,
    }
    # When matching each rule to its alarm
    for rule in DEFAULT_CATALOG.rules:
        alarm = alarms[f"failsafe-${{ServiceName}}-${{EnvironmentName}}-{rule.name}"]
        # Then it watches the recommender's namespace and dimensions with the catalog's threshold as default
        assert alarm["Namespace"] == metrics.NAMESPACE
        assert [d["Name"] for d in alarm["Dimensions"]] == list(metrics.SERVICE_DIMENSIONS)
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["ComparisonOperator"] == rule.comparison.cloudwatch_operator
        assert alarm["EvaluationPeriods"] == rule.evaluation_periods
        assert alarm["DatapointsToAlarm"] == rule.datapoints
        assert params[alarm["Threshold"]["Ref"]]["Default"] == pytest.approx(
            DEFAULT_CATALOG.threshold_of(rule)
        )
        if rule.metric in ("Coverage", "ErrorRate", "CacheHitRate", "Availability"):
            assert alarm["MetricName"] in emitted
    latency = alarms["failsafe-${ServiceName}-${EnvironmentName}-latency-p2"]
    assert (latency["MetricName"], latency["ExtendedStatistic"]) == (metrics.LATENCY_MS, "p95")
    assert params["TargetLatencyMs"]["Default"] == 200


def test_json_schema_validator_is_the_checked_in_schema() -> None:
    # Given the toggles profile
    [profile] = [
        r for r in source()["Resources"].values() if r["Type"] == "AWS::AppConfig::ConfigurationProfile"
    ]
    validators = {v["Type"]: v["Content"] for v in profile["Properties"]["Validators"]}
    # Then its JSON_SCHEMA validator is infra/appconfig/toggles.schema.json and the Lambda validator is ours
    schema = json.loads((ROOT / "infra" / "appconfig" / "toggles.schema.json").read_text())
    assert json.loads(validators["JSON_SCHEMA"]) == schema
    assert validators["LAMBDA"] == {"Fn::GetAtt": ["ToggleValidatorFunction", "Arn"]}


def test_strategies_immediate_for_rollbacks_gradual_for_restores() -> None:
    # Given the AppConfig resources
    res = source()["Resources"]
    # Then rollbacks go out at once and restores linearly with a bake, under at most 5 monitors
    immediate, gradual = res["ImmediateStrategy"]["Properties"], res["GradualStrategy"]["Properties"]
    assert (immediate["DeploymentDurationInMinutes"], immediate["FinalBakeTimeInMinutes"]) == (0, 0)
    assert immediate["GrowthFactor"] == 100
    assert gradual["GrowthType"] == "LINEAR"
    assert gradual["FinalBakeTimeInMinutes"] == {"Ref": "RestoreBakeMinutes"}
    assert len(res["ToggleEnvironment"]["Properties"]["Monitors"]) <= 5  # AppConfig's limit


def test_no_wildcard_actions_and_no_wildcard_data_resources() -> None:
    # Given every IAM policy statement after the transform
    statements: list[dict[str, Any]] = []
    for resource in translated()["Resources"].values():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                statements += policy["PolicyDocument"]["Statement"]
    assert statements
    data_services = ("dynamodb:", "s3:", "sns:", "secretsmanager:", "appconfig:", "states:", "lambda:")
    # The task-token callbacks have no resource type in IAM: "*" is the only Resource that grants them
    # (test_iam_resource_support checks that against the IAM data).
    token_callbacks = {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        # Then no action is a wildcard
        assert all("*" not in action for action in actions), statement
        # And no data action applies to every resource
        if statement.get("Resource") == "*":
            scoped = [a for a in actions if a not in token_callbacks]
            assert not any(action.startswith(data_services) for action in scoped), statement


def test_every_handler_gets_the_environment_its_model_requires() -> None:
    # Given each function's environment (Globals + its own)
    res = source()["Resources"]
    globals_env = set(source()["Globals"]["Function"]["Environment"]["Variables"])
    # (the verify policy must be the same wherever a lifecycle record is created or moved)
    assert {"VERIFY_WINDOW_SECONDS", "VERIFY_WINDOW_GROWTH", "MAX_VERIFY_WINDOW_SECONDS"} <= globals_env
    for logical_id, path in HANDLER_ENVS.items():
        module_name, class_name = path.split(":")
        env_model: type[Settings] = getattr(importlib.import_module(module_name), class_name)
        required = {f.alias for f in env_model.model_fields.values() if f.is_required()}
        props = res[logical_id]["Properties"]
        given = globals_env | set(props.get("Environment", {}).get("Variables", {}))
        # Then every required variable is set, and the handler exists
        assert required <= given, (logical_id, required - given)
        handler_module, _, attr = props["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(handler_module), attr))


def test_asl_substitutions_match_the_template() -> None:
    # Given the ASL and the state machine's DefinitionSubstitutions
    text = ASL.read_text()
    used = set(re.findall(r"\$\{(\w+)\}", text))
    [machine] = [r for r in source()["Resources"].values() if r["Type"] == "AWS::Serverless::StateMachine"]
    # Then they name the same placeholders
    assert used == set(machine["Properties"]["DefinitionSubstitutions"])
    assert machine["Properties"]["DefinitionUri"] == "infra/statemachine/rollback.asl.json"


def test_outputs_cover_what_the_cli_needs() -> None:
    # Given the template's outputs
    outputs = set(source()["Outputs"])
    # Then the CLI finds every resource it drives through them (the list `failsafe validate` checks)
    assert set(REQUIRED_OUTPUTS) <= outputs


def test_asl_is_well_formed() -> None:
    # Given the state machine definition
    asl = json.loads(ASL.read_text())
    states = asl["States"]

    def targets(state: dict[str, Any]) -> list[str]:
        out = [state.get("Next"), state.get("Default")]
        out += [c["Next"] for c in state.get("Choices", [])] + [c["Next"] for c in state.get("Catch", [])]
        return [t for t in out if t]

    # Then every transition names a state, every state is reachable, and every Lambda task retries
    seen, stack = set(), [asl["StartAt"]]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack += targets(states[name])
    assert seen == set(states)
    for name, state in states.items():
        if state["Type"] == "Task":
            errors = {e for r in state["Retry"] for e in r["ErrorEquals"]}
            assert "Lambda.ServiceException" in errors, name
    assert states["RequestApproval"]["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert "TimeoutSecondsPath" in states["RequestApproval"]
    assert any("States.Timeout" in c["ErrorEquals"] for c in states["RequestApproval"]["Catch"])
    assert states["Notify"]["Catch"][0]["ErrorEquals"] == ["States.ALL"]


def test_the_stack_deploys_the_normal_baseline_first() -> None:
    # Given the initial hosted version and its deployment
    res = source()["Resources"]
    content = res["InitialToggles"]["Properties"]["Content"]["Fn::Sub"]
    # When the environment name is substituted
    document = ToggleDocument.model_validate_json(content.replace("${EnvironmentName}", "prod"))
    # Then it is a valid document with the normal baseline and no overrides, deployed at once
    assert document.toggles == BASELINES[BaselineName.NORMAL]
    assert document.overrides == []
    deployment = res["InitialDeployment"]["Properties"]
    assert deployment["ConfigurationVersion"] == {"Ref": "InitialToggles"}
    assert deployment["DeploymentStrategyId"] == {"Ref": "ImmediateStrategy"}


def test_every_function_that_reattaches_monitors_names_the_environments_monitors() -> None:
    # Given the AppConfig environment's monitors
    [environment] = resources("AWS::AppConfig::Environment").values()
    monitors = [
        (m["AlarmArn"]["Fn::GetAtt"][0], m["AlarmRoleArn"]["Fn::GetAtt"][0])
        for m in environment["Properties"]["Monitors"]
    ]
    # When each function's APPCONFIG_MONITORS is read back
    configured = {
        name: fn["Properties"]["Environment"]["Variables"]["APPCONFIG_MONITORS"]["Fn::Sub"]
        for name, fn in resources("AWS::Lambda::Function").items()
        if "APPCONFIG_MONITORS" in fn["Properties"].get("Environment", {}).get("Variables", {})
    }
    # Then ApplyToggles (after a rollback) and ManualRollback (after a recover) re-attach exactly those
    assert set(configured) == {"ApplyTogglesFunction", "ManualRollbackFunction"}
    for value in configured.values():
        named = [
            (
                m["AlarmArn"].removeprefix("${").removesuffix(".Arn}"),
                m["AlarmRoleArn"].removeprefix("${").removesuffix(".Arn}"),
            )
            for m in json.loads(value)
        ]
        assert named == monitors


def test_every_task_of_the_state_machine_ends_in_a_page_when_it_fails_for_good() -> None:
    # Given the rollback state machine
    states = json.loads((ROOT / "infra" / "statemachine" / "rollback.asl.json").read_text())["States"]
    # When each Task's catch-all is followed
    uncaught = [
        name
        for name, s in states.items()
        if s["Type"] == "Task" and not any("States.ALL" in c["ErrorEquals"] for c in s.get("Catch", []))
    ]
    # Then none is missing, and ControllerFailed pages (Notify with controller_failed) before it fails
    assert uncaught == []
    failed = states["ControllerFailed"]
    assert failed["Parameters"]["event"] == "controller_failed"
    assert states[failed["Next"]]["Type"] == "Fail"


def test_a_failed_execution_is_alarmed_to_the_notification_topic() -> None:
    # Given the template's controller alarms
    [alarm] = [
        a["Properties"]
        for a in resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ExecutionsFailed"
    ]
    # Then the rollback state machine's failed executions reach the notification topic
    assert alarm["Namespace"] == "AWS/States"
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "RollbackStateMachine"}}]
    assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}, {"Ref": "EscalationTopic"}]


ASYNC_EVENT_SOURCES = {
    "EventBridgeRule",
    "CloudWatchEvent",
    "Schedule",
    "ScheduleV2",
    "SNS",
    "S3",
    "CloudWatchLogs",
    "IoTRule",
}


def _dead_letter_alarms() -> dict[str, dict[str, Any]]:
    """Alarms on a queue's visible messages, by the queue's logical id."""
    return {
        a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: a["Properties"]
        for a in source()["Resources"].values()
        if a["Type"] == "AWS::CloudWatch::Alarm"
        and a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }


def test_every_table_has_point_in_time_recovery() -> None:
    # Given every DynamoDB table of the template
    tables = resources("AWS::DynamoDB::Table")
    assert set(tables) == {"StateTable", "AuditTable", "IdempotencyTable"}
    # Then each can be restored to any second of the last 35 days
    for name, table in tables.items():
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }, name


def test_every_async_function_and_event_target_fails_into_a_queue_that_pages() -> None:
    # Given the functions AWS invokes asynchronously (an event source that does not wait for the result)
    functions = {
        name: r["Properties"]
        for name, r in source()["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
        and any(e["Type"] in ASYNC_EVENT_SOURCES for e in r["Properties"].get("Events", {}).values())
    }
    assert set(functions) == {"AlarmIngestFunction"}
    alarms = _dead_letter_alarms()
    for name, props in functions.items():
        # Then a failed invocation lands, with its error, in an SQS queue (on-failure destination)
        on_failure = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
        assert on_failure["Type"] == "SQS", name
        queue = on_failure["Destination"]["Fn::GetAtt"][0]
        # And an event EventBridge could not deliver lands in the same queue (the target's DLQ)
        for event in props["Events"].values():
            if event["Type"] == "EventBridgeRule":
                assert event["Properties"]["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue, "Arn"]}
        # And the queue is encrypted, and its first message alarms to the notification topic
        assert source()["Resources"][queue]["Properties"]["SqsManagedSseEnabled"] is True
        alarm = alarms[queue]
        assert alarm["Namespace"] == "AWS/SQS"
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]


def test_eventbridge_may_write_to_the_dead_letter_queue_and_the_function_to_its_destination() -> None:
    # Given the expanded template
    [policy] = resources("AWS::SQS::QueuePolicy").values()
    [rule_id] = resources("AWS::Events::Rule")
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    # Then the queue policy lets only the alarm rule send to the queue (EventBridge uses no role for DLQs)
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}
    # And AlarmIngest's role may send to its on-failure destination
    role = resources("AWS::IAM::Role")["AlarmIngestFunctionRole"]
    sends = [
        s
        for p in role["Properties"]["Policies"]
        for s in p["PolicyDocument"]["Statement"]
        if s["Action"] == "sqs:SendMessage"
    ]
    assert [s["Resource"] for s in sends] == [{"Fn::GetAtt": ["DroppedAlarmEventsQueue", "Arn"]}]


def test_step_functions_invokes_every_lambda_synchronously() -> None:
    # Given the state machine's Lambda tasks (their functions get no dead-letter queue: sync only)
    states = json.loads(ASL.read_text())["States"]
    tasks = [s for s in states.values() if s["Type"] == "Task"]
    # Then none asks for an asynchronous (Event) invocation, which would need an on-failure destination
    assert tasks
    assert all(s.get("Parameters", {}).get("InvocationType", "RequestResponse") != "Event" for s in tasks)


def test_the_controller_reserves_concurrency_and_the_recommender_does_not() -> None:
    # Given the functions
    functions = resources("AWS::Lambda::Function")
    reserved = {n: f["Properties"].get("ReservedConcurrentExecutions") for n, f in functions.items()}
    # Then every failsafe function has capacity of its own, the request path none, within what an account
    # with the default 1000 can reserve while leaving the 100 unreserved AWS requires
    assert reserved.pop("RecommenderFunction") is None
    assert all(isinstance(v, int) and v > 0 for v in reserved.values()), reserved
    assert sum(reserved.values()) <= 1000 - 100


def test_the_notification_topic_takes_alarm_actions_and_its_publishers_can_encrypt() -> None:
    # Given the notification topic every controller alarm notifies
    res = source()["Resources"]
    key_ref = res["NotificationTopic"]["Properties"]["KmsMasterKeyId"]
    # Then it is encrypted with a key of the stack (CloudWatch cannot use the AWS managed aws/sns key)
    assert key_ref == {"Ref": "NotificationKey"}
    key = res["NotificationKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    [cloudwatch] = [
        s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    # And every role that may publish to it may take a data key of that key
    for name, role in resources("AWS::IAM::Role").items():
        statements = [
            s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]
        ]
        publishes = any("sns:Publish" in str(s["Action"]) for s in statements)
        encrypts = [
            s
            for s in statements
            if "kms:GenerateDataKey" in s["Action"]
            and s["Resource"] == {"Fn::GetAtt": ["NotificationKey", "Arn"]}
        ]
        assert bool(encrypts) == publishes, name


def test_notification_failures_reach_a_channel_independent_of_the_failing_topic() -> None:
    # Given the NotificationFailed alarm and the topic NotifyFunction publishes to
    [alarm] = [
        a["Properties"]
        for a in resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "NotificationFailed"
    ]
    notify_topic = resources("AWS::Lambda::Function")["NotifyFunction"]["Properties"]["Environment"][
        "Variables"
    ]["TOPIC_ARN"]
    assert notify_topic == {"Ref": "NotificationTopic"}
    # Then the alarm goes to the escalation topic only, never to the topic whose failures it reports
    assert alarm["AlarmActions"] == [{"Ref": "EscalationTopic"}]
    topics = resources("AWS::SNS::Topic")
    assert {"NotificationTopic", "EscalationTopic"} <= set(topics)
    # And that topic has its own subscription parameter (created only when an endpoint is given), can be
    # published to by CloudWatch (not encrypted with the AWS managed key), and is an output
    params = source()["Parameters"]
    assert params["EscalationEndpoint"]["Default"] == ""
    subscription = source()["Resources"]["EscalationSubscription"]
    assert subscription["Condition"] == "HasEscalationEndpoint"
    assert subscription["Properties"]["TopicArn"] == {"Ref": "EscalationTopic"}
    assert subscription["Properties"]["Endpoint"] == {"Ref": "EscalationEndpoint"}
    assert topics["EscalationTopic"]["Properties"].get("KmsMasterKeyId") == {"Ref": "NotificationKey"}
    assert "EscalationTopicArn" in source()["Outputs"]


LAMBDA_TASK_ERRORS = "Lambda.ServiceException"


def _asl() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ASL.read_text())
    return data


def _successors(state: dict[str, Any]) -> list[str]:
    out = [state.get("Next"), state.get("Default")]
    out += [c["Next"] for c in state.get("Choices", [])] + [c["Next"] for c in state.get("Catch", [])]
    return [t for t in out if t]


def test_no_notification_sits_between_a_plan_and_its_apply() -> None:
    # Given the state machine and every PlanStage task (whatever plans a stage)
    states = _asl()["States"]
    planners = [n for n, s in states.items() if s.get("Resource") == "${PlanStageFunctionArn}"]
    assert planners
    # When every path from a plan is followed through Choice states only, up to the first Task
    for planner in planners:
        reached: set[str] = set()
        stack = list(_successors(states[planner]))
        while stack:
            name = stack.pop()
            if name in reached:
                continue
            reached.add(name)
            if states[name]["Type"] == "Choice":
                stack += _successors(states[name])
        # Then Apply is reached without a notification before it
        assert "Apply" in reached, planner
        assert "Apply" in _successors(states["Route"])
    route = states["Route"]
    assert [c["Next"] for c in route["Choices"] if c.get("StringEquals") == "apply"] == ["Apply"]
    # And Apply's successors lead to Notify (announce after the deployment started), which is bounded
    # and whose every failure goes on with the flow
    assert states["Apply"]["Next"] == "AfterApply"
    assert states["AfterApply"]["Default"] == "Notify"
    notify = states["Notify"]
    assert 1 <= notify["TimeoutSeconds"] <= 10
    assert notify["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.notification_error", "Next": "AfterNotify"}
    ]
    assert states["AfterNotify"]["Type"] == "Choice"


def test_a_failed_approval_request_is_a_controller_failure_not_a_rejection() -> None:
    # Given the approval request task
    request = _asl()["States"]["RequestApproval"]
    catches = {tuple(c["ErrorEquals"]): c for c in request["Catch"]}
    # Then only a real rejection goes to ApprovalRejected; any other failure pages through ControllerFailed
    assert catches[("ApprovalRejected",)]["Next"] == "ApprovalRejected"
    assert catches[("States.ALL",)]["Next"] == "ControllerFailed"
    assert catches[("States.ALL",)]["ResultPath"] == "$.controller_error"


def test_every_task_retries_retryable_aws_errors_within_the_fastest_stage_target() -> None:
    # Given the state machine's tasks (except the notifications, which catch their own failures)
    states = _asl()["States"]
    fastest = min(stage.target_seconds for stage in DEFAULT_PLAN.stages)
    for name, state in states.items():
        if state["Type"] != "Task" or name in ("Notify", "ControllerFailed"):
            continue
        # Then each retries AwsRetryableError (throttling, 5xx) with backoff
        [retry] = [r for r in state["Retry"] if r["ErrorEquals"] == ["AwsRetryableError"]]
        assert retry["BackoffRate"] > 1, name
        # And the longest total wait stays well within the fastest stage's target time
        delays = [
            min(retry["IntervalSeconds"] * retry["BackoffRate"] ** i, retry.get("MaxDelaySeconds", 1e9))
            for i in range(retry["MaxAttempts"])
        ]
        assert sum(delays) <= fastest / 4, (name, delays)


def test_the_recommender_polls_appconfig_every_15_seconds_on_both_paths() -> None:
    # Given the reference recommender's environment
    env = source()["Resources"]["RecommenderFunction"]["Properties"]["Environment"]["Variables"]

    # Then it polls every 15 s through appconfigdata (its client) and through the agent/extension, whose
    # default of 45 s would put a 45 s poll on the mitigation's critical path
    assert env["FAILSAFE_REFRESH_SECONDS"] == "15"
    assert env["AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS"] == "15"
    from failsafe.recommender.settings import RecommenderSettings

    strings = {k: v for k, v in env.items() if isinstance(v, str)}  # the !Ref values are the stack's
    assert RecommenderSettings.from_env({**strings, "AWS_REGION": "us-east-1"}).refresh_seconds == 15
