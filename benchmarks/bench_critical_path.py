"""Benchmark: the mitigation's critical path, from the alarm's state-change event to StartDeployment.

On a `LocalStack` over template.yaml (handlers in-process, ManualClock), breaching datapoints flip the first
P1 guardrail alarm; every AWS API call made until the controller's `appconfig:StartDeployment` is recorded
with the thread that made it (a Lambda handler runs in thread `lambda:<function>`; Step Functions' own
calls, such as `lambda:Invoke` of a Task, come from the interpreter's threads). From that log:

- serial Lambda hops: the functions that ran, in order, before StartDeployment (each one waits for the
  previous: EventBridge → AlarmIngest → StartExecution → the state machine's Tasks);
- AWS calls: per hop, and the Step Functions Task invocations;
- a modelled AWS latency: the hop count and the calls priced with the per-hop figures in `FIGURES` (typical
  figures for warm functions in one region; see each figure's note: they are a model, not an AWS SLA).

Notifications are not on the path: the state machine notifies after Apply started the deployment
(tests/unit/template/test_template.py::test_no_notification_sits_between_a_plan_and_its_apply).

Run: `.venv/bin/python benchmarks/bench_critical_path.py` (`--write` updates the `## bench_critical_path`
section of benchmarks/RESULTS.md and nothing else).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## bench_critical_path"
ALARM = "coverage-p1"

FIGURES: dict[str, tuple[float, str]] = {
    "eventbridge_to_lambda": (0.5, "EventBridge rule match and asynchronous delivery to a Lambda target"),
    "lambda_async_queue": (0.1, "Lambda's internal queue for an asynchronous (Event) invocation"),
    "lambda_invoke": (0.03, "a warm synchronous invocation's overhead, handler time excluded"),
    "sfn_start": (0.1, "StartExecution until the first state runs (Standard workflow)"),
    "sfn_transition": (0.05, "one state transition of a Standard workflow"),
    "dynamodb": (0.01, "a DynamoDB single-item call in the same region"),
    "appconfig": (0.15, "an AppConfig control-plane call (hosted version, StartDeployment, environment)"),
    "other": (0.05, "any other regional AWS API call"),
}


def _price(service: str) -> float:
    if service == "dynamodb":
        return FIGURES["dynamodb"][0]
    if service == "appconfig":
        return FIGURES["appconfig"][0]
    return FIGURES["other"][0]


def measure(template: Path) -> dict[str, Any]:
    from botocore.client import BaseClient
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: F401  (moto's backend is loaded)

    from failsafe_tools.local import lambda_runtime
    from failsafe_tools.local.clock import ManualClock
    from failsafe_tools.local.stack import LocalStack

    calls: list[tuple[str, str, str]] = []
    recording = threading.Event()
    original = BaseClient._make_api_call

    def record(self: Any, operation: str, params: Any) -> Any:
        if recording.is_set():
            calls.append((threading.current_thread().name, self.meta.service_model.service_name, operation))
        return original(self, operation, params)

    BaseClient._make_api_call = record  # type: ignore[method-assign]
    previous_mode = lambda_runtime.set_async_mode("inline")
    try:
        with LocalStack.start(template, clock=ManualClock(), ticker=False, agent=False) as stack:
            cw = stack.client("cloudwatch")
            name = f"{stack.outputs['AlarmNamePrefix']}{ALARM}"
            alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
            stack.tick(0)
            started = None
            for _ in range(int(alarm["EvaluationPeriods"]) + 3):
                cw.put_metric_data(
                    Namespace=alarm["Namespace"],
                    MetricData=[
                        {
                            "MetricName": alarm["MetricName"],
                            "Dimensions": alarm["Dimensions"],
                            "Value": float(alarm["Threshold"]) - 10.0,
                        }
                    ],
                )
                recording.set()
                started = time.perf_counter()
                result = stack.tick(float(alarm["Period"]))
                if any(c.alarm_name == name and c.current == "ALARM" for c in result.alarm_changes):
                    break
                recording.clear()
                calls.clear()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(op == "StartDeployment" for _, _, op in calls):
                time.sleep(0.01)
            wall = time.perf_counter() - (started or time.perf_counter())
            recording.clear()
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]
        lambda_runtime.set_async_mode(previous_mode)
    cut = next((i for i, (_, _, op) in enumerate(calls) if op == "StartDeployment"), None)
    if cut is None:
        raise SystemExit(f"no StartDeployment within 60 s of {name} firing; calls: {calls[:20]}")
    path = calls[: cut + 1]
    hops: list[dict[str, Any]] = []
    sfn_calls: list[str] = []
    for thread, service, operation in path:
        if thread.startswith("lambda:"):
            function = thread.removeprefix("lambda:").split("-")[1]
            if not hops or hops[-1]["function"] != function:
                hops.append({"function": function, "calls": []})
            hops[-1]["calls"].append(f"{service}:{operation}")
        elif service in ("lambda", "stepfunctions"):
            sfn_calls.append(f"{service}:{operation}")
    return {"alarm": name, "hops": hops, "sfn_calls": sfn_calls, "local_wall_s": wall}


def _serial(calls: list[str]) -> list[str]:
    """A hop's calls up to the one that hands on (StartExecution): what follows overlaps the next hop."""
    handoff = "stepfunctions:StartExecution"
    return calls[: calls.index(handoff) + 1] if handoff in calls else calls


