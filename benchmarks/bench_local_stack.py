"""Benchmark: the embedded local AWS: provisioning template.yaml, and one alarm → event → Lambda round trip.

Measured in one process, each against a baseline taken in the same run:

1. Provisioning. `provision(template.yaml)` inside a fresh `mock_aws` (SAM expansion,
   intrinsics, creation of every resource through boto3, the stack record), with the local pieces installed.
   - baseline: a fresh `mock_aws` start plus one `dynamodb.create_table` (what any moto test pays at least);
   - the first provisioning of the process ("cold": moto imports each service's module on first use and
     botocore loads each service model once) is reported on its own; the rest are "warm" repeats.
2. Round trip. On a `LocalStack` over template.yaml with a ManualClock: breaching datapoints for the first
   guardrail alarm that the template routes through EventBridge to a Lambda, then `tick()` minute by minute.
   The round trip is the tick in which the alarm flips: alarm evaluation (every alarm of the template), the
   "CloudWatch Alarm State Change" event, rule matching and the target Lambda (the real handler, in-process)
   run to completion. The Lambda's completion is checked in its CloudWatch Logs (END and REPORT lines).
   - baseline: the same Lambda invoked directly (`lambda.invoke`) with the event it received (a new event id
     each time, so no idempotency short cut).

3. The main job. `failsafe drill`'s default run (latency scenario, default clock speed, production
   windows) end to end: provisioning, warm-up traffic, the fault, the alarm, the rollback, verification,
   the restore and the report. Its wall time is what a newcomer waits for `make demo`; the tests do not
   time it. It runs twice: on the machine as it is, then beside two CPU-bound processes
   (`python -c "while True: pass"` x2), and the two scorecards are compared measure by measure (the drill
   clock is a discrete-event simulation: they must agree within a simulated second).
   - baseline: the warm provisioning of template.yaml above (every drill pays it once).

Run: `.venv/bin/python benchmarks/bench_local_stack.py` (`--write` updates the `## bench_local_stack`
section of benchmarks/RESULTS.md and nothing else; `--repeats N` for the warm repeats; `--skip-drill`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## bench_local_stack"
REGION = "us-east-1"


def _env() -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        os.environ.setdefault(key, value)


def _client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]


def baseline_once() -> float:
    """A fresh mock_aws plus one create_table, in seconds."""
    from moto import mock_aws

    started = time.perf_counter()
    with mock_aws():
        _client("dynamodb").create_table(
            TableName="baseline",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        return time.perf_counter() - started


def provision_once(template: Path) -> tuple[float, int]:
    """A fresh mock_aws (as LocalStack configures it) plus provisioning of `template`, in seconds."""
    from moto import mock_aws

    from failsafe_tools.local import stepfunctions
    from failsafe_tools.local.provision import provision
    from failsafe_tools.local.provision.moto_iam import ensure_aws_managed_policy
    from failsafe_tools.local.stack import MOTO_CONFIG, install_pieces, register_code

    install_pieces()
    started = time.perf_counter()
    with mock_aws(config=MOTO_CONFIG):
        stack = provision(
            template,
            client=_client,
            render_definition=stepfunctions.render_definition,
            on_function=[register_code],
            ensure_managed_policy=lambda arn: ensure_aws_managed_policy(arn, "123456789012"),
        )
        return time.perf_counter() - started, len(stack.resources)


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def _lambda_target(stack: Any) -> tuple[str, str, dict[str, Any]] | None:
    """(rule name, function name, pattern) of the first rule on alarm state changes with a Lambda target."""
    events = stack.client("events")
    for rule in events.list_rules()["Rules"]:
        pattern = json.loads(rule.get("EventPattern") or "{}")
        if "aws.cloudwatch" not in pattern.get("source", []):
            continue
        for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
            if ":lambda:" in target["Arn"]:
                return rule["Name"], target["Arn"].rsplit(":", 1)[-1], pattern
    return None


def _matches(pattern: dict[str, Any], alarm_name: str) -> bool:
    names = (pattern.get("detail") or {}).get("alarmName")
    if not names:
        return True
    for entry in names:
        if isinstance(entry, str) and entry == alarm_name:
            return True
        if isinstance(entry, dict) and "prefix" in entry and alarm_name.startswith(entry["prefix"]):
            return True
    return False


def _breaching(alarm: dict[str, Any]) -> float:
    threshold = float(alarm["Threshold"])
    operator = alarm["ComparisonOperator"]
    if operator.startswith("Greater"):
        return threshold + max(1.0, abs(threshold))
    return threshold - max(1.0, abs(threshold)) if threshold > 0 else threshold - 1.0


def round_trip(template: Path) -> dict[str, Any]:
    """Alarm → event → Lambda on a LocalStack; returns timings and what ran."""
    from failsafe_tools.local import eventbridge
    from failsafe_tools.local.clock import ManualClock
    from failsafe_tools.local.stack import LocalStack

    with LocalStack.start(template, clock=ManualClock(), ticker=False, agent=False) as stack:
        target = _lambda_target(stack)
        if target is None:
            return {
                "skipped": "the template has no EventBridge rule on alarm state changes with a Lambda target"
            }
        rule, function, pattern = target
        cw = stack.client("cloudwatch")
        alarms = [
            a
            for a in cw.describe_alarms(AlarmTypes=["MetricAlarm"])["MetricAlarms"]
            if not a.get("Metrics") and a.get("Statistic") and _matches(pattern, a["AlarmName"])
        ]
        if not alarms:
            return {"skipped": f"no simple metric alarm matches rule {rule}"}
        alarm = alarms[0]
        stack.tick(0)  # settle: every alarm leaves INSUFFICIENT_DATA first, as after a deployment
        eventbridge.clear_delivery_log()
        value = _breaching(alarm)
        flip: float | None = None
        ticks = 0
        for _ in range(int(alarm["EvaluationPeriods"]) + 3):
            cw.put_metric_data(
                Namespace=alarm["Namespace"],
                MetricData=[
                    {
                        "MetricName": alarm["MetricName"],
                        "Dimensions": alarm.get("Dimensions", []),
                        "Value": value,
                    }
                ],
            )
            started = time.perf_counter()
            result = stack.tick(float(alarm["Period"]))
            elapsed = time.perf_counter() - started
            ticks += 1
            if any(c.alarm_name == alarm["AlarmName"] and c.current == "ALARM" for c in result.alarm_changes):
                flip = elapsed
                break
        if flip is None:
            return {"skipped": f"alarm {alarm['AlarmName']} did not reach ALARM after {ticks} periods"}
        delivered = [
            r
            for r in eventbridge.delivery_log()
            if r.target_arn.endswith(":" + function) and r.input["detail"]["alarmName"] == alarm["AlarmName"]
        ]
        logs = stack.client("logs")
        group = f"/aws/lambda/{function}"
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        lines = [
            e["message"]
            for s in streams
            for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]
        ]
        event = delivered[-1].input if delivered else None
        direct: list[float] = []
        if event is not None:
            lam = stack.client("lambda")
            for _ in range(5):
                fresh = {**event, "id": str(uuid.uuid4())}  # a new event id: no idempotency short cut
                started = time.perf_counter()
                response = lam.invoke(FunctionName=function, Payload=json.dumps(fresh).encode())
                response["Payload"].read()
                direct.append(time.perf_counter() - started)
        return {
            "alarm": alarm["AlarmName"],
            "function": function,
            "alarms_in_stack": len(cw.describe_alarms()["MetricAlarms"]),
            "round_trip_s": flip,
            "delivered": len(delivered),
            "lambda_completed": any(line.startswith("REPORT RequestId") for line in lines),
            "lambda_errors": sum(1 for line in lines if line.startswith("[ERROR]")),
            "direct_invoke_s": _median(direct) if direct else None,
        }


def drill_once(template: Path, *, cpu_hogs: int = 0) -> dict[str, Any]:
    """The default `failsafe drill`, timed in wall and CPU seconds, beside `cpu_hogs` busy processes."""
    import subprocess
    import tempfile

    from failsafe_tools.drill.runner import DEFAULT_SPEED, DrillOptions, run_drill
    from failsafe_tools.drill.scenarios import DEFAULT_SCENARIO, get_scenario

    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cpu_hogs)]
    try:
        with tempfile.TemporaryDirectory() as reports:
            started, cpu = time.perf_counter(), time.process_time()
            result = run_drill(
                DrillOptions(
                    scenario=get_scenario(DEFAULT_SCENARIO),
                    speed=DEFAULT_SPEED,
                    template=template,
                    report_dir=Path(reports),
                    max_simulated_seconds=3600,
                )
            )
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    m = result.scorecard.milestones
    return {
        "scenario": DEFAULT_SCENARIO,
        "speed": DEFAULT_SPEED,
        "cpu_hogs": cpu_hogs,
        "wall_s": wall,
        "cpu_s": cpu,
        "simulated_s": (m.normal - m.fault).total_seconds() if m.normal and m.fault else None,
        "passed": result.scorecard.passed,
        "final_state": result.final_state,
        "requests": result.requests,
        "measures": {x.name: x.seconds for x in result.scorecard.measures},
    }


def scorecard_difference(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """The largest difference, in simulated seconds, between two drills' measures (None: one is missing)."""
    diffs = []
    for name, seconds in a["measures"].items():
        other = b["measures"].get(name)
        if seconds is None or other is None:
            if seconds is not other:
                return None
            continue
        diffs.append(abs(seconds - other))
    return max(diffs, default=0.0)


