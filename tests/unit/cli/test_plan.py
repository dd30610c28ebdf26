from __future__ import annotations

import functools
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from failsafe_tools.cli.app import USAGE_ERROR, build_app
from failsafe_tools.cli.plan import normal_document

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "infra" / "appconfig" / "runtime_toggles.example.json"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})


@functools.cache
def _normal_file() -> str:
    """The normal baseline as a document file: these tests plan offline with --from (no stack); planning
    against a running stack's deployed document is tests/e2e/test_cli_operator.py's."""
    path = Path(tempfile.mkdtemp(prefix="plan-")) / "normal.json"
    path.write_text(normal_document("prod", datetime.now(UTC)).model_dump_json(), encoding="utf-8")
    return str(path)


def _plan(runner: CliRunner, *args: str):
    if "--from" not in args:
        args = (*args, "--from", _normal_file())
    return runner.invoke(build_app(), ["plan", *args])


def test_level_2_dry_run_prints_diff_target_approvals_blast_radius_and_stages(runner: CliRunner) -> None:
    # Given / When
    result = _plan(runner, "--level", "2", "--dry-run")

    # Then
    assert result.exit_code == 0, result.output
    out = result.output
    assert "level 2 in recommender/prod" in out
    assert "dry run: nothing is deployed" in out
    assert "stage_1" in out
    assert "stage_2" in out
    assert "stage_3" not in out.split("Toggle diff")[0]
    assert '"hybrid_default"' in out
    assert '"content_only"' in out
    assert "target time: in force within 300 s (5 min)" in out
    assert "approvals needed: none (may be run by engineering_manager, cto)" in out
    assert "recommender/prod is 100% of recommender/prod traffic" in out
    assert "25% of the scope's traffic is served the fallback" in out
    assert "document: version 1 -> 2" in out


def test_level_3_names_the_approval_and_the_revert_action(runner: CliRunner) -> None:
    # Given / When
    result = _plan(runner, "--level", "3", "--dry-run")

    # Then
    assert result.exit_code == 0, result.output
    assert "approvals needed: revert needs approval by cto" in result.output
    assert "revert_to_last_known_good" in result.output
    assert "target time: in force within 600 s (10 min)" in result.output


def test_emergency_requires_a_reason_and_no_approval(runner: CliRunner) -> None:
    # Given / When
    result = _plan(runner, "--level", "emergency", "--dry-run")

    # Then
    assert result.exit_code == 0, result.output
    assert "reason required: yes" in result.output
    assert "approvals needed: none" in result.output
    assert "100% of the scope's traffic is served the fallback" in result.output


def test_regional_scope_with_traffic_shares_computes_the_blast_radius(
    runner: CliRunner, tmp_path: Path
) -> None:
    # Given
    traffic = tmp_path / "traffic.json"
    traffic.write_text(json.dumps({"regions": {"eu-west-1": 0.25, "us-east-1": 0.75}}), encoding="utf-8")

    # When
    result = _plan(
        runner,
        "--level",
        "1",
        "--dry-run",
        "--scope",
        "recommender/prod/region=eu-west-1",
        "--traffic",
        str(traffic),
    )

    # Then
    assert result.exit_code == 0, result.output
    assert "recommender/prod/region=eu-west-1 is 25% of recommender/prod traffic" in result.output
    assert "(25% of recommender/prod)" in result.output


def test_from_file_previews_against_the_current_document_and_joins_its_incident(runner: CliRunner) -> None:
    # Given
    scope = "recommender/prod/region=eu-west-1"

    # When
    result = _plan(runner, "--level", "3", "--dry-run", "--scope", scope, "--from", str(EXAMPLE))

    # Then
    assert result.exit_code == 0, result.output
    assert (
        "the scope is held by incident recommender-prod-region-eu-west-1-example (now at stage_2)"
        in result.output
    )
    assert "document: version 2 -> 3" in result.output
    assert "experiment_freeze" in result.output


