"""The README's "Operating it" and docs/runbook.md, walked top to bottom on the local stack.

Every `failsafe ...` line in them must exist (parse with the app: commands, options, required options), and
the ones that can run here run in the documented order and exit as documented. A line that cannot run here
is still parsed, and `NOT_RUN` says why. Placeholders (INCIDENT_ID, <incident-id>) become the incident the
walk has open; prompts are answered "y" as the operator would.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import typer
from typer.testing import CliRunner, Result

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
OPERATOR = "jane.doe"  # the runbook's `export FAILSAFE_OPERATOR=jane.doe`

NOT_RUN = {
    "failsafe status --stack failsafe-prod --region eu-west-1": "needs a deployed stack on AWS",
    "failsafe local up --detach": "starts a background server process; run by test_cli_operator's JSON test "
    "and tests/e2e/test_cli_local_server.py",
    "failsafe local down": "stops the server above",
    "failsafe validate --timing": "runs three levels in a shadow scope; tests/e2e/test_cli_local.py::"
    "test_validate_timing_measures_each_level_in_a_shadow_scope runs it",
    "failsafe drill": "a drill provisions its own stack for a minute; tests/e2e/test_drills.py runs them",
    "failsafe drill --scenario manual-level-3": "a drill, as above",
    "failsafe drill --scenario flapping": "a drill, as above",
    "failsafe drill --param VerifyWindowSeconds=300": "a drill, as above",
    "failsafe drill --scenario throttle-start-execution --speed 30": "a fault drill; "
    "tests/e2e/test_drills.py "
    "runs every fault drill",
}
# Lines that run with one addition, and why.
ADDED = {
    # the runbook's next line is another person approving: following the approval wait here would block
    "failsafe rollback --level 3 --scope recommender/prod --reason 'bad release 2026.11.3'": ["--no-wait"],
}
# Documented exit codes other than 0, and why this walk reaches them.
EXITS = {
    # the README's level 3 above is in force and holds until recovered: a person is needed (exit 3)
    "failsafe status --watch --scope recommender/prod": 3,
}


def blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def documented_lines() -> list[tuple[str, str]]:
    """(where, line) of every `failsafe ...` command, in document order (comments dropped)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    operating = readme.split("## Operating it", 1)[1].split("\n## ", 1)[0]
    runbook = (REPO / "docs" / "runbook.md").read_text(encoding="utf-8")
    found = []
    for where, text in (("README Operating it", operating), ("runbook", runbook)):
        for block in blocks(text):
            for raw in block.splitlines():
                for part in raw.split(" / "):
                    if part.strip().split(" ", 1)[0] != "failsafe":
                        continue
                    words = shlex.split(part, comments=True)
                    if words and words[0] == "failsafe":
                        found.append((where, shlex.join(words)))
    return found


def canonical(line: str) -> str:
    return shlex.join(shlex.split(line, comments=True))


def parses(words: list[str]) -> None:
    """Resolve the command path and parse its options as click does (unknown command or option, missing
    required option: click raises)."""
    command: Any = typer.main.get_command(build_app())
    rest = list(words)
    while isinstance(command, click.Group):
        name, rest = rest[0], rest[1:]
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"no command {name!r} in {words}"
        command = sub
    command.make_context(words[0], rest)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    fresh_lambda_containers()
    local = LocalStack.start(REPO / "template.yaml", {"LogLevel": "WARNING"}, clock=SpeedClock(75))
    with use_local_stack(local):
        yield local
    local.stop()


def cli(*args: str) -> Result:
    return CliRunner(env={"FAILSAFE_OPERATOR": OPERATOR}).invoke(build_app(), list(args), input="y\n")


def json_of(result: Result) -> Any:
    return json.loads("\n".join(ln for ln in result.stdout.splitlines() if not ln.startswith('{"')))


def wait_for(predicate: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_every_documented_command_parses() -> None:
    # Given every failsafe line of the README's "Operating it" and the runbook
    lines = documented_lines()
    assert len(lines) > 30

    # When / Then each one parses with the app (the commands and options exist)
    for where, line in lines:
        try:
            parses(shlex.split(line)[1:])
        except click.ClickException as exc:
            pytest.fail(f"{where}: `{line}` does not parse: {exc.format_message()}")


def test_walk_the_readme_and_the_runbook_on_the_local_stack(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each line runs in order and exits 0 (as documented); the setups are what the operator did before."""
    monkeypatch.chdir(tmp_path)
    documented = {line for _, line in documented_lines()}
    assert set(NOT_RUN) | set(ADDED) | set(EXITS) <= documented, (
        "a NOT_RUN/ADDED line is no longer in the docs"
    )
    store = StateStore(stack.client("dynamodb"), stack.outputs["StateTableName"], DEFAULT_PLAN)
    incident = {"id": ""}

    def pending() -> bool:
        current = store.get(SCOPE)
        return current is not None and current.pending_approval is not None

    def level_3_by_someone_else() -> None:
        # a new incident: whoever asked for a level of the open one (jane.doe, above) cannot approve it
        cli("recover", "--reason", "setup", "--immediate", "--yes")
        result = cli("rollback", "--level", "3", "--reason", "setup", "--yes", "--as", "alice", "--no-wait")
        assert result.exit_code == 0, result.output
        wait_for(pending)

    def fresh_level_3() -> None:
        cli("recover", "--reason", "setup", "--immediate", "--yes")
        result = cli("rollback", "--level", "3", "--reason", "setup", "--yes", "--no-wait")
        assert result.exit_code == 0, result.output
        wait_for(pending)

    def proposed_file() -> None:
        document = json_of(cli("toggles", "show", "--json"))
        (tmp_path / "my-proposed.json").write_text(json.dumps(document), encoding="utf-8")

    # what the operator had done before a line (the docs show alternatives or a second person)
    setups: dict[str, Callable[[], None]] = {
        canonical('failsafe approve INCIDENT_ID --reason "checked the diff"'): level_3_by_someone_else,
        canonical(
            'failsafe reject  <incident-id> --as second.engineer --reason "stage 3 is enough"'
        ): fresh_level_3,
        canonical("failsafe toggles diff deployed my-proposed.json"): proposed_file,
        # the second engineer approves once the level 3 above asks for it (after stages 1-3 are in force)
        canonical("failsafe approve <incident-id> --as second.engineer"): lambda: wait_for(pending),
    }
    ran = 0
    for where, line in documented_lines():
        words = shlex.split(line)
        if line in NOT_RUN:
            parses(words[1:])
            continue
        if line in setups:
            setups[line]()
        current = store.get(SCOPE)
        if current is not None and current.incident_id:
            incident["id"] = current.incident_id
        argv = [incident["id"] if w in ("INCIDENT_ID", "<incident-id>") else w for w in words[1:]]
        result = cli(*argv, *ADDED.get(line, []))
        expected = EXITS.get(line, 0) if where.startswith("README") else 0
        if "is in force but missed its target" in result.output:
            expected = (
                1  # documented: a level that missed its target (on the stack's clock, on a loaded host)
            )
        assert result.exit_code == expected, f"{where}: `{line}` exited {result.exit_code}:\n{result.output}"
        assert "Traceback" not in result.output
        ran += 1
    assert ran >= 25