def _section(report: dict[str, Any]) -> str:
    p = report["provisioning"]
    rt = report["round_trip"]
    drill = report.get("drill")
    rows = [
        f"| baseline: fresh mock_aws + one create_table (warm) | {p['baseline_s']:.3f} | 1.0x |",
        f"| provision template.yaml, first in the process (cold imports) | {p['cold_s']:.3f} | "
        f"{p['cold_s'] / p['baseline_s']:.1f}x |",
        f"| provision template.yaml (warm) | {p['warm_s']:.3f} | {p['warm_s'] / p['baseline_s']:.1f}x |",
    ]
    notes: list[str] = []
    if "skipped" in rt:
        notes.append(f"Round trip not measured: {rt['skipped']}.")
    else:
        ratio = f"{rt['round_trip_s'] / rt['direct_invoke_s']:.1f}x" if rt["direct_invoke_s"] else "n/a"
        rows += [
            f"| baseline: direct `lambda.invoke` of {rt['function'].split('-')[1]} "
            f"with the same event (new id) | {rt['direct_invoke_s']:.3f} | 1.0x |",
            f"| alarm → event → Lambda round trip (the flipping tick: {rt['alarms_in_stack']} alarms "
            f"evaluated, event delivered, Lambda run) | {rt['round_trip_s']:.3f} | {ratio} |",
        ]
        notes.append(
            f"Round trip: alarm `{rt['alarm']}`; deliveries to the target: {rt['delivered']}; "
            f"Lambda completed: {'yes' if rt['lambda_completed'] else 'NO'}; "
            f"unhandled errors in its log: {rt['lambda_errors']}."
        )
    targets = (
        f"Provisioning target (issue 3): well under 5 s. Cold: {p['cold_s']:.2f} s, "
        f"warm: {p['warm_s']:.2f} s."
    )
    drills = report.get("drills") or []
    for drill in drills:
        simulated = f"{drill['simulated_s'] / 60:.1f} simulated min" if drill["simulated_s"] else "n/a"
        beside = f"beside {drill['cpu_hogs']} CPU-bound processes" if drill["cpu_hogs"] else "machine as is"
        rows.append(
            f"| `failsafe drill` ({drill['scenario']}, clock {drill['speed']:g}x, {beside}; "
            f"fault → NORMAL: {simulated}; CPU {drill['cpu_s']:.1f} s) | {drill['wall_s']:.1f} | "
            f"{drill['wall_s'] / p['warm_s']:.0f}x the warm provisioning |"
        )
        notes.append(
            f"Drill ({beside}): final state {drill['final_state']}, every target met: "
            f"{'yes' if drill['passed'] else 'NO'}, {drill['requests']} requests served; scorecard: "
            + ", ".join(
                f"{name} {'-' if v is None else f'{v:.1f} s'}" for name, v in drill["measures"].items()
            )
            + "."
        )
    if len(drills) == 2:
        diff = scorecard_difference(drills[0], drills[1])
        same = diff is not None and diff <= 1.0
        notes.append(
            "Same scorecard with and without CPU load (target ±1 simulated second): "
            f"{'yes' if same else 'NO'}, largest difference "
            f"{'n/a (a measure is missing in one run)' if diff is None else f'{diff:.2f} s'}."
        )
    if drills:
        targets += (
            " Main job (`make demo`, issue 14: ≤ 20 s on 2 cores): the drill took "
            f"{drills[0]['wall_s']:.0f} s ({drills[0]['cpu_s']:.0f} s of CPU in this process)."
        )
    lines = [
        SECTION,
        "",
        "Command: `.venv/bin/python benchmarks/bench_local_stack.py --write`",
        "",
        f"{report['machine']}. template.yaml: {p['resources']} resources after SAM expansion. "
        f"Warm figures are medians of {p['repeats']} runs in the same process.",
        "",
        "| measurement | seconds | vs. baseline |",
        "|---|---:|---:|",
        *rows,
        "",
        *(line for note in notes for line in (note, "")),
        targets,
        "",
    ]
    return "\n".join(lines)


