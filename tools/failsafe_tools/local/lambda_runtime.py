"""Lambda in-process: moto's Lambda backend runs python3.x handlers in this process instead of Docker.

`install()` replaces one moto method, `moto.awslambda.models.LambdaFunction.invoke`, which every invocation
path of moto goes through: the Invoke API (`lambda.invoke`, so also Step Functions Task states, which call
it through boto3), `InvokeAsync`, and moto's own internal callers (EventBridge, S3, SNS, SQS, Secrets
Manager rotation). Functions whose Runtime is not python3.x keep moto's original behaviour (Docker).
`invoke_function` runs a function directly, without an HTTP round trip, for the local stack's own
delivery code (EventBridge targets, AppConfig Lambda validators).

What one invocation does, as Lambda does:
- imports the module named by the Handler string ("failsafe.handlers.alarm_ingest.handler") with the
  function's code root on `sys.path` (`register_code_root`, default: the repository's `functions/`);
  an import is INIT and does not count against the timeout, as in Lambda; modules stay imported (warm);
- applies the function's Environment variables plus Lambda's reserved ones (AWS_LAMBDA_FUNCTION_NAME,
  AWS_REGION, ..., and AWS_SAM_LOCAL=true like `sam local invoke`) for the duration of the call;
- passes a LambdaContext whose `get_remaining_time_in_millis()` counts down the function Timeout on the
  local clock (`failsafe_tools.local.clock.get_clock()`);
- enforces the Timeout: the call fails with Lambda's `Sandbox.Timedout` error (errorMessage "RequestId: <id>
  Error: Task timed out after 3.00 seconds") when either the local clock or the wall clock has moved more
  than Timeout seconds since the handler started. The handler thread cannot be killed: it keeps running in
  the background, its output and result are discarded. Clock time counts whoever moves the clock: at
  SpeedClock(60) a handler has Timeout/60 wall seconds, and a ManualClock advanced by another thread
  while a handler runs counts against that handler too;
- returns handler exceptions as Lambda does: FunctionError "Unhandled" and a payload with errorMessage,
  errorType, requestId and stackTrace (Runtime.ImportModuleError, Runtime.HandlerNotFound,
  Runtime.MalformedHandlerName, Runtime.UserCodeSyntaxError and Runtime.MarshalError for runtime faults);
- captures what the handler writes to stdout/stderr (from the invocation's thread) as the log stream:
  the lines go to moto's CloudWatch Logs (`/aws/lambda/<name>`, wall-clock event timestamps because moto
  rejects events older than 14 days), every EMF line becomes CloudWatch metric data at its own
  `_aws.Timestamp` (`failsafe_tools.local.emf`), and `LogType=Tail` returns the base64 last 4 KB of the log.
  Plain `logging.StreamHandler`s (Powertools Logger) are routed too, even if created before the first
  invocation.

Not modelled: the code in the function's ZipFile/S3 package (the handler is imported from the code root),
layers, container images, versions/aliases beyond reporting the qualifier, reserved concurrency and
throttling, and moto's `{"lambda": {"use_docker": False}}` backend (its Invoke API bypasses this hook;
`invoke_function` still works with it).

Concurrency model. `os.environ` is process-global, so in-process invocations are serialised by one lock:
while a handler runs, its environment is the process environment (other threads see it too). Afterwards
only the variables the invocation applied are put back; a variable the handler sets itself stays set, as
it would in a warm Lambda sandbox. An invocation made synchronously from inside a running handler (nested
`lambda.invoke`, an AppConfig Lambda validator) does not wait for the lock: it runs with its own
environment layered on top and restores the outer one afterwards. Anything else (another thread, a Step
Functions execution thread, an async Event invocation) waits until the running handler returns. A handler
that synchronously waits for work that itself needs a Lambda invocation on another thread (for example
polling a Step Functions execution whose Task state invokes a Lambda) therefore waits until its own
Timeout fires. Output written by threads a handler starts itself is not captured. `InvocationType=Event`
runs on a daemon thread by default (`set_async_mode("inline")` runs it before the 202 is returned;
`drain_async()` waits for pending ones); async retries, destinations and dead-letter queues are not
modelled.
"""

from __future__ import annotations

import base64
import decimal
import importlib
import inspect
import io
import json
import logging
import math
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

