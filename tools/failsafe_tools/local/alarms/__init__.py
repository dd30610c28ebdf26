"""CloudWatch alarm evaluation for the embedded local AWS (moto stores alarms and data but never evaluates).

`AlarmEvaluator.evaluate_all()` walks every alarm in every moto CloudWatch backend at the local clock's
`now` and moves it between OK / ALARM / INSUFFICIENT_DATA as CloudWatch would. On a change it updates
moto's stored state (so `DescribeAlarms` shows it), runs the alarm's actions when `ActionsEnabled`, and
always emits the "CloudWatch Alarm State Change" event to the default EventBridge bus
(`failsafe_tools.local.eventbridge.deliver_event`). `SetAlarmState` through boto3 emits the same event.

Metric alarms, as evaluated here:

- Windows: `Period`-long, aligned on whole minutes (on the period itself below 60 s); the newest window
  ends at the latest minute boundary at or before `now` (AWS's documented sample: a 300 s alarm queried
  at 17:04:40 evaluates the window starting 16:59:00). A datapoint belongs to `[start, start + Period)`.
- Data: datapoints whose namespace, metric name and dimension set (exactly the alarm's dimensions, no
  more, no fewer) match, and whose unit matches when the alarm sets `Unit`. Raw values and statistic sets.
- Statistic: SampleCount, Average, Sum, Minimum, Maximum. ExtendedStatistic `pNN` (0 ≤ NN ≤ 100) is
  the nearest-rank percentile of the raw values in the window. CloudWatch computes percentiles from an
  approximate sketch, so values can differ from AWS by the sketch's relative error (about 1 %). As in AWS,
  statistic sets only feed a percentile when SampleCount is 1 or Minimum equals Maximum. With
  `EvaluateLowSampleCountPercentile=ignore` a window with fewer than 10 / (1 - p/100) samples keeps the
  alarm in its state. Other extended statistics (tm, wm, pr, tc, ts, IQM) are rejected.
- `DatapointsToAlarm` (M) of `EvaluationPeriods` (N), with AWS's evaluation range of extra periods
  (here N + 2, as in AWS's worked example of 3 periods in a 5-point range):
  * N or more real datapoints in the range: the newest N real ones decide (M breaching → ALARM, else OK);
    `TreatMissingData` does not matter.
  * none at all: missing → INSUFFICIENT_DATA, ignore → state kept, breaching → ALARM, notBreaching → OK.
  * some, but fewer than N: breaching / notBreaching fill the gaps and M of N decides; missing decides on
    the real points alone (ALARM when at least min(M, real) of them breach); ignore goes to ALARM with M
    breaching real points, to OK when ALARM is out of reach even if every gap were breaching, and else
    keeps the state.
- ComparisonOperator: the four static ones. The anomaly-detection ones (LessThanLowerOrGreaterThanUpper,
  LessThanLower, GreaterThanUpper / `ThresholdMetricId`) are rejected: no anomaly model runs locally.
- Metric math alarms (`Metrics`): MetricStat queries plus arithmetic expressions (+ - * /, unary minus,
  parentheses, numbers, query ids); exactly one query returns data. Functions (FILL, SUM, IF, ...) and
  Metrics Insights queries are rejected with the name of what is unsupported.

Composite alarms: `AlarmRule` with ALARM(x) / OK(x) / INSUFFICIENT_DATA(x) (x a name, a quoted name or an
alarm ARN), AND, OR, NOT, parentheses, TRUE and FALSE. The rule true → ALARM, false → OK; a rule naming
an alarm that does not exist → INSUFFICIENT_DATA. Composites are re-evaluated whenever an alarm changes.
moto 5.2.5 has no `PutCompositeAlarm`; `install()` adds it (the rule is parsed there, so a bad rule is
rejected with a ValidationError at put time).

Unsupported alarms are rejected at `PutMetricAlarm` time with a ValidationError naming the feature;
alarms that reached moto another way raise `UnsupportedAlarmError` from `evaluate_all()` after every
supported alarm has been evaluated. Nothing is silently skipped.

Time: everything comes from `failsafe_tools.local.clock.get_clock()`. `PutMetricData` without a Timestamp is
stamped with the clock's now (moto would use the wall clock); a new alarm starts in INSUFFICIENT_DATA
("Unchecked: Initial alarm creation") as in AWS, and an updated alarm keeps its state.

Alarm actions (`ActionsEnabled` true): SNS topics get AWS's alarm notification JSON, Lambda functions the
alarm payload (`source: aws.cloudwatch`, `alarmData`). Other action types (EC2, Auto Scaling, SSM) are
recorded in `AlarmEvaluator.action_log` as not run locally.

The package, by concern: `common` (constants, time formats), `metrics` (stored datapoints → window values),
`metric_math` (the arithmetic subset and the plan of `Metrics` queries), `rules` (composite alarm rules),
`evaluation` (one metric alarm at `now`), `events` (the state-change event), `actions` (SNS and Lambda
payloads), `evaluator` (`AlarmEvaluator`, `AlarmTicker`), `history` (`DescribeAlarmHistory`), `moto_hooks`
(`install()` / `uninstall()`) and `internals` (`assert_moto_internals`).
"""

from failsafe_tools.local.alarms.common import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    STATES,
    UnsupportedAlarmError,
)
from failsafe_tools.local.alarms.evaluation import Evaluation, check_supported, evaluate_metric_alarm
from failsafe_tools.local.alarms.evaluator import (
    ActionRecord,
    AlarmEvaluator,
    AlarmTicker,
    StateChange,
    get_evaluator,
)
from failsafe_tools.local.alarms.events import alarm_configuration, state_change_event
from failsafe_tools.local.alarms.internals import assert_moto_internals
from failsafe_tools.local.alarms.metrics import Datapoint, MetricSpec, check_statistic, series
from failsafe_tools.local.alarms.moto_hooks import install, installed, iter_alarms, uninstall
from failsafe_tools.local.alarms.rules import evaluate_rule, parse_alarm_rule, rule_alarm_names

__all__ = [
    "ALARM",
    "INSUFFICIENT_DATA",
    "OK",
    "STATES",
    "ActionRecord",
    "AlarmEvaluator",
    "AlarmTicker",
    "Datapoint",
    "Evaluation",
    "MetricSpec",
    "StateChange",
    "UnsupportedAlarmError",
    "alarm_configuration",
    "assert_moto_internals",
    "check_statistic",
    "check_supported",
    "evaluate_metric_alarm",
    "evaluate_rule",
    "get_evaluator",
    "install",
    "installed",
    "iter_alarms",
    "parse_alarm_rule",
    "rule_alarm_names",
    "series",
    "state_change_event",
    "uninstall",
]
