"""EventBridge delivery for the embedded local AWS: match rules, shape the input, invoke the targets.

moto 5.2.5 stores rules and targets and has an event-pattern matcher (`moto.events.models.EventPattern`),
but `Rule.send_to_targets` only knows log groups, archives, SQS, other buses and API destinations: a Lambda
or Step Functions target raises `NotImplementedError`. `install()` replaces `Rule.send_to_targets` with
`_send_to_targets` below, so there is one delivery path for both producers:

- `put_events` from boto3 (moto calls `rule.send_to_targets` for every rule on the bus), and
- `deliver_event` (used by the alarm evaluator for "CloudWatch Alarm State Change").

Delivery semantics, and where they differ from AWS:

- Only ENABLED rules on the bus deliver; the pattern is matched by moto's own `EventPattern`.
- Targets by service: Lambda (`lambda_runtime.invoke_function` when that module exists,
  else moto's Lambda backend `invoke`), Step Functions (`StartExecution` on moto's backend, the ASL
  interpreter when `execute_state_machine` is configured), SNS (`Publish`), SQS (`SendMessage`, with
  `SqsParameters.MessageGroupId`). Log groups, archives, other buses and API destinations stay with moto.
  Any other target type fails that target with a recorded error; it never fails the producer.
- Input: the whole event, or `Input` (constant JSON), `InputPath` (JSONPath) or `InputTransformer`
  (`InputPathsMap` + `InputTemplate`, JSON or plain-text templates, the `aws.events.*` predefined
  variables). Setting more than one of them fails that target, as AWS rejects it at `PutTargets`.
- AWS invokes Lambda targets asynchronously (invocation type `Event`). Locally the default mode is
  `inline`: targets run synchronously inside the call that produced the event, so a test sees every side
  effect as soon as `put_events` / `evaluate_all()` returns. `set_delivery_mode("thread")` hands deliveries
  to one worker thread instead (call `flush()` to wait for it).
- AWS retries a failed delivery for up to 24 h / 185 attempts (the target's `RetryPolicy`) and then sends
  the event to the target's dead-letter queue. Locally there is exactly one attempt; a failure is recorded
  in the delivery log (`delivery_log()`) and, when the target has `DeadLetterConfig.Arn` pointing at an
  SQS queue, the event goes there with AWS's `RULE_ARN` / `TARGET_ARN` / `ERROR_CODE` / `ERROR_MESSAGE`
  message attributes. Function errors inside an asynchronously invoked Lambda are not delivery failures
  in AWS either; they are recorded on the record (`function_error`) for visibility.

Test seam: `set_lambda_invoker(fn)` replaces only the final Lambda invoke call (the function that receives
the target ARN, the JSON payload and the invocation type); matching, input shaping and recording still run.
"""

from __future__ import annotations

import copy
import json
import logging
import queue
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from failsafe_tools.local.clock import get_clock

log = logging.getLogger(__name__)

DeliveryMode = Literal["inline", "thread"]


class MotoInternalsChanged(RuntimeError):
    """A moto internal that the local stack hooks into is missing or has changed shape."""


class LambdaInvoker(Protocol):
    def __call__(self, function_arn: str, payload: bytes, invocation_type: str) -> Any: ...


@dataclass
class DeliveryRecord:
    """One attempt to deliver one event to one target."""

    event_id: str
    rule_arn: str
    target_id: str
    target_arn: str
    input: Any
    ok: bool
    error: str | None = None
    response: Any = None
    function_error: str | None = None
    dead_lettered_to: str | None = None
    time: float = field(default_factory=lambda: get_clock().time())


class TextInput(str):
    """A target input that is text, not JSON (an InputTransformer with a plain-text template)."""

    __slots__ = ()


class TargetInputError(ValueError):
    """A target's Input / InputPath / InputTransformer cannot be applied."""


# --------------------------------------------------------------------------------------------------------
# state

_lock = threading.RLock()
_log: list[DeliveryRecord] = []
_queue: queue.Queue[tuple[Any, dict[str, Any]] | None] = queue.Queue()
_originals: dict[str, Any] = {}


