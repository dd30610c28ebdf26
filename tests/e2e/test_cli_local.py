"""Every operator command through Typer's runner against the local stack, including the bad inputs.

One local stack (template.yaml, clock at 75x) serves the whole module; the CLI finds it through
`use_local_stack`, exactly as `--target local` finds a running stack.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from failsafe.aws.audit_log import AuditLog
from failsafe.aws.state_store import StateStore
from failsafe_tools.cli.app import build_app
from failsafe_tools.cli.target import use_local_stack
from failsafe_tools.cli.validate import level_timing
from failsafe_tools.drill.runner import fresh_lambda_containers
from failsafe_tools.local.clock import SpeedClock
from failsafe_tools.local.iam_auth import Operator, create_operators
from failsafe_tools.local.stack import LocalStack

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SCOPE = "recommender/prod"


OPERATORS: dict[str, Operator] = {}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    fresh_lambda_containers()
    local = LocalStack.start(REPO / "template.yaml", {"LogLevel": "WARNING"}, clock=SpeedClock(75))
    # The demo operators (alice, bob on call; erin engineering manager; carol CTO) as AWS profiles.
    OPERATORS.update({op.name: op for op in create_operators(local.client("iam"))})
    with use_local_stack(local):
        yield local
    local.stop()


@pytest.fixture(autouse=True)
def back_to_normal(stack: LocalStack) -> Iterator[None]:
    """Each test starts and leaves the scope NORMAL (a failed test must not leak its incident)."""
    yield
    if scope_state(stack)[1] is not None:
        cli("recover", "--scope", SCOPE, "--reason", "test cleanup", "--immediate", "--yes", who="erin")


def cli(*args: str, input: str | None = None, who: str | None = None) -> Result:
    """`failsafe ARGS`, signing as demo operator `who` through the credential chain's environment variables
    (the in-process Lambdas share this process's environment, so no AWS_PROFILE they cannot resolve)."""
    env: dict[str, str | None] | None = None
    if who:
        op = OPERATORS[who]
        env = {
            "AWS_ACCESS_KEY_ID": op.access_key_id,
            "AWS_SECRET_ACCESS_KEY": op.secret_access_key,
            "AWS_SESSION_TOKEN": None,
            "AWS_PROFILE": None,
        }
    return CliRunner().invoke(build_app(), list(args), input=input, env=env)


def json_of(result: Result) -> Any:
    """The command's JSON. In-process Lambdas of the local stack print one-line JSON logs and EMF to the
    same stdout from their own threads; those lines are not the command's (indented) output."""
    lines = [line for line in result.output.splitlines() if not line.startswith('{"')]
    return json.loads("\n".join(lines))


def status(stack: LocalStack) -> dict[str, Any]:
    result = cli("status", "--scope", SCOPE, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json_of(result)
    return data


def scope_state(stack: LocalStack) -> tuple[str, str | None]:
    record = StateStore(stack.client("dynamodb"), stack.outputs["StateTableName"]).get(SCOPE)
    return (record.state, record.incident_id) if record else ("NORMAL", None)


def wait_for(stack: LocalStack, predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out; scope is {scope_state(stack)}")


def one_error_line(result: Result) -> str:
    """The command's own lines (see `json_of`: in-process Lambdas log JSON to the same stdout)."""
    lines = [line for line in result.output.splitlines() if line.strip() and not line.startswith('{"')]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    assert lines[0].startswith("error:")
    return lines[0]


def test_status_of_a_fresh_stack_is_normal(stack: LocalStack) -> None:
    # Given a freshly provisioned stack / When `failsafe status` runs
    result = cli("status")

    # Then every scope is NORMAL and nothing is in ALARM
    assert result.exit_code == 0, result.output
    assert "NORMAL" in result.output
    assert "alarms in ALARM: none" in result.output


def test_dry_run_prints_the_plan_and_changes_nothing(stack: LocalStack) -> None:
    # Given a NORMAL scope / When a level 2 dry run is asked for
    result = cli("rollback", "--level", "2", "--scope", SCOPE, "--reason", "p95 up", "--dry-run", who="erin")

    # Then the plan shows the diff, approvals and target time, and the scope is untouched
    assert result.exit_code == 0, result.output
    for text in (
        "policy_mode",
        "content_only",
        "approvals: none",
        "target time: in force within 5.0 min",
        "blast radius",
        "dry run: nothing was changed",
    ):
        assert text in result.output
    assert scope_state(stack) == ("NORMAL", None)


def test_declining_the_confirmation_changes_nothing(stack: LocalStack) -> None:
    # Given the operator answers no / When a real level 1 is asked for
    result = cli("rollback", "--level", "1", "--scope", SCOPE, "--reason", "p95 up", who="erin", input="n\n")

    # Then it stops with one line and the scope stays NORMAL
    assert result.exit_code == 1
    assert "not confirmed; nothing was changed" in result.output
    assert scope_state(stack) == ("NORMAL", None)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["rollback", "--level", "2", "--scope", "recommender/staging", "--reason", "x"], "unknown scope"),
        (
            ["rollback", "--level", "2", "--scope", "recommender", "--reason", "x"],
            "expected 'service/environment",
        ),
        (["rollback", "--level", "2", "--scope", "recommender/prod/zone=a", "--reason", "x"], "region=..."),
        (["rollback", "--level", "2", "--scope", SCOPE], "needs a recorded reason; add --reason"),
        (["rollback", "--level", "2", "--scope", SCOPE, "--reason", "   "], "needs a recorded reason"),
        (["rollback", "--level", "7", "--reason", "x"], "--level 7: choose one of 1, 2, 3, emergency"),
        (["kill-switch", "on"], "kill-switch on needs a recorded reason"),
        (["kill-switch", "maybe", "--reason", "x"], "say `failsafe kill-switch on"),
        (["recover", "--scope", SCOPE], "a manual recover needs a recorded reason"),
        (["reject", "inc-x"], "a rejection needs a recorded reason"),
        (["status", "--scope", "recommender/dev"], "unknown scope"),
        (["report", "inc-x", "--format", "pdf"], "--format pdf: choose one of md, json, html"),
        (["drill", "--scenario", "meteor"], "choose one of latency"),
        (["drill", "--speed", "0"], "--speed 0: must be > 0"),
        (["drill", "--param", "nonsense"], "expected Key=Value"),
    ],
)
def test_bad_input_is_one_line_with_the_fix(stack: LocalStack, args: list[str], expected: str) -> None:
    # Given a bad argument / When the command runs
    result = cli(*args)

    # Then it exits 2 with one line naming the input and the fix, and nothing changed
    assert result.exit_code == 2, result.output
    assert expected in one_error_line(result)
    assert scope_state(stack) == ("NORMAL", None)


