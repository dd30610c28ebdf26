"""Benchmark: fault → toggles in force, per drill scenario, against the catalog's budget for its trigger.

Runs every drill scenario on the embedded local AWS (template.yaml, handlers in-process; a shorter verify
window and restore than production, which are not scored) and reports, from each scorecard: the alarm that
fired, its severity and M-of-N window, fault → alarm, fault → every client serving the rollback (in force)
and the target (P1 5 min, P2 10 min; security, audit and cost triggers keep their own durations). The drill
clock is a discrete-event simulation, so these are simulated seconds and do not depend on the host.

Run: `.venv/bin/python benchmarks/bench_drill_targets.py` (`--write` updates the `## bench_drill_targets`
section of benchmarks/RESULTS.md and nothing else).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## bench_drill_targets"
QUICK = {
    "LogLevel": "WARNING",
    "VerifyWindowSeconds": "300",
    "RestoreDurationMinutes": "2",
    "RestoreBakeMinutes": "1",
}


def run(name: str) -> dict[str, Any]:
    from failsafe.domain.catalog import DEFAULT_CATALOG
    from failsafe_tools.drill.runner import DrillOptions, run_drill
    from failsafe_tools.drill.scenarios import get_scenario

    scenario = get_scenario(name)
    parameters = dict(QUICK)
    if scenario.flapping is not None:  # the re-fire needs its breach inside the verify window
        del parameters["VerifyWindowSeconds"]
    with tempfile.TemporaryDirectory() as reports:
        result = run_drill(
            DrillOptions(
                scenario=scenario,
                parameters=parameters,
                template=ROOT / "template.yaml",
                report_dir=Path(reports),
                max_simulated_seconds=100 * 60,
            )
        )
    card = result.scorecard
    measures = {m.name: m for m in card.measures}
    alarm = card.milestones.alarm_name
    rule = None
    if alarm:
        rule = next((r for r in DEFAULT_CATALOG.rules if alarm.endswith("-" + r.name)), None)
    in_force = measures.get("fault to in force")
    return {
        "scenario": name,
        "alarm": rule.name if rule else "(operator)",
        "window": (
            f"{rule.severity.value}, {rule.datapoints} of {rule.evaluation_periods} x {rule.period_seconds}s"
            if rule
            else "-"
        ),
        "trigger_s": measures["trigger"].seconds if "trigger" in measures else None,
        "in_force_s": in_force.seconds if in_force else None,
        "target_s": in_force.target_seconds if in_force else None,
        "met": in_force.met if in_force else None,
        "passed": card.passed,
        "stage": card.milestones.stage,
    }


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s ({value / 60:.1f} min)"


def section(rows: list[dict[str, Any]]) -> str:
    lines = [
        SECTION,
        "",
        "Command: `.venv/bin/python benchmarks/bench_drill_targets.py --write`",
        "",
        "Simulated seconds (the drill clock does not depend on the host). Verify window 5 min and restore "
        "2 min (not scored); production trigger windows from `infra/catalog/guardrails.json`.",
        "",
        "| scenario | trigger | window (M of N) | fault → alarm | fault → in force | target | met "
        "| all targets |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        met = "-" if r["met"] is None else ("yes" if r["met"] else "NO")
        lines.append(
            f"| {r['scenario']} | {r['alarm']} | {r['window']} | {_s(r['trigger_s'])} "
            f"| {_s(r['in_force_s'])} | {_s(r['target_s'])} | {met} | {'yes' if r['passed'] else 'NO'} |"
        )
    return "\n".join([*lines, ""])


def write_section(text: str, path: Path = RESULTS) -> None:
    body = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    start = body.find(SECTION + "\n")
    if start == -1:
        body = body.rstrip("\n") + "\n\n" + text
    else:
        end = body.find("\n## ", start + len(SECTION))
        body = body[:start] + text + ("" if end == -1 else "\n" + body[end + 1 :])
    path.write_text(body.rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    from failsafe_tools.drill.scenarios import SCENARIOS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("scenarios", nargs="*", default=sorted(SCENARIOS))
    args = parser.parse_args(argv)
    text = section([run(name) for name in args.scenarios])
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
