"""Server mode: `failsafe local up --detach` serves one local AWS to other processes; `down` stops it."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import boto3
from typer.testing import CliRunner

from failsafe_tools.cli.local import local_app
from failsafe_tools.local.server import pid_alive, read_state

TEMPLATE = Path(__file__).parent / "fixtures" / "full.yaml"


def remote(service: str, endpoint: str) -> Any:
    """A boto3 client as another process would make it: only the endpoint URL is shared."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="other-process",
        aws_secret_access_key="other-process",
    )


def test_up_detached_serves_the_stack_to_other_processes_and_down_stops_it(tmp_path: Path) -> None:
    # Given no local stack running for this state file
    runner = CliRunner()
    state_file = tmp_path / "local.json"
    before = runner.invoke(local_app, ["status", "--state-file", str(state_file)])
    assert before.exit_code == 1
    assert "No local stack is running" in before.output

    # When it is started detached on a free port
    up = runner.invoke(
        local_app,
        [
            "up",
            "--detach",
            "--template",
            str(TEMPLATE),
            "--port",
            "0",
            "--speed",
            "60",
            "--state-file",
            str(state_file),
            "--param",
            "Stage=prod",
        ],
    )
    state = read_state(state_file)
    try:
        assert up.exit_code == 0, up.output
        assert state is not None
        assert state.pid != os.getpid()
        assert pid_alive(state.pid)

        # Then boto3 clients with endpoint_url see the provisioned resources and outputs
        stack = remote("cloudformation", state.endpoint).describe_stacks(StackName="failsafe")["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert outputs == state.outputs
        assert "|production|" in outputs["Summary"]
        assert outputs["StateTableName"] in remote("dynamodb", state.endpoint).list_tables()["TableNames"]
        environments = remote("appconfig", state.endpoint).list_environments(
            ApplicationId=outputs["AppConfigApplicationId"]
        )
        assert [e["Name"] for e in environments["Items"]] == ["prod"]

        # And a Lambda invoked through the endpoint runs in the server process with the template's environment
        response = remote("lambda", state.endpoint).invoke(
            FunctionName=outputs["EchoFunctionName"], Payload=json.dumps({"from": "another process"}).encode()
        )
        body = json.loads(response["Payload"].read())
        assert body["event"] == {"from": "another process"}
        assert body["stage"] == "prod"

        # And status reports it, with the agent endpoint
        status = runner.invoke(local_app, ["status", "--state-file", str(state_file), "--json"])
        assert status.exit_code == 0, status.output
        assert json.loads(status.output)["endpoint"] == state.endpoint
        assert state.agent_url is not None
        assert state.agent_url.startswith("http://127.0.0.1:")

        # And a second `up` on the same state file is refused
        again = runner.invoke(
            local_app,
            ["up", "--detach", "--template", str(TEMPLATE), "--port", "0", "--state-file", str(state_file)],
        )
        assert again.exit_code == 1
        assert "already running" in again.output
    finally:
        # When it is stopped
        down = runner.invoke(local_app, ["down", "--state-file", str(state_file)])

    # Then the process is gone, the state file removed, and a second down says nothing is running
    assert down.exit_code == 0, down.output
    assert f"Stopped the local stack (pid {state.pid}" in down.output
    assert not pid_alive(state.pid)
    assert not state_file.exists()
    second = runner.invoke(local_app, ["down", "--state-file", str(state_file)])
    assert second.exit_code == 0
    assert "No local stack is running" in second.output


def test_up_with_a_missing_template_or_bad_parameter_fails_clearly(tmp_path: Path) -> None:
    # Given a CLI runner and a state file path
    runner = CliRunner()
    state_file = str(tmp_path / "s.json")

    # When up is given a template that does not exist, or a malformed parameter
    missing = runner.invoke(
        local_app, ["up", "--template", str(tmp_path / "none.yaml"), "--state-file", state_file]
    )
    bad_param = runner.invoke(
        local_app, ["up", "--template", str(TEMPLATE), "--param", "NoEquals", "--state-file", state_file]
    )

    # Then each names the problem with a usage exit code, and nothing is started
    assert missing.exit_code == 2
    assert "none.yaml: no such file" in missing.output
    assert bad_param.exit_code == 2
    assert "expected Key=Value" in bad_param.output
    assert not (tmp_path / "s.json").exists()


def test_down_cleans_up_a_stale_state_file(tmp_path: Path) -> None:
    # Given a state file naming a process that no longer exists
    state_file = tmp_path / "local.json"
    state_file.write_text(
        json.dumps(
            {
                "pid": 2**22 + 7,
                "endpoint": "http://127.0.0.1:1",
                "agent_url": None,
                "region": "us-east-1",
                "stack_name": "failsafe",
                "template": "t",
                "speed": 60.0,
                "started_at": 0.0,
            }
        )
    )

    # When down is run
    result = CliRunner().invoke(local_app, ["down", "--state-file", str(state_file)])

    # Then it says so and removes the file
    assert result.exit_code == 0
    assert "no longer running" in result.output
    assert not state_file.exists()


def test_up_refuses_a_port_in_use(tmp_path: Path) -> None:
    # Given a port that something else listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]

        # When up is asked to use it
        result = CliRunner().invoke(
            local_app,
            [
                "up",
                "--detach",
                "--template",
                str(TEMPLATE),
                "--port",
                str(port),
                "--state-file",
                str(tmp_path / "s.json"),
            ],
        )

    # Then it fails naming the port, before starting anything
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert not (tmp_path / "s.json").exists()