import failsafe
from failsafe_tools.local.clock import SpeedClock, get_clock
from failsafe_tools.local.emf import publish_emf_lines
from failsafe_tools.local.lambda_sandbox import PackageRuntime, SandboxPool

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction

DEFAULT_CODE_ROOT = Path(failsafe.__file__).resolve().parents[1]
"""The source tree's `functions/` directory (SAM CodeUri: functions/), for functions without one."""

MODELLED_INVOCATION_SECONDS = 0.1
"""Simulated seconds one invocation takes on a drill's clock. What the handler computes here takes none (the
clock stands still while it works, see `SpeedClock`), so the figure, a warm invocation of a small Python
handler that makes a few AWS calls, stands for Lambda's duration whatever the host's speed."""

LOG_TAIL_BYTES = 4096
POLL_INTERVAL_S = 0.005
DEFAULT_ACCOUNT_ID = "123456789012"

InvocationType = Literal["RequestResponse", "Event", "DryRun"]
AsyncMode = Literal["thread", "inline"]


class MotoHookError(RuntimeError):
    """A moto internal that failsafe_tools.local hooks into is missing or changed shape."""


def require_hook(owner: object, name: str, what: str) -> Any:
    """`getattr(owner, name)`, or a loud `MotoHookError` naming the moto internal that changed."""
    if not hasattr(owner, name):
        import moto

        owner_name = getattr(owner, "__qualname__", None) or getattr(owner, "__name__", repr(owner))
        raise MotoHookError(
            f"moto {moto.__version__}: {owner_name}.{name} is missing ({what}). "
            "failsafe_tools.local hooks into it; the installed moto is outside the range failsafe supports "
            "(pyproject pins moto>=5.2.5,<5.3)."
        )
    return getattr(owner, name)


def require_params(func: Callable[..., Any], expected: tuple[str, ...], what: str) -> None:
    """Fail loudly when `func` no longer takes the parameters failsafe_tools.local calls it with."""
    try:
        params = tuple(inspect.signature(func).parameters)
    except (TypeError, ValueError) as exc:
        raise MotoHookError(f"cannot inspect {what}: {exc}") from exc
    if params[: len(expected)] != expected:
        import moto

        raise MotoHookError(
            f"moto {moto.__version__}: {what} takes {params}, failsafe_tools.local expects {expected}; "
            "the installed moto is outside the range failsafe supports."
        )


# -- code roots -------------------------------------------------------------------------------------------

_code_roots: dict[str, Path] = {}
_path_lock = threading.Lock()


def register_code_root(function_name: str, root: str | Path) -> None:
    """Import `function_name`'s handler from `root` (the directory SAM's CodeUri points at)."""
    path = Path(root).resolve()
    if not path.is_dir():
        raise ValueError(f"code root {path} for function {function_name!r} is not a directory")
    _code_roots[function_name] = path


def unregister_code_root(function_name: str) -> None:
    _code_roots.pop(function_name, None)


def code_root_for(function_name: str) -> Path:
    return _code_roots.get(function_name, DEFAULT_CODE_ROOT)


def _ensure_on_sys_path(root: Path) -> None:
    entry = str(root)
    with _path_lock:
        if entry not in sys.path:
            sys.path.insert(0, entry)


# -- stdout/stderr capture --------------------------------------------------------------------------------


class _Capture:
    """The log stream of one invocation: what its thread printed, stdout and stderr interleaved."""

    def __init__(self) -> None:
        self._buf = io.StringIO()
        self._lock = threading.Lock()
        self.closed = False

    def write(self, text: str) -> None:
        with self._lock:
            if not self.closed:
                self._buf.write(text)

    def close(self) -> str:
        with self._lock:
            self.closed = True
            return self._buf.getvalue()


_captures: dict[int, _Capture] = {}