class _Settings:
    mode: DeliveryMode = "inline"
    worker: threading.Thread | None = None
    lambda_invoker: LambdaInvoker | None = None


_settings = _Settings()


def delivery_log() -> list[DeliveryRecord]:
    """A copy of every delivery attempt so far (oldest first)."""
    with _lock:
        return list(_log)


def clear_delivery_log() -> None:
    with _lock:
        _log.clear()


def set_lambda_invoker(invoker: LambdaInvoker | None) -> LambdaInvoker | None:
    """Replace the final Lambda invoke call (test seam); `None` restores the default. Returns the previous."""
    with _lock:
        previous, _settings.lambda_invoker = _settings.lambda_invoker, invoker
    return previous


@contextmanager
def lambda_invoker(invoker: LambdaInvoker) -> Iterator[None]:
    previous = set_lambda_invoker(invoker)
    try:
        yield
    finally:
        set_lambda_invoker(previous)


def set_delivery_mode(mode: DeliveryMode) -> DeliveryMode:
    """`inline` (default, deterministic) or `thread` (one background worker). Returns the previous mode."""
    if mode not in ("inline", "thread"):
        raise ValueError(f"delivery mode {mode!r}: expected 'inline' or 'thread'")
    with _lock:
        previous, _settings.mode = _settings.mode, mode
        worker = _settings.worker
        if mode == "thread" and (worker is None or not worker.is_alive()):
            worker = threading.Thread(target=_work, name="failsafe-eventbridge-delivery", daemon=True)
            _settings.worker = worker
            worker.start()
    if mode == "inline":
        flush()
    return previous


def flush(timeout: float = 10.0) -> None:
    """Wait until the worker thread (thread mode) has delivered everything queued so far."""
    done = threading.Event()
    with _lock:
        worker_alive = _settings.worker is not None and _settings.worker.is_alive()
    if not worker_alive:
        return
    _queue.put((done, {}))
    if not done.wait(timeout):
        raise TimeoutError(f"EventBridge deliveries still pending after {timeout} s")


def _work() -> None:
    while True:
        item = _queue.get()
        if item is None:
            return
        rule, event = item
        if isinstance(rule, threading.Event):
            rule.set()
            continue
        try:
            _deliver_to_rule(rule, event)
        except Exception:  # never let the worker die
            log.exception("EventBridge delivery worker failed on rule %s", getattr(rule, "arn", rule))


# --------------------------------------------------------------------------------------------------------
# public entry point for producers inside the local stack


def deliver_event(
    event: dict[str, Any], account_id: str, region: str, event_bus_name: str = "default"
) -> list[DeliveryRecord]:
    """Deliver a complete EventBridge event (AWS shape, `time` as ISO text) to every matching rule.

    Returns the records of the attempts made inline (empty in thread mode; see `delivery_log()`).
    """
    from moto.events.models import events_backends

    backend = events_backends[account_id][region]
    bus = backend.event_buses.get(event_bus_name)
    if bus is None:
        raise ValueError(f"event bus {event_bus_name!r} does not exist in {account_id}/{region}")
    before = len(_log)
    for rule in list(bus.rules.values()):
        rule.send_to_targets(copy.deepcopy(event))  # type: ignore[arg-type]
    with _lock:
        return list(_log[before:])


# --------------------------------------------------------------------------------------------------------
# the hook


