"""The runtime inside one local Lambda sandbox process (what Lambda's runtime interface client does on AWS).

The local stack starts it as `<lambda python> -I lambda_bootstrap.py` with the function's environment. It uses
the standard library only and sees nothing but that interpreter's site-packages (the Lambda python runtime:
boto3) and the function's code package and layers, so a package that misses a dependency fails here as it
would on AWS. It is run as a script, never imported by failsafe.

Protocol (one JSON document per line): requests arrive on stdin, answers leave on the file descriptor named by
$FAILSAFE_SANDBOX_ANSWER_FD; what the
handler prints on stdout/stderr is its log stream.

    ← {"op": "init", "code_roots": [...], "handler": "pkg.module.fn", "clock_hook": "pkg.mod:fn" | null}
    ← {"op": "invoke", "request_id", "event", "context": {...}, "deadline": <clock seconds>}
    → {"op": "time"}                    the sandbox asks the stack's clock ...
    ← {"time": <seconds>}
    → {"op": "sleep", "seconds": s}     ... or sleeps on it
    ← {"time": <seconds>}
    → {"op": "result", "payload": <json text>}  or  {"op": "error", "errorType", "errorMessage", "stackTrace"}

`clock_hook` names a function the sandbox calls with a clock object (`time()`, `sleep()`, `now()`) before the
handler module is imported, so that code which takes its time from an injectable clock follows the stack's
(possibly simulated) clock, as the in-process runtime does.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
import threading
import traceback
from datetime import UTC, datetime
from typing import Any

END_MARK = "\x1efailsafe-invocation-end"
"""Written to stdout and stderr after each invocation, so the stack knows the log stream is complete."""

_answers = os.fdopen(int(os.environ.pop("FAILSAFE_SANDBOX_ANSWER_FD")), "w", encoding="utf-8", buffering=1)
_requests = sys.stdin
_channel = threading.Lock()


def _send(message: dict[str, Any]) -> None:
    _answers.write(json.dumps(message) + "\n")
    _answers.flush()


def _ask(message: dict[str, Any]) -> dict[str, Any]:
    with _channel:
        _send(message)
        line = _requests.readline()
    if not line:
        raise SystemExit(0)  # the stack went away
    answer: dict[str, Any] = json.loads(line)
    return answer


class StackClock:
    """The local stack's clock, asked over the control channel."""

    def time(self) -> float:
        return float(_ask({"op": "time"})["time"])

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            _ask({"op": "sleep", "seconds": seconds})

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)


class Context:
    """The LambdaContext a handler receives; remaining time counts down on the stack's clock."""

    def __init__(self, fields: dict[str, Any], deadline: float, clock: StackClock) -> None:
        self.function_name: str = fields["function_name"]
        self.function_version: str = fields["function_version"]
        self.invoked_function_arn: str = fields["invoked_function_arn"]
        self.memory_limit_in_mb: int = int(fields["memory_limit_in_mb"])
        self.aws_request_id: str = fields["aws_request_id"]
        self.log_group_name: str = fields["log_group_name"]
        self.log_stream_name: str = fields["log_stream_name"]
        self.identity: Any = None
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline = deadline
        self._clock = clock

    def get_remaining_time_in_millis(self) -> int:
        return max(0, math.floor((self._deadline - self._clock.time()) * 1000))


class InitError(Exception):
    def __init__(self, error_type: str, message: str, stack: list[str]) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = stack


def _stack_of(exc: BaseException, skip: int = 0) -> list[str]:
    return traceback.format_list(traceback.extract_tb(exc.__traceback__)[skip:])


def _load(spec: str) -> Any:
    try:
        module_path, attr = spec.rsplit(".", 1)
    except ValueError as exc:
        raise InitError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {exc}", []) from exc
    if not module_path or not attr:
        raise InitError("Runtime.MalformedHandlerName", f"Bad handler '{spec}'", [])
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", []
        ) from exc
    except SyntaxError as exc:
        raise InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", _stack_of(exc, 1)
        ) from exc
    handler = getattr(module, attr, None)
    if handler is None or not callable(handler):
        raise InitError("Runtime.HandlerNotFound", f"Handler '{attr}' missing on module '{module_name}'", [])
    return handler


def _install_clock(hook: str | None, clock: StackClock) -> None:
    if not hook:
        return
    module_name, _, attr = hook.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return  # a package without the hook runs on the system clock
    getattr(module, attr)(clock)


def _end_of_log() -> None:
    for stream in (sys.stdout, sys.stderr):
        stream.write(END_MARK + "\n")
        stream.flush()


def main() -> None:
    init = json.loads(_requests.readline())
    # Script directory and the stack's own paths out; the code package and its layers in front, as on AWS.
    sys.path[:] = [*init["code_roots"], *[p for p in sys.path[1:] if p]]
    clock = StackClock()
    handler: Any = None
    init_error: InitError | None = None
    try:
        _install_clock(init.get("clock_hook"), clock)
        handler = _load(init["handler"])
    except InitError as exc:
        init_error = exc
    except BaseException as exc:  # an exception raised while importing: Lambda reports it as an init error
        init_error = InitError(type(exc).__name__, str(exc), _stack_of(exc, 1))
    _send({"op": "ready"})
    for line in _requests:
        request = json.loads(line)
        if request.get("op") != "invoke":
            continue
        os.environ["_X_AMZN_REQUEST_ID"] = request["request_id"]
        try:
            if init_error is not None:
                print(f"[ERROR] {init_error.error_type}: {init_error.message}", file=sys.stderr)
                answer: dict[str, Any] = {
                    "op": "error",
                    "errorType": init_error.error_type,
                    "errorMessage": init_error.message,
                    "stackTrace": init_error.stack,
                }
            else:
                context = Context(request["context"], float(request["deadline"]), clock)
                answer = _marshal(handler(request["event"], context))
        except BaseException as exc:  # Lambda reports SystemExit and friends as well
            answer = _error_answer(exc)
        _end_of_log()
        _send(answer)


def _marshal(result: Any) -> dict[str, Any]:
    try:
        return {"op": "result", "payload": json.dumps(result, default=_marshal_default)}
    except (TypeError, ValueError) as exc:
        message = f"Unable to marshal response: {exc}"
        print(f"[ERROR] Runtime.MarshalError: {message}", file=sys.stderr)
        return {"op": "error", "errorType": "Runtime.MarshalError", "errorMessage": message, "stackTrace": []}


def _marshal_default(obj: object) -> Any:
    from decimal import Decimal

    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _error_answer(exc: BaseException) -> dict[str, Any]:
    stack = _stack_of(exc, 1)
    message = str(exc)
    sys.stderr.write(
        f"[ERROR] {type(exc).__name__}: {message}\nTraceback (most recent call last):\n" + "".join(stack)
    )
    return {"op": "error", "errorType": type(exc).__name__, "errorMessage": message, "stackTrace": stack}


if __name__ == "__main__":
    main()
