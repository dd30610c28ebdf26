"""Dependencies of the controller, built lazily from `Settings` (no AWS client exists at import time)."""

from __future__ import annotations

from datetime import datetime
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

import boto3

from failsafe.aws.audit_log import AuditEvent, AuditLog
from failsafe.aws.audit_witness import log_witness
from failsafe.aws.state_store import StateStore
from failsafe.clock import Clock, get_clock
from failsafe.controller.settings import Settings
from failsafe.domain.catalog import DEFAULT_CATALOG, GuardrailCatalog
from failsafe.domain.plans import DEFAULT_PLAN, Plan, VerifyPolicy

if TYPE_CHECKING:
    # Each adapter below is imported by the property that builds it: a function loads only the adapters
    # its own path uses (every function uses the state store and the audit log, imported above).
    from failsafe.aws.alarm_states import AlarmStateReader
    from failsafe.aws.appconfig_deployer import AppConfigDeployer
    from failsafe.aws.executions import Executions
    from failsafe.aws.identity import RoleReader
    from failsafe.aws.notifier import Notifier
    from failsafe.aws.pagerduty import PagerDutyClient
    from failsafe.aws.releases import ReleaseManager
    from failsafe.aws.reports import EfficacyReader, ReportWriter


@cache
def default_session() -> boto3.Session:
    """One boto3 session per process: its loaders cache the service models across clients."""
    return boto3.Session()


@cache
def shared_client(service: str, region: str | None) -> Any:
    """boto3 clients are thread-safe and costly to build: one per service and region per process."""
    kwargs: dict[str, Any] = {"region_name": region} if region else {}
    return default_session().client(service, **kwargs)  # type: ignore[call-overload]


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        session: boto3.Session | None = None,
        clock: Clock | None = None,
        plan: Plan | None = None,
        catalog: GuardrailCatalog = DEFAULT_CATALOG,
    ) -> None:
        self.settings = settings
        self._session = session
        self._clock = clock
        self.catalog = catalog
        base = plan or DEFAULT_PLAN
        verify = VerifyPolicy(
            window_seconds=settings.verify_window_seconds,
            refire_factor=settings.verify_window_growth,
            max_window_seconds=max(settings.max_verify_window_seconds, settings.verify_window_seconds),
        )
        self.plan = base.model_copy(update={"verify": verify})
        self._clients: dict[str, Any] = {}

    @property
    def clock(self) -> Clock:
        return self._clock or get_clock()

    def now(self) -> datetime:
        return self.clock.now()

    def client(self, service: str) -> Any:
        if service not in self._clients:
            if self._session is None:
                self._clients[service] = shared_client(service, self.settings.region)
            else:
                kwargs: dict[str, Any] = {"region_name": self.settings.region} if self.settings.region else {}
                self._clients[service] = self._session.client(service, **kwargs)  # type: ignore[call-overload]
        return self._clients[service]

    @cached_property
    def state(self) -> StateStore:
        return StateStore(self.client("dynamodb"), self.settings.need("state_table_name"))

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.client("dynamodb"), self.settings.need("audit_table_name"), witness=log_witness)

    def record(self, event: AuditEvent) -> None:
        self.audit.append(event, at=self.now())

    @cached_property
    def roles(self) -> RoleReader:
        from failsafe.aws.identity import RoleReader

        return RoleReader(self.client("iam"))

    @cached_property
    def executions(self) -> Executions:
        from failsafe.aws.executions import Executions

        return Executions(self.client("stepfunctions"), self.settings.need("state_machine_arn"))

    @cached_property
    def alarms(self) -> AlarmStateReader:
        from failsafe.aws.alarm_states import AlarmStateReader

        return AlarmStateReader(self.client("cloudwatch"), self.alarm_prefix)

    @property
    def alarm_prefix(self) -> str:
        return (
            self.settings.alarm_name_prefix
            or f"failsafe-{self.settings.service}-{self.settings.environment}-"
        )

    @cached_property
    def deployer(self) -> AppConfigDeployer:
        from failsafe.aws.appconfig_deployer import AppConfigDeployer, AppConfigTarget

        s = self.settings
        target = AppConfigTarget(
            application_id=s.need("appconfig_application_id"),
            environment_id=s.need("appconfig_environment_id"),
            profile_id=s.need("appconfig_profile_id"),
            immediate_strategy_id=s.need("appconfig_immediate_strategy_id"),
            gradual_strategy_id=s.need("appconfig_gradual_strategy_id"),
        )
        return AppConfigDeployer(self.client("appconfig"), target, clock=self.clock)

    @cached_property
    def notifier(self) -> Notifier:
        from failsafe.aws.notifier import Notifier

        return Notifier(self.client("sns"), self.settings.need("topic_arn"))

    @cached_property
    def pagerduty(self) -> PagerDutyClient:
        # Powertools parameters is imported here, by the one function that pages, not at every cold start.
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        from failsafe.aws.pagerduty import PagerDutyClient

        secrets = SecretsProvider(boto3_client=self.client("secretsmanager"))
        return PagerDutyClient(
            secrets,
            self.settings.need("pagerduty_secret_arn"),
            base_url=self.settings.pagerduty_base_url,
            sleep=self.clock.sleep,
        )

    @cached_property
    def reports(self) -> ReportWriter:
        from failsafe.aws.reports import ReportWriter

        return ReportWriter(self.client("s3"), self.settings.need("report_bucket"))

    @cached_property
    def efficacy(self) -> EfficacyReader:
        from failsafe.aws.reports import EfficacyReader

        return EfficacyReader(self.client("cloudwatch"))

    @cached_property
    def releases(self) -> ReleaseManager | None:
        from failsafe.aws.releases import ReleaseManager

        name = self.settings.recommender_function_name
        if not name:
            return None
        return ReleaseManager(self.client("lambda"), name, self.settings.recommender_alias)
