"""Start (or resume) a claimed scope's execution: throttling is retried, a start that fails for good pages.

A claim (the scope's record naming an incident) is the promise that an execution runs it. StartExecution is
called after the claim is saved, so it can fail after it: throttled, or Step Functions unavailable.

- `start_claimed` retries throttling (and the other retryable answers below) with backoff on the
  controller's clock, within `START_BACKOFF_SECONDS` in total. If it still fails, it audits
  `execution:start_failed`, pages on-call (ControllerFailed: SNS and PagerDuty, deduplicated on the
  incident id) and raises `ExecutionNotStartedError`, which names the incident and the fix. The page comes
  after the attempt to mitigate, never before it.
- `resume_input` rebuilds the execution input from the claim, so the next request for the scope (a retried
  manual request, a second operator, a redelivered alarm) starts the execution that is missing instead of
  "joining" one that does not exist. The execution is named with the incident id, so a start whose
  response was lost is found (ExecutionAlreadyExists), never run twice.
"""

from __future__ import annotations

from failsafe.controller import notify
from failsafe.controller.context import ExecutionContext, IncidentInput, TriggerInfo
from failsafe.controller.ports import Ports
from failsafe.domain.audit import AuditEvent
from failsafe.domain.records import ScopeRecord

# The throttling and transient error codes of the AWS APIs (as in botocore's standard retry mode).
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "InternalServerError",
        "InternalFailure",
    }
)
START_BACKOFF_SECONDS = (1.0, 2.0, 4.0, 8.0)
START_ACTOR = "failsafe:controller"


class ExecutionNotStartedError(RuntimeError):
    """The scope is claimed for an incident but its execution could not be started."""


def error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code) if code else None


def resume_input(record: ScopeRecord) -> IncidentInput:
    """The execution input of the record's incident, as its claim wrote it."""
    assert record.incident_id is not None
    trigger = (
        TriggerInfo(
            severity=record.trigger_severity, kind=record.trigger_kind, alarm_name=record.trigger_alarm
        )
        if record.source == "alarm" and record.trigger_severity and record.trigger_kind
        else None
    )
    return IncidentInput(
        incident_id=record.incident_id,
        scope=record.scope_key,
        source="alarm" if record.source == "alarm" else "manual",
        entry_stage=record.lifecycle.stage or record.lifecycle.applied_stage or "",
        requested_by=record.requested_by or record.updated_by or START_ACTOR,
        reason=(record.reason or "")[:1024],
        trigger=trigger,
    )


def start_claimed(rt: Ports, payload: IncidentInput) -> tuple[str, bool]:
    """Start the incident's execution: (arn, started_now). Retryable errors are retried with backoff; a
    start that still fails is audited, paged and raised as `ExecutionNotStartedError`."""
    attempts = len(START_BACKOFF_SECONDS) + 1
    for attempt in range(1, attempts + 1):
        try:
            return rt.executions.start(payload.incident_id, payload.model_dump(mode="json"))
        except Exception as exc:
            code = error_code(exc)
            if code in RETRYABLE_CODES and attempt < attempts:
                rt.clock.sleep(START_BACKOFF_SECONDS[attempt - 1])
                continue
            _start_failed(rt, payload, exc, attempt)
            raise ExecutionNotStartedError(
                f"scope {payload.scope} is claimed by incident {payload.incident_id}, but StartExecution "
                f"of its controller failed ({code or type(exc).__name__} after {attempt} attempt(s)): "
                "nothing may be deployed yet and on-call was paged. Send the same request again to start "
                "it (the claim stays; the next request for this scope resumes it)"
            ) from exc
    raise AssertionError("unreachable")


def _start_failed(rt: Ports, payload: IncidentInput, exc: Exception, attempts: int) -> None:
    error = f"{error_code(exc) or type(exc).__name__}: {str(exc)[:300]}"
    rt.record(
        AuditEvent(
            action="execution:start_failed",
            actor=START_ACTOR,
            reason=f"StartExecution of incident {payload.incident_id} failed after {attempts} attempt(s): "
            f"{error}",
            scope_key=payload.scope,
            incident_id=payload.incident_id,
            details={"attempts": attempts, "error": error, "source": payload.source},
        )
    )
    ctx = ExecutionContext(
        **payload.model_dump(),
        controller_error={
            "Error": "ExecutionNotStarted",
            "Cause": f"the controller for {payload.scope} did not start: {error}; the claim stands and "
            "the next request for the scope starts it",
        },
    )
    notify.notify(rt, "controller_failed", ctx)
