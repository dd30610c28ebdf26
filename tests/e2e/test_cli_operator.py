"""Issue 16 through the CLI on the local stack: messages from the recorded outcome, status during a gradual
restore and `status --watch`, abort, --wait, plan against the deployed document, one clock, idempotent
kill-switch off, one-line errors without internal names, and `--json` on every command.

One local stack (template.yaml, clock at 75x) serves the module; the CLI finds it through `use_local_stack`.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner, Result

from failsafe.aws.audit_log import AuditLog
from failsafe.aws.state_store import StateStore
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe_tools.cli.app import build_app
from failsafe_tools.drill.runner import fresh_lambda_containers
from failsafe_tools.local.clock import SpeedClock
from failsafe_tools.local.stack import LocalStack
from failsafe_tools.target import use_local_stack

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SCOPE = "recommender/prod"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    fresh_lambda_containers()
    local = LocalStack.start(REPO / "template.yaml", {"LogLevel": "WARNING"}, clock=SpeedClock(75))
    with use_local_stack(local):
        yield local
    local.stop()


def record(stack: LocalStack) -> Any:
    return StateStore(stack.client("dynamodb"), stack.outputs["StateTableName"], DEFAULT_PLAN).get(SCOPE)


def settle(stack: LocalStack) -> None:
    """Back to NORMAL with nothing deploying (a test must not leak its incident or its restore)."""
    current = record(stack)
    if current is not None and current.incident_id:
        cli("recover", "--scope", SCOPE, "--reason", "cleanup", "--immediate", "--yes", "--as", "pytest")
    wait_for(lambda: not json_of(cli("status", "--scope", SCOPE, "--json"))["deployments_in_flight"])


@pytest.fixture(autouse=True)
def back_to_normal(stack: LocalStack) -> Iterator[None]:
    settle(stack)
    yield
    settle(stack)


def cli(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(build_app(), list(args), input=input)


def own_lines(text: str) -> list[str]:
    """The command's lines: in-process Lambdas print one-line JSON logs and EMF to the same stdout."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith('{"')]


def json_of(result: Result) -> Any:
    return json.loads("\n".join(own_lines(result.stdout)))


def applied(result: Result) -> bool:
    """A level followed to "in force" exits 0, or 1 when it missed its target time: the stack's clock runs
    while this loaded host computes, so which one is a benchmark's business; the output must say which."""
    if result.exit_code == 0:
        return "is in force" in result.output
    return result.exit_code == 1 and "is in force but missed its target" in result.output


def wait_for(predicate: Any, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def error_line(result: Result) -> str:
    lines = own_lines(result.output)
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    return errors[0]


def test_level_1_while_stage_2_is_in_force_is_reported_once_stage_1_is(stack: LocalStack) -> None:
    # Given stage 2 in force
    two = cli("rollback", "--level", "2", "--scope", SCOPE, "--reason", "errors", "--yes", "--as", "alice")
    assert applied(two), two.output
    assert "stage_2 is in force" in two.output

    # When level 1 is asked for on the same incident
    one = cli("rollback", "--level", "1", "--scope", SCOPE, "--reason", "calmer", "--yes", "--as", "alice")

    # Then the CLI says stage_1 is in force only when the stack recorded it (not "stage_2 is in force")
    assert applied(one), one.output
    assert "stage_2 is in force" not in one.output
    assert re.search(
        r"stage_1 is in force( but missed its target:)? in [\d.]+ (s|min) on the stack's clock "
        r"\(simulated clock, 75x\)",
        one.output,
    )
    assert record(stack).lifecycle.applied_stage == "stage_1"
    # and a manual level holds until recovered (said so)
    assert "held until recovered" in one.output
    # and the plan is words, not raw `deploy: {json}` lines
    assert "deploy: {" not in two.output
    assert "step 1: deploy the toggles of stage_1, stage_2 with the immediate strategy" in two.output


def test_wait_measures_the_level_on_the_stack_clock_from_the_audit_log(stack: LocalStack) -> None:
    # Given the stack's clock before the request
    before = stack.clock.now()

    # When level 1 is run with --wait (default) and --json
    result = cli(
        "rollback", "--level", "1", "--scope", SCOPE, "--reason", "p95", "--yes", "--as", "alice", "--json"
    )
    after = stack.clock.now()

    # Then the outcome is the audit's: request -> stage recorded in force, against the stage's target, and
    # the exit code follows it
    data = json_of(result)
    outcome = data["outcome"]
    assert result.exit_code == (0 if outcome["target_met"] else 1), result.output
    incident = data["result"]["incident_id"]
    entries = AuditLog(stack.client("dynamodb"), stack.outputs["AuditTableName"]).entries(
        incident_id=incident
    )
    asked = next(e for e in entries if e.action == "transition:MANUAL_LEVEL")
    applied = next(e for e in entries if e.after.get("applied_stage") == "stage_1")
    assert outcome["seconds"] == (applied.at - asked.at).total_seconds()
    assert outcome["target_seconds"] == 120
    assert outcome["target_met"] == (outcome["seconds"] <= 120)
    assert outcome["held_until_recovered"] is True
    # and the incident id carries the stack's (simulated) time, the one clock of this output
    stamp = datetime.strptime(incident.split("-")[1], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    assert before <= stamp <= after
    status = json_of(cli("status", "--scope", SCOPE, "--json"))
    assert status["clock"] == "simulated clock, 75x"
    assert status["scopes"][0]["held_until_recovered"] is True
    assert "holds until recovered" in status["scopes"][0]["waiting_for"]


def test_level_3_says_what_the_revert_did(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given alice runs level 3 with --wait, and bob approves the revert while she waits
    def approve_when_asked(_seconds: float) -> None:
        current = record(stack)
        if current is not None and current.pending_approval is not None:
            stack.client("lambda").invoke(
                FunctionName=stack.outputs["ApprovalCallbackFunctionName"],
                Payload=json.dumps(
                    {
                        "incident_id": current.incident_id,
                        "decision": "approve",
                        "approver": "bob",
                        "reason": "ok",
                    }
                ).encode(),
            )
        time.sleep(0.3)

    monkeypatch.setattr("failsafe_tools.cli.rollback._pause", approve_when_asked)
    result = cli("rollback", "--level", "3", "--reason", "bad release", "--yes", "--as", "alice")
    monkeypatch.undo()

    # Then its last line is what the audit log recorded for the revert, and the exit code follows it
    incident = record(stack).incident_id
    log = json_of(cli("audit", "log", "--incident", incident, "--json"))
    skipped = [e for e in log if e["action"] == "release:revert_skipped"]
    reverted = [e for e in log if e["action"] == "release:revert"]
    assert skipped or reverted, log
    if skipped:
        assert result.exit_code == 1, result.output
        assert "revert: the revert did not happen" in result.output
        assert "revert is in force" not in result.output
        status = json_of(cli("status", "--scope", SCOPE, "--json"))["scopes"][0]
        assert status["revert_skipped"] == skipped[-1]["reason"]
    else:
        assert result.exit_code == 0, result.output
        assert "revert is in force" in result.output


def test_status_shows_a_gradual_restore_and_watch_redraws_until_normal(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the kill switch in force, then recovered with the gradual strategy (restore still deploying)
    assert applied(cli("kill-switch", "on", "--reason", "blank lists", "--yes", "--as", "alice"))
    recovered = cli("recover", "--scope", SCOPE, "--reason", "fixed", "--yes", "--as", "alice")
    assert recovered.exit_code == 0, recovered.output

    # When status runs during the restore
    data = json_of(cli("status", "--scope", SCOPE, "--json"))

    # Then it shows the scope NORMAL *and* the in-flight deployment with its strategy and percentage
    [deploying] = data["deployments_in_flight"]
    assert deploying["strategy"] == "gradual"
    assert 0 <= deploying["percentage_complete"] < 100
    assert data["scopes"][0]["state"] == "NORMAL"
    assert data["scopes"][0]["waiting_for"] == "the deployment in flight to complete"
    human = cli("status", "--scope", SCOPE)
    assert "deploying: config version" in human.output
    assert "gradual strategy" in human.output

    # When `status --watch` runs on a terminal (Rich console forced to one, recording what it draws)
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=200, emoji=False, highlight=False)
    monkeypatch.setattr("failsafe_tools.cli.status.console", lambda: terminal)
    watched = cli("status", "--watch", "--scope", SCOPE)

    # Then it redrew in place while the restore progressed and ended on NORMAL with exit 0
    assert watched.exit_code == 0, watched.output
    drawn = screen.getvalue()
    assert "\x1b[2K" in drawn  # erase-line: the live view redraws over itself
    assert "deploying" in drawn
    assert "NORMAL, nothing deploying" in drawn.splitlines()[-1]
    assert json_of(cli("status", "--scope", SCOPE, "--json"))["deployments_in_flight"] == []


def test_watch_prints_lines_when_not_a_terminal_and_ends_when_a_person_is_needed(stack: LocalStack) -> None:
    # Given the kill switch pulled by hand (it holds until recovered)
    assert applied(cli("kill-switch", "on", "--reason", "bad model", "--yes", "--as", "alice"))

    # When status --watch runs without a terminal
    result = cli("status", "--watch", "--scope", SCOPE)

    # Then plain lines, and it ends with 3: a person has to recover it
    assert result.exit_code == 3, result.output
    assert "\x1b[" not in result.output
    lines = own_lines(result.output)
    assert "(simulated clock, 75x)" in lines[0]
    assert "held until recovered" in lines[-1]


def test_abort_stops_the_workflow_and_keeps_what_is_in_force(stack: LocalStack) -> None:
    # Given level 2 in force, its workflow running (held until recovered, checking health)
    started = cli("rollback", "--level", "2", "--reason", "errors", "--yes", "--as", "alice", "--json")
    assert started.exit_code == (0 if json_of(started)["outcome"]["target_met"] else 1), started.output
    incident = json_of(started)["result"]["incident_id"]
    toggles_before = json_of(cli("toggles", "show", "--json"))

    # When alice aborts the incident
    aborted = cli("abort", incident, "--reason", "wrong scope, redo", "--yes", "--as", "alice")

    # Then the workflow is stopped, what was in force stays deployed and held, and it is audited
    assert aborted.exit_code == 0, aborted.output
    assert "in force and kept: stage_2" in aborted.output
    current = record(stack)
    assert current.incident_id == incident
    assert current.hold_until_recovered is True
    sfn = stack.client("stepfunctions")
    # (the execution's worker notices the stop on its own thread)
    wait_for(lambda: sfn.describe_execution(executionArn=current.execution_arn)["status"] == "ABORTED", 30)
    assert json_of(cli("toggles", "show", "--json")) == toggles_before
    log = json_of(cli("audit", "log", "--incident", incident, "--json"))
    [entry] = [e for e in log if e["action"] == "execution:aborted"]
    assert entry["actor"] == "alice"
    assert entry["details"]["kept_in_force"] == "stage_2"
    # and status says a person must act; a new level cannot join the dead workflow (one line, no internals)
    status = json_of(cli("status", "--scope", SCOPE, "--json"))["scopes"][0]
    assert status["execution"] == "ABORTED"
    assert status["waiting_for"].startswith("a person")
    refused = cli("rollback", "--level", "1", "--scope", SCOPE, "--reason", "x", "--yes", "--as", "alice")
    assert refused.exit_code == 1
    line = error_line(refused)
    assert "Recover the scope first" in line
    assert "Function" not in line
    # and aborting again is refused with the fix; recover ends the incident
    again = cli("abort", incident, "--reason", "again", "--yes", "--as", "alice")
    assert again.exit_code == 1
    assert "no running workflow" in error_line(again)
    ended = cli("recover", "--reason", "redo", "--immediate", "--yes", "--as", "alice")
    assert ended.exit_code == 0, ended.output
    assert record(stack).incident_id is None


def test_kill_switch_off_when_already_off_says_so(stack: LocalStack) -> None:
    # Given a NORMAL scope / When the kill switch is turned off
    result = cli("kill-switch", "off", "--reason", "sure?", "--yes", "--as", "alice")

    # Then it says it already is, changes nothing and exits 0
    assert result.exit_code == 0, result.output
    assert "the kill switch is already off in recommender/prod" in result.output
    assert record(stack) is None or record(stack).incident_id is None


def test_plan_reads_the_deployed_document_and_the_stack_scope(stack: LocalStack) -> None:
    # Given the kill switch in force (the deployed document holds its override)
    assert applied(cli("kill-switch", "on", "--reason", "blank lists", "--yes", "--as", "alice"))
    incident = record(stack).incident_id

    # When level 1 is planned
    result = cli("plan", "--level", "1", "--json")

    # Then it planned against the deployed document and says it joins the open incident
    assert result.exit_code == 0, result.output
    data = json_of(result)
    assert data["source"].startswith("deployed config version")
    assert data["joins"].startswith(incident)
    assert stack.outputs["NotificationTopicArn"] in data["notify"]

    # And a scope the stack does not own is refused with the scopes that exist
    foreign = cli("plan", "--level", "1", "--scope", "foo/bar")
    assert foreign.exit_code == 2
    assert "unknown scope" in error_line(foreign)

    # And the human output prints ARNs literally (`:secret:` is not an emoji)
    human = cli("plan", "--level", "1", "--dry-run")
    assert human.exit_code == 0, human.output
    assert ":secret:" in stack.outputs["PagerDutySecretArn"]
    assert stack.outputs["PagerDutySecretArn"] in human.output
    assert "slack" not in human.output


def test_validate_plurals_and_markup(stack: LocalStack) -> None:
    # Given a fresh-ish stack / When validate runs
    result = cli("validate")

    # Then the summary counts use the right plurals
    assert result.exit_code == 0, result.output
    summary = own_lines(result.output)[-1]
    found = re.fullmatch(r"(\d+) passed, (\d+) (warnings?), (\d+) failed", summary)
    assert found, summary
    assert found[3] == ("warning" if found[2] == "1" else "warnings")


# --- --json on every command ------------------------------------------------------------------------------


def command_paths() -> list[tuple[str, ...]]:
    """Every leaf command of the app (a new command shows up here and must get a JSON case below)."""
    root = typer.main.get_command(build_app())
    found: list[tuple[str, ...]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        children = getattr(command, "commands", None)
        if not children:
            found.append(path)
            return
        for name, sub in children.items():
            walk(sub, (*path, name))

    walk(root, ())
    return found


def test_every_command_has_json_that_parses(stack: LocalStack, tmp_path: Path) -> None:
    # Given every command of the app, each with an invocation on this stack
    state = tmp_path / "local.json"
    document = tmp_path / "doc.json"
    who = ("--as", "alice")
    incidents: dict[str, str] = {}

    def save_deployed() -> None:
        document.write_text(json.dumps(json_of(cli("toggles", "show", "--json"))), encoding="utf-8")

    def level_3() -> str:
        settle(stack)
        result = cli(
            "rollback", "--level", "3", "--reason", "bad release", "--yes", *who, "--no-wait", "--json"
        )
        assert result.exit_code == 0, result.output
        incident = json_of(result)["result"]["incident_id"]
        wait_for(lambda: record(stack).pending_approval is not None)
        incidents["last"] = incident
        return incident

    cases: dict[tuple[str, ...], tuple[Any, ...]] = {
        ("plan",): (None, ["plan", "--level", "2", "--json"], 0),
        ("status",): (None, ["status", "--json"], 0),
        ("rollback",): (None, ["rollback", "--level", "1", "--reason", "r", "--yes", *who, "--json"], None),
        ("recover",): (None, ["recover", "--reason", "r", "--yes", "--immediate", *who, "--json"], 0),
        ("kill-switch",): (None, ["kill-switch", "on", "--reason", "r", "--yes", *who, "--json"], None),
        ("approve",): (level_3, ["approve", "{incident}", "--as", "bob", "--json"], 0),
        ("reject",): (
            level_3,
            ["reject", "{incident}", "--as", "bob", "--reason", "stage 3 is enough", "--json"],
            0,
        ),
        ("abort",): (
            level_3,
            ["abort", "{incident}", "--reason", "r", "--yes", *who, "--json"],
            0,
        ),
        ("report",): (None, ["report", "{incident}", "--json"], 0),
        ("toggles", "show"): (None, ["toggles", "show", "--json"], 0),
        ("toggles", "diff"): (save_deployed, ["toggles", "diff", "deployed", str(document), "--json"], 0),
        ("toggles", "validate"): (None, ["toggles", "validate", str(document), "--json"], 0),
        ("audit", "verify"): (None, ["audit", "verify", "--json"], 0),
        ("audit", "log"): (None, ["audit", "log", "--incident", "{incident}", "--json"], 0),
        ("validate",): (lambda: settle(stack), ["validate", "--json"], 0),
        ("drill",): (None, ["drill", "--list", "--json"], 0),
        ("query",): (
            lambda: (tmp_path / "events").mkdir(exist_ok=True),
            [
                "query",
                "coverage",
                "--scope",
                "recommender/prod",
                "--events-dir",
                str(tmp_path / "events"),
                "--json",
            ],
            0,
        ),
        ("local", "up"): (
            None,
            ["local", "up", "--detach", "--port", "0", "--state-file", str(state), "--json"],
            0,
        ),
        ("local", "status"): (None, ["local", "status", "--state-file", str(state), "--json"], 0),
        ("local", "down"): (None, ["local", "down", "--state-file", str(state), "--json"], 0),
    }
    assert set(command_paths()) == set(cases), "every command needs a --json case here"

    # When each runs with --json / Then its stdout is one JSON document and the exit code is as expected
    for path, (setup, args, code) in cases.items():
        if setup is not None:
            setup()
        argv = [a.replace("{incident}", incidents.get("last", "")) for a in args]
        result = cli(*argv)
        data = json_of(result)
        # a level followed with --wait (code None): 0, or 1 when it missed its target (said in the JSON)
        expected = (0 if data["outcome"]["target_met"] else 1) if code is None else code
        assert result.exit_code == expected, (path, result.output)
