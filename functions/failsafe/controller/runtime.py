"""Dependencies of the controller, built lazily from `Settings` (no AWS client exists at import time)."""

from __future__ import annotations

from datetime import datetime
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import boto3

from failsafe.aws.audit_log import AuditLog
from failsafe.aws.audit_witness import log_witness
from failsafe.aws.state_store import StateStore
from failsafe.clock import Clock, get_clock
from failsafe.controller.settings import (
    AlarmSettings,
    AppConfigSettings,
    AuditSettings,
    ExecutionsSettings,
    NotifySettings,
    PagerSettings,
    ReleaseSettings,
    ReportSettings,
    Settings,
    SettingsError,
    StateSettings,
)
from failsafe.domain.audit import AuditEvent
from failsafe.domain.catalog import DEFAULT_CATALOG, GuardrailCatalog
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.plans import Plan, VerifyPolicy

M = TypeVar("M", bound=Settings)

if TYPE_CHECKING:
    # Each adapter below is imported by the property that builds it: a function loads only the adapters
    # its own path uses (every function uses the state store and the audit log, imported above).
    from failsafe.aws.alarm_states import AlarmStateReader
    from failsafe.aws.appconfig_deployer import AppConfigDeployer
    from failsafe.aws.executions import Executions
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
    """The AWS wiring of the controller's `Ports`: each port is its `failsafe.aws` adapter, built on first use
    from `settings` with one shared boto3 client per service."""

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

    def settings_for(self, mixin: type[M]) -> M:
        """This function's settings as `mixin`; a model without it cannot build that mixin's port."""
        if not isinstance(self.settings, mixin):
            raise SettingsError(
                f"{type(self.settings).__name__} does not include {mixin.__name__}, which this code path "
                f"needs; add it to the handler's settings model and its variables to template.yaml"
            )
        return self.settings

    @cached_property
    def state(self) -> StateStore:
        table = self.settings_for(StateSettings).state_table_name
        return StateStore(self.client("dynamodb"), table, self.plan)

    @cached_property
    def audit(self) -> AuditLog:
        table = self.settings_for(AuditSettings).audit_table_name
        return AuditLog(self.client("dynamodb"), table, witness=log_witness)

    def record(self, event: AuditEvent) -> None:
        self.audit.append(event, at=self.now())

    @cached_property
    def executions(self) -> Executions:
        from failsafe.aws.executions import Executions

        arn = self.settings_for(ExecutionsSettings).state_machine_arn
        return Executions(self.client("stepfunctions"), arn)

    @cached_property
    def alarms(self) -> AlarmStateReader:
        from failsafe.aws.alarm_states import AlarmStateReader

        return AlarmStateReader(self.client("cloudwatch"), self.alarm_prefix)

    @property
    def alarm_prefix(self) -> str:
        return self.settings_for(AlarmSettings).alarm_name_prefix

    @cached_property
    def deployer(self) -> AppConfigDeployer:
        from failsafe.aws.appconfig_deployer import AppConfigDeployer, AppConfigTarget

        s = self.settings_for(AppConfigSettings)
        target = AppConfigTarget(
            application_id=s.appconfig_application_id,
            environment_id=s.appconfig_environment_id,
            profile_id=s.appconfig_profile_id,
            immediate_strategy_id=s.appconfig_immediate_strategy_id,
            gradual_strategy_id=s.appconfig_gradual_strategy_id,
        )
        return AppConfigDeployer(self.client("appconfig"), target, clock=self.clock)

    @property
    def appconfig_monitors(self) -> str | None:
        return self.settings_for(AppConfigSettings).appconfig_monitors

    @cached_property
    def notifier(self) -> Notifier:
        from failsafe.aws.notifier import Notifier

        return Notifier(self.client("sns"), self.settings_for(NotifySettings).topic_arn)

    @cached_property
    def pagerduty(self) -> PagerDutyClient:
        # Powertools parameters is imported here, by the one function that pages, not at every cold start.
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        from failsafe.aws.pagerduty import PagerDutyClient

        s = self.settings_for(PagerSettings)
        secrets = SecretsProvider(boto3_client=self.client("secretsmanager"))
        return PagerDutyClient(
            secrets, s.pagerduty_secret_arn, base_url=s.pagerduty_base_url, sleep=self.clock.sleep
        )

    @cached_property
    def reports(self) -> ReportWriter:
        from failsafe.aws.reports import ReportWriter

        return ReportWriter(self.client("s3"), self.settings_for(ReportSettings).report_bucket)

    @cached_property
    def efficacy(self) -> EfficacyReader:
        from failsafe.aws.reports import EfficacyReader

        return EfficacyReader(self.client("cloudwatch"))

    @cached_property
    def releases(self) -> ReleaseManager | None:
        """The recommender's releases; None when this function's model or environment names no function."""
        if not isinstance(self.settings, ReleaseSettings) or not self.settings.recommender_function_name:
            return None
        from failsafe.aws.releases import ReleaseManager

        s = self.settings
        assert s.recommender_function_name is not None
        return ReleaseManager(self.client("lambda"), s.recommender_function_name, s.recommender_alias)


_runtimes: dict[type[Settings], Runtime] = {}


def runtime_for(settings_type: type[Settings]) -> Runtime:
    """This process's runtime for a handler's settings: the environment is validated once, clients lazy."""
    if settings_type not in _runtimes:
        _runtimes[settings_type] = Runtime(settings_type.from_env())
    return _runtimes[settings_type]


def cold_start() -> None:
    """Return this process to what a fresh Lambda container holds: no handler runtime, boto3 session or client
    of an earlier environment survives. Tools call it when they start a new stack in this process; tests call
    it when they change the environment between cases."""
    _runtimes.clear()
    shared_client.cache_clear()
    default_session.cache_clear()


if TYPE_CHECKING:
    from failsafe.controller.ports import Ports

    def _wires_every_port(runtime: Runtime) -> Ports:
        return runtime
