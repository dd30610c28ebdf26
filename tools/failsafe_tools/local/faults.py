"""AWS-side fault injection for the embedded AWS: any service, any operation, any error code.

    from failsafe_tools.local import faults

    injector = faults.get_injector()
    rule = injector.add(faults.Fault(service="stepfunctions", operation="StartExecution",
                                     code="ThrottlingException", count=6))
    ...                               # the next 6 StartExecution calls answer 400 ThrottlingException
    injector.hits(rule)               # what it answered, with the simulated instant of each call

A `Fault` names the service (botocore's name: ``stepfunctions``, ``dynamodb``, ``appconfig``, ``sns``), the
operation (``StartExecution``; ``*`` for every operation of the service), the error code and HTTP status
it answers with, and how long it lasts: the next `count` matching calls, or every matching call for
`window_seconds` of simulated time from when it was added (both: whichever ends first).

It works at moto's HTTP layer (`moto.core.responses.BaseResponse._dispatch`, the one place every request
goes through once moto has parsed it), so it serves the same fault to an in-process boto3 client (moto's
botocore stub), to a Lambda sandbox process that talks to the local server over HTTP, and to moto's own
Step Functions interpreter. The error has the service protocol's own shape (``__type`` and
``x-amzn-ErrorType`` for JSON protocols, an ``ErrorResponse`` document for query ones), so botocore parses it
into a `ClientError` with that code, and applies its own retry rules to it, exactly as against AWS.

botocore sleeps between its retries with `time.sleep`. While the injector is installed, an in-process
client's retry backoff sleeps on the local clock instead, so a drill at 75x waits 2 simulated seconds for a
2-second backoff, not 150 (a sandbox process keeps its own, real-time botocore).
"""

from __future__ import annotations

import json
import threading
import time as _time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from xml.sax.saxutils import escape

from pydantic import BaseModel, ConfigDict, Field, model_validator

from failsafe_tools.local.clock import get_clock

ANY_OPERATION = "*"


class Fault(BaseModel):
    """One fault rule: which calls fail, with what error, for how long."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str = Field(..., min_length=1, description="botocore service name, e.g. 'stepfunctions'.")
    operation: str = Field(..., min_length=1, description="API operation, e.g. 'StartExecution'; '*': all.")
    code: str = Field(..., min_length=1, description="Error code, e.g. 'ThrottlingException'.")
    message: str = "Rate exceeded (failsafe fault injection)"
    status: int = Field(400, ge=400, le=599)
    count: int | None = Field(None, gt=0, description="Fail the next `count` matching calls.")
    window_seconds: float | None = Field(
        None, gt=0, description="Fail every matching call for this long (simulated seconds)."
    )

    @model_validator(mode="after")
    def _bounded(self) -> Fault:
        if self.count is None and self.window_seconds is None:
            raise ValueError(
                f"fault {self.service}:{self.operation}: give count (the next N calls) or window_seconds "
                "(simulated seconds from now), or both; an unbounded fault would never end"
            )
        return self


@dataclass(frozen=True)
class Hit:
    """One call the injector failed."""

    rule: int
    at: datetime
    service: str
    operation: str
    code: str


@dataclass
class _Rule:
    id: int
    fault: Fault
    added: float
    left: int | None

    def active(self, now: float) -> bool:
        if self.left is not None and self.left <= 0:
            return False
        return self.fault.window_seconds is None or now < self.added + self.fault.window_seconds

    def matches(self, service: str, operation: str) -> bool:
        return self.fault.service == service and self.fault.operation in (ANY_OPERATION, operation)


class FaultInjector:
    """The active fault rules and what they answered (thread-safe: moto serves requests concurrently)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._hits: list[Hit] = []
        self._next = 1

    def add(self, fault: Fault) -> int:
        """Activate `fault` from now; returns its rule id (for `hits` and `remove`)."""
        with self._lock:
            rule = _Rule(self._next, fault, get_clock().time(), fault.count)
            self._next += 1
            self._rules.append(rule)
            return rule.id

    def remove(self, rule_id: int) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if r.id != rule_id]

    def clear(self) -> None:
        """Remove every rule and forget every hit (a new stack starts clean)."""
        with self._lock:
            self._rules.clear()
            self._hits.clear()

    def hits(self, rule_id: int | None = None) -> list[Hit]:
        with self._lock:
            return [h for h in self._hits if rule_id is None or h.rule == rule_id]

    def active(self) -> list[Fault]:
        now = get_clock().time()
        with self._lock:
            return [r.fault for r in self._rules if r.active(now)]

    def take(self, service: str, operation: str) -> Fault | None:
        """The fault to answer this call with (consuming one of a counted rule's calls), or None."""
        with self._lock:
            if not self._rules:
                return None
            now = get_clock().time()
            for rule in self._rules:
                if rule.matches(service, operation) and rule.active(now):
                    if rule.left is not None:
                        rule.left -= 1
                    self._hits.append(
                        Hit(
                            rule.id,
                            datetime.fromtimestamp(now, tz=UTC),
                            service,
                            operation,
                            rule.fault.code,
                        )
                    )
                    return rule.fault
            return None


