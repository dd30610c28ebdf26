"""`failsafe_tools.package`: a built package holds production code only and the module its Handler names."""

from __future__ import annotations

from pathlib import Path

import pytest

from failsafe_tools.package import PackageError, built_functions, check_contents

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
Resources:
  Ingest:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: Ingest
      Handler: failsafe.handlers.alarm_ingest.handler
"""


def build_dir(tmp_path: Path, *extra: str) -> Path:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    handler = tmp_path / "Ingest" / "failsafe" / "handlers" / "alarm_ingest.py"
    handler.parent.mkdir(parents=True)
    handler.write_text("def handler(event, context):\n    return event\n")
    for path in extra:
        (tmp_path / "Ingest" / path).mkdir(parents=True)
    return tmp_path


def test_a_package_of_production_code_passes(tmp_path: Path) -> None:
    # Given a built function with its handler module and nothing else of ours
    [function] = built_functions(build_dir(tmp_path))

    # When checked / Then it passes, with the runtime from Globals
    check_contents(function)
    assert function.runtime == "python3.11"
    assert function.handler_module.is_file()


@pytest.mark.parametrize(
    "tool", ["failsafe/local", "failsafe/cli", "failsafe/drill", "failsafe_tools", "tests"]
)
def test_a_package_holding_tools_is_refused_by_name(tmp_path: Path, tool: str) -> None:
    # Given a built function that also ships a tool
    [function] = built_functions(build_dir(tmp_path, tool))

    # When checked / Then the error names the function and what must not ship
    with pytest.raises(PackageError, match=f"Ingest: package holds {tool}/"):
        check_contents(function)


def test_a_package_without_its_handler_module_is_refused(tmp_path: Path) -> None:
    # Given a build whose handler module is missing
    root = build_dir(tmp_path)
    (root / "Ingest" / "failsafe" / "handlers" / "alarm_ingest.py").unlink()
    [function] = built_functions(root)

    # Then the check names the handler
    with pytest.raises(
        PackageError, match=r"handler 'failsafe\.handlers\.alarm_ingest\.handler' has no module"
    ):
        check_contents(function)


def test_no_built_template_says_to_run_sam_build(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="run `sam build`"):
        built_functions(tmp_path)
