"""`run_drill`: the whole loop on the embedded local AWS, measured from what the stack recorded.

1. Start the local stack from template.yaml on a `SpeedClock` (`speed` simulated seconds per wall second)
   and deploy the normal toggles through AppConfig (the pre-incident release, version 1).
2. Start reference-recommender traffic (`TrafficGenerator`): the real client polls the local AppConfig
   agent, every request's EMF goes into the local CloudWatch.
3. After a healthy warm-up, inject the scenario's fault (or, for a manual scenario, invoke the
   ManualRollback function as an operator and approve from a second identity through ApprovalCallback).
4. Let the alarms fire and the controller act; repair the fault while the controller verifies recovery;
   wait until the scope is back to NORMAL (or the simulated deadline passes).
5. Merge the timeline from the alarm state changes, the execution history, the AppConfig deployments,
   the audit log and the client's version changes; compute the scorecard; write the incident report.

All waiting goes through the stack's clock. Nothing is measured from assumptions: each milestone is an
event one of those sources recorded.

The orchestration (steps 1-4) is `failsafe_tools.drill.session`, the measurement (step 5)
`failsafe_tools.drill.measurement`; this module runs one after the other around a fresh local stack.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from failsafe.aws.pagerduty import PagerDutyClient
from failsafe_tools.drill.measurement import finish, write_report
from failsafe_tools.drill.options import (
    DEFAULT_SPEED,
    DrillError,
    DrillOptions,
    DrillProgress,
    DrillResult,
)
from failsafe_tools.drill.pagerduty import PagerDutySink
from failsafe_tools.drill.session import DrillSession, fresh_lambda_containers
from failsafe_tools.target import use_local_stack

PAGERDUTY_CLIENT_TIMEOUT = float(inspect.signature(PagerDutyClient.__init__).parameters["timeout"].default)
"""Seconds the controller's PagerDuty client waits for an answer (`failsafe.aws.pagerduty`'s default)."""

__all__ = [
    "DEFAULT_SPEED",
    "DrillError",
    "DrillOptions",
    "DrillProgress",
    "DrillResult",
    "fresh_lambda_containers",
    "run_drill",
    "write_report",
]


def run_drill(
    options: DrillOptions,
    *,
    progress: Callable[[DrillProgress], None] | None = None,
    stop: threading.Event | None = None,
) -> DrillResult:
    from failsafe_tools.local.clock import SpeedClock
    from failsafe_tools.local.stack import LocalStack

    stop = stop or threading.Event()
    wall_start = time.monotonic()
    clock = SpeedClock(options.speed)
    # a blackholed PagerDuty hangs each page for the client's own timeout, in simulated time
    pager = PagerDutySink(now=clock.now, hold_seconds=PAGERDUTY_CLIENT_TIMEOUT, sleep=clock.sleep)
    pager.start()
    parameters = {**options.parameters, "PagerDutyBaseUrl": pager.url}
    if progress is not None:
        progress(
            DrillProgress(phase="starting the local stack", simulated=datetime.now(UTC), elapsed_simulated=0)
        )
    fresh_lambda_containers()
    from failsafe_tools.local import alarms as local_alarms

    action_log_start = len(local_alarms.get_evaluator().action_log)
    try:
        stack = LocalStack.start(
            options.template, parameters, clock=clock, lambda_python=options.lambda_python
        )
    except BaseException:
        pager.stop()
        raise
    drill = DrillSession(options, stack, progress, pager=pager)
    drill.action_log_start = action_log_start
    interrupted = False
    try:
        with use_local_stack(stack):
            drill.phase = "deploying the normal toggles"
            drill.report_progress()
            drill.configure_pagerduty()
            drill.deploy_baseline()
            drill.start_traffic()
            try:
                returned = drill.run(stop)
                if returned and options.scenario.fault_drill:
                    drill.settle(stop)
            except KeyboardInterrupt:
                interrupted = True
                returned = False
            interrupted = interrupted or stop.is_set()
            return finish(drill, options, returned=returned, interrupted=interrupted, wall_start=wall_start)
    finally:
        if drill.traffic is not None:
            drill.traffic.stop()
        with contextlib.suppress(Exception):
            stack.stop()
        pager.stop()