class _ThreadRouter(io.TextIOBase):
    """A stream stand-in: writes from an invocation thread go to its capture, all others pass on.

    `name` "stdout"/"stderr": the router sits on sys.<name> and passes on to whatever sys.<name> is now
    (a harness may have swapped it). `name` None: it wraps a logging handler's stream and passes on to it.
    """

    def __init__(self, wrapped: TextIO, name: str | None) -> None:
        super().__init__()
        self._wrapped = wrapped
        self._name = name

    def _target(self) -> TextIO:
        if self._name is None:
            return self._wrapped
        current = getattr(sys, self._name)
        if current is not self and not isinstance(current, _ThreadRouter):
            return current  # type: ignore[no-any-return]
        return self._wrapped

    def write(self, text: str) -> int:
        capture = _captures.get(threading.get_ident())
        if capture is not None:
            capture.write(text)
            return len(text)
        try:
            return self._target().write(text)
        except ValueError:  # the wrapped stream was closed (a test harness swapped it): keep the text visible
            fallback = sys.__stdout__ if self._name == "stdout" else sys.__stderr__
            return fallback.write(text) if fallback is not None else len(text)

    def flush(self) -> None:
        if threading.get_ident() in _captures:
            return
        try:
            self._target().flush()
        except ValueError:
            return

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._target().fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target(), "encoding", "utf-8") or "utf-8"


_router_lock = threading.Lock()


def _ensure_routers() -> None:
    """Route sys.stdout/sys.stderr and plain logging StreamHandlers through a router (idempotent).

    A logging.StreamHandler binds the stream it was created with: a Powertools Logger created before the
    first invocation (at import by a test, or by another logger of the same service name) would write past
    sys.stdout. Only handlers of exactly logging.StreamHandler are wrapped (not pytest's capture handlers);
    for threads that are not invocations they behave exactly as before.
    """
    with _router_lock:
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if not isinstance(current, _ThreadRouter):
                setattr(sys, name, _ThreadRouter(current, name))
        loggers = [logging.getLogger()] + [
            lg for lg in list(logging.Logger.manager.loggerDict.values()) if isinstance(lg, logging.Logger)
        ]
        for logger in loggers:
            for handler in list(logger.handlers):
                if type(handler) is logging.StreamHandler and not isinstance(handler.stream, _ThreadRouter):
                    handler.setStream(_ThreadRouter(handler.stream, None))


# -- environment ------------------------------------------------------------------------------------------

_env_lock = threading.Lock()
_tls = threading.local()


class _Lineage:
    """The invocation holding the environment lock; nested synchronous invocations ride on it."""

    def __init__(self) -> None:
        self.active = True


@contextmanager
def _environment_lease() -> Iterator[_Lineage]:
    inherited: _Lineage | None = getattr(_tls, "lineage", None)
    if inherited is not None and inherited.active:
        yield inherited
        return
    _env_lock.acquire()
    lineage = _Lineage()
    try:
        yield lineage
    finally:
        lineage.active = False
        _env_lock.release()


@contextmanager
def _applied_environment(variables: Mapping[str, str]) -> Iterator[None]:
    # Only the keys applied here are put back. Restoring a whole snapshot would also undo what other
    # threads set meanwhile (a test's credentials, another stack's region) when an invocation that began
    # earlier finishes late.
    saved = {key: os.environ.get(key) for key in variables}
    for key, value in variables.items():
        os.environ[key] = value
    try:
        yield
    finally:
        for key, previous in saved.items():
            if previous is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = previous


def _attr(fn: LambdaFunction, name: str) -> Any:
    return require_hook(fn, name, "attribute of moto's LambdaFunction read by the in-process runtime")


def lambda_environment(fn: LambdaFunction, request_id: str, log_stream: str) -> dict[str, str]:
    """Lambda's reserved variables for `fn`, then the function's own Environment.Variables."""
    name = _attr(fn, "function_name")
    region = _attr(fn, "region")
    runtime = _attr(fn, "run_time")
    env = {
        "_HANDLER": str(_attr(fn, "handler")),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(_attr(fn, "memory_size")),
        "AWS_LAMBDA_FUNCTION_VERSION": _function_version(fn),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": _attr(fn, "logs_group_name"),
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_SAM_LOCAL": "true",
        "LAMBDA_TASK_ROOT": str(code_root_for(name)),
        "_X_AMZN_REQUEST_ID": request_id,
    }
    for key, value in (_attr(fn, "environment_vars") or {}).items():
        env[str(key)] = str(value)
    return env


def _function_version(fn: LambdaFunction) -> str:
    version = str(_attr(fn, "version"))
    arn = str(_attr(fn, "function_arn"))
    if arn.endswith(":$LATEST") or not arn.endswith(f":{version}"):
        return "$LATEST"
    return version


