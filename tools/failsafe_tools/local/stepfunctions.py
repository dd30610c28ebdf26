"""Step Functions on the local clock: moto's ASL interpreter (`execute_state_machine`) with simulated time.

moto 5.2.5 runs real ASL through its LocalStack-derived interpreter (`moto.stepfunctions.parser`) when
mock_aws is configured with `{"stepfunctions": {"execute_state_machine": True}}` (`PARSER_CONFIG`). It
waits on the wall clock. `install()` moves every wait and timeout it has onto `failsafe_tools.local.clock`:

- Wait states: `Seconds`/`SecondsPath` sleep on the clock; `Timestamp`/`TimestampPath` compute the delay
  against the clock's now (UTC). Under `ManualClock` a 15-minute Wait finishes at once (sleeping advances a
  ManualClock); under `SpeedClock(60)` 60 s take 1 s. StopExecution interrupts a Wait within 0.1 s.
- Retry: IntervalSeconds x BackoffRate^n (capped by MaxDelaySeconds, with Jitter) sleeps on the clock
  (not interruptible by StopExecution under a SpeedClock: the interval runs out first).
- TimeoutSeconds of any Task, the `.waitForTaskToken` wait and HeartbeatSeconds (measured from the task
  start or the last SendTaskHeartbeat) expire when the clock passes their deadline. These waits do not
  move the clock: under ManualClock a test advances it. Waiting threads notice a clock step or a callback
  within `POLL_INTERVAL_S` of wall time. moto's interpreter reports both expiries as `States.Timeout`
  (AWS's States.Timeout covers missed heartbeats too; an ErrorEquals of `States.HeartbeatTimeout` alone
  does not match locally).
- history event timestamps, execution start and stop dates come from the clock, so
  `get_execution_history` lines up with alarms and deployments in one timeline.

`render_definition` resolves DefinitionSubstitutions the way SAM does (Fn::Sub over the definition text);
`wait_for_execution` polls describe_execution until an execution ends.

Hooked moto internals (each asserted by `install()`; a missing one raises `MotoHookError`):
`WaitFunction._wait_interval`, `Timestamp._get_wait_seconds`, `retrier_decl.time`,
`execute_state.threading`, `callback.Event`, `callback.HeartbeatEndpoint`,
`EventManager._get_current_timestamp`, `parser.models.datetime`, `parser.backend.execution.datetime`,
`execute_state.Thread`, `execution_worker.Thread`, `program.threading` (the interpreter's threads hold a
drill's `SpeedClock` while they compute: `HeldThread`),
`moto.stepfunctions.models.utcnow`, and `StepFunctionResponse.send_task_failure` (moto 5.2.5 drops the
`cause` of SendTaskFailure; the patched handler passes it to the interpreter, as AWS does).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import threading
import time
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from failsafe_tools.local.clock import Clock, Hold, ManualClock, SpeedClock, get_clock
from failsafe_tools.local.lambda_runtime import MotoHookError, require_hook, require_params

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import DescribeExecutionOutputTypeDef

PARSER_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}}
"""`mock_aws(config=PARSER_CONFIG)` turns on moto's ASL interpreter."""

POLL_INTERVAL_S = 0.005
"""Wall-time granularity at which clock deadlines and callbacks are noticed."""

_MAX_WALL_CHUNK_S = 0.1

__all__ = [
    "PARSER_CONFIG",
    "ClockEvent",
    "ExecutionWaitTimeout",
    "MotoHookError",
    "UnresolvedSubstitutionError",
    "clock_sleep",
    "install",
    "is_installed",
    "render_definition",
    "uninstall",
    "wait_for_execution",
]


# -- DefinitionSubstitutions ------------------------------------------------------------------------------


