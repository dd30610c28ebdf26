from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from failsafe.domain import schema
from failsafe.domain.baselines import BASELINES, BaselineName
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.plans import Plan
from failsafe.domain.toggles import ToggleDocument, ToggleSet

REPO = Path(__file__).resolve().parents[3]
APPCONFIG_VALIDATOR_LIMIT = 32768


def test_checked_in_generated_files_are_up_to_date() -> None:
    # Given / When
    outdated = schema.stale(REPO)

    # Then
    assert outdated == [], "run: python -m failsafe.domain.schema --write"


def test_check_exits_1_and_names_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given
    assert schema.main(["--write", "--root", str(tmp_path)]) == 0
    (tmp_path / schema.SCHEMA_PATH).write_text("{}\n", encoding="utf-8")

    # When
    code = schema.main(["--check", "--root", str(tmp_path)])

    # Then
    assert code == 1
    assert "stale: infra/appconfig/toggles.schema.json" in capsys.readouterr().err


def test_write_then_check_is_clean_and_deterministic(tmp_path: Path) -> None:
    # Given
    schema.main(["--write", "--root", str(tmp_path)])
    first = (tmp_path / schema.SCHEMA_PATH).read_bytes()

    # When
    code = schema.main(["--check", "--root", str(tmp_path)])

    # Then
    assert code == 0
    assert first == schema.render_schema().encode()
    assert first.endswith(b"}\n")


def test_schema_is_draft_04_and_fits_an_appconfig_validator() -> None:
    # Given
    generated = schema.toggles_schema()

    # When
    compact = json.dumps(generated, separators=(",", ":"), sort_keys=True)

    # Then
    jsonschema.Draft4Validator.check_schema(generated)
    assert generated["$schema"] == schema.DRAFT_04
    assert "$defs" not in compact
    assert '"const"' not in compact
    assert len(compact) < APPCONFIG_VALIDATOR_LIMIT


def test_example_document_validates_with_the_model_and_the_schema() -> None:
    # Given
    example = json.loads((REPO / schema.EXAMPLE_PATH).read_text(encoding="utf-8"))

    # When
    document = ToggleDocument.model_validate(example)

    # Then
    jsonschema.Draft4Validator(schema.toggles_schema()).validate(example)
    assert document.toggles == BASELINES[BaselineName.NORMAL]
    assert [o.stage for o in document.overrides] == ["stage_2"]


def test_schema_rejects_unknown_keys_and_out_of_range_values() -> None:
    # Given
    validator = jsonschema.Draft4Validator(schema.toggles_schema())
    example = json.loads((REPO / schema.EXAMPLE_PATH).read_text(encoding="utf-8"))
    unknown = example | {"toggles": example["toggles"] | {"turbo": True}}
    out_of_range = example | {"toggles": example["toggles"] | {"exposure_percent": 150}}

    # When
    unknown_errors = [e.message for e in validator.iter_errors(unknown)]
    range_errors = [e.message for e in validator.iter_errors(out_of_range)]

    # Then
    assert any("'turbo' was unexpected" in m for m in unknown_errors)
    assert any("150 is greater than the maximum of 100" in m for m in range_errors)


def test_checked_in_plan_and_baselines_load_back_to_the_defaults() -> None:
    # Given
    plan_file = REPO / schema.PLAN_PATH

    # When
    plan = Plan.model_validate_json(plan_file.read_text(encoding="utf-8"))
    baselines = {
        name: ToggleSet.model_validate_json((REPO / schema.BASELINES_DIR / f"{name.value}.json").read_text())
        for name in BaselineName
    }

    # Then
    assert plan == DEFAULT_PLAN
    assert baselines == dict(BASELINES)