def test_rollback_applies_the_level_and_recover_returns_to_normal(stack: LocalStack) -> None:
    # Given a NORMAL scope
    before = status(stack)["deployed"]["config_version"]

    # When level 1 is run with --yes
    result = cli(
        "rollback", "--level", "1", "--scope", SCOPE, "--reason", "cache misses", "--yes", who="erin"
    )

    # Then the CLI watched it to "in force", and the stack shows ROLLED_BACK at stage_1 with a new version
    assert result.exit_code == 0, result.output
    assert "stage_1 is in force" in result.output
    data = status(stack)
    scope = data["scopes"][0]
    assert scope["applied_stage"] == "stage_1"
    assert scope["state"] in ("DEGRADED", "ROLLED_BACK", "RECOVERY_VERIFY")  # Level 1 is DEGRADED
    assert data["deployed"]["config_version"] != before
    incident = scope["incident_id"]

    # When the operator recovers by hand
    result = cli("recover", "--scope", SCOPE, "--reason", "false alarm", "--immediate", "--yes", who="erin")

    # Then the scope is NORMAL again and the report of the incident has its full timeline
    assert result.exit_code == 0, result.output
    assert f"{SCOPE} is NORMAL" in result.output
    assert scope_state(stack) == ("NORMAL", None)
    report = cli("report", incident, "--format", "json")
    assert report.exit_code == 0, report.output
    kinds = {e["kind"] for e in json_of(report)["timeline"]["events"]}
    assert {"lifecycle:transition", "execution:started", "deployment:complete"} <= kinds


