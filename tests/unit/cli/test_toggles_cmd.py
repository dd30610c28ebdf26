"""`failsafe toggles validate|diff|show --file`: documents checked as AppConfig's validators check them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from failsafe.domain.baselines import BASELINES, BaselineName
from failsafe.domain.toggles import Metadata, ToggleDocument
from failsafe_tools.cli.app import build_app

runner = CliRunner()


def document(baseline: BaselineName = BaselineName.NORMAL, **overrides: Any) -> dict[str, Any]:
    data = ToggleDocument(
        metadata=Metadata(version=3, environment="prod", author="alice", reason="test"),
        toggles=BASELINES[baseline],
    ).model_dump(mode="json")
    data["toggles"].update(overrides)
    return data


def write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_a_valid_document_passes(tmp_path: Path) -> None:
    # Given the normal baseline as a document / When validated / Then it is valid
    result = runner.invoke(build_app(), ["toggles", "validate", str(write(tmp_path, "ok.json", document()))])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    assert "version 3" in result.output


def test_schema_violations_are_listed_with_their_field(tmp_path: Path) -> None:
    # Given a document with an out-of-range exposure and an unknown toggle
    path = write(tmp_path, "bad.json", document(exposure_percent=150, turbo=True))

    # When validated
    result = runner.invoke(build_app(), ["toggles", "validate", str(path)])

    # Then it fails and names both fields
    assert result.exit_code == 1
    assert "toggles.exposure_percent" in result.output
    assert "turbo" in result.output


def test_semantic_rules_beyond_the_schema_are_checked(tmp_path: Path) -> None:
    # Given CF disabled while collab_only (schema-valid, semantically invalid)
    path = write(tmp_path, "conflict.json", document(disable_cf=True, policy_mode="collab_only"))

    # When validated / Then the rule naming both fields fails it
    result = runner.invoke(build_app(), ["toggles", "validate", str(path)])
    assert result.exit_code == 1
    assert "disable_cf" in result.output
    assert "collab_only" in result.output


def test_not_json_is_one_line_with_the_position(tmp_path: Path) -> None:
    # Given a broken file / When validated / Then one error line with line and column, exit 2
    result = runner.invoke(build_app(), ["toggles", "validate", str(write(tmp_path, "x.json", "{nope"))])
    assert result.exit_code == 2
    assert "not JSON" in result.output
    assert "line 1 column 2" in result.output


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    # Given no file / When validated / Then it says it cannot read it
    result = runner.invoke(build_app(), ["toggles", "validate", str(tmp_path / "missing.json")])
    assert result.exit_code == 2
    assert "cannot read it" in result.output


def test_diff_of_two_files_lists_changed_toggles_only(tmp_path: Path) -> None:
    # Given the normal and the emergency baselines as files
    before = write(tmp_path, "a.json", document())
    after = write(tmp_path, "b.json", document(BaselineName.EMERGENCY))

    # When diffed
    result = runner.invoke(build_app(), ["toggles", "diff", str(before), str(after)])

    # Then the kill switch and exposure changes are listed and unchanged toggles are not
    assert result.exit_code == 0, result.output
    assert "kill_switch" in result.output
    assert "exposure_percent" in result.output
    assert "region_scope" not in result.output


def test_diff_of_identical_documents(tmp_path: Path) -> None:
    # Given one file twice / When diffed / Then there is nothing to show
    path = write(tmp_path, "a.json", document())
    result = runner.invoke(build_app(), ["toggles", "diff", str(path), str(path)])
    assert "no toggle changes in any scope" in result.output


def test_show_a_file_as_json_round_trips(tmp_path: Path) -> None:
    # Given a file / When shown as JSON / Then it parses back into the same toggles
    path = write(tmp_path, "a.json", document(BaselineName.DEGRADED))
    result = runner.invoke(build_app(), ["toggles", "show", "--file", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert ToggleDocument.model_validate_json(result.output).toggles == BASELINES[BaselineName.DEGRADED]
