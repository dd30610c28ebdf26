"""Typed environment of the controller's Lambda functions (template.yaml sets these variables).

`Settings` holds what every function shares: the service and environment it guards (no defaults: a function
without them is misconfigured, and guessing "recommender"/"prod" would hide it), the region, and the
controller's tuning knobs (with the defaults template.yaml documents). Each outside system a function
reaches adds one small mixin of required variables, in the style of the aws-lambda-handler-cookbook's
env-var models: `StateSettings`, `AuditSettings`, `ExecutionsSettings`, `AppConfigSettings`,
`NotifySettings`, `PagerSettings`, `ReportSettings`, `AlarmSettings`, `IdempotencySettings`,
`ReleaseSettings`. A handler's model combines exactly the mixins its code path uses, so a missing variable
fails at cold start with a message naming it, and `Runtime` refuses to build a port whose mixin the model
lacks (`Runtime.settings_for`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from failsafe.domain.plan_defaults import DEFAULT_PLAN

_VERIFY = DEFAULT_PLAN.verify


class SettingsError(RuntimeError):
    pass


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    service: str = Field(..., min_length=1, alias="FAILSAFE_SERVICE")
    environment: str = Field(..., min_length=1, alias="FAILSAFE_ENVIRONMENT")
    region: str | None = Field(None, alias="AWS_REGION")
    # The verify policy's defaults are the default plan's (one source; template.yaml's parameter defaults are
    # tied to it by tests/unit/template/test_template.py).
    verify_window_seconds: int = Field(_VERIFY.window_seconds, gt=0, alias="VERIFY_WINDOW_SECONDS")
    verify_window_growth: float = Field(_VERIFY.refire_factor, ge=1.0, alias="VERIFY_WINDOW_GROWTH")
    max_verify_window_seconds: int = Field(
        _VERIFY.max_window_seconds, gt=0, alias="MAX_VERIFY_WINDOW_SECONDS"
    )
    health_check_interval_seconds: int = Field(30, gt=0, alias="HEALTH_CHECK_INTERVAL_SECONDS")
    traffic_window_seconds: int = Field(
        300,
        gt=0,
        alias="TRAFFIC_WINDOW_SECONDS",
        description="Recovery is judged only on traffic: the scope needs requests in this many seconds.",
    )
    deployment_poll_seconds: int = Field(5, gt=0, alias="DEPLOYMENT_POLL_SECONDS")
    approval_timeout_seconds: int = Field(1800, gt=0, alias="APPROVAL_TIMEOUT_SECONDS")
    deployment_retries: int = Field(3, ge=0, alias="DEPLOYMENT_RETRIES")
    max_event_clock_skew_seconds: int = Field(
        300,
        ge=0,
        alias="MAX_EVENT_CLOCK_SKEW_SECONDS",
        description="How far ahead of the controller's clock an alarm's state timestamp may be; later ones "
        "are dropped (one bogus future stamp would otherwise make every real event of the alarm stale).",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        try:
            return cls.model_validate(dict(os.environ if environ is None else environ))
        except ValidationError as exc:
            names = ", ".join(str(err["loc"][0]) for err in exc.errors())
            raise SettingsError(f"{cls.__name__}: missing or invalid environment variables: {names}") from exc


class StateSettings(Settings):
    """The scope state table (`StateStore`)."""

    state_table_name: str = Field(..., min_length=1, alias="STATE_TABLE_NAME")


class AuditSettings(Settings):
    """The audit chain table (`AuditLog`)."""

    audit_table_name: str = Field(..., min_length=1, alias="AUDIT_TABLE_NAME")


class ExecutionsSettings(Settings):
    """The incident state machine (`Executions`)."""

    state_machine_arn: str = Field(..., min_length=1, alias="STATE_MACHINE_ARN")


class AppConfigSettings(Settings):
    """The toggle document's AppConfig application, environment, profile, strategies (`AppConfigDeployer`)."""

    appconfig_application_id: str = Field(..., min_length=1, alias="APPCONFIG_APPLICATION_ID")
    appconfig_environment_id: str = Field(..., min_length=1, alias="APPCONFIG_ENVIRONMENT_ID")
    appconfig_profile_id: str = Field(..., min_length=1, alias="APPCONFIG_PROFILE_ID")
    appconfig_immediate_strategy_id: str = Field(..., min_length=1, alias="APPCONFIG_IMMEDIATE_STRATEGY_ID")
    appconfig_gradual_strategy_id: str = Field(..., min_length=1, alias="APPCONFIG_GRADUAL_STRATEGY_ID")
    appconfig_monitors: str | None = Field(
        None,
        alias="APPCONFIG_MONITORS",
        description="JSON list of the environment's monitors ({AlarmArn, AlarmRoleArn}); see apply.py.",
    )


class NotifySettings(Settings):
    """The SNS topic of incident notifications (`Notifier`)."""

    topic_arn: str = Field(..., min_length=1, alias="TOPIC_ARN")


class PagerSettings(Settings):
    """The PagerDuty routing key's secret and the Events API endpoint (`PagerDutyClient`)."""

    pagerduty_secret_arn: str = Field(..., min_length=1, alias="PAGERDUTY_SECRET_ARN")
    pagerduty_base_url: str = Field("https://events.pagerduty.com", alias="PAGERDUTY_BASE_URL")


class ReportSettings(Settings):
    """The incident report bucket (`ReportWriter`)."""

    report_bucket: str = Field(..., min_length=1, alias="REPORT_BUCKET")


class AlarmSettings(Settings):
    """The name prefix of the guardrail alarms this stack owns (`AlarmStateReader`, the classifier)."""

    alarm_name_prefix: str = Field(..., min_length=1, alias="ALARM_NAME_PREFIX")


class IdempotencySettings(Settings):
    """Powertools idempotency's table (alarm ingest)."""

    idempotency_table_name: str = Field(..., min_length=1, alias="IDEMPOTENCY_TABLE_NAME")


class ReleaseSettings(Settings):
    """The recommender function and alias a rollback can revert (`ReleaseManager`); unset: no releases."""

    recommender_function_name: str | None = Field(None, alias="RECOMMENDER_FUNCTION_NAME")
    recommender_alias: str = Field("live", alias="RECOMMENDER_ALIAS")