def write_section(section: str, path: Path = RESULTS) -> None:
    """Replace (or append) the `## bench_local_stack` section, leaving every other section as it is."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    start = text.find(SECTION + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + ("" if end == -1 else "\n" + text[end + 1 :])
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def _machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"Python {platform.python_version()} on {platform.machine()} ({platform.system()}, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the end of the run)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--skip-drill", action="store_true", help="leave out the two default drills")
    args = parser.parse_args(argv)
    if not args.template.is_file():
        print(f"error: {args.template} not found", file=sys.stderr)
        return 1
    _env()
    baseline_once()  # moto core imports, the DynamoDB model: not part of either measurement
    cold, resources = provision_once(args.template)
    warm = [provision_once(args.template)[0] for _ in range(args.repeats)]
    baselines = [baseline_once() for _ in range(args.repeats)]
    trip = round_trip(args.template)
    report = {
        "machine": _machine(),
        "provisioning": {
            "resources": resources,
            "repeats": args.repeats,
            "cold_s": cold,
            "warm_s": _median(warm),
            "baseline_s": _median(baselines),
        },
        "round_trip": trip,
    }
    if not args.skip_drill:
        report["drills"] = [drill_once(args.template), drill_once(args.template, cpu_hogs=2)]
    section = _section(report)
    print(section)
    if args.write:
        write_section(section)
        print(f"updated {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
