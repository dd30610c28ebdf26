"""Import boundaries between the layers, read from the source (no module is imported).

The domain is pure: it imports nothing of ours outside `failsafe.domain`. Production code (`failsafe`) never
imports the tools. The controller's records live in the domain, so no controller module takes a record type
from an adapter.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FAILSAFE = ROOT / "functions" / "failsafe"
TOOLS = ROOT / "tools" / "failsafe_tools"
RECORD_TYPES = {
    "ScopeRecord",
    "AlarmObservation",
    "PendingApproval",
    "IncidentPointer",
    "AuditEvent",
    "AuditEntry",
    "AuditWitness",
}


def _imports(path: Path) -> Iterator[tuple[str, set[str]]]:
    """(module, imported names) for every import in `path`, including those inside functions."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, set()


def _violations(folder: Path, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        for module, _ in _imports(path):
            if module.startswith(forbidden) and not module.startswith(allowed):
                found.append(f"{path.relative_to(ROOT)} imports {module}")
    return found


def test_the_domain_imports_nothing_of_ours_outside_the_domain() -> None:
    # Given the domain package / When its imports are read / Then each one of ours stays inside it
    assert _violations(FAILSAFE / "domain", ("failsafe", "failsafe_tools"), ("failsafe.domain",)) == []


def test_production_code_imports_no_tools() -> None:
    # Given every production package / When its imports are read / Then none reaches into the tools
    assert _violations(FAILSAFE, ("failsafe_tools",)) == []


def test_no_controller_module_takes_a_record_type_from_an_adapter() -> None:
    # Given the controller's modules
    found = []
    for path in sorted((FAILSAFE / "controller").rglob("*.py")):
        for module, names in _imports(path):
            # When a module imports from failsafe.aws / Then it is never one of the domain's record types
            if module.startswith("failsafe.aws") and names & RECORD_TYPES:
                found.append(f"{path.relative_to(ROOT)}: {sorted(names & RECORD_TYPES)} from {module}")
    assert found == []


ADAPTERS = {
    "StateStore",
    "AuditLog",
    "AppConfigDeployer",
    "Executions",
    "Notifier",
    "PagerDutyClient",
    "ReleaseManager",
    "ReportWriter",
    "EfficacyReader",
    "AlarmStateReader",
    "Runtime",
}


def test_use_cases_depend_on_ports_not_on_the_aws_wiring() -> None:
    # Given the controller's use-case modules (all but the wiring itself)
    found = []
    for path in sorted((FAILSAFE / "controller").rglob("*.py")):
        if path.name in {"runtime.py", "ports.py"}:
            continue
        for module, names in _imports(path):
            # When a module imports / Then it takes no adapter class and no Runtime: only `Ports`
            if names & ADAPTERS:
                found.append(f"{path.relative_to(ROOT)}: {sorted(names & ADAPTERS)} from {module}")
    assert found == []


def test_the_drill_reaches_a_stack_without_the_cli() -> None:
    # Given the drill package / When its imports are read
    # Then none is the CLI's: it reaches a stack through failsafe_tools.target
    assert _violations(TOOLS / "drill", ("failsafe_tools.cli",)) == []


def test_target_carries_no_cli_framework() -> None:
    # Given the shared Target module / When its imports are read / Then no Typer type is part of it
    assert [m for m, _ in _imports(TOOLS / "target.py") if m.startswith("typer")] == []


def test_nothing_outside_the_handlers_reaches_into_their_private_module() -> None:
    # Given the tools and the tests / When their imports are read
    found = []
    for folder in (TOOLS, ROOT / "tests"):
        for path in sorted(folder.rglob("*.py")):
            for module, names in _imports(path):
                # Then none takes a private name of failsafe.handlers._common
                if module == "failsafe.handlers._common" and any(
                    n.startswith("_") or "reset" in n for n in names
                ):
                    found.append(f"{path.relative_to(ROOT)}: {sorted(names)}")
    assert found == []


def test_unit_tests_import_no_moto() -> None:
    # Given every module under tests/unit / When its imports are read / Then none is moto (no AWS in unit/)
    assert _violations(ROOT / "tests" / "unit", ("moto",)) == []