def test_report_formats_and_unknown_incident(stack: LocalStack, tmp_path: Path) -> None:
    # Given an incident opened by the kill switch and closed again
    assert cli("kill-switch", "on", "--reason", "bad model", "--yes", who="erin").exit_code == 0
    incident = status(stack)["scopes"][0]["incident_id"]
    assert cli("kill-switch", "off", "--reason", "model fixed", "--yes", who="erin").exit_code == 0

    # When its report is rendered as Markdown and as HTML to a file
    md = cli("report", incident)
    html_file = tmp_path / "r.html"
    html = cli("report", incident, "--format", "html", "--output", str(html_file))

    # Then the Markdown has the timeline and who did what, the HTML a chart; an unknown id is one line
    assert md.exit_code == 0, md.output
    assert "## Timeline" in md.output
    assert "**arn:aws:iam::123456789012:user/erin**" in md.output  # the verified principal, not a name
    assert "ROLLBACK_PENDING (emergency)" in md.output
    assert html.exit_code == 0
    assert "<svg" in html_file.read_text()
    unknown = cli("report", "inc-does-not-exist")
    assert unknown.exit_code == 1
    assert "is unknown to the in-process local stack" in one_error_line(unknown)


def test_level_3_waits_for_someone_else_and_an_expired_approval_changes_nothing(stack: LocalStack) -> None:
    # Given erin (engineering manager) runs level 3 (it ends with the release revert, which needs approval)
    result = cli(
        "rollback",
        "--level",
        "3",
        "--scope",
        SCOPE,
        "--reason",
        "bad release",
        "--yes",
        "--watch-timeout",
        "3",
        who="erin",
    )
    store = StateStore(stack.client("dynamodb"), stack.outputs["StateTableName"])
    wait_for(stack, lambda: (r := store.get(SCOPE)) is not None and r.pending_approval is not None)
    record = store.get(SCOPE)
    assert record is not None
    assert record.incident_id
    incident = record.incident_id
    assert "waiting for approval" in result.output

    # When erin tries to approve her own request
    own = cli("approve", incident, who="erin")

    # Then it is refused with one line, and the approval is still pending
    assert own.exit_code == 1
    assert "cannot approve it" in one_error_line(own)
    pending = store.get(SCOPE)
    assert pending is not None
    assert pending.pending_approval is not None

    # When the approval window passes and carol (CTO) approves too late
    stack.clock.advance((pending.pending_approval.expires_at - stack.clock.now()).total_seconds() + 1)  # type: ignore[attr-defined]
    late = cli("approve", incident, who="carol")

    # Then it is refused (expired, or already closed by the workflow's own timeout at the same instant), and
    # the controller stays safe at the stage already in force: nothing was reverted
    assert late.exit_code == 1
    line = one_error_line(late)
    assert "expired" in line or "nothing is waiting for approval" in line
    wait_for(stack, lambda: (r := store.get(SCOPE)) is not None and r.pending_approval is None)
    after = store.get(SCOPE)
    assert after is not None
    assert after.incident_id == incident
    assert after.state != "NORMAL"
    assert (
        cli("recover", "--scope", SCOPE, "--reason", "cleanup", "--immediate", "--yes", who="carol").exit_code
        == 0
    )