def test_other_scopes_overrides_stay_untouched(runner: CliRunner) -> None:
    # Given
    scope = "recommender/prod/region=us-east-1"

    # When
    result = _plan(runner, "--level", "1", "--dry-run", "--scope", scope, "--from", str(EXAMPLE))

    # Then
    assert result.exit_code == 0, result.output
    assert "1 other scope override untouched" in result.output
    assert "region=eu-west-1" not in result.output.split("Toggle diff")[1]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--level", "7", "--dry-run"], "error: --level 7: choose one of 1, 2, 3, emergency"),
        (
            ["--level", "2", "--dry-run", "--scope", "recommender"],
            "error: --scope recommender: expected 'service/environment[/region=a,b][/cohort=c][/client=d]'",
        ),
        (
            ["--level", "2", "--dry-run", "--scope", "recommender/prod/zone=a"],
            "error: --scope recommender/prod/zone=a: "
            "'zone=a' is not region=..., cohort=... or client=... with a value",
        ),
        (
            ["--level", "2", "--dry-run", "--scope", "recommender/staging", "--from", str(EXAMPLE)],
            "error: --scope recommender/staging: the document is for environment 'prod', not 'staging'",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_a_non_zero_exit(
    runner: CliRunner, args: list[str], line: str
) -> None:
    # Given / When
    result = _plan(runner, *args)

    # Then
    assert result.exit_code == USAGE_ERROR
    assert result.stderr.strip() == line
    assert result.stdout == ""


def test_unreadable_and_invalid_files_name_the_option_and_the_problem(
    runner: CliRunner, tmp_path: Path
) -> None:
    # Given
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"metadata": {}, "toggles": {}}), encoding="utf-8")

    # When
    missing = _plan(runner, "--level", "1", "--dry-run", "--from", str(tmp_path / "nope.json"))
    not_json = _plan(runner, "--level", "1", "--dry-run", "--from", str(broken))
    not_valid = _plan(runner, "--level", "1", "--dry-run", "--from", str(invalid))

    # Then
    assert missing.exit_code == not_json.exit_code == not_valid.exit_code == USAGE_ERROR
    assert (
        missing.stderr.strip()
        == f"error: --from {tmp_path / 'nope.json'}: cannot read it (No such file or directory)"
    )
    assert not_json.stderr.strip().startswith(f"error: --from {broken}: not JSON: Expecting property name")
    assert not_valid.stderr.strip().startswith(
        f"error: --from {invalid}: not a valid ToggleDocument: metadata.version: Field required"
    )


def test_a_plan_file_replaces_the_default_plan(runner: CliRunner, tmp_path: Path) -> None:
    # Given: the default plan with a slower Stage 1
    data = json.loads((REPO / "infra" / "plans" / "default.json").read_text(encoding="utf-8"))
    data["stages"][0]["target_seconds"] = 90
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(data), encoding="utf-8")

    # When
    result = _plan(runner, "--level", "1", "--dry-run", "--plan", str(plan_file))

    # Then
    assert result.exit_code == 0, result.output
    assert "target time: in force within 90 s (1.5 min)" in result.output


def test_unknown_region_share_is_reported_as_unknown(runner: CliRunner) -> None:
    # Given / When
    result = _plan(runner, "--level", "1", "--dry-run", "--scope", "recommender/prod/region=eu-west-1")

    # Then
    assert result.exit_code == 0, result.output
    assert "share of recommender/prod traffic is unknown (pass --traffic)" in result.output
    assert "(recommender/prod: unknown)" in result.output


def test_app_lists_plan_as_a_command(runner: CliRunner) -> None:
    # Given / When
    result = runner.invoke(build_app(), ["--help"])

    # Then
    assert result.exit_code == 0
    assert "plan" in result.output


def test_plan_without_a_document_and_without_a_stack_refuses_with_the_fix(
    runner: CliRunner, tmp_path: Path
) -> None:
    # Given no --from document and no local stack running
    # When plan runs (it reads the deployed document of the target)
    result = runner.invoke(build_app(), ["plan", "--level", "2", "--state-file", str(tmp_path / "none.json")])

    # Then it says how to get a stack instead of planning against a built-in baseline
    assert result.exit_code == USAGE_ERROR
    assert result.stderr.strip().startswith("error: no local stack is running; start one with")
    assert result.stdout == ""


def test_plan_without_dry_run_is_still_only_a_preview_and_json_parses(runner: CliRunner) -> None:
    # Given / When plan runs without --dry-run, as JSON
    result = _plan(runner, "--level", "2", "--json")

    # Then it is the same preview (nothing deployed) and the notify routing is the real one
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["changed"] is False
    assert data["stages"] == ["stage_1", "stage_2"]
    assert "SNS topic" in data["notify"]
    assert "PagerDuty" in data["notify"]
    assert "slack" not in data["notify"]
