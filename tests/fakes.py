"""In-memory fakes of the controller's ports (`failsafe.controller.ports`), for tests without AWS.

Each fake keeps what its adapter would persist, as its adapter stores it (records as JSON, audit entries as
their canonical JSON), and follows the same contract: `tests/contracts/` runs one suite against the fake
and against the moto-backed adapter, so a fake cannot quietly drift from the real thing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from failsafe.aws.executions import INCIDENT_KEYS, ExecutionNameTakenError
from failsafe.aws.notifier import Notification
from failsafe.aws.pagerduty import PagerDutyEvent
from failsafe.aws.reports import ReportLocation
from failsafe.clock import Clock
from failsafe.controller.settings import Settings
from failsafe.domain.audit import (
    DEFAULT_CHAIN,
    AuditEntry,
    AuditEvent,
    AuditWitness,
    VerifyResult,
    filter_entries,
    next_entry,
    verify_chain,
)
from failsafe.domain.catalog import DEFAULT_CATALOG, GuardrailCatalog
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.plans import Plan
from failsafe.domain.records import ConcurrentUpdateError, IncidentPointer, ScopeRecord
from failsafe.domain.scope import Scope


class FakeStateStore:
    """`StateStorePort` in a dict: conditional writes on the record's version, as DynamoDB does them."""

    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        self._records: dict[str, str] = {}
        self._incidents: dict[str, str] = {}

    @property
    def plan(self) -> Plan:
        return self._plan

    def get(self, scope_key: str) -> ScopeRecord | None:
        body = self._records.get(scope_key)
        return None if body is None else ScopeRecord.model_validate_json(body)

    def get_or_fresh(self, scope: Scope) -> ScopeRecord:
        return self.get(scope.key) or ScopeRecord.fresh(scope, self._plan)

    def put(self, record: ScopeRecord, *, expected_version: int | None) -> ScopeRecord:
        current = self.get(record.scope_key)
        if (expected_version is None and current is not None) or (
            expected_version is not None and (current is None or current.version != expected_version)
        ):
            raise ConcurrentUpdateError(record.scope_key, expected_version)
        stored = record.model_copy(
            update={"version": 1 if expected_version is None else expected_version + 1}
        )
        self._records[record.scope_key] = stored.model_dump_json()
        return stored

    def save(self, current: ScopeRecord | None, new: ScopeRecord) -> ScopeRecord:
        expected = None if current is None or current.version == 0 else current.version
        return self.put(new, expected_version=expected)

    def mutate(
        self, scope: Scope, change: Callable[[ScopeRecord], ScopeRecord | None], *, attempts: int = 8
    ) -> ScopeRecord:
        last: ConcurrentUpdateError | None = None
        for _ in range(attempts):
            current = self.get(scope.key)
            base = current or ScopeRecord.fresh(scope, self._plan)
            new = change(base)
            if new is None:
                return base
            try:
                return self.save(current, new)
            except ConcurrentUpdateError as exc:
                last = exc
        assert last is not None
        raise last

    def list_scopes(self) -> list[ScopeRecord]:
        return [ScopeRecord.model_validate_json(self._records[key]) for key in sorted(self._records)]

    def register_incident(self, incident_id: str, scope_key: str, at: datetime) -> IncidentPointer:
        existing = self.find_incident(incident_id)
        if existing is not None:
            if existing.scope_key != scope_key:
                raise ConcurrentUpdateError(f"incident#{incident_id}", None)
            return existing
        pointer = IncidentPointer(incident_id=incident_id, scope_key=scope_key, created_at=at)
        self._incidents[incident_id] = pointer.model_dump_json()
        return pointer

    def find_incident(self, incident_id: str) -> IncidentPointer | None:
        body = self._incidents.get(incident_id)
        return None if body is None else IncidentPointer.model_validate_json(body)


class FakeAuditLog:
    """`AuditLogPort` in a list of rows `(seq, entry as JSON)`, hashed and verified by the domain's chain."""

    def __init__(
        self, chain: str = DEFAULT_CHAIN, *, witness: Callable[[AuditWitness], None] | None = None
    ) -> None:
        self._chain = chain
        self._witness = witness
        self.rows: list[tuple[int, dict[str, Any]]] = []

    @property
    def chain(self) -> str:
        return self._chain

    def append(self, event: AuditEvent, *, at: datetime | None = None, attempts: int = 10) -> AuditEntry:
        entry = next_entry(event, chain=self._chain, last=self.last(), at=at or datetime.now(UTC))
        self.rows.append((entry.seq, entry.model_dump(mode="json")))
        if self._witness is not None:
            self._witness(AuditWitness(chain=self._chain, seq=entry.seq, hash=entry.hash))
        return entry

    def last(self) -> AuditEntry | None:
        return AuditEntry.model_validate(self.rows[-1][1]) if self.rows else None

    def entries(self, *, incident_id: str | None = None, scope_key: str | None = None) -> list[AuditEntry]:
        entries = (AuditEntry.model_validate(data) for _, data in self.rows)
        return filter_entries(entries, incident_id=incident_id, scope_key=scope_key)

    def verify(self, witnessed: Iterable[AuditWitness] = ()) -> VerifyResult:
        return verify_chain(self._chain, sorted(self.rows, key=lambda row: row[0]), witnessed)


class FakeNotifier:
    """`NotifierPort`: keeps every published notification."""

    def __init__(self) -> None:
        self.published: list[Notification] = []

    def publish(self, notification: Notification) -> str:
        self.published.append(notification)
        return f"message-{len(self.published)}"


