"""The files under infra/ and the generated sections of template.yaml are rendered from code, by `make`."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _recipe(target: str) -> list[str]:
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^{target}:", line))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def test_make_generate_renders_every_generated_file_and_check_generated_checks_them() -> None:
    # Given the Makefile / When its generate and check-generated targets are read
    generate, check = " ".join(_recipe("generate")), " ".join(_recipe("check-generated"))
    # Then both generators run: the infra/ files and the template's generated sections
    assert "failsafe.domain.schema --write" in generate
    assert "infra/sync_template.py" in generate
    assert "failsafe.domain.schema --check" in check
    assert "infra/sync_template.py --check" in check


def test_the_readme_names_the_code_as_the_source_and_the_generators() -> None:
    # Given the README / Then it does not claim the plan and catalog live in data, and names the generators
    readme = (ROOT / "README.md").read_text()
    assert "live in data" not in readme
    assert "infra/sync_template.py" in readme
    assert "make generate" in readme