def error_response(protocol: str, fault: Fault) -> tuple[int, dict[str, str], str]:
    """`fault` as the service protocol's error: (status, headers, body)."""
    request_id = str(uuid.uuid4())
    if protocol in ("json", "rest-json"):
        content_type = "application/x-amz-json-1.0" if protocol == "json" else "application/json"
        body = json.dumps({"__type": fault.code, "message": fault.message})
        headers = {
            "Content-Type": content_type,
            "x-amzn-ErrorType": fault.code,
            "x-amzn-RequestId": request_id,
        }
        return fault.status, headers, body
    message = escape(fault.message)
    kind = "Receiver" if fault.status >= 500 else "Sender"
    body = (
        "<ErrorResponse><Error>"
        f"<Type>{kind}</Type><Code>{fault.code}</Code><Message>{message}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return fault.status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body


_injector = FaultInjector()
_install_lock = threading.Lock()
_originals: dict[str, Any] = {}
"""While installed: moto's `_dispatch` and botocore.endpoint's `time` module, restored by `uninstall`."""


def get_injector() -> FaultInjector:
    return _injector


def installed() -> bool:
    return bool(_originals)


def install() -> None:
    """Hook moto's request dispatch and botocore's retry sleep (idempotent)."""
    import botocore.endpoint
    from moto.core.responses import BaseResponse
    from moto.core.utils import get_service_model

    with _install_lock:
        if _originals:
            return
        original = BaseResponse._dispatch

        def _dispatch(self: Any, request: Any, full_url: Any = None, headers: Any = None) -> Any:
            if not _injector._rules:
                return original(self, request, full_url, headers)
            self.setup_class(request, full_url, headers)
            service = self.boto3_service_name
            fault = _injector.take(service, self._get_action() or "")
            if fault is None:
                return self.call_action()
            return error_response(get_service_model(service).protocol, fault)

        _originals.update(dispatch=original, time=vars(botocore.endpoint)["time"])
        BaseResponse._dispatch = _dispatch  # type: ignore[method-assign]
        botocore.endpoint.time = SimpleNamespace(  # type: ignore[attr-defined]
            sleep=lambda seconds: get_clock().sleep(seconds), time=_time.time, monotonic=_time.monotonic
        )


def uninstall() -> None:
    import botocore.endpoint
    from moto.core.responses import BaseResponse

    with _install_lock:
        if not _originals:
            return
        BaseResponse._dispatch = _originals.pop("dispatch")  # type: ignore[method-assign]
        botocore.endpoint.time = _originals.pop("time")  # type: ignore[attr-defined]
        _injector.clear()
