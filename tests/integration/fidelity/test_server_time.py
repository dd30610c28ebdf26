"""Time in server mode (issue 13): `failsafe local up` serves at real time by default, so data that outside
clients stamp with their own clock lands where the server's own stamps do, as on AWS. Speed-up is for
drills, which own their clock (see SERVER_SPEED in failsafe_tools.local.server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
from typer.testing import CliRunner

from failsafe_tools.cli.local import local_app
from failsafe_tools.local.server import read_state

FIXTURE_TEMPLATE = Path(__file__).resolve().parents[1] / "stack" / "fixtures" / "full.yaml"


def test_local_up_runs_at_real_time_so_client_stamped_data_meets_server_stamped_data(tmp_path: Path) -> None:
    # Given `failsafe local up --detach` started without --speed
    runner = CliRunner()
    state_file = tmp_path / "local.json"
    up = runner.invoke(
        local_app,
        [
            "up",
            "--detach",
            "--template",
            str(FIXTURE_TEMPLATE),
            "--port",
            "0",
            "--state-file",
            str(state_file),
        ],
    )
    state = read_state(state_file)
    try:
        assert up.exit_code == 0, up.output
        assert state is not None
        cloudwatch = boto3.client(
            "cloudwatch",
            endpoint_url=state.endpoint,
            region_name=state.region,
            aws_access_key_id="client",
            aws_secret_access_key="client",
        )

        # When a client writes one datapoint stamped with its own clock and one the server stamps
        client_now = datetime.now(UTC)
        metric = {"MetricName": "Probe", "Value": 1.0, "Unit": "Count"}
        cloudwatch.put_metric_data(Namespace="Fidelity", MetricData=[{**metric, "Timestamp": client_now}])
        cloudwatch.put_metric_data(Namespace="Fidelity", MetricData=[metric])
        points = cloudwatch.get_metric_statistics(
            Namespace="Fidelity",
            MetricName="Probe",
            StartTime=client_now - timedelta(days=1),
            EndTime=client_now + timedelta(days=1),
            Period=60,
            Statistics=["SampleCount"],
        )["Datapoints"]
    finally:
        runner.invoke(local_app, ["down", "--state-file", str(state_file)])

    # Then the server runs at speed 1 and both datapoints fall in the same or the adjacent minute: the
    # server's now is the client's now (at the old default of 60x it was minutes ahead after startup)
    assert state.speed == 1.0
    assert sum(p["SampleCount"] for p in points) == 2
    stamps = sorted(p["Timestamp"] for p in points)
    assert stamps[-1] - stamps[0] <= timedelta(seconds=60)
