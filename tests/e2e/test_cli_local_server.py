"""`--target local` against a running `failsafe local up --detach` (another process), via its state file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from failsafe_tools.cli.app import build_app

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str) -> Result:
    return CliRunner().invoke(build_app(), list(args))


@pytest.fixture(scope="module")
def state_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("local") / "local.json"
    up = cli(
        "local",
        "up",
        "--detach",
        "--port",
        "0",
        "--template",
        str(REPO / "template.yaml"),
        "--state-file",
        str(path),
        "--param",
        "LogLevel=WARNING",
    )
    assert up.exit_code == 0, up.output
    # no terminal here: progress is printed as lines, not a bar that a log would show as one blank line
    assert re.search(r"provisioning \d+/\d+: created \w+ \(AWS::", up.stderr), up.stderr
    yield path
    cli("local", "down", "--state-file", str(path))


def test_commands_use_the_running_local_server(state_file: Path) -> None:
    # Given a local stack running in its own process
    # When status and a dry run are asked of --target local with its state file
    status = cli("status", "--json", "--state-file", str(state_file))
    plan = cli(
        "rollback", "--level", "emergency", "--reason", "drill", "--dry-run", "--state-file", str(state_file)
    )

    # Then both went to that server (its endpoint) and nothing changed there
    assert status.exit_code == 0, status.output
    data = json.loads(status.output)
    assert data["target"].startswith("the local stack at http://127.0.0.1:")
    assert all(scope["state"] == "NORMAL" for scope in data["scopes"])
    assert plan.exit_code == 0, plan.output
    assert "kill_switch" in plan.output
    assert "dry run: nothing was changed" in plan.output
    after = json.loads(cli("status", "--json", "--state-file", str(state_file)).output)
    assert all(scope["state"] == "NORMAL" and scope["incident_id"] is None for scope in after["scopes"])


def test_times_are_the_servers_simulated_clock(state_file: Path) -> None:
    # Given the server's clock (anchored in its state file, at the speed the fixture started it with)
    from failsafe_tools.local.server import read_state

    state = read_state(state_file)
    assert state is not None

    # When status is asked between two readings of that clock
    before = state.clock_now()
    data = json.loads(cli("status", "--json", "--state-file", str(state_file)).output)
    after = state.clock_now()

    # Then its time is the server's simulated clock (not this host's), and it says so
    assert data["clock"] == f"simulated clock, {state.speed:g}x"
    assert before is not None
    assert after is not None
    assert before <= datetime.fromisoformat(data["at"]).timestamp() <= after


def test_a_stopped_server_is_one_line_with_the_fix(tmp_path: Path) -> None:
    # Given a state file of a server that died (pid that does not exist)
    dead = tmp_path / "local.json"
    dead.write_text(
        json.dumps(
            {
                "pid": 2**22 + 4242,
                "endpoint": "http://127.0.0.1:9",
                "agent_url": None,
                "region": "us-east-1",
                "stack_name": "failsafe",
                "template": "template.yaml",
                "speed": 60.0,
                "started_at": 0.0,
            }
        )
    )

    # When status is asked of it
    result = cli("status", "--state-file", str(dead))

    # Then one line says how to restart it
    assert result.exit_code == 2
    assert result.output.strip().startswith("error:")
    assert "failsafe local up --detach" in result.output
    assert len(result.output.strip().splitlines()) == 1