class UnresolvedSubstitutionError(ValueError):
    """A ${Name} placeholder of a state machine definition has no DefinitionSubstitutions entry."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(
            "unresolved DefinitionSubstitutions placeholder(s): "
            + ", ".join(f"${{{n}}}" for n in names)
            + " (add them to DefinitionSubstitutions or write ${!Name} for a literal ${Name})"
        )


_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def _substitution_text(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TypeError(f"DefinitionSubstitutions[{name!r}] = {value!r}: must be a string, number or boolean")


def render_definition(asl_text: str, substitutions: Mapping[str, object] | None = None) -> str:
    """Replace `${Name}` in `asl_text` as SAM's DefinitionSubstitutions (Fn::Sub) does.

    `${!Name}` is the literal `${Name}`. Every unresolved placeholder is reported in one
    `UnresolvedSubstitutionError`. The result must be valid JSON (ASL), else ValueError names the spot.
    """
    values = {name: _substitution_text(name, value) for name, value in (substitutions or {}).items()}
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner.startswith("!"):
            return "${" + inner[1:] + "}"
        name = inner.strip()
        if name in values:
            return values[name]
        if name not in missing:
            missing.append(name)
        return match.group(0)

    rendered = _PLACEHOLDER.sub(replace, asl_text)
    if missing:
        raise UnresolvedSubstitutionError(missing)
    try:
        json.loads(rendered)
    except json.JSONDecodeError as exc:
        line = rendered.splitlines()[exc.lineno - 1] if rendered.splitlines() else ""
        raise ValueError(
            f"rendered definition is not valid JSON: {exc.msg} at line {exc.lineno}: {line!r}"
        ) from exc
    return rendered


# -- waiting on the clock ---------------------------------------------------------------------------------


def clock_sleep(seconds: float, still_running: Callable[[], bool] | None = None) -> None:
    """Sleep `seconds` of simulated time; return early once `still_running()` is False.

    A ManualClock is advanced in one step (time only moves when someone moves it). Other clocks are slept
    in slices of at most 0.1 s of wall time so an interrupt (StopExecution) is noticed promptly.
    """
    clock = get_clock()
    deadline = clock.time() + max(0.0, float(seconds))
    while still_running is None or still_running():
        remaining = deadline - clock.time()
        if remaining <= 0:
            return
        if isinstance(clock, ManualClock):
            clock.sleep(remaining)
            continue
        speed = float(getattr(clock, "speed", 1.0) or 1.0)
        clock.sleep(min(remaining, _MAX_WALL_CHUNK_S * speed))


def _wait_until(event: threading.Event, clock: Clock, deadline: float) -> bool:
    while True:
        if threading.Event.wait(event, POLL_INTERVAL_S):
            return True
        if clock.time() >= deadline:
            return event.is_set()


class ClockEvent(threading.Event):
    """threading.Event whose `wait(timeout)` timeout is simulated seconds on the local clock.

    On a `SpeedClock` a waiting thread is idle (its hold is suspended, the timeout is a clock wake-up that
    time does not pass before the waiter has woken), and `set()` hands every waiter a hold, so no simulated
    time passes between the event and the waiter going on."""

    def __init__(self) -> None:
        super().__init__()
        self._handoffs: list[Hold] = []
        self._waiting = 0
        self._guard = threading.Lock()

    def set(self) -> None:
        clock = get_clock()
        if isinstance(clock, SpeedClock):
            with self._guard:
                if not self.is_set():
                    self._handoffs.extend(clock.hold() for _ in range(self._waiting))
            super().set()
            clock.wake()
            return
        super().set()

    def wait(self, timeout: float | None = None) -> bool:
        clock = get_clock()
        if isinstance(clock, SpeedClock):
            return self._wait_on(clock, timeout)
        if timeout is None:
            return super().wait()
        return _wait_until(self, clock, clock.time() + float(timeout))

    def _wait_on(self, clock: SpeedClock, timeout: float | None) -> bool:
        if self.is_set():
            return True
        with self._guard:
            self._waiting += 1
        try:
            clock.sleep(float("inf") if timeout is None else max(0.0, float(timeout)), cancel=self)
            return self.is_set()
        finally:
            with self._guard:
                self._waiting -= 1
                handoff = self._handoffs.pop() if self._handoffs else None
            if handoff is not None:
                handoff.release()


class HeldThread(threading.Thread):
    """A thread of moto's ASL interpreter as a drill actor: it holds a `SpeedClock` while it runs (from the
    instant it is started: the starter hands it a hold), and a thread that joins it is idle meanwhile and
    gets a hold handed back when it ends. On any other clock it is a plain thread."""

    def start(self) -> None:
        clock = get_clock()
        self._clock = clock if isinstance(clock, SpeedClock) else None
        self._start_hold = self._clock.hold() if self._clock is not None else None
        self._guard = threading.Lock()
        self._joiners = 0
        self._exit_holds: list[Hold] = []
        try:
            super().start()
        except BaseException:
            if self._start_hold is not None:
                self._start_hold.release()
            raise

    def run(self) -> None:
        clock = self._clock
        if clock is None:
            super().run()
            return
        with clock.working():
            if self._start_hold is not None:
                self._start_hold.release()
            try:
                super().run()
            finally:
                with self._guard:
                    self._exit_holds.extend(clock.hold() for _ in range(self._joiners))

    def join(self, timeout: float | None = None) -> None:
        clock = getattr(self, "_clock", None)
        if clock is None or threading.current_thread() is self:
            super().join(timeout)
            return
        with self._guard:
            self._joiners += 1
        try:
            with clock.idle():
                super().join(timeout)
        finally:
            with self._guard:
                self._joiners -= 1
                handoff = self._exit_holds.pop() if self._exit_holds else None
            if handoff is not None:
                handoff.release()


class _ClockTimeModule(types.ModuleType):
    """Stand-in for the `time` module inside moto's retrier: `sleep` sleeps on the local clock."""

    def __init__(self) -> None:
        super().__init__("failsafe_clock_time")

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        clock_sleep(seconds)

    @staticmethod
    def time() -> float:
        return get_clock().time()


