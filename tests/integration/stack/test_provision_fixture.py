"""Provisioning the fixture template (every resource type failsafe's template uses) into the local AWS,
and the LocalStack facade over it (one stack for the module: clock wiring, tick, one stack per process)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from failsafe_tools.local.clock import ManualClock, get_clock
from failsafe_tools.local.provision import SUPPORTED_TYPES
from failsafe_tools.local.stack import LocalStack, LocalStackError
from failsafe_tools.local.stepfunctions import wait_for_execution

FIXTURES = Path(__file__).parent / "fixtures"

EXPECTED_TYPES = {
    "AWS::AppConfig::Application",
    "AWS::AppConfig::ConfigurationProfile",
    "AWS::AppConfig::DeploymentStrategy",
    "AWS::AppConfig::Environment",
    "AWS::AppConfig::HostedConfigurationVersion",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::CompositeAlarm",
    "AWS::DynamoDB::Table",
    "AWS::Events::Rule",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Policy",
    "AWS::IAM::Role",
    "AWS::Lambda::Function",
    "AWS::Lambda::Permission",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::Subscription",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
    "AWS::SSM::Parameter",
    "AWS::SecretsManager::Secret",
    "AWS::StepFunctions::StateMachine",
}


def test_every_resource_type_of_the_fixture_is_created(full_stack: LocalStack) -> None:
    # Given the fixture template provisioned (SAM expanded: roles, rule and permission are generated)
    resources = full_stack.provisioned.resources

    # When the created types are collected
    created = {r.resource_type for r in resources.values()}

    # Then all of them are there, the generated SAM resources included, and the conditioned-out one is not
    assert created == EXPECTED_TYPES
    assert set(SUPPORTED_TYPES) >= EXPECTED_TYPES
    generated = {"EchoFunctionRole", "RecordFunctionAlarmChanges", "RecordFunctionAlarmChangesPermission"}
    assert generated <= set(resources)
    assert "ArchiveBucket" not in resources


def test_outputs_are_resolved_and_registered_like_a_cloudformation_stack(full_stack: LocalStack) -> None:
    # Given the provisioned stack
    outputs = full_stack.outputs

    # When CloudFormation is asked for the stack, as the CLI asks on AWS
    described = full_stack.client("cloudformation").describe_stacks(StackName="failsafe")["Stacks"][0]

    # Then the outputs are resolved values, the conditional ones follow their conditions, and both views agree
    assert outputs["Summary"] == "us-east-1|123456789012|aws|non-production|us-east-1"
    assert outputs["NotProdFlag"] == "yes"
    assert "ArchiveBucketName" not in outputs
    assert outputs["LatencyAlarmName"] == "failsafe-latency-p95"
    assert outputs["InitialVersion"] == "1"
    assert {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]} == outputs
    assert described["StackStatus"] == "CREATE_COMPLETE"
    exports = {o["OutputKey"]: o.get("ExportName") for o in described["Outputs"]}
    assert exports["WorkflowArn"] == "failsafe-WorkflowArn"
    assert full_stack.provisioned.describe_stack()["Outputs"][0] == {
        "OutputKey": "StateTableName",
        "OutputValue": outputs["StateTableName"],
        "Description": "lifecycle state per scope",
    }


def test_dynamodb_table_has_its_keys_index_stream_and_ttl(full_stack: LocalStack) -> None:
    # Given the state table output
    ddb = full_stack.client("dynamodb")
    name = full_stack.outputs["StateTableName"]

    # When it is described
    table = ddb.describe_table(TableName=name)["Table"]
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]

    # Then it is as declared
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by-gsi1"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table["LatestStreamArn"] == full_stack.outputs["StateTableStreamArn"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_functions_get_globals_role_and_run_their_code_uri_in_process(full_stack: LocalStack) -> None:
    # Given the echo function
    lam = full_stack.client("lambda")
    name = full_stack.outputs["EchoFunctionName"]

    # When it is described and invoked
    config = lam.get_function_configuration(FunctionName=name)
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"ping": 1}).encode())
    body = json.loads(response["Payload"].read())

    # Then Globals applied, the role is the SAM-generated one, and the handler ran from the fixture CodeUri
    assert config["Runtime"] == "python3.12"
    assert config["Handler"] == "stack_fixture_handlers.echo"
    assert (config["Timeout"], config["MemorySize"]) == (10, 256)
    assert config["Environment"]["Variables"] == {
        "STAGE": "dev",
        "TABLE_NAME": full_stack.outputs["StateTableName"],
    }
    assert config["Role"].endswith(":role/" + full_stack.physical_id("EchoFunctionRole"))
    assert "FunctionError" not in response
    assert body == {
        "event": {"ping": 1},
        "table": full_stack.outputs["StateTableName"],
        "stage": "dev",
        "function": name,
    }
    assert full_stack.provisioned.function_code[name] == str((FIXTURES / "code").resolve())


def test_sam_policies_become_role_policies_with_aws_managed_ones_attached(full_stack: LocalStack) -> None:
    # Given the role SAM generated for the record function
    iam = full_stack.client("iam")
    role = full_stack.physical_id("RecordFunctionRole")

    # When its policies are listed
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    inline = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=inline[0])["PolicyDocument"]

    # Then the basic execution role is attached and the DynamoDBCrudPolicy template names the table's ARN
    assert [p["PolicyName"] for p in attached] == ["AWSLambdaBasicExecutionRole"]
    resources = document["Statement"][0]["Resource"]
    table_arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{full_stack.outputs['StateTableName']}"
    assert table_arn in resources
    echo_role = full_stack.physical_id("EchoFunctionRole")
    assert "publish-alerts" in iam.list_role_policies(RoleName=echo_role)["PolicyNames"]


def test_state_machine_definition_has_substitutions_and_runs(full_stack: LocalStack) -> None:
    # Given the workflow
    sfn = full_stack.client("stepfunctions")
    arn = full_stack.outputs["WorkflowArn"]

    # When it is described and executed
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"go": True}))["executionArn"]
    result = wait_for_execution(sfn, execution, timeout_s=120)

    # Then the substitutions are in the definition and the Lambda task ran in-process
    echo_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{full_stack.outputs['EchoFunctionName']}"
    assert definition["States"]["Echo"]["Parameters"]["FunctionName"] == echo_arn
    assert definition["States"]["Settle"]["Seconds"] == 5
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["event"] == {"go": True}


def test_appconfig_resources_with_monitors_validators_and_hosted_version(full_stack: LocalStack) -> None:
    # Given the AppConfig outputs
    appconfig = full_stack.client("appconfig")
    app = full_stack.outputs["AppConfigApplicationId"]

    # When they are read back
    env = appconfig.get_environment(
        ApplicationId=app, EnvironmentId=full_stack.outputs["AppConfigEnvironmentId"]
    )
    profile = appconfig.get_configuration_profile(
        ApplicationId=app, ConfigurationProfileId=full_stack.outputs["AppConfigProfileId"]
    )
    strategy = appconfig.get_deployment_strategy(
        DeploymentStrategyId=full_stack.outputs["ImmediateStrategyId"]
    )
    version = appconfig.get_hosted_configuration_version(
        ApplicationId=app, ConfigurationProfileId=profile["Id"], VersionNumber=1
    )

    # Then the monitor points at the latency alarm, the JSON schema came from the file, the Lambda
    # validator is the echo function, and the rest is as declared
    assert env["Name"] == "dev"
    assert (
        env["Monitors"][0]["AlarmArn"]
        == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:failsafe-latency-p95"
    )
    validators = {v["Type"]: v["Content"] for v in profile["Validators"]}
    assert json.loads(validators["JSON_SCHEMA"]) == json.loads((FIXTURES / "toggles.schema.json").read_text())
    assert validators["LAMBDA"].endswith(":function:" + full_stack.outputs["EchoFunctionName"])
    assert (strategy["DeploymentDurationInMinutes"], strategy["GrowthFactor"]) == (0, 100.0)
    assert json.loads(version["Content"].read()) == {"kill_switch": False}


def test_alarms_topics_queues_secret_bucket_logs_and_parameter_exist(full_stack: LocalStack) -> None:
    # Given the provisioned stack
    outputs = full_stack.outputs

    # When every remaining resource is described through boto3
    cw = full_stack.client("cloudwatch")
    alarm = cw.describe_alarms(AlarmNames=[outputs["LatencyAlarmName"]])["MetricAlarms"][0]
    composite = cw.describe_alarms(AlarmTypes=["CompositeAlarm"])["CompositeAlarms"][0]
    subscriptions = full_stack.client("sns").list_subscriptions_by_topic(TopicArn=outputs["AlertTopicArn"])
    queue = full_stack.client("sqs").get_queue_attributes(
        QueueUrl=outputs["AlertQueueUrl"], AttributeNames=["All"]
    )
    secret = json.loads(
        full_stack.client("secretsmanager").get_secret_value(SecretId=outputs["SecretArn"])["SecretString"]
    )
    s3 = full_stack.client("s3")
    bucket = outputs["ReportBucketName"]
    logs = full_stack.client("logs").describe_log_groups(logGroupNamePrefix="/aws/vendedlogs/states/failsafe")
    parameter = full_stack.client("ssm").get_parameter(Name="/failsafe/primary-region")["Parameter"]
    rule = full_stack.client("events").list_targets_by_rule(
        Rule=full_stack.physical_id("RecordFunctionAlarmChanges")
    )

    # Then each is as the template declares it
    assert (alarm["ExtendedStatistic"], alarm["Threshold"], alarm["DatapointsToAlarm"]) == ("p95", 200.0, 2)
    assert alarm["AlarmActions"] == [outputs["AlertTopicArn"]]
    assert composite["AlarmArn"] == outputs["CompositeAlarmArn"]
    assert 'ALARM("failsafe-latency-p95")' in composite["AlarmRule"]
    assert subscriptions["Subscriptions"][0]["Protocol"] == "sqs"
    assert queue["Attributes"]["MessageRetentionPeriod"] == "3600"
    assert "Policy" in queue["Attributes"]
    assert secret["service"] == "recs"
    assert len(secret["routing_key"]) == 32
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert (
        s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
    )
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["Expiration"] == {"Days": 7}
    assert "DenyInsecureTransport" in s3.get_bucket_policy(Bucket=bucket)["Policy"]
    assert logs["logGroups"][0]["retentionInDays"] == 7
    assert parameter["Value"] == "eu-west-1"
    assert rule["Targets"][0]["Arn"].endswith(":function:" + full_stack.physical_id("RecordFunction"))


def test_an_alarm_change_reaches_the_eventbridge_lambda_target(full_stack: LocalStack) -> None:
    # Given errors above the error alarm's threshold in the current minute
    cw = full_stack.client("cloudwatch")
    cw.put_metric_data(
        Namespace="Recommender", MetricData=[{"MetricName": "Errors", "Value": 9.0, "Unit": "Count"}]
    )
    alarm_name = full_stack.physical_id("ErrorAlarm")

    # When a minute of simulated time passes
    result = full_stack.tick(60)

    # Then the alarm is in ALARM and the SAM EventBridgeRule target recorded the state change in DynamoDB
    assert any(change.alarm_name == alarm_name for change in result.alarm_changes)
    assert cw.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"][0]["StateValue"] == "ALARM"
    item = full_stack.client("dynamodb").get_item(
        TableName=full_stack.outputs["StateTableName"], Key={"pk": {"S": f"alarm#{alarm_name}"}}
    )
    assert item["Item"]["state"] == {"S": "ALARM"}


def test_the_appconfig_agent_endpoint_serves_the_deployed_configuration(full_stack: LocalStack) -> None:
    # Given the agent URL of the stack and a deployment of the initial toggles
    outputs = full_stack.outputs
    full_stack.client("appconfig").start_deployment(
        ApplicationId=outputs["AppConfigApplicationId"],
        EnvironmentId=outputs["AppConfigEnvironmentId"],
        DeploymentStrategyId=outputs["ImmediateStrategyId"],
        ConfigurationProfileId=outputs["AppConfigProfileId"],
        ConfigurationVersion=outputs["InitialVersion"],
    )
    full_stack.tick(60)
    assert full_stack.agent_url is not None
    url = (
        f"{full_stack.agent_url}/applications/{outputs['AppConfigApplicationId']}"
        f"/environments/{outputs['AppConfigEnvironmentId']}/configurations/{outputs['AppConfigProfileId']}"
    )

    # When the agent is asked for the configuration
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.loads(response.read())

    # Then it serves the deployed toggles
    assert body == {"kill_switch": False}


def test_the_stack_runs_on_the_given_clock_and_tick_moves_it(full_stack: LocalStack) -> None:
    # Given the fixture stack on a ManualClock
    clock = full_stack.clock
    assert isinstance(clock, ManualClock)
    assert get_clock() is clock
    before = clock.time()

    # When 5 minutes are ticked in 1-minute steps
    full_stack.tick(300)

    # Then the clock moved by exactly that much
    assert clock.time() == before + 300


def test_tick_rejects_going_backwards(full_stack: LocalStack) -> None:
    # Given the running stack
    # When a negative tick is asked for
    # Then it is refused
    with pytest.raises(ValueError, match="time only moves forward"):
        full_stack.tick(-1)


def test_a_second_stack_in_the_same_process_is_refused(full_stack: LocalStack) -> None:
    # Given a running stack
    # When another one is started
    # Then it is refused (moto's backends are process-global)
    with pytest.raises(LocalStackError, match="already running in this process"):
        LocalStack.start(FIXTURES / "full.yaml", clock=ManualClock())


def test_a_missing_template_is_named(tmp_path: Path) -> None:
    # Given no template
    # When a stack is started on it
    # Then the error names the path
    with pytest.raises(LocalStackError, match=r"nope\.yaml not found"):
        LocalStack.start(tmp_path / "nope.yaml")