def test_ctrl_c_only_stops_watching(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the watcher is interrupted at its first pause
    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("failsafe_tools.cli.rollback._pause", interrupt)

    # When level 2 is started and Ctrl-C arrives
    result = cli("rollback", "--level", "2", "--scope", SCOPE, "--reason", "errors", "--yes", who="erin")
    monkeypatch.undo()

    # Then the CLI exits 130, and the server-side workflow still applies the level in full
    assert result.exit_code == 130, result.output
    assert "stopped watching; the rollback continues server-side" in result.output
    store = StateStore(stack.client("dynamodb"), stack.outputs["StateTableName"])
    wait_for(stack, lambda: (r := store.get(SCOPE)) is not None and r.lifecycle.applied_stage == "stage_2")
    toggles = cli("toggles", "show", "--json")
    assert toggles.exit_code == 0, toggles.output
    override = json_of(toggles)["overrides"][0]
    assert override["toggles"]["policy_mode"] == "content_only"
    assert (
        cli("recover", "--scope", SCOPE, "--reason", "cleanup", "--immediate", "--yes", who="carol").exit_code
        == 0
    )


def test_validate_reports_pass_warn_fail_with_exit_codes(stack: LocalStack) -> None:
    # Given the provisioned stack, whose PagerDuty secret has no value yet
    result = cli("validate", "--json")

    # Then it fails on exactly that, with the command that fixes it
    assert result.exit_code == 1
    failed = [c for c in json_of(result) if c["status"] == "fail"]
    assert [c["name"] for c in failed] == ["PagerDuty secret"]
    assert "put-secret-value" in failed[0]["fix"]

    # When the routing key is stored and one alarm's actions are disabled
    stack.client("secretsmanager").put_secret_value(
        SecretId=stack.outputs["PagerDutySecretArn"], SecretString="k"
    )
    alarm = stack.outputs["AlarmNamePrefix"] + "latency-p1"
    stack.client("cloudwatch").disable_alarm_actions(AlarmNames=[alarm])
    disabled = cli("validate", "--json")
    stack.client("cloudwatch").enable_alarm_actions(AlarmNames=[alarm])
    healthy = cli("validate")

    # Then the disabled alarm fails by name, and with actions back on every check passes
    assert disabled.exit_code == 1
    assert [(c["name"], c["detail"]) for c in json_of(disabled) if c["status"] == "fail"] == [
        ("latency-p1", "actions are disabled")
    ]
    assert healthy.exit_code == 0, healthy.output
    assert "0 failed" in healthy.output


def test_validate_timing_measures_each_level_in_a_shadow_scope(stack: LocalStack) -> None:
    # Given a healthy stack / When timing is asked for
    result = cli("validate", "--timing", "--json", who="erin")

    # Then levels 1, 2 and emergency were each run in the shadow scope and measured from their audit entries:
    # the seconds reported are the simulated-clock time from the level's request to the transition that put
    # its stage in force, and pass/fail is that time against the stage's target (how fast this host computes
    # is a benchmark's business, not this test's)
    checks = {c["name"]: c for c in json_of(result) if c["group"] == "timing"}
    audit = AuditLog(stack.client("dynamodb"), stack.outputs["AuditTableName"])
    for level, stage in (("1", "stage_1"), ("2", "stage_2"), ("emergency", "emergency")):
        check = checks[f"level {level}"]
        found = re.fullmatch(
            rf"{stage} applied in (\d+) s \(target (\d+) s\), incident (\S+)", check["detail"]
        )
        assert found, check
        seconds, target, incident = int(found[1]), int(found[2]), found[3]
        timing = level_timing(audit.entries(incident_id=incident), stage)
        assert timing is not None
        assert seconds == round(timing.seconds)
        assert check["status"] == ("pass" if timing.seconds <= target else "fail")
    assert checks["level 3"]["status"] == "warn"
    record = StateStore(stack.client("dynamodb"), stack.outputs["StateTableName"]).get(
        "recommender/prod/region=failsafe-shadow"
    )
    assert record is not None
    assert record.state == "NORMAL"


def test_audit_verify_passes_then_detects_tampering(stack: LocalStack) -> None:
    # Given the audit log written by the commands above
    ok = cli("audit", "verify")
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    # And every entry the functions wrote was witnessed in their CloudWatch Logs
    verified = json_of(cli("audit", "verify", "--json"))
    assert verified["witnessed"] == verified["entries"] > 0

    # When someone rewrites one entry's reason in DynamoDB
    dynamodb = stack.client("dynamodb")
    table = stack.outputs["AuditTableName"]
    item = dynamodb.get_item(TableName=table, Key={"chain": {"S": "failsafe"}, "seq": {"N": "3"}})["Item"]
    entry = json.loads(item["entry"]["S"])
    entry["reason"] = "nothing to see here"
    item["entry"] = {"S": json.dumps(entry)}
    dynamodb.put_item(TableName=table, Item=item)

    # Then verification fails and names the entry
    broken = cli("audit", "verify")
    assert broken.exit_code == 1
    assert "BROKEN" in broken.output
    assert "seq 3: content does not match its hash" in broken.output


def test_audit_verify_detects_the_newest_entries_deleted(stack: LocalStack) -> None:
    # Given the audit log, whose newest entry someone deletes (what remains is still a valid chain)
    dynamodb = stack.client("dynamodb")
    table = stack.outputs["AuditTableName"]
    newest = dynamodb.query(
        TableName=table,
        KeyConditionExpression="#c = :c",
        ExpressionAttributeNames={"#c": "chain"},
        ExpressionAttributeValues={":c": {"S": "failsafe"}},
        ScanIndexForward=False,
        Limit=1,
    )["Items"][0]["seq"]["N"]
    dynamodb.delete_item(TableName=table, Key={"chain": {"S": "failsafe"}, "seq": {"N": newest}})

    # When the chain is verified
    broken = cli("audit", "verify")

    # Then its CloudWatch Logs witness shows the entry is gone
    assert broken.exit_code == 1
    assert f"seq {newest}: witnessed when written but missing now" in broken.output