class _ClockThreadingModule(types.ModuleType):
    """Stand-in for the `threading` module inside moto's ASL interpreter: its Event waits on the clock and
    its Thread is a drill actor (`HeldThread`)."""

    Event = ClockEvent
    Thread = HeldThread

    def __init__(self) -> None:
        super().__init__("failsafe_clock_threading")

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)


class _ClockDatetimeClass(_dt.datetime):
    """`datetime.datetime` whose `now()` reads the local clock (used only through the module stand-in)."""

    @classmethod
    def now(cls, tz: _dt.tzinfo | None = None) -> _dt.datetime:  # type: ignore[override]
        return _dt.datetime.fromtimestamp(get_clock().time(), tz=tz)


class _ClockDatetimeModule(types.ModuleType):
    """`datetime` module stand-in for moto's parser backend: `datetime.datetime.now()` is clock time."""

    datetime = _ClockDatetimeClass

    def __init__(self) -> None:
        super().__init__("failsafe_clock_datetime")

    def __getattr__(self, name: str) -> Any:
        return getattr(_dt, name)


def _clock_utcnow() -> _dt.datetime:
    return _dt.datetime.fromtimestamp(get_clock().time(), tz=_dt.UTC).replace(tzinfo=None)


def _clock_history_timestamp() -> _dt.datetime:
    return _dt.datetime.fromtimestamp(get_clock().time(), tz=_dt.UTC)


# -- the hooks --------------------------------------------------------------------------------------------


_ABSENT = object()


class _Patch:
    """One attribute replaced on a moto class or module; `revert` puts back exactly what was there."""

    def __init__(self, owner: object, name: str, replacement: object) -> None:
        self.owner = owner
        self.name = name
        self.replacement = replacement
        # On a class keep the raw attribute: a staticmethod stays one, an inherited one is absent.
        self.original = owner.__dict__.get(name, _ABSENT) if isinstance(owner, type) else getattr(owner, name)

    def apply(self) -> None:
        setattr(self.owner, self.name, self.replacement)

    def revert(self) -> None:
        if self.original is _ABSENT:
            delattr(self.owner, self.name)
        else:
            setattr(self.owner, self.name, self.original)


_install_lock = threading.Lock()
_patches: list[_Patch] = []