class FakePager:
    """`PagerPort`: keeps every trigger and resolve, answering as the Events API v2 does."""

    def __init__(self) -> None:
        self.events: list[tuple[str, PagerDutyEvent]] = []

    def trigger(self, event: PagerDutyEvent) -> dict[str, Any]:
        self.events.append(("trigger", event))
        return {"status": "success", "dedup_key": event.incident_id}

    def resolve(self, event: PagerDutyEvent) -> dict[str, Any]:
        self.events.append(("resolve", event))
        return {"status": "success", "dedup_key": event.incident_id}


class FakeReportStore:
    """`ReportStorePort` in a dict of keys to text, under the adapter's key layout."""

    def __init__(self, bucket: str = "reports", prefix: str = "incidents/") -> None:
        self.bucket = bucket
        self._prefix = prefix
        self.objects: dict[str, str] = {}

    def keys(self, incident_id: str) -> tuple[str, str]:
        base = f"{self._prefix}{incident_id}/report"
        return f"{base}.json", f"{base}.md"

    def write(self, incident_id: str, report_json: str, markdown: str) -> ReportLocation:
        json_key, md_key = self.keys(incident_id)
        self.objects[json_key] = report_json
        self.objects[md_key] = markdown
        return ReportLocation(bucket=self.bucket, json_key=json_key, markdown_key=md_key)

    def read(self, incident_id: str) -> dict[str, Any]:
        json_key, _ = self.keys(incident_id)
        parsed = json.loads(self.objects[json_key])
        if not isinstance(parsed, dict):
            raise ValueError(f"report {json_key} is not a JSON object")
        return parsed


class FakeExecutions:
    """`ExecutionsPort`: executions by name, and the answers sent to task tokens."""

    def __init__(
        self, state_machine_arn: str = "arn:aws:states:us-east-1:123456789012:stateMachine:rb"
    ) -> None:
        self._arn = state_machine_arn
        self.started: dict[str, dict[str, Any]] = {}
        self.stopped: dict[str, str] = {}
        self.stop_errors: dict[str, str] = {}
        self.answers: list[tuple[str, str, Any]] = []

    def execution_arn(self, incident_id: str) -> str:
        return self._arn.replace(":stateMachine:", ":execution:") + f":{incident_id}"

    def start(self, incident_id: str, payload: dict[str, Any]) -> tuple[str, bool]:
        """(arn, started now); an execution of that name counts as this incident's only if its input names
        the same incident (`INCIDENT_KEYS`), else `ExecutionNameTakenError`, as the adapter decides."""
        arn = self.execution_arn(incident_id)
        if incident_id in self.started:
            theirs = {key: self.started[incident_id].get(key) for key in INCIDENT_KEYS}
            if theirs != {key: payload.get(key) for key in INCIDENT_KEYS}:
                raise ExecutionNameTakenError(f"execution {arn} already exists for another incident")
            return arn, False
        self.started[incident_id] = payload
        return arn, True

    def status(self, execution_arn: str) -> str:
        """ABORTED once stopped, RUNNING otherwise (a fake execution never finishes on its own)."""
        return "ABORTED" if execution_arn in self.stopped else "RUNNING"

    def stop(self, execution_arn: str, cause: str, error: str = "ManualOverride") -> None:
        self.stopped[execution_arn] = cause
        self.stop_errors[execution_arn] = error

    def history(self, execution_arn: str) -> list[Any]:
        return []

    def send_success(self, task_token: str, output: dict[str, Any]) -> None:
        self.answers.append(("success", task_token, output))

    def send_failure(self, task_token: str, error: str, cause: str) -> None:
        self.answers.append(("failure", task_token, {"error": error, "cause": cause}))


class FakePorts:
    """`Ports` wired with the in-memory fakes. A port a test does not wire is refused when used, naming it."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        *,
        plan: Plan | None = None,
        catalog: GuardrailCatalog = DEFAULT_CATALOG,
        releases: Any = None,
        deployer: Any = None,
        efficacy: Any = None,
        alarms: Any = None,
    ) -> None:
        self.settings = settings
        self.plan = plan or DEFAULT_PLAN
        self.catalog = catalog
        self._clock = clock
        self.state = FakeStateStore(self.plan)
        self.audit = FakeAuditLog()
        self.executions = FakeExecutions()
        self.notifier = FakeNotifier()
        self.pagerduty = FakePager()
        self.reports = FakeReportStore()
        self.releases = releases
        self._wired = {"deployer": deployer, "efficacy": efficacy, "alarms": alarms}

    @property
    def clock(self) -> Clock:
        return self._clock

    def now(self) -> datetime:
        return self._clock.now()

    def record(self, event: AuditEvent) -> None:
        self.audit.append(event, at=self.now())

    @property
    def alarm_prefix(self) -> str:
        return f"failsafe-{self.settings.service}-{self.settings.environment}-"

    @property
    def appconfig_monitors(self) -> str | None:
        return None

    def _port(self, name: str) -> Any:
        port = self._wired[name]
        if port is None:
            raise AssertionError(f"this test wired no {name}; pass FakePorts({name}=...)")
        return port

    @property
    def deployer(self) -> Any:
        return self._port("deployer")

    @property
    def efficacy(self) -> Any:
        return self._port("efficacy")

    @property
    def alarms(self) -> Any:
        return self._port("alarms")
