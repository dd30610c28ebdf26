"""`AlarmEvaluator`: walks every alarm of every moto CloudWatch backend, stores changes, runs actions,
emits events; `AlarmTicker` runs it on the local clock; `get_evaluator()` is the process-wide one."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from failsafe_tools.local import eventbridge
from failsafe_tools.local.alarms import history
from failsafe_tools.local.alarms.actions import lambda_alarm_payload, sns_alarm_message
from failsafe_tools.local.alarms.common import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    UnsupportedAlarmError,
    compact,
    epoch,
    ms_stamp,
    naive_utc,
)
from failsafe_tools.local.alarms.evaluation import evaluate_metric_alarm
from failsafe_tools.local.alarms.events import state_change_event
from failsafe_tools.local.alarms.rules import evaluate_rule, parse_alarm_rule, rule_alarm_names
from failsafe_tools.local.clock import ClockTicker, get_clock

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------------
# the evaluator


@dataclass
class StateChange:
    alarm_name: str
    account_id: str
    region: str
    previous: str
    current: str
    event: dict[str, Any]


@dataclass
class ActionRecord:
    alarm_name: str
    action_arn: str
    state: str
    ok: bool
    detail: str = ""


@dataclass
class AlarmEvaluator:
    """Evaluates every alarm of every moto CloudWatch backend; see the module docstring for the rules."""

    changes: list[StateChange] = field(default_factory=list)
    action_log: list[ActionRecord] = field(default_factory=list)
    _lock: Any = field(default_factory=threading.RLock, repr=False)

    def evaluate_all(self) -> list[StateChange]:
        """Evaluate all alarms at the clock's now; return the state changes this call made (events sent)."""
        from moto.cloudwatch.models import cloudwatch_backends

        now = get_clock().time()
        made: list[StateChange] = []
        problems: list[str] = []
        with self._lock:
            for account_id, regions in list(cloudwatch_backends.items()):
                for region, backend in list(regions.items()):
                    for alarm in list(backend.alarms.values()):
                        if alarm.rule is not None:
                            continue
                        try:
                            evaluation = evaluate_metric_alarm(backend, alarm, now)
                        except UnsupportedAlarmError as exc:
                            problems.append(f"{account_id}/{region}/{alarm.name}: {exc}")
                            continue
                        if evaluation.state is None or evaluation.state == alarm.state_value:
                            continue
                        change = self.transition(
                            backend,
                            alarm,
                            evaluation.state,
                            reason=evaluation.reason,
                            reason_data=compact(evaluation.reason_data),
                            now=now,
                        )
                        made.append(change)
                    made.extend(self._evaluate_composites(backend, now, problems))
        if problems:
            raise UnsupportedAlarmError("alarms not evaluated locally:\n  " + "\n  ".join(problems))
        return made

    tick = evaluate_all

    def _evaluate_composites(
        self, backend: Any, now: float, problems: list[str] | None = None
    ) -> list[StateChange]:
        made: list[StateChange] = []
        for _ in range(max(1, len(backend.alarms))):
            changed = False
            for alarm in list(backend.alarms.values()):
                if alarm.rule is None:
                    continue
                try:
                    change = self._evaluate_composite(backend, alarm, now)
                except UnsupportedAlarmError as exc:
                    if problems is None:
                        raise
                    problems.append(f"{backend.account_id}/{backend.region_name}/{alarm.name}: {exc}")
                    continue
                if change is not None:
                    made.append(change)
                    changed = True
            if not changed:
                break
        return made

    def _evaluate_composite(self, backend: Any, alarm: Any, now: float) -> StateChange | None:
        tree = parse_alarm_rule(alarm.rule)
        alarms = backend.alarms

        def state_of(name: str) -> str | None:
            child = alarms.get(name)
            return None if child is None else str(child.state_value)

        result = evaluate_rule(tree, state_of)
        names = rule_alarm_names(alarm.rule)
        if result is None:
            unknown = sorted({name for name in names if name not in alarms})
            new_state = INSUFFICIENT_DATA
            reason = f"Insufficient Data: AlarmRule references alarms that do not exist: {', '.join(unknown)}"
            reason_data: dict[str, Any] = {"triggeringAlarms": []}
        else:
            new_state = ALARM if result else OK
            children = [alarms[name] for name in dict.fromkeys(names) if name in alarms]
            trigger = max(children, key=lambda a: epoch(a.state_updated_timestamp), default=None)
            if trigger is not None:
                stamp = datetime.fromtimestamp(epoch(trigger.state_updated_timestamp), tz=UTC)
                reason = (
                    f"{trigger.alarm_arn} transitioned to {trigger.state_value} at "
                    f"{stamp.strftime('%A %d %B, %Y %H:%M:%S')} UTC"
                )
            else:
                reason = f"AlarmRule evaluated to {str(bool(result)).upper()}"
            reason_data = {
                "triggeringAlarms": [
                    {
                        "arn": child.alarm_arn,
                        "state": {
                            "value": child.state_value,
                            "timestamp": ms_stamp(epoch(child.state_updated_timestamp)),
                        },
                    }
                    for child in children
                    if (child.state_value == ALARM) == bool(result)
                ]
            }
        if new_state == alarm.state_value:
            return None
        return self.transition(
            backend, alarm, new_state, reason=reason, reason_data=compact(reason_data), now=now
        )

    def transition(
        self, backend: Any, alarm: Any, state: str, *, reason: str, reason_data: str | None, now: float
    ) -> StateChange:
        """Store the new state in moto, run actions, emit the event."""
        previous = (
            str(alarm.state_value),
            str(alarm.state_reason),
            alarm.state_reason_data,
            epoch(alarm.state_updated_timestamp),
        )
        alarm.update_state(reason, reason_data, state)
        alarm.state_updated_timestamp = naive_utc(now)
        return self._announce(backend, alarm, previous, now)

    def _announce(
        self, backend: Any, alarm: Any, previous: tuple[str, str, str | None, float], now: float
    ) -> StateChange:
        event = state_change_event(alarm, backend.account_id, backend.region_name, previous, now)
        change = StateChange(
            alarm.name, backend.account_id, backend.region_name, previous[0], alarm.state_value, event
        )
        with self._lock:
            self.changes.append(change)
        alarm.state_transitioned_timestamp = naive_utc(now)
        history.record_state(backend, alarm, previous, now)
        if alarm.actions_enabled:
            self._run_actions(backend, alarm, event)
        try:
            eventbridge.deliver_event(event, backend.account_id, backend.region_name)
        except Exception:
            log.exception("delivering the state change of alarm %s to EventBridge failed", alarm.name)
        return change

    def _log_action(self, backend: Any, alarm: Any, record: ActionRecord) -> None:
        self.action_log.append(record)
        history.record_action(
            backend, alarm, record.action_arn, ok=record.ok, detail=record.detail, now=get_clock().time()
        )

    def _run_actions(self, backend: Any, alarm: Any, event: dict[str, Any]) -> None:
        from moto.utilities.arns import parse_arn

        actions = {
            ALARM: alarm.alarm_actions,
            OK: alarm.ok_actions,
            INSUFFICIENT_DATA: alarm.insufficient_data_actions,
        }
        for action in actions.get(alarm.state_value) or []:
            try:
                arn = parse_arn(action)
                if arn.service == "sns":
                    from moto.sns.models import sns_backends

                    sns_backends[arn.account][arn.region].publish(
                        message=json.dumps(sns_alarm_message(alarm, event)),
                        arn=action,
                        subject=f'{alarm.state_value}: "{alarm.name}" in {event["region"]}'[:99],
                    )
                    self._log_action(
                        backend, alarm, ActionRecord(alarm.name, action, alarm.state_value, True, "published")
                    )
                elif arn.service == "lambda":
                    invoke = eventbridge.current_lambda_invoker()
                    response = invoke(
                        action, json.dumps(lambda_alarm_payload(alarm, event)).encode(), "Event"
                    )
                    self._log_action(
                        backend,
                        alarm,
                        ActionRecord(alarm.name, action, alarm.state_value, True, repr(response)[:200]),
                    )
                else:
                    self._log_action(
                        backend,
                        alarm,
                        ActionRecord(
                            alarm.name,
                            action,
                            alarm.state_value,
                            False,
                            "action type not run by the local stack",
                        ),
                    )
                    log.warning("alarm %s action %s: not run by the local stack", alarm.name, action)
            except Exception as exc:
                self._log_action(
                    backend,
                    alarm,
                    ActionRecord(
                        alarm.name, action, alarm.state_value, False, f"{type(exc).__name__}: {exc}"
                    ),
                )
                log.warning("alarm %s action %s failed: %s", alarm.name, action, exc)


# --------------------------------------------------------------------------------------------------------
# background ticker


class AlarmTicker(ClockTicker):
    """Runs `evaluator.evaluate_all()` every `interval` simulated seconds of the local clock."""

    def __init__(self, evaluator: AlarmEvaluator, interval: float = 60.0, poll: float = 0.02) -> None:
        super().__init__(evaluator.evaluate_all, interval, name="failsafe-alarm-ticker", poll=poll)
        self.evaluator = evaluator


_shared_lock = threading.Lock()
_shared: dict[str, AlarmEvaluator] = {}


def get_evaluator() -> AlarmEvaluator:
    """The process-wide evaluator that the `SetAlarmState` hook and `PutCompositeAlarm` report through."""
    with _shared_lock:
        if "evaluator" not in _shared:
            _shared["evaluator"] = AlarmEvaluator()
        return _shared["evaluator"]