def _wait_patches() -> list[_Patch]:
    """Wait states (Seconds, SecondsPath, Timestamp, TimestampPath) and Retry intervals."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp, wait_function

    wait_cls = require_hook(wait_function, "WaitFunction", "base class of the Wait state's Seconds/Timestamp")
    wait_interval = require_hook(wait_cls, "_wait_interval", "how a Wait state sleeps")
    require_params(wait_interval, ("self", "env", "wait_seconds"), "WaitFunction._wait_interval")
    timestamp_cls = require_hook(timestamp, "Timestamp", "the Wait state's Timestamp/TimestampPath")
    get_wait = require_hook(timestamp_cls, "_get_wait_seconds", "how Timestamp computes its delay")
    require_params(get_wait, ("self", "env"), "Timestamp._get_wait_seconds")
    for name in ("_from_timestamp_string", "_create_failure_event"):
        require_hook(timestamp_cls, name, "used by the clock-based Timestamp delay")
    failure = require_hook(timestamp, "FailureEventException", "raised for an invalid timestamp")
    retry_time = require_hook(retrier_decl, "time", "module the Retry interval sleeps with")
    if retry_time is not time and not isinstance(retry_time, _ClockTimeModule):
        raise MotoHookError("moto's retrier_decl.time is neither the time module nor failsafe's clock shim")

    def clock_wait_interval(self: Any, env: Any, wait_seconds: float) -> None:
        clock_sleep(wait_seconds, env.is_running)

    def clock_wait_seconds(self: Any, env: Any) -> int:
        self.string.eval(env=env)
        timestamp_str: str = env.stack.pop()
        moment = self._from_timestamp_string(timestamp=timestamp_str)
        if moment is None:
            raise failure(self._create_failure_event(env, timestamp_str))
        return int(moment.replace(tzinfo=_dt.UTC).timestamp() - get_clock().time())

    return [
        _Patch(wait_cls, "_wait_interval", clock_wait_interval),
        _Patch(timestamp_cls, "_get_wait_seconds", clock_wait_seconds),
        _Patch(retrier_decl, "time", _ClockTimeModule()),
    ]


def _timeout_patches() -> list[_Patch]:
    """TimeoutSeconds of a state, the waitForTaskToken wait and HeartbeatSeconds."""
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.eval.callback import callback

    current_threading = require_hook(execute_state, "threading", "module providing the Task timeout Event")
    if current_threading is not threading and not isinstance(current_threading, _ClockThreadingModule):
        raise MotoHookError("moto's execute_state.threading is not the threading module")
    execution_state_cls = require_hook(execute_state, "ExecutionState", "states with TimeoutSeconds")
    require_hook(execution_state_cls, "_evaluate_with_timeout", "the Task TimeoutSeconds wait")
    event_cls = require_hook(callback, "Event", "Event the waitForTaskToken/heartbeat endpoints wait on")
    if event_cls is not threading.Event and event_cls is not ClockEvent:
        raise MotoHookError("moto's callback.Event is not threading.Event")
    require_hook(callback, "CallbackEndpoint", "waitForTaskToken endpoint")
    heartbeat_cls = require_hook(callback, "HeartbeatEndpoint", "the HeartbeatSeconds endpoint")
    probe = heartbeat_cls(heartbeat_seconds=1)
    for name in ("_mutex", "_next_heartbeat_event", "_heartbeat_seconds"):
        require_hook(probe, name, "HeartbeatEndpoint state used by the clock-based heartbeat")
    for name in ("clear_and_wait", "notify"):
        require_hook(heartbeat_cls, name, "HeartbeatEndpoint protocol")
    base = heartbeat_cls.__base__ if getattr(heartbeat_cls, "_failsafe_clock", False) else heartbeat_cls

    class ClockHeartbeatEndpoint(base):  # type: ignore[misc,valid-type]
        """HeartbeatSeconds measured on the clock from the task start or the last heartbeat."""

        _failsafe_clock = True

        def __init__(self, heartbeat_seconds: int) -> None:
            super().__init__(heartbeat_seconds=heartbeat_seconds)
            self._last_beat = get_clock().time()

        def notify(self) -> None:
            with self._mutex:
                self._last_beat = get_clock().time()
                self._next_heartbeat_event.set()

        def clear_and_wait(self) -> bool:
            with self._mutex:
                if self._next_heartbeat_event.is_set():
                    self._next_heartbeat_event.clear()
                    return True
            clock = get_clock()
            while True:
                if threading.Event.wait(self._next_heartbeat_event, POLL_INTERVAL_S):
                    return True
                with self._mutex:
                    deadline = self._last_beat + float(self._heartbeat_seconds)
                if clock.time() >= deadline:
                    return bool(self._next_heartbeat_event.is_set())

    return [
        _Patch(execute_state, "threading", _ClockThreadingModule()),
        _Patch(callback, "Event", ClockEvent),
        _Patch(callback, "HeartbeatEndpoint", ClockHeartbeatEndpoint),
    ]


def _date_patches() -> list[_Patch]:
    """History event timestamps and execution start/stop dates."""
    import moto.stepfunctions.models as sfn_models
    from moto.stepfunctions.parser import models as parser_models
    from moto.stepfunctions.parser.asl.eval.event import event_manager
    from moto.stepfunctions.parser.backend import execution as backend_execution

    manager_cls = require_hook(event_manager, "EventManager", "execution history")
    require_hook(manager_cls, "_get_current_timestamp", "history event timestamps")
    for module in (parser_models, backend_execution):
        current = require_hook(module, "datetime", "start/stop date of executions")
        if current is not _dt and not isinstance(current, _ClockDatetimeModule):
            raise MotoHookError(f"{module.__name__}.datetime is not the datetime module")
    require_hook(sfn_models, "utcnow", "dates of moto's Step Functions models (StopExecution)")
    return [
        _Patch(manager_cls, "_get_current_timestamp", staticmethod(_clock_history_timestamp)),
        _Patch(parser_models, "datetime", _ClockDatetimeModule()),
        _Patch(backend_execution, "datetime", _ClockDatetimeModule()),
        _Patch(sfn_models, "utcnow", _clock_utcnow),
    ]


def _api_patches() -> list[_Patch]:
    """SendTaskFailure: moto's request handler drops `cause`; pass it on to the interpreter."""
    import moto.stepfunctions.responses as sfn_responses
    from moto.core import responses as core_responses
    from moto.stepfunctions.parser import models as parser_models

    parser_backend_cls = require_hook(
        parser_models, "StepFunctionsParserBackend", "the ASL interpreter backend"
    )
    require_params(
        require_hook(parser_backend_cls, "send_task_failure", "SendTaskFailure of the interpreter"),
        ("self", "task_token", "error", "cause"),
        "StepFunctionsParserBackend.send_task_failure",
    )
    response_cls = require_hook(sfn_responses, "StepFunctionResponse", "moto's Step Functions API layer")
    require_hook(response_cls, "send_task_failure", "SendTaskFailure request handler (drops `cause`)")
    empty_result = require_hook(core_responses, "EmptyResult", "moto's empty API result")

    def send_task_failure_with_cause(self: Any) -> Any:
        token = self._get_param("taskToken")
        error = self._get_param("error")
        backend = self.stepfunction_backend
        if isinstance(backend, parser_backend_cls):
            backend.send_task_failure(token, error=error, cause=self._get_param("cause"))
        else:
            backend.send_task_failure(token, error=error)
        return empty_result()

    return [
        _Patch(response_cls, "send_task_failure", send_task_failure_with_cause),
        *_closed_token_patches(parser_backend_cls),
    ]