def model(result: dict[str, Any]) -> dict[str, float]:
    hops = result["hops"]
    aws = sum(_price(call.split(":")[0]) for hop in hops for call in _serial(hop["calls"]))
    sfn_tasks = max(0, len(hops) - 1)
    fixed = (
        FIGURES["eventbridge_to_lambda"][0]
        + FIGURES["lambda_async_queue"][0]
        + len(hops) * FIGURES["lambda_invoke"][0]
        + (FIGURES["sfn_start"][0] if sfn_tasks else 0.0)
        + 2 * sfn_tasks * FIGURES["sfn_transition"][0]  # a Choice between Tasks, then the Task itself
    )
    return {"aws_calls_s": aws, "fixed_s": fixed, "total_s": aws + fixed}


def section(result: dict[str, Any]) -> str:
    hops = result["hops"]
    modelled = model(result)
    total_calls = sum(len(h["calls"]) for h in hops)
    rows = [
        f"| {i} | {hop['function']} | {len(_serial(hop['calls']))} of {len(hop['calls'])} | "
        f"{', '.join(hop['calls'])} |"
        for i, hop in enumerate(hops, 1)
    ]
    figures = [f"| {key} | {seconds:g} | {what} |" for key, (seconds, what) in FIGURES.items()]
    return "\n".join(
        [
            SECTION,
            "",
            "Command: `.venv/bin/python benchmarks/bench_critical_path.py --write`",
            "",
            f"Alarm `{result['alarm']}` → `appconfig:StartDeployment`, recorded on the local stack "
            f"(template.yaml, handlers in-process). {len(hops)} serial Lambda hops, {total_calls} AWS calls "
            f"made by them, {len(result['sfn_calls'])} made by Step Functions "
            f"({', '.join(result['sfn_calls']) or 'none'}). Notifications run after StartDeployment.",
            "",
            "| hop | function | AWS calls on the path (of all) | calls, in order |",
            "|---:|---|---:|---|",
            *rows,
            "",
            f"Modelled AWS latency, alarm event → StartDeployment: {modelled['total_s']:.2f} s "
            f"({modelled['fixed_s']:.2f} s of delivery, invocation and state transitions, "
            f"{modelled['aws_calls_s']:.2f} s of AWS calls on the path; AlarmIngest's calls after "
            "StartExecution overlap the next hop). Then the immediate deployment completes and "
            "every client has the toggles within one 15 s poll (+5 s). Figures (seconds, typical warm, one "
            "region; a model, not an AWS SLA):",
            "",
            "| figure | s | what |",
            "|---|---:|---|",
            *figures,
            "",
            "Before / after: the path was not shortened in this change (issue 14, section 3): it is "
            f"{len(hops)} serial Lambda hops before the deployment, as measured above.",
            "",
        ]
    )


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(key, value)
    text = section(measure(args.template))
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
