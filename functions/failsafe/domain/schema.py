"""The checked-in files generated from the domain's data and models.

- `infra/appconfig/toggles.schema.json`: the AppConfig JSON Schema validator, from `ToggleDocument`.
  AppConfig validates with JSON Schema Draft-04, so pydantic's 2020-12 output is lowered to it
  (`definitions`, `enum` for `const`, boolean exclusive bounds). The interaction rules between toggles are
  beyond a schema; the Lambda validator runs the model itself.
- `infra/catalog/guardrails.json`: the guardrail catalog (`catalog.DEFAULT_CATALOG`).
- `infra/plans/default.json`: the default rollback plan (`plans.DEFAULT_PLAN`).
- `infra/appconfig/baselines/<name>.json`: each safety baseline as a toggle set.
- `infra/appconfig/runtime_toggles.example.json`: a toggles document with the safe defaults (the normal
  baseline) and a rollback profile: Stage 2 in force for one region during an incident.

`python -m failsafe.domain.schema --write` regenerates them; `--check` exits 1 when any is stale.
Output is deterministic: sorted keys, two-space indent, trailing newline.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from failsafe.domain.baselines import BASELINES, BaselineName
from failsafe.domain.catalog import DEFAULT_CATALOG, render_catalog
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.plan_documents import apply_to_document
from failsafe.domain.scope import Scope
from failsafe.domain.toggles import Metadata, ToggleDocument

DRAFT_04 = "http://json-schema.org/draft-04/schema#"
REPO_ROOT = Path(__file__).resolve().parents[3]
SCHEMA_PATH = Path("infra/appconfig/toggles.schema.json")
CATALOG_PATH = Path("infra/catalog/guardrails.json")
PLAN_PATH = Path("infra/plans/default.json")
BASELINES_DIR = Path("infra/appconfig/baselines")
EXAMPLE_PATH = Path("infra/appconfig/runtime_toggles.example.json")
EXAMPLE_AT = datetime(2026, 1, 1, tzinfo=UTC)


def _dumps(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def toggles_schema() -> dict[str, Any]:
    lowered = _to_draft_04(ToggleDocument.model_json_schema())
    assert isinstance(lowered, dict)
    return {"$schema": DRAFT_04, **lowered}


def render_schema() -> str:
    return _dumps(toggles_schema())


def _to_draft_04(node: object) -> object:
    if isinstance(node, list):
        return [_to_draft_04(item) for item in node]
    if not isinstance(node, dict):
        return node
    lowered: dict[str, object] = {}
    for key, value in node.items():
        if key == "$defs":
            lowered["definitions"] = _to_draft_04(value)
        elif key == "$ref" and isinstance(value, str):
            lowered["$ref"] = value.replace("#/$defs/", "#/definitions/")
        elif key == "const":
            lowered["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            lowered["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            lowered[key] = True
        else:
            lowered[key] = _to_draft_04(value)
    return lowered


def example_document() -> ToggleDocument:
    safe_defaults = ToggleDocument(
        metadata=Metadata(
            version=1,
            environment="prod",
            author="failsafe",
            reason="safe defaults: the normal baseline",
            updated_at=EXAMPLE_AT,
        ),
        toggles=BASELINES[BaselineName.NORMAL],
    )
    return apply_to_document(
        safe_defaults,
        DEFAULT_PLAN,
        "stage_2",
        Scope.parse("recommender/prod/region=eu-west-1"),
        incident_id="recommender-prod-region-eu-west-1-example",
        author="failsafe-controller",
        reason="rollback profile: coverage-p1 fired in eu-west-1",
        at=EXAMPLE_AT,
    )


def artifacts() -> Mapping[Path, Callable[[], str]]:
    """Every generated file, relative to the repository root, and how to render it."""
    generated: dict[Path, Callable[[], str]] = {
        SCHEMA_PATH: render_schema,
        CATALOG_PATH: lambda: render_catalog(DEFAULT_CATALOG),
        PLAN_PATH: lambda: _dumps(DEFAULT_PLAN.model_dump(mode="json")),
        EXAMPLE_PATH: lambda: _dumps(example_document().model_dump(mode="json")),
    }
    for name, toggles in BASELINES.items():
        generated[BASELINES_DIR / f"{name.value}.json"] = partial(_dumps, toggles.model_dump(mode="json"))
    return generated


def stale(root: Path) -> list[Path]:
    return [
        path
        for path, render in artifacts().items()
        if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != render()
    ]


def write(root: Path) -> list[Path]:
    changed = stale(root)
    for path in changed:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(artifacts()[path](), encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m failsafe.domain.schema", description=__doc__.split("\n")[0]
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate the files")
    mode.add_argument("--check", action="store_true", help="exit 1 when a file is stale")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    args = parser.parse_args(argv)
    if args.write:
        for path in write(args.root):
            print(f"wrote {path}")
        return 0
    outdated = stale(args.root)
    for path in outdated:
        print(f"stale: {path} (run: python -m failsafe.domain.schema --write)", file=sys.stderr)
    return 1 if outdated else 0


if __name__ == "__main__":
    raise SystemExit(main())