CLOSED_TOKENS_ATTRIBUTE = "failsafe_closed_task_tokens"


def _closed_token_patches(parser_backend_cls: Any) -> list[_Patch]:
    """A task token answers once. moto's interpreter keeps a token's callback after SendTaskSuccess and
    accepted it again (200) while the execution ran; AWS answers TaskTimedOut ("the task associated with the
    token has already been closed") for SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat on a token
    whose task got its outcome, whether the execution still runs or not."""
    from moto.stepfunctions.parser.api import TaskTimedOut

    def closed(backend: Any) -> set[str]:
        tokens: set[str] | None = getattr(backend, CLOSED_TOKENS_ATTRIBUTE, None)
        if tokens is None:
            tokens = set()
            setattr(backend, CLOSED_TOKENS_ATTRIBUTE, tokens)
        return tokens

    def refuse_closed(backend: Any, token: str) -> None:
        if token in closed(backend):
            raise TaskTimedOut(
                "Task Timed Out: 'Provided task does not exist anymore': the task of this token already "
                "received its outcome (SendTaskSuccess or SendTaskFailure)"
            )

    success = require_hook(parser_backend_cls, "send_task_success", "SendTaskSuccess of the interpreter")
    failure = require_hook(parser_backend_cls, "send_task_failure", "SendTaskFailure of the interpreter")
    heartbeat = require_hook(
        parser_backend_cls, "send_task_heartbeat", "SendTaskHeartbeat of the interpreter"
    )
    require_params(success, ("self", "task_token", "outcome"), "StepFunctionsParserBackend.send_task_success")
    require_params(heartbeat, ("self", "task_token"), "StepFunctionsParserBackend.send_task_heartbeat")

    def send_task_success(self: Any, task_token: str, outcome: str) -> Any:
        refuse_closed(self, task_token)
        result = success(self, task_token, outcome)
        closed(self).add(task_token)
        return result

    def send_task_failure(self: Any, task_token: str, error: Any = None, cause: Any = None) -> Any:
        refuse_closed(self, task_token)
        result = failure(self, task_token, error=error, cause=cause)
        closed(self).add(task_token)
        return result

    def send_task_heartbeat(self: Any, task_token: str) -> Any:
        refuse_closed(self, task_token)
        return heartbeat(self, task_token)

    return [
        _Patch(parser_backend_cls, "send_task_success", send_task_success),
        _Patch(parser_backend_cls, "send_task_failure", send_task_failure),
        _Patch(parser_backend_cls, "send_task_heartbeat", send_task_heartbeat),
    ]