# -- context ----------------------------------------------------------------------------------------------


class LocalLambdaContext:
    """The LambdaContext a Python handler receives; remaining time counts down on the local clock."""

    def __init__(
        self,
        *,
        function_name: str,
        function_version: str,
        invoked_function_arn: str,
        memory_limit_in_mb: int,
        aws_request_id: str,
        log_group_name: str,
        log_stream_name: str,
        deadline: float,
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = aws_request_id
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.identity: Any = None
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, math.floor((self._deadline - get_clock().time()) * 1000))


# -- results ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvocationResult:
    """What the Invoke API answers: StatusCode, Payload, FunctionError, LogResult, ExecutedVersion."""

    status_code: int
    payload: bytes
    function_error: str | None = None
    log_result: str | None = None
    executed_version: str = "$LATEST"
    request_id: str = ""
    log: str = field(default="", repr=False)

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None

    @property
    def error_type(self) -> str | None:
        if self.function_error is None:
            return None
        body = self.json()
        return body.get("errorType") if isinstance(body, dict) else None


class _Fault(Exception):
    """A runtime fault (bad handler, import error, marshalling) reported with Lambda's Runtime.* errorType."""

    def __init__(self, error_type: str, message: str, stack: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = stack or []


def _load_handler(handler_spec: str, root: Path) -> Callable[[Any, Any], Any]:
    try:
        module_path, attr = handler_spec.rsplit(".", 1)
    except ValueError as exc:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler_spec}': {exc}") from exc
    if not module_path or not attr:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler_spec}'")
    module_name = module_path.replace("/", ".")
    _ensure_on_sys_path(root)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _Fault("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from exc
    except SyntaxError as exc:
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        raise _Fault(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", stack
        ) from exc
    handler = getattr(module, attr, None)
    if handler is None or not callable(handler):
        raise _Fault("Runtime.HandlerNotFound", f"Handler '{attr}' missing on module '{module_name}'")
    return handler  # type: ignore[no-any-return]


def _decimal_default(obj: object) -> Any:
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _marshal(result: Any) -> bytes:
    try:
        return json.dumps(result, default=_decimal_default).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise _Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from exc


def _error_payload(error_type: str, message: str, request_id: str, stack: list[str]) -> bytes:
    body = {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}
    return json.dumps(body).encode("utf-8")


@dataclass
class _Run:
    """One invocation: what it runs with and what the handler thread reports back."""

    fn: Any
    event: Any
    request_id: str
    name: str
    version: str
    timeout: float
    memory: int
    region: str
    account_id: str
    log_group: str
    log_stream: str
    handler_spec: str
    root: Path
    capture: _Capture = field(default_factory=_Capture)
    started: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    start_clock: float = 0.0
    start_wall: float = 0.0
    payload: bytes = b""
    error: bytes | None = None

    @property
    def invoked_arn(self) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"
        return arn if self.version == "$LATEST" else f"{arn}:{self.version}"


def _iso_millis(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _prepare(fn: LambdaFunction, event: Any) -> _Run:
    version = _function_version(fn)
    name = _attr(fn, "function_name")
    return _Run(
        fn=fn,
        event=event,
        request_id=str(uuid.uuid4()),
        name=name,
        version=version,
        timeout=float(_attr(fn, "timeout")),
        memory=int(_attr(fn, "memory_size")),
        region=_attr(fn, "region"),
        account_id=_attr(fn, "account_id"),
        log_group=_attr(fn, "logs_group_name"),
        log_stream=f"{get_clock().now():%Y/%m/%d}/[{version}]{uuid.uuid4().hex}",
        handler_spec=str(_attr(fn, "handler")),
        root=code_root_for(name),
    )


@contextmanager
def _working() -> Iterator[None]:
    """Hold the drill clock still while an invocation computes.

    A sleep inside the invocation (a retry backoff) is modelled: it moves the clock at once
    (`SpeedClock.working(jump_sleeps=True)`), since its caller, an actor waiting for the result, keeps the
    clock held meanwhile."""
    clock = get_clock()
    if not isinstance(clock, SpeedClock):  # a ManualClock moves only when told
        yield
        return
    with clock.working(jump_sleeps=True):
        yield


def _modelled_duration() -> None:
    """The invocation's duration on a drill clock, in the calling thread once the handler is done: the
    caller sleeps `MODELLED_INVOCATION_SECONDS` (its hold given up, taken back at exactly that instant), so
    other actors go on meanwhile and nobody else's schedule shifts."""
    clock = get_clock()
    if isinstance(clock, SpeedClock):
        clock.sleep(MODELLED_INVOCATION_SECONDS)


@contextmanager
def _handed_off() -> Iterator[Callable[[], None]]:
    """A hold taken now for a thread about to start (its `release` is called once that thread holds)."""
    clock = get_clock()
    if not isinstance(clock, SpeedClock):
        yield lambda: None
        return
    hold = clock.hold()
    try:
        yield hold.release
    except BaseException:
        hold.release()
        raise


@contextmanager
def _held() -> Iterator[None]:
    """Hold a drill clock (without modelling anything) while the calling thread works."""
    clock = get_clock()
    if not isinstance(clock, SpeedClock):
        yield
        return
    with clock.working():
        yield


def _handler_thread(run: _Run, lineage: _Lineage) -> None:
    """Body of the invocation thread: INIT (import), then the handler call with a context."""
    _tls.lineage = lineage
    ident = threading.get_ident()
    _captures[ident] = run.capture
    try:
        handler = _load_handler(run.handler_spec, run.root)
        run.start_clock = get_clock().time()
        run.start_wall = time.monotonic()
        context = LocalLambdaContext(
            function_name=run.name,
            function_version=run.version,
            invoked_function_arn=run.invoked_arn,
            memory_limit_in_mb=run.memory,
            aws_request_id=run.request_id,
            log_group_name=run.log_group,
            log_stream_name=run.log_stream,
            deadline=run.start_clock + run.timeout,
        )
        run.started.set()
        with _working():
            result = handler(run.event, context)
        run.payload = _marshal(result)
    except _Fault as fault:
        run.capture.write(f"[ERROR] {fault.error_type}: {fault.message}\n")
        run.error = _error_payload(fault.error_type, fault.message, run.request_id, fault.stack)
    except BaseException as exc:  # Lambda reports SystemExit and friends as well
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        message = str(exc)
        run.capture.write(
            f"[ERROR] {type(exc).__name__}: {message}\nTraceback (most recent call last):\n" + "".join(stack)
        )
        run.error = _error_payload(type(exc).__name__, message, run.request_id, stack)
    finally:
        _captures.pop(ident, None)
        run.done.set()


def _await_handler(run: _Run) -> bool:
    """Wait for the handler; True when it ran past its Timeout (local clock or wall clock)."""
    while not run.done.wait(POLL_INTERVAL_S):
        if run.started.is_set() and _expired(run):
            return True
    # A handler that slept on a ManualClock returns at once, but its time is up all the same.
    return run.started.is_set() and _clock_elapsed(run) > run.timeout


def _execute(fn: LambdaFunction, event: Any, *, asynchronous: bool = False) -> InvocationResult:
    """One invocation of `fn` with `event` (already parsed JSON), run to its end."""
    pool = _sandboxes.pool
    if pool is not None:
        return _execute_in_sandbox(pool, fn, event, asynchronous=asynchronous)
    run = _prepare(fn, event)
    env = lambda_environment(fn, run.request_id, run.log_stream)
    _ensure_routers()
    wall0 = time.monotonic()
    with _environment_lease() as lineage, _applied_environment(env):
        thread = threading.Thread(
            target=_handler_thread, args=(run, lineage), name=f"lambda:{run.name}", daemon=True
        )
        thread.start()
        timed_out = _await_handler(run)
    _modelled_duration()
    return _finish(run, timed_out, (time.monotonic() - (run.start_wall or wall0)) * 1000.0)


def _execute_in_sandbox(
    pool: SandboxPool, fn: LambdaFunction, event: Any, *, asynchronous: bool
) -> InvocationResult:
    """One invocation in a sandbox process that runs the function's own code package."""
    run = _prepare(fn, event)
    key = f"{run.name}@{run.root}"
    reserved = getattr(fn, "reserved_concurrency", None)
    with _held():  # a cold start computes too (its duration is in the invocation's modelled figure)
        sandbox = pool.acquire(
            key,
            handler=run.handler_spec,
            code_roots=[run.root],
            environment=lambda_environment(fn, run.request_id, run.log_stream),
            reserved=int(reserved) if reserved else None,
            wait=asynchronous,
        )
    run.start_clock = get_clock().time()
    run.start_wall = time.monotonic()
    try:
        with _working():
            outcome = sandbox.invoke(
                event,
                request_id=run.request_id,
                context={
                    "function_name": run.name,
                    "function_version": run.version,
                    "invoked_function_arn": run.invoked_arn,
                    "memory_limit_in_mb": run.memory,
                    "aws_request_id": run.request_id,
                    "log_group_name": run.log_group,
                    "log_stream_name": run.log_stream,
                },
                deadline=run.start_clock + run.timeout,
                expired=lambda: _expired(run),
            )
    finally:
        pool.release(key, sandbox)
    _modelled_duration()
    run.capture.write(outcome.log)
    if outcome.error is not None:
        body = {"errorMessage": "", "errorType": "Unhandled", **outcome.error, "requestId": run.request_id}
        body.setdefault("stackTrace", [])
        run.error = json.dumps(body).encode("utf-8")
    else:
        run.payload = outcome.payload
    return _finish(run, outcome.timed_out, (time.monotonic() - run.start_wall) * 1000.0)


class _Sandboxes:
    pool: SandboxPool | None = None


_sandboxes = _Sandboxes()


def use_package_runtime(runtime: PackageRuntime | None) -> None:
    """Run python3.x functions in sandbox processes from their own code package (None: in-process again)."""
    previous, _sandboxes.pool = _sandboxes.pool, (SandboxPool(runtime) if runtime is not None else None)
    if previous is not None:
        previous.shutdown()


def close_package_runtime() -> None:
    """The stack stopped: its sandboxes go, and invocations still arriving (a Step Functions execution that
    outlived the stack) fail instead of running in this process from the package directory."""
    if _sandboxes.pool is not None:
        _sandboxes.pool.close()


def package_runtime_pool() -> SandboxPool | None:
    return _sandboxes.pool


def prewarm(function_names: list[str], region: str | None = None) -> None:
    """Start one sandbox per function and import its handler now (INIT), as provisioned concurrency would.

    A cold start takes wall seconds; on a drill's sped-up clock those would pass as minutes of simulated time
    in the middle of an incident.
    """
    pool = _sandboxes.pool
    if pool is None:
        return
    errors: list[BaseException] = []

    def warm(name: str) -> None:
        try:
            fn = _resolve_function(name, None, region)
            run = _prepare(fn, None)
            key = f"{run.name}@{run.root}"
            env = lambda_environment(fn, run.request_id, run.log_stream)
            pool.release(
                key, pool.acquire(key, handler=run.handler_spec, code_roots=[run.root], environment=env)
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=warm, args=(name,), name=f"prewarm:{name}") for name in function_names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _finish(run: _Run, timed_out: bool, duration_ms: float) -> InvocationResult:
    """Build the Invoke answer and the log stream; store logs and EMF metrics as CloudWatch Logs would."""
    output = run.capture.close()
    request_id = run.request_id
    lines = [f"START RequestId: {request_id} Version: {run.version}", *output.splitlines()]
    function_error: str | None = "Unhandled"
    if timed_out:
        message = f"Task timed out after {run.timeout:.2f} seconds"
        payload = json.dumps(
            {"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {request_id} Error: {message}"}
        ).encode("utf-8")
        lines.append(f"{_iso_millis(get_clock().time())} {request_id} {message}")
        duration_ms = run.timeout * 1000.0
    elif run.error is not None:
        payload = run.error
    else:
        payload, function_error = run.payload, None
    lines.append(f"END RequestId: {request_id}")
    lines.append(
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\tMemory Size: {run.memory} MB"
    )
    log_text = "\n".join(lines) + "\n"
    _save_logs(run.fn, run.log_group, run.log_stream, lines)
    publish_emf_lines(output.splitlines(), run.account_id, run.region)
    tail = log_text.encode("utf-8")[-LOG_TAIL_BYTES:]
    return InvocationResult(
        status_code=200,
        payload=payload,
        function_error=function_error,
        log_result=base64.b64encode(tail).decode("ascii"),
        executed_version=run.version,
        request_id=request_id,
        log=log_text,
    )


def _clock_elapsed(run: _Run) -> float:
    """Seconds of the handler's run as Lambda's timeout sees them. A sped-up clock (a drill at 75x) would
    scale the handler's own compute too, so its elapsed time is divided by the speed; a clock that only
    moves when told (ManualClock) counts as it is."""
    clock = get_clock()
    speed = float(getattr(clock, "speed", 1.0))
    return (clock.time() - run.start_clock) / speed


def _expired(run: _Run) -> bool:
    return _clock_elapsed(run) > run.timeout or time.monotonic() - run.start_wall > run.timeout


def _save_logs(fn: LambdaFunction, group: str, stream: str, lines: list[str]) -> None:
    """Write the log stream to moto's CloudWatch Logs (wall-clock timestamps: moto rejects old events)."""
    logs = _attr(fn, "logs_backend")
    logs.ensure_log_group(group)
    logs.create_log_stream(group, stream)
    now_ms = int(time.time() * 1000)
    logs.put_log_events(group, stream, [{"timestamp": now_ms, "message": line} for line in lines])


# -- dispatch ---------------------------------------------------------------------------------------------

_async_mode: AsyncMode = "thread"
_pending: set[threading.Thread] = set()
_pending_lock = threading.Lock()


def set_async_mode(mode: AsyncMode) -> AsyncMode:
    """How InvocationType=Event runs: "thread" (a daemon thread, as Lambda queues it) or "inline".

    "inline" runs the handler before the 202 is returned (deterministic tests). Returns the previous mode.
    """
    global _async_mode
    if mode not in ("thread", "inline"):
        raise ValueError(f"async mode {mode!r}: expected 'thread' or 'inline'")
    previous, _async_mode = _async_mode, mode
    return previous


def drain_async(timeout_s: float = 30.0) -> None:
    """Wait (wall time) until every pending Event invocation has finished."""
    deadline = time.monotonic() + timeout_s
    while True:
        with _pending_lock:
            pending = [t for t in _pending if t.is_alive()]
        if not pending:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{len(pending)} async Lambda invocations still running after {timeout_s} s")
        pending[0].join(min(remaining, 0.5))


def _parse_event(body: bytes | str | None) -> Any:
    if body is None or body in (b"", ""):
        return {}
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        from moto.awslambda.exceptions import LambdaClientError

        raise LambdaClientError(
            "InvalidRequestContentException", f"Could not parse request body into json: {exc}"
        ) from exc


def run_invocation(
    fn: LambdaFunction, body: bytes | str | None, invocation_type: str = "RequestResponse"
) -> InvocationResult:
    """Invoke moto function `fn` in-process according to the Invoke API's InvocationType."""
    event = _parse_event(body)
    if invocation_type == "DryRun":
        return InvocationResult(status_code=204, payload=b"", executed_version=_function_version(fn))
    if invocation_type == "Event":
        if _async_mode == "inline":
            _execute(fn, event, asynchronous=True)
        else:
            with _handed_off() as release:

                def background() -> None:
                    # Lambda queues the event and runs it at once: on a drill clock the invocation holds
                    # time from the moment it was queued, so none passes before it runs.
                    try:
                        with _held():
                            release()
                            _execute(fn, event, asynchronous=True)
                    finally:
                        release()
                        with _pending_lock:
                            _pending.discard(threading.current_thread())

                thread = threading.Thread(target=background, name="lambda-async", daemon=True)
                with _pending_lock:
                    _pending.add(thread)
                thread.start()
        return InvocationResult(status_code=202, payload=b"", executed_version=_function_version(fn))
    if invocation_type != "RequestResponse":
        from moto.awslambda.exceptions import InvalidParameterValueException

        raise InvalidParameterValueException(f"Unsupported InvocationType {invocation_type!r}")
    return _execute(fn, event)


def is_python_runtime(runtime: object) -> bool:
    return isinstance(runtime, str) and runtime.startswith("python3")


def _resolve_function(arn_or_name: str, qualifier: str | None, region: str | None) -> LambdaFunction:
    from moto.awslambda.utils import get_backend

    account_id = DEFAULT_ACCOUNT_ID
    if arn_or_name.startswith("arn:"):
        parts = arn_or_name.split(":")
        if len(parts) < 7 or parts[2] != "lambda":
            raise ValueError(f"{arn_or_name!r} is not a Lambda function ARN")
        region, account_id = parts[3], parts[4]
        if len(parts) > 7 and qualifier is None:
            qualifier = parts[7]
        name = parts[6]
    else:
        name = arn_or_name
    region = region or os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
    return get_backend(account_id, region).get_function(name, qualifier)


def invoke_function(
    arn_or_name: str,
    payload: bytes | str | Mapping[str, Any] | list[Any] | None = None,
    invocation_type: InvocationType = "RequestResponse",
    *,
    qualifier: str | None = None,
    region: str | None = None,
) -> InvocationResult:
    """Invoke a function of the local stack in-process, as the Invoke API would (EventBridge targets, ...).

    `arn_or_name`: a function ARN (its account and region are used) or a name in `region` (default
    AWS_DEFAULT_REGION, then us-east-1) of account 123456789012. `payload`: JSON bytes/str or a
    JSON-serialisable object. Raises moto's ResourceNotFoundException for an unknown function.
    """
    fn = _resolve_function(arn_or_name, qualifier, region)
    body = payload if isinstance(payload, bytes | str) or payload is None else json.dumps(payload)
    if not is_python_runtime(_attr(fn, "run_time")):
        raise ValueError(
            f"function {arn_or_name!r} has runtime {fn.run_time!r}: only python3.x runs in-process"
        )
    return run_invocation(fn, body, invocation_type)


# -- moto hook --------------------------------------------------------------------------------------------

_HOOK_MARK = "__failsafe_in_process__"
_install_lock = threading.Lock()


class _HookState:
    original_invoke: Callable[..., Any] | None = None


_hook = _HookState()


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if str(key).lower() == lowered:
            return str(value)
    return None


def _in_process_invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> Any:
    if not is_python_runtime(getattr(self, "run_time", None)):
        original = _hook.original_invoke
        if original is None:
            raise MotoHookError("in-process LambdaFunction.invoke is active but moto's original is unknown")
        return original(self, body, request_headers, response_headers)
    invocation_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
    result = run_invocation(self, body, invocation_type)
    response_headers["x-amz-executed-version"] = result.executed_version
    if result.function_error is not None:
        response_headers["x-amz-function-error"] = result.function_error
    if invocation_type == "RequestResponse" and result.log_result is not None:
        response_headers["x-amz-log-result"] = result.log_result
    return result.payload


def install() -> None:
    """Make moto's Lambda backend run python3.x functions in-process. Idempotent; raises MotoHookError."""
    from moto.awslambda import models as lambda_models
    from moto.awslambda import utils as lambda_utils

    function_cls = require_hook(lambda_models, "LambdaFunction", "moto's Lambda function model")
    require_params(
        require_hook(lambda_utils, "get_backend", "Lambda backend lookup used by invoke_function"),
        ("account_id", "region"),
        "moto.awslambda.utils.get_backend",
    )
    backend_cls = require_hook(lambda_models, "LambdaBackend", "moto's Lambda backend")
    require_params(
        require_hook(backend_cls, "get_function", "function lookup used by invoke_function"),
        ("self", "function_name_or_arn", "qualifier"),
        "LambdaBackend.get_function",
    )
    invoke = require_hook(function_cls, "invoke", "the method every moto Lambda invocation goes through")
    require_params(invoke, ("self", "body", "request_headers", "response_headers"), "LambdaFunction.invoke")
    with _install_lock:
        if _sandboxes.pool is not None and _sandboxes.pool.closed:
            _sandboxes.pool = None  # a new stack or test: the stopped stack's refusal ends here
        if getattr(invoke, _HOOK_MARK, False):
            return
        _hook.original_invoke = invoke
        setattr(_in_process_invoke, _HOOK_MARK, True)
        function_cls.invoke = _in_process_invoke


def uninstall() -> None:
    """Restore moto's own LambdaFunction.invoke."""
    from moto.awslambda.models import LambdaFunction

    with _install_lock:
        original = _hook.original_invoke
        if original is not None and getattr(LambdaFunction.invoke, _HOOK_MARK, False):
            LambdaFunction.invoke = original  # type: ignore[method-assign]
        _hook.original_invoke = None


def is_installed() -> bool:
    from moto.awslambda.models import LambdaFunction

    return bool(getattr(LambdaFunction.invoke, _HOOK_MARK, False))