def _iso(value: Any) -> str:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _send_to_targets(rule: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
    """Replacement for moto's `Rule.send_to_targets` (same signature)."""
    if rule.state != "ENABLED" or not rule.event_pattern.get_pattern():
        return  # disabled, or a schedule-only rule: those never match events in AWS (moto would deliver)
    event = dict(original_event)
    event.pop("ingestion-time", None)  # moto-internal; not part of what targets receive
    event["time"] = _iso(event.get("time") or get_clock().time())
    if not rule.event_pattern.matches_event(event):
        return
    with _lock:
        threaded = _settings.mode == "thread"
    if threaded:
        _queue.put((rule, event))
    else:
        _deliver_to_rule(rule, event, transform_input)


_MOTO_TARGETS = {
    ("logs", "log-group"),
    ("events", ""),
    ("events", "event-bus"),
    ("events", "api-destination"),
}


def _deliver_to_rule(rule: Any, event: dict[str, Any], transform_input: bool = True) -> None:
    from moto.utilities.arns import parse_arn

    moto_targets: list[dict[str, Any]] = []
    for target in list(rule.targets):
        arn = parse_arn(target["Arn"])
        if (arn.service, arn.resource_type) in _MOTO_TARGETS:
            moto_targets.append(target)
            continue
        _deliver_one(rule, target, arn.service, event)
    if moto_targets:
        _delegate_to_moto(rule, moto_targets, event, transform_input)


def _delegate_to_moto(
    rule: Any, targets: list[dict[str, Any]], event: dict[str, Any], transform_input: bool
) -> None:
    """Log groups, archives, other buses, API destinations: moto's own code, in moto's event format."""
    proxy = copy.copy(rule)
    proxy.targets = targets
    moto_event = dict(event)
    try:
        moto_event["time"] = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")).timestamp()
    except ValueError:
        moto_event["time"] = get_clock().time()
    moto_event.setdefault("ingestion-time", get_clock().time())
    for target in targets:
        single = copy.copy(proxy)
        single.targets = [target]
        try:
            _originals["send_to_targets"](single, moto_event, transform_input)
        except Exception as exc:
            _record(rule, target, event, None, ok=False, error=f"{type(exc).__name__}: {exc}")
        else:
            _record(rule, target, event, None, ok=True)


def _deliver_one(rule: Any, target: dict[str, Any], service: str, event: dict[str, Any]) -> None:
    try:
        payload = target_input(target, event, rule.arn, rule.name)
    except TargetInputError as exc:
        _fail(rule, target, event, None, f"InvalidInput: {exc}")
        return
    body = str(payload) if isinstance(payload, TextInput) else json.dumps(payload)
    try:
        response, function_error = _invoke(service, target, body, event)
    except Exception as exc:
        _fail(rule, target, event, payload, f"{type(exc).__name__}: {exc}")
        return
    _record(rule, target, event, payload, ok=True, response=response, function_error=function_error)


def _invoke(service: str, target: dict[str, Any], body: str, event: dict[str, Any]) -> tuple[Any, str | None]:
    from moto.utilities.arns import parse_arn

    arn_text = target["Arn"]
    arn = parse_arn(arn_text)
    if service == "lambda":
        invoker = current_lambda_invoker()
        response = invoker(arn_text, body.encode("utf-8"), "Event")
        return response, _function_error(response)
    if service == "states":
        from moto.stepfunctions.responses import get_backend

        name = str(uuid.uuid4())  # EventBridge names the executions it starts with a generated id
        execution = get_backend(arn.account, arn.region).start_execution(arn_text, name, body)
        return {"executionArn": execution.execution_arn}, None
    if service == "sns":
        from moto.sns.models import sns_backends

        message_id = sns_backends[arn.account][arn.region].publish(message=body, arn=arn_text)
        return {"MessageId": message_id}, None
    if service == "sqs":
        from moto.sqs.models import sqs_backends

        group_id = target.get("SqsParameters", {}).get("MessageGroupId")
        message = sqs_backends[arn.account][arn.region].send_message(
            queue_name=arn.resource_id, message_body=body, group_id=group_id
        )
        return {"MessageId": message.id}, None
    raise NotImplementedError(
        f"EventBridge target {arn_text}: the local stack delivers to Lambda, Step Functions, SNS, SQS, "
        "CloudWatch Logs, archives, event buses and API destinations only"
    )


def _function_error(response: Any) -> str | None:
    """`FunctionError` of an invoke answer: lambda_runtime's InvocationResult or the fallback's dict."""
    error = (
        response.get("FunctionError")
        if isinstance(response, dict)
        else getattr(response, "function_error", None)
    )
    return str(error) if error else None


def current_lambda_invoker() -> LambdaInvoker:
    """The seam's invoker if one is set, else the default (used for targets and alarm actions alike)."""
    return _settings.lambda_invoker or _default_lambda_invoker


def _default_lambda_invoker(function_arn: str, payload: bytes, invocation_type: str) -> Any:
    """`failsafe_tools.local.lambda_runtime.invoke_function` when present, else moto's Lambda backend."""
    import importlib

    try:
        runtime: Any = importlib.import_module("failsafe_tools.local.lambda_runtime")
    except ImportError:
        runtime = None
    invoke_function: Callable[..., Any] | None = getattr(runtime, "invoke_function", None)
    if invoke_function is not None:
        return invoke_function(function_arn, payload, invocation_type)
    from moto.awslambda.utils import get_backend
    from moto.utilities.arns import parse_arn

    arn = parse_arn(function_arn)
    name, _, qualifier = arn.resource_id.partition(":")
    response_headers: dict[str, Any] = {}
    result = get_backend(arn.account, arn.region).invoke(
        name,
        qualifier or None,
        payload.decode("utf-8"),
        {"x-amz-invocation-type": invocation_type},
        response_headers,
    )
    if response_headers.get("x-amz-function-error"):
        return {"FunctionError": response_headers["x-amz-function-error"], "Payload": result}
    return {"StatusCode": 202, "Payload": result}


def _record(
    rule: Any,
    target: dict[str, Any],
    event: dict[str, Any],
    payload: Any,
    *,
    ok: bool,
    error: str | None = None,
    response: Any = None,
    function_error: str | None = None,
    dead_lettered_to: str | None = None,
) -> None:
    record = DeliveryRecord(
        event_id=str(event.get("id", "")),
        rule_arn=rule.arn,
        target_id=str(target.get("Id", "")),
        target_arn=str(target.get("Arn", "")),
        input=payload,
        ok=ok,
        error=error,
        response=response,
        function_error=function_error,
        dead_lettered_to=dead_lettered_to,
    )
    if not ok:
        log.warning("EventBridge delivery to %s (rule %s) failed: %s", record.target_arn, rule.arn, error)
    with _lock:
        _log.append(record)


def _fail(rule: Any, target: dict[str, Any], event: dict[str, Any], payload: Any, error: str) -> None:
    dlq = target.get("DeadLetterConfig", {}).get("Arn")
    dead_lettered_to = None
    if dlq:
        try:
            _send_to_dead_letter_queue(dlq, rule.arn, target["Arn"], event, error)
            dead_lettered_to = dlq
        except Exception as exc:
            error = f"{error}; dead-letter queue {dlq} also failed: {type(exc).__name__}: {exc}"
    _record(rule, target, event, payload, ok=False, error=error, dead_lettered_to=dead_lettered_to)


def _send_to_dead_letter_queue(
    dlq_arn: str, rule_arn: str, target_arn: str, event: dict[str, Any], error: str
) -> None:
    from moto.sqs.models import sqs_backends
    from moto.utilities.arns import parse_arn

    arn = parse_arn(dlq_arn)
    if arn.service != "sqs":
        raise ValueError(f"dead-letter target {dlq_arn} is not an SQS queue")
    code, _, message = error.partition(": ")

    def attribute(value: str) -> dict[str, str]:
        return {"DataType": "String", "StringValue": value}

    sqs_backends[arn.account][arn.region].send_message(
        queue_name=arn.resource_id,
        message_body=json.dumps(event),
        message_attributes={
            "RULE_ARN": attribute(rule_arn),
            "TARGET_ARN": attribute(target_arn),
            "ERROR_CODE": attribute(code or "Error"),
            "ERROR_MESSAGE": attribute(message or error),
        },
    )


# --------------------------------------------------------------------------------------------------------
# Input / InputPath / InputTransformer

_PATH_TOKEN = re.compile(r"\.([A-Za-z0-9_\-$@]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_MISSING = object()


def resolve_json_path(document: Any, path: str) -> Any:
    """A JSONPath of the subset EventBridge uses: `$`, `.name`, `['name']`, `[index]`. Absent → `_MISSING`."""
    if not path.startswith("$"):
        raise TargetInputError(f"JSONPath {path!r} must start with '$'")
    position, node = 1, document
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if match is None:
            raise TargetInputError(f"JSONPath {path!r}: unsupported syntax at {path[position:]!r}")
        name, index, quoted, double_quoted = match.groups()
        key = name if name is not None else quoted if quoted is not None else double_quoted
        if index is not None:
            if not isinstance(node, list) or int(index) >= len(node):
                return _MISSING
            node = node[int(index)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return _MISSING
        position = match.end()
    return node


def target_input(target: dict[str, Any], event: dict[str, Any], rule_arn: str, rule_name: str) -> Any:
    """What the target receives: a JSON value, or text for a non-JSON InputTransformer template."""
    present = [key for key in ("Input", "InputPath", "InputTransformer") if target.get(key) is not None]
    if len(present) > 1:
        raise TargetInputError(f"target {target.get('Id')} sets {' and '.join(present)}; AWS allows only one")
    if not present:
        return event
    if present[0] == "Input":
        try:
            return json.loads(target["Input"])
        except ValueError as exc:
            raise TargetInputError(f"Input of target {target.get('Id')} is not valid JSON: {exc}") from exc
    if present[0] == "InputPath":
        value = resolve_json_path(event, target["InputPath"])
        return None if value is _MISSING else value
    return _transform(target["InputTransformer"], event, rule_arn, rule_name)


def _transform(transformer: dict[str, Any], event: dict[str, Any], rule_arn: str, rule_name: str) -> Any:
    template: str = transformer.get("InputTemplate", "")
    values: dict[str, Any] = {}
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        if name.startswith("aws.events."):
            raise TargetInputError(f"InputPathsMap key {name!r}: the 'aws.events.' prefix is reserved")
        values[name] = resolve_json_path(event, path)
    values["aws.events.rule-arn"] = rule_arn
    values["aws.events.rule-name"] = rule_name
    values["aws.events.event"] = {k: v for k, v in event.items() if k != "detail"}
    values["aws.events.event.json"] = event
    values["aws.events.event.ingestion-time"] = event.get("time")
    stripped = template.strip()
    is_json = stripped.startswith(("{", "[", '"'))
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        char = template[i]
        if char == "\\" and in_string:
            out.append(template[i : i + 2])
            i += 2
            continue
        if char == '"':
            in_string = not in_string
        if char == "<":
            end = template.find(">", i)
            name = template[i + 1 : end] if end > 0 else ""
            if name in values:
                out.append(_placeholder(values[name], is_json=is_json, in_string=in_string))
                i = end + 1
                continue
        out.append(char)
        i += 1
    text = "".join(out)
    if not is_json:
        return TextInput(text)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TargetInputError(f"InputTemplate does not produce valid JSON: {exc}: {text[:200]}") from exc


def _placeholder(value: Any, *, is_json: bool, in_string: bool) -> str:
    if value is _MISSING:
        return "" if (in_string or not is_json) else "null"
    if not is_json:
        return value if isinstance(value, str) else json.dumps(value)
    if in_string:
        text = value if isinstance(value, str) else json.dumps(value)
        return json.dumps(text)[1:-1]
    return json.dumps(value)


# --------------------------------------------------------------------------------------------------------
# install


def _put_events_with_clock(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """moto stamps `time` from the wall clock; the local stack's time is the clock's."""
    stamped = [event if event.get("Time") else {**event, "Time": get_clock().time()} for event in events]
    result: list[dict[str, Any]] = _originals["put_events"](self, stamped)
    return result


TEST_EVENT_REQUIRED = ("id", "account", "source", "time", "region", "resources", "detail-type")


def test_event_pattern(pattern: str, event_text: str) -> bool:
    """TestEventPattern: whether `pattern` matches `event_text` by the matcher rule delivery uses
    (`EventPattern.matches_event`, after the same normalisation of `time`). AWS requires the event's
    envelope fields (`TEST_EVENT_REQUIRED`); a bad pattern or event is an InvalidEventPatternException."""
    from moto.events.exceptions import InvalidEventPatternException
    from moto.events.models import EventPattern

    matcher = EventPattern.load(pattern)  # raises InvalidEventPatternException naming the problem
    try:
        event = json.loads(event_text)
    except (TypeError, ValueError) as exc:
        raise InvalidEventPatternException(f"Event is not valid JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise InvalidEventPatternException("Event must be a JSON object")
    missing = [name for name in TEST_EVENT_REQUIRED if name not in event]
    if missing:
        raise InvalidEventPatternException(f"Event is missing the required field(s) {', '.join(missing)}")
    event["time"] = _iso(event["time"])
    return bool(matcher.matches_event(event))  # type: ignore[arg-type]


def _test_event_pattern_response(self: Any) -> str:
    """moto's EventsHandler.test_event_pattern answered an empty 200."""
    return json.dumps(
        {"Result": test_event_pattern(self._get_param("EventPattern"), self._get_param("Event"))}
    )


def _require(owner: Any, attribute: str, what: str) -> Any:
    value = getattr(owner, attribute, None)
    if value is None:
        import moto

        where = f"{getattr(owner, '__module__', owner)}.{getattr(owner, '__name__', owner)}.{attribute}"
        raise MotoInternalsChanged(
            f"moto {moto.__version__}: {where} is missing; failsafe_tools.local.eventbridge hooks it to "
            f"{what}. "
            "The local stack supports moto >=5.2.5,<5.3."
        )
    return value


def assert_moto_internals() -> None:
    """Fail loudly if any moto internal this module relies on has changed."""
    import inspect

    from moto.events import models

    send = _originals.get("send_to_targets") or _require(models.Rule, "send_to_targets", "deliver to targets")
    parameters = list(inspect.signature(send).parameters)
    if parameters[:3] != ["self", "original_event", "transform_input"]:
        raise MotoInternalsChanged(f"moto Rule.send_to_targets signature changed: {parameters}")
    _require(models.EventPattern, "matches_event", "match event patterns")
    _require(models.EventsBackend, "put_events", "stamp event times from the local clock")
    _require(models, "events_backends", "find rules")
    rule_init = list(inspect.signature(models.Rule.__init__).parameters)
    for name in ("event_pattern", "state", "targets"):
        if name not in rule_init:
            raise MotoInternalsChanged(f"moto Rule.__init__ has no {name!r} parameter any more: {rule_init}")
    bus_init = inspect.getsource(models.EventBus.__init__)
    if "self.rules" not in bus_init:
        raise MotoInternalsChanged("moto EventBus no longer keeps its rules in `self.rules`")
    backend_init = inspect.getsource(models.EventsBackend.__init__)
    if "self.event_buses" not in backend_init:
        raise MotoInternalsChanged("moto EventsBackend no longer keeps its buses in `self.event_buses`")


def install() -> None:
    """Hook moto's events backend (idempotent). Raises `MotoInternalsChanged` if moto moved underneath us."""
    from moto.events import models

    with _lock:
        if _originals:
            return
        assert_moto_internals()
        _originals["send_to_targets"] = models.Rule.send_to_targets
        _originals["put_events"] = models.EventsBackend.put_events
        models.Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign,assignment]
        models.EventsBackend.put_events = _put_events_with_clock  # type: ignore[method-assign]
        from moto.events.responses import EventsHandler

        _originals["test_event_pattern"] = EventsHandler.test_event_pattern
        EventsHandler.test_event_pattern = _test_event_pattern_response  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Restore moto's originals (tests of `install()` itself)."""
    from moto.events import models

    with _lock:
        if not _originals:
            return
        models.Rule.send_to_targets = _originals["send_to_targets"]  # type: ignore[method-assign]
        models.EventsBackend.put_events = _originals["put_events"]  # type: ignore[method-assign]
        from moto.events.responses import EventsHandler

        EventsHandler.test_event_pattern = _originals["test_event_pattern"]  # type: ignore[method-assign]
        _originals.clear()


def installed() -> bool:
    return bool(_originals)