def _actor_patches() -> list[_Patch]:
    """The interpreter's threads as drill actors (`HeldThread`): the execution, its program worker and the
    thread of a Task with TimeoutSeconds hold a SpeedClock while they compute, so an execution's states
    take no simulated time between its waits however busy the host is."""
    from moto.stepfunctions.parser.asl.component.program import program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.backend import execution_worker

    for owner, what in ((execute_state, "the Task TimeoutSeconds worker"), (execution_worker, "execution")):
        current = require_hook(owner, "Thread", f"Thread class of the {what} thread")
        if current is not threading.Thread and current is not HeldThread:
            raise MotoHookError(f"moto's {owner.__name__}.Thread is not threading.Thread")
    program_threading = require_hook(program, "threading", "module providing the program worker thread")
    if program_threading is not threading and not isinstance(program_threading, _ClockThreadingModule):
        raise MotoHookError("moto's program.threading is not the threading module")
    return [
        _Patch(execute_state, "Thread", HeldThread),
        _Patch(execution_worker, "Thread", HeldThread),
        _Patch(program, "threading", _ClockThreadingModule()),
    ]


def _build_patches() -> list[_Patch]:
    """Assert every hooked moto internal and return the patches (nothing applied yet)."""
    return [*_wait_patches(), *_timeout_patches(), *_actor_patches(), *_date_patches(), *_api_patches()]


def install() -> None:
    """Put moto's ASL interpreter on the local clock. Idempotent; raises MotoHookError on a changed moto."""
    patches = _build_patches()
    with _install_lock:
        if _patches:
            return
        for patch in patches:
            patch.apply()
        _patches.extend(patches)


def uninstall() -> None:
    with _install_lock:
        for patch in reversed(_patches):
            patch.revert()
        _patches.clear()


def is_installed() -> bool:
    return bool(_patches)


# -- waiting for an execution -----------------------------------------------------------------------------


class ExecutionWaitTimeout(TimeoutError):
    """The execution was still RUNNING when `wait_for_execution` gave up."""


def wait_for_execution(
    sfn_client: SFNClient,
    execution_arn: str,
    timeout_s: float = 30.0,
    *,
    clock_timeout_s: float | None = None,
    poll_interval_s: float = 0.01,
) -> DescribeExecutionOutputTypeDef:
    """Poll describe_execution until the execution leaves RUNNING; return that description.

    `timeout_s` is wall time and always applies (a hung test fails instead of hanging). `clock_timeout_s`
    optionally bounds simulated time on the local clock as well (a drill at 60x: "within 20 minutes").
    Raises `ExecutionWaitTimeout` naming the execution, its status and its last history event.
    """
    clock = get_clock()
    wall_deadline = time.monotonic() + timeout_s
    clock_deadline = None if clock_timeout_s is None else clock.time() + clock_timeout_s
    while True:
        description = sfn_client.describe_execution(executionArn=execution_arn)
        if description["status"] != "RUNNING":
            return description
        wall_out = time.monotonic() >= wall_deadline
        clock_out = clock_deadline is not None and clock.time() >= clock_deadline
        if wall_out or clock_out:
            events = sfn_client.get_execution_history(executionArn=execution_arn)["events"]
            last = events[-1]["type"] if events else "none"
            budget = f"{timeout_s} s wall" if wall_out else f"{clock_timeout_s} s on the local clock"
            raise ExecutionWaitTimeout(
                f"execution {execution_arn} still {description['status']} after {budget}; last event: {last}"
            )
        time.sleep(poll_interval_s)
