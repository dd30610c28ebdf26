"""What the controller's use cases need from the outside world, as Protocols.

The use cases (`ingest`, `manual`, `planning`, `apply`, `notify`, `approval`, `health`, `report`, ...) take a
`Ports`: the plan, catalog and settings they run with, the clock, and one port per outside system. `Runtime`
(`failsafe.controller.runtime`) wires the AWS adapters of `failsafe.aws` into them for the Lambda functions;
the unit tests wire the in-memory fakes of `tests/fakes.py`, and one contract suite (`tests/contracts/`)
runs against both, so a fake cannot drift from its adapter.

The records the ports carry are the domain's (`failsafe.domain.records`, `failsafe.domain.audit`); the small
value types and errors of each outside system (a deployment's status, a notification, a PagerDuty event)
are defined next to their adapter and named here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from failsafe.aws.alarm_states import GuardrailAlarm
    from failsafe.aws.appconfig_deployer import AppConfigTarget, DeploymentStatus
    from failsafe.aws.executions import HistoryEvent
    from failsafe.aws.notifier import Notification
    from failsafe.aws.pagerduty import PagerDutyEvent
    from failsafe.aws.reports import ReportLocation
    from failsafe.clock import Clock
    from failsafe.controller.settings import Settings
    from failsafe.domain.audit import AuditEntry, AuditEvent, AuditWitness, VerifyResult
    from failsafe.domain.catalog import GuardrailCatalog
    from failsafe.domain.plans import Plan
    from failsafe.domain.records import IncidentPointer, ScopeRecord
    from failsafe.domain.scope import Scope
    from failsafe.reporting.efficacy import StatReader
    from failsafe.reporting.timeline import TimelineEvent


class StateStorePort(Protocol):
    """Scope records with optimistic concurrency (`ConcurrentUpdateError` on a lost race)."""

    @property
    def plan(self) -> Plan: ...

    def get(self, scope_key: str) -> ScopeRecord | None: ...

    def get_or_fresh(self, scope: Scope) -> ScopeRecord: ...

    def put(self, record: ScopeRecord, *, expected_version: int | None) -> ScopeRecord: ...

    def save(self, current: ScopeRecord | None, new: ScopeRecord) -> ScopeRecord: ...

    def mutate(
        self, scope: Scope, change: Callable[[ScopeRecord], ScopeRecord | None], *, attempts: int = 8
    ) -> ScopeRecord: ...

    def list_scopes(self) -> list[ScopeRecord]: ...

    def register_incident(self, incident_id: str, scope_key: str, at: datetime) -> IncidentPointer: ...

    def find_incident(self, incident_id: str) -> IncidentPointer | None: ...


class AuditLogPort(Protocol):
    """An append-only hash chain of audit entries."""

    @property
    def chain(self) -> str: ...

    def append(self, event: AuditEvent, *, at: datetime | None = None, attempts: int = 10) -> AuditEntry: ...

    def last(self) -> AuditEntry | None: ...

    def entries(
        self, *, incident_id: str | None = None, scope_key: str | None = None
    ) -> list[AuditEntry]: ...

    def verify(self, witnessed: Iterable[AuditWitness] = ()) -> VerifyResult: ...


class DeployerPort(Protocol):
    """Configuration versions and deployments of the toggle document."""

    target: AppConfigTarget

    def latest_complete_version(self) -> int | None: ...

    def settled_head(self) -> int: ...

    def stop_running(self, should_stop: Callable[[str], bool]) -> DeploymentStatus | None: ...

    def read_version(self, version: int) -> dict[str, Any]: ...

    def latest_hosted_version(self) -> int: ...

    def create_version(
        self, document: dict[str, Any], description: str, *, expect_latest: int | None = None
    ) -> int: ...

    def monitors(self) -> list[dict[str, str]]: ...

    def set_monitors(self, monitors: list[dict[str, str]]) -> None: ...

    def start(
        self,
        version: int,
        strategy_id: str,
        description: str,
        *,
        attempts: int = 1,
        base_delay: float = 2.0,
        max_delay: float = 30.0,
        expect_head: int | None = None,
    ) -> int: ...

    def status(self, deployment_number: int) -> DeploymentStatus: ...

    def incident_deployments(self, incident_id: str) -> list[TimelineEvent]: ...


class ExecutionsPort(Protocol):
    """The incident workflow's executions and their task tokens."""

    def execution_arn(self, incident_id: str) -> str: ...

    def start(self, incident_id: str, payload: dict[str, Any]) -> tuple[str, bool]: ...

    def status(self, execution_arn: str) -> str: ...

    def stop(self, execution_arn: str, cause: str, error: str = "ManualOverride") -> None: ...

    def history(self, execution_arn: str) -> list[HistoryEvent]: ...

    def send_success(self, task_token: str, output: dict[str, Any]) -> None: ...

    def send_failure(self, task_token: str, error: str, cause: str) -> None: ...


class NotifierPort(Protocol):
    def publish(self, notification: Notification) -> str: ...


class PagerPort(Protocol):
    def trigger(self, event: PagerDutyEvent) -> dict[str, Any]: ...

    def resolve(self, event: PagerDutyEvent) -> dict[str, Any]: ...


class ReleasesPort(Protocol):
    """The recommender function's published versions behind its live alias."""

    function_name: str
    alias: str

    def current(self) -> str: ...

    def previous(self, version: str) -> str | None: ...

    def revert_to(self, version: str) -> str: ...


class ReportStorePort(Protocol):
    def keys(self, incident_id: str) -> tuple[str, str]: ...

    def write(self, incident_id: str, report_json: str, markdown: str) -> ReportLocation: ...

    def read(self, incident_id: str) -> dict[str, Any]: ...


class EfficacyPort(Protocol):
    """Request and error counts of a scope before and after a rollback."""

    def requests(self, scope: Scope, start: datetime, end: datetime) -> float: ...

    def min_config_version(self, scope: Scope, start: datetime, end: datetime) -> int | None: ...

    def stat_reader(self, scope: Scope) -> StatReader: ...


class AlarmStatesPort(Protocol):
    def for_scope(self, scope: Scope) -> list[GuardrailAlarm]: ...


class Ports(Protocol):
    """Everything a use case runs with. `Runtime` is the AWS wiring; tests wire fakes."""

    settings: Settings
    plan: Plan
    catalog: GuardrailCatalog

    @property
    def clock(self) -> Clock: ...

    def now(self) -> datetime: ...

    def record(self, event: AuditEvent) -> None: ...

    @property
    def alarm_prefix(self) -> str: ...

    @property
    def appconfig_monitors(self) -> str | None: ...

    @property
    def state(self) -> StateStorePort: ...

    @property
    def audit(self) -> AuditLogPort: ...

    @property
    def executions(self) -> ExecutionsPort: ...

    @property
    def alarms(self) -> AlarmStatesPort: ...

    @property
    def deployer(self) -> DeployerPort: ...

    @property
    def notifier(self) -> NotifierPort: ...

    @property
    def pagerduty(self) -> PagerPort: ...

    @property
    def reports(self) -> ReportStorePort: ...

    @property
    def efficacy(self) -> EfficacyPort: ...

    @property
    def releases(self) -> ReleasesPort | None: ...
